-- GROUP BY type in a subquery, pivoted outside: one hash lookup per row instead of three
-- comparisons, and rows of other types dropped by the scan's filter.
SELECT
    COALESCE(sum(events) FILTER (WHERE type = 'click'), 0)::bigint    AS click,
    COALESCE(sum(events) FILTER (WHERE type = 'view'), 0)::bigint     AS view,
    COALESCE(sum(events) FILTER (WHERE type = 'purchase'), 0)::bigint AS purchase,
    COALESCE(sum(total) FILTER (WHERE type = 'purchase'), 0)::float8  AS total_value
FROM (
    SELECT
        type,
        count(*) AS events,
        sum(CASE WHEN (metadata ->> 'price') ~ '^[ \t\n\r\f\v]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r\f\v]*$'
                 THEN (metadata ->> 'price')::numeric END) FILTER (WHERE type = 'purchase') AS total
    FROM events
    WHERE user_id = %(user_id)s AND type IN ('click', 'view', 'purchase')
    GROUP BY type
) AS by_type
