-- Type comparisons under COLLATE "C": byte comparison, whatever the database's collation.
SELECT
    count(*) FILTER (WHERE type = 'click' COLLATE "C")    AS click,
    count(*) FILTER (WHERE type = 'view' COLLATE "C")     AS view,
    count(*) FILTER (WHERE type = 'purchase' COLLATE "C") AS purchase,
    COALESCE(sum(
        CASE WHEN (metadata ->> 'price') ~ '^[ \t\n\r\f\v]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r\f\v]*$'
             THEN (metadata ->> 'price')::numeric
        END
    ) FILTER (WHERE type = 'purchase' COLLATE "C"), 0)::float8 AS total_value
FROM events
WHERE user_id = %(user_id)s
