-- Order numbers come from one sequence per day (hotline/orders/numbers.py) instead of a
-- counter row every intake of the day waited on. Days already counted carry on where
-- their counter stood, so a migration in the middle of a day never repeats a number.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT day, last FROM order_number_counters LOOP
        EXECUTE format(
            'CREATE SEQUENCE IF NOT EXISTS %I AS integer MINVALUE 1 MAXVALUE 999999 NO CYCLE START %s',
            'order_number_' || to_char(c.day, 'YYYYMMDD'), c.last + 1
        );
    END LOOP;
END
$$;

DROP TABLE order_number_counters;
