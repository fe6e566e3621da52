-- Wrong on purpose: prices summed as float8 instead of exact numeric. Faster to write, but
-- 0.1 + 0.2 + 0.3 gives 0.6000000000000001: the kit must refuse it on parity.
SELECT
    count(*) FILTER (WHERE type = 'click')    AS click,
    count(*) FILTER (WHERE type = 'view')     AS view,
    count(*) FILTER (WHERE type = 'purchase') AS purchase,
    COALESCE(sum(
        CASE WHEN (metadata ->> 'price') ~ '^[ \t\n\r\f\v]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r\f\v]*$'
             THEN (metadata ->> 'price')::float8
        END
    ) FILTER (WHERE type = 'purchase'), 0) AS total_value
FROM events
WHERE user_id = %(user_id)s
