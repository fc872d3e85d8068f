-- Drops the monthly partitions (and their rows) and the function; the parents and their DEFAULT
-- partitions belong to earlier migrations and stay.
DO $$
DECLARE
    v_part regclass;
BEGIN
    FOR v_part IN
        SELECT i.inhrelid::regclass
          FROM pg_inherits i
          JOIN pg_partitioned_table pt ON pt.partrelid = i.inhparent
         WHERE i.inhparent IN ('daily_price'::regclass, 'daily_return'::regclass, 'simulation_path'::regclass)
           AND i.inhrelid <> pt.partdefid
    LOOP
        EXECUTE format('DROP TABLE %s', v_part);
    END LOOP;
END
$$;
DROP FUNCTION IF EXISTS create_monthly_partitions(text, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS create_monthly_partitions(text, date, date);
