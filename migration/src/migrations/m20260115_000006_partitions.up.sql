-- Monthly partitions: the function that creates them and the initial set (2020-01 through at
-- least the current month + 6, never less than the reference's 2026-12).

-- Creates `<table>_YYYYMM` for every month from the month of p_start_date while the month start
-- is before p_end_date, covering [first of month, first of next month), in the schema of the
-- parent (`p_table_name` resolves through search_path or may be schema-qualified). A month that
-- already has a partition of this parent is skipped. Rows of that month sitting in the parent's
-- DEFAULT partition are moved into the new partition, which is why the DEFAULT partition can
-- never block the creation. Returns the number of partitions created.
CREATE OR REPLACE FUNCTION create_monthly_partitions(
    p_table_name text, p_start_date date, p_end_date date
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_parent   oid := to_regclass(p_table_name);
    v_schema   text;
    v_table    text;
    v_key      text;
    v_default  oid;
    v_month    date := date_trunc('month', p_start_date)::date;
    v_next     date;
    v_name     text;
    v_columns  text;
    v_created  integer := 0;
    v_moved    bigint;
BEGIN
    IF v_parent IS NULL THEN
        RAISE EXCEPTION 'create_monthly_partitions: table "%" does not exist', p_table_name
            USING ERRCODE = 'undefined_table';
    END IF;
    SELECT n.nspname, c.relname, pt.partdefid, a.attname
      INTO v_schema, v_table, v_default, v_key
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0]
     WHERE c.oid = v_parent AND pt.partstrat = 'r' AND pt.partnatts = 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'create_monthly_partitions: "%" is not a range-partitioned table', p_table_name
            USING ERRCODE = 'wrong_object_type';
    END IF;

    WHILE v_month < p_end_date LOOP
        v_next := (v_month + INTERVAL '1 month')::date;
        v_name := v_table || '_' || to_char(v_month, 'YYYYMM');

        IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                        WHERE i.inhparent = v_parent AND c.relname = v_name) THEN
            -- Serialise creators of this parent's partitions (concurrent loaders), then look again.
            PERFORM pg_advisory_xact_lock(v_parent::integer, 0);
            IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                            WHERE i.inhparent = v_parent AND c.relname = v_name) THEN
                v_moved := 0;
                IF v_default <> 0 THEN
                    EXECUTE format('SELECT count(*) FROM %s WHERE %I >= %L AND %I < %L',
                                   v_default::regclass, v_key, v_month, v_key, v_next)
                       INTO v_moved;
                END IF;

                IF v_moved = 0 THEN
                    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                                   v_schema, v_name, v_schema, v_table, v_month, v_next);
                ELSE
                    -- The DEFAULT partition holds rows of this month: attaching a partition for
                    -- it would fail its check, so build the table, move the rows, then attach.
                    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO v_columns
                      FROM pg_attribute
                     WHERE attrelid = v_parent AND attnum > 0 AND NOT attisdropped;
                    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)',
                                   v_schema, v_name, v_schema, v_table);
                    EXECUTE format('WITH moved AS (DELETE FROM %s WHERE %I >= %L AND %I < %L RETURNING %s) '
                                   'INSERT INTO %I.%I (%s) SELECT %s FROM moved',
                                   v_default::regclass, v_key, v_month, v_key, v_next, v_columns,
                                   v_schema, v_name, v_columns, v_columns);
                    EXECUTE format('ALTER TABLE %I.%I ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                                   v_schema, v_table, v_schema, v_name, v_month, v_next);
                    RAISE NOTICE 'create_monthly_partitions: moved % rows from % into %.%',
                                 v_moved, v_default::regclass, v_schema, v_name;
                END IF;
                v_created := v_created + 1;
            END IF;
        END IF;
        v_month := v_next;
    END LOOP;
    RETURN v_created;
END
$$;

-- The setup guide calls the function with `CURRENT_DATE + INTERVAL '6 months'` (a timestamp) and
-- with bare string literals; timestamp → date is not an implicit cast, so this overload accepts
-- them and delegates. timestamptz is the preferred type of its category, which also makes it the
-- unambiguous choice for untyped literals.
CREATE OR REPLACE FUNCTION create_monthly_partitions(
    p_table_name text, p_start_date timestamptz, p_end_date timestamptz
) RETURNS integer
LANGUAGE sql AS $$
    SELECT create_monthly_partitions(p_table_name, p_start_date::date, p_end_date::date)
$$;

SELECT create_monthly_partitions(t, DATE '2020-01-01',
           GREATEST(DATE '2027-01-01', (date_trunc('month', CURRENT_DATE) + INTERVAL '7 months')::date))
  FROM unnest(ARRAY['daily_price', 'daily_return', 'simulation_path']) AS t;
