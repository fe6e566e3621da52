-- Every price through its text: JSON numbers too are rendered by ->> and matched against the
-- pattern, instead of being cast from jsonb directly (the fast path the optimized query keeps).
SELECT
    click,
    view,
    purchase,
    CASE WHEN total = 'NaN' THEN 'NaN'::float8
         WHEN total >= 179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792 THEN 'Infinity'::float8
         WHEN total <= -179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792 THEN '-Infinity'::float8
         ELSE total::float8
    END AS total_value
FROM (
    SELECT
        count(*) FILTER (WHERE type = 'click')    AS click,
        count(*) FILTER (WHERE type = 'view')     AS view,
        count(*) FILTER (WHERE type = 'purchase') AS purchase,
        COALESCE(sum(
            CASE WHEN length((metadata ->> 'price')) <= 1000
                      AND (metadata ->> 'price') ~ '^[ \t\n\r\f\v]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?0*[0-9]{1,3})?[ \t\n\r\f\v]*$'
                 THEN (metadata ->> 'price')::numeric
                 WHEN (metadata ->> 'price') ~ '^[ \t\n\r\f\v]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r\f\v]*$'
                 THEN CASE WHEN (metadata ->> 'price') ~ '^[ \t\n\r\f\v]*-' THEN '-Infinity' ELSE 'Infinity' END::numeric
            END
        ) FILTER (WHERE type = 'purchase'), 0) AS total
    FROM events
    WHERE user_id = %(user_id)s
) AS summary
