-- Expression order: the pattern moves into the aggregate's FILTER, after the cheap type test,
-- so the CASE disappears and the cast runs only on prices that matched.
SELECT
    count(*) FILTER (WHERE type = 'click')    AS click,
    count(*) FILTER (WHERE type = 'view')     AS view,
    count(*) FILTER (WHERE type = 'purchase') AS purchase,
    COALESCE(sum((metadata ->> 'price')::numeric)
             FILTER (WHERE type = 'purchase' AND (metadata ->> 'price') ~ '^[ \t\n\r\f\v]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r\f\v]*$'), 0)::float8 AS total_value
FROM events
WHERE user_id = %(user_id)s
