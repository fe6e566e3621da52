-- A fast path for JSON numbers: a price stored as a JSON number is cast from jsonb straight to
-- numeric, and only JSON strings go through the text extraction and the pattern.
SELECT
    count(*) FILTER (WHERE type = 'click')    AS click,
    count(*) FILTER (WHERE type = 'view')     AS view,
    count(*) FILTER (WHERE type = 'purchase') AS purchase,
    COALESCE(sum(
        CASE jsonb_typeof(metadata -> 'price')
            WHEN 'number' THEN (metadata -> 'price')::numeric
            WHEN 'string' THEN CASE WHEN (metadata ->> 'price') ~ '^[ \t\n\r\f\v]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r\f\v]*$'
                                    THEN (metadata ->> 'price')::numeric END
        END
    ) FILTER (WHERE type = 'purchase'), 0)::float8 AS total_value
FROM events
WHERE user_id = %(user_id)s
