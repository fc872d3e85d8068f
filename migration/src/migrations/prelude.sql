-- Session-local helpers for the migrations (pg_temp: they vanish with the connection and are
-- never part of the schema). Run before every migration step.

-- Makes `p_table.p_column` reference `p_ref(p_ref_column)` through a foreign key named `p_name`
-- with the given ON DELETE action. A database built by hand from the reference DDL may hold the
-- same reference under another name or without the action; any other single-column foreign key
-- on that column is replaced, so re-running is a no-op and adoption converges on one constraint.
CREATE OR REPLACE FUNCTION pg_temp.ensure_fk(
    p_table regclass, p_column text, p_ref regclass, p_ref_column text,
    p_on_delete text, p_name text
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_attnum  smallint;
    v_action  "char" := CASE upper(p_on_delete)
                            WHEN 'CASCADE' THEN 'c' WHEN 'SET NULL' THEN 'n'
                            WHEN 'RESTRICT' THEN 'r' ELSE 'a' END;
    v_con     record;
    v_present boolean := false;
BEGIN
    SELECT attnum INTO STRICT v_attnum
      FROM pg_attribute WHERE attrelid = p_table AND attname = p_column AND NOT attisdropped;

    FOR v_con IN
        SELECT conname, confrelid, confdeltype
          FROM pg_constraint
         WHERE conrelid = p_table AND contype = 'f' AND conparentid = 0
           AND conkey = ARRAY[v_attnum]
    LOOP
        IF v_con.conname = p_name AND v_con.confrelid = p_ref AND v_con.confdeltype = v_action THEN
            v_present := true;
        ELSE
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', p_table, v_con.conname);
        END IF;
    END LOOP;

    IF NOT v_present THEN
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %s (%I) ON DELETE %s',
                       p_table, p_name, p_column, p_ref, p_ref_column, upper(p_on_delete));
    END IF;
END
$$;

-- Gives the range-partitioned `p_parent` a DEFAULT partition `<parent>_default` unless it
-- already has one (under any name): the safety net that keeps a write for a month without its
-- own partition from failing.
CREATE OR REPLACE FUNCTION pg_temp.ensure_default_partition(p_parent regclass)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_schema text;
    v_name   text;
BEGIN
    IF (SELECT partdefid FROM pg_partitioned_table WHERE partrelid = p_parent) <> 0 THEN
        RETURN;
    END IF;
    SELECT n.nspname, c.relname INTO v_schema, v_name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_parent;
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I DEFAULT',
                   v_schema, v_name || '_default', v_schema, v_name);
END
$$;

-- Fails the migration with a readable message when `p_sql` (a COUNT query) finds rows that a
-- new constraint would reject: adoption must never silently delete or rewrite user data.
CREATE OR REPLACE FUNCTION pg_temp.require_none(p_sql text, p_what text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_count bigint;
BEGIN
    EXECUTE p_sql INTO v_count;
    IF v_count > 0 THEN
        RAISE EXCEPTION 'cannot adopt this database: % (% rows); fix them and re-run the migration',
                        p_what, v_count;
    END IF;
END
$$;
