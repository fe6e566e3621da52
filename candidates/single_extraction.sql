-- One extraction of the price per purchase: metadata ->> 'price' is computed once in a lateral
-- subquery (kept apart by OFFSET 0), then matched and cast, instead of extracted twice.
SELECT
    count(*) FILTER (WHERE type = 'click')    AS click,
    count(*) FILTER (WHERE type = 'view')     AS view,
    count(*) FILTER (WHERE type = 'purchase') AS purchase,
    COALESCE(sum(CASE WHEN p.price ~ '^[ \t\n\r\f\v]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r\f\v]*$' THEN p.price::numeric END), 0)::float8 AS total_value
FROM events
CROSS JOIN LATERAL (
    SELECT CASE WHEN type = 'purchase' THEN metadata ->> 'price' END AS price OFFSET 0
) AS p
WHERE user_id = %(user_id)s
