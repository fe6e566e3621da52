-- The billing summary as one set-based query: the customer's invoices joined to their lines and the
-- lines' products, summed exactly (an invoice without lines is billed 0), in time order then by id.
-- No side effects: an empty result for a customer without invoices, SQLSTATE 22004 for a NULL id.
CREATE FUNCTION generate_customer_billing_summary(p_customer_id integer)
RETURNS TABLE (invoice_id integer, billed_amount numeric, invoice_date timestamp)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_customer_id IS NULL THEN
        RAISE EXCEPTION 'customer id must not be null' USING ERRCODE = '22004';
    END IF;
    RETURN QUERY
    SELECT i.id, coalesce(sum(p.price * l.quantity), 0), i.created_at
    FROM invoices i
    LEFT JOIN invoice_lines l ON l.invoice_id = i.id
    LEFT JOIN products p ON p.id = l.product_id
    WHERE i.customer_id = p_customer_id
    GROUP BY i.id, i.created_at
    ORDER BY i.created_at, i.id;
END;
$$;
