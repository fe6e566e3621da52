-- The previous optimized query: one pattern, no bounds on the price text (raises on prices numeric cannot hold).
SELECT
    count(*) FILTER (WHERE type = 'click')    AS click,
    count(*) FILTER (WHERE type = 'view')     AS view,
    count(*) FILTER (WHERE type = 'purchase') AS purchase,
    COALESCE(sum(
        CASE WHEN (metadata ->> 'price')
                  ~ '^[ \t\n\r\f\v]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r\f\v]*$'
             THEN (metadata ->> 'price')::numeric
        END
    ) FILTER (WHERE type = 'purchase'), 0)::float8 AS total_value
FROM events
WHERE user_id = %(user_id)s
