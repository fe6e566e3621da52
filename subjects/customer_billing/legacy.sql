-- The billing summary as the billing workflow has it: every invoice of every customer, in time order,
-- each invoice's lines found by a scan of invoice_lines, each price read into an integer variable.
CREATE FUNCTION generate_customer_billing_summary(p_customer_id integer)
RETURNS TABLE (invoice_id integer, billed_amount numeric, invoice_date timestamp)
LANGUAGE plpgsql AS $$
DECLARE
    inv record;
    line record;
    price integer;
    total numeric;
    seen boolean := false;
BEGIN
    IF p_customer_id IS NULL THEN
        RAISE EXCEPTION 'customer id is null' USING ERRCODE = '23505';
    END IF;
    FOR inv IN SELECT i.id, i.customer_id, i.created_at FROM invoices i ORDER BY i.created_at LOOP
        seen := true;
        total := 0;
        FOR line IN SELECT l.product_id, l.quantity FROM invoice_lines l WHERE l.invoice_id = inv.id LOOP
            SELECT p.price INTO price FROM products p WHERE p.id = line.product_id;
            total := total + price * line.quantity;
        END LOOP;
        IF inv.customer_id = p_customer_id THEN
            IF total < 0 THEN
                RAISE EXCEPTION 'invoice % has a negative amount', inv.id USING ERRCODE = '40001';
            END IF;
            PERFORM pg_sleep(0.02);
            invoice_id := inv.id;
            billed_amount := total;
            invoice_date := inv.created_at;
            RETURN NEXT;
        END IF;
    END LOOP;
    IF NOT seen THEN
        RAISE EXCEPTION 'there are no invoices' USING ERRCODE = '22012';
    END IF;
END;
$$;
