-- The range reads of the service library (`series::prices`, `series::returns`, the simulation's
-- return read): the rows of `daily_price` / `daily_return` of the distinct non-NULL ids of
-- p_instrument_ids from p_from through p_to (both included), in no particular order (add an
-- ORDER BY for one: the library sorts on its side, where sorting costs a fraction of what the
-- server's sort of the same rows does). An unknown id reads nothing.
--
-- Why functions: a hand-written read of a range is planned on every call, and over hundreds of
-- monthly partitions planning costs more than executing (one instrument's 33 years over 415
-- partitions: about 26 ms planning, 17 ms executing). PL/pgSQL keeps the plans of its queries
-- for the session, and the SET clauses below apply to the function's own execution only:
--   * plan_cache_mode = force_generic_plan: each query is planned once per session; the
--     partitions outside the range are pruned when the executor starts, for each call's values;
--   * jit = off: a read over many partitions has an estimated cost far above jit_above_cost,
--     and compiling its expressions takes longer than the read;
--   * search_path: the tables of the schema the function was created in, whatever the caller's.
--
-- A generic plan cannot see how many rows the ids have, so the function chooses between two
-- queries, each with a plan that is good for every range:
--   * one instrument per query (the usual case: a few of many instruments): the id is an
--     equality inside each partition's primary-key probe. The generic plan of `instrument_id = ANY(ids)` would instead scan every
--     partition's date range and filter the instruments out of it;
--   * that scan, when the ids are at least a quarter of the instruments stored in a month (the
--     rows of the partition of the range's last month up to today, over 23 trading days; its
--     row estimate, or its size at 100 bytes a row before it was ever analysed): the range's
--     rows are then mostly wanted, and one pass over each partition beats a probe per
--     instrument and partition. A month without a partition of its own, or an empty one, reads
--     per instrument: slower than the scan only where both are fast, where the scan over many
--     instruments would read far more than it returns.
-- Columns are qualified: RETURNS TABLE names are PL/pgSQL variables inside the body. Both
-- functions are made from one template, for daily_price and for daily_return.

DO $migration$
DECLARE
    v_table   TEXT;
    v_columns TEXT;
    v_select  TEXT;
BEGIN
    FOR v_table, v_columns, v_select IN VALUES
        ('daily_price',
         'instrument_id BIGINT, trade_date DATE, open_price NUMERIC, high_price NUMERIC,
          low_price NUMERIC, close_price NUMERIC, adj_close_price NUMERIC, volume BIGINT',
         't.instrument_id, t.trade_date, t.open_price, t.high_price, t.low_price,
          t.close_price, t.adj_close_price, t.volume'),
        ('daily_return',
         'instrument_id BIGINT, trade_date DATE, daily_return NUMERIC, log_return NUMERIC,
          data_quality VARCHAR, engine_version VARCHAR',
         't.instrument_id, t.trade_date, t.daily_return, t.log_return, t.data_quality,
          t.engine_version')
    LOOP
        EXECUTE format($function$
CREATE OR REPLACE FUNCTION %1$I(p_instrument_ids BIGINT[], p_from DATE, p_to DATE)
RETURNS TABLE (%2$s)
LANGUAGE plpgsql STABLE ROWS 1000
SET plan_cache_mode = force_generic_plan
SET jit = off
SET search_path FROM CURRENT
AS $body$
DECLARE
    v_ids        BIGINT[] := ARRAY(SELECT DISTINCT u.id FROM unnest(p_instrument_ids) AS u(id)
                                    WHERE u.id IS NOT NULL);
    v_month_rows REAL;
    v_id         BIGINT;
BEGIN
    IF cardinality(v_ids) > 1 THEN
        SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples
                    ELSE pg_relation_size(c.oid) / 100 END
          INTO v_month_rows FROM pg_class c
         WHERE c.oid = to_regclass(%3$L || to_char(least(p_to, current_date), 'YYYYMM'));
        IF v_month_rows > 0 AND cardinality(v_ids) * 4 * 23 >= v_month_rows THEN
            RETURN QUERY
            SELECT %4$s
              FROM %5$I t
             WHERE t.instrument_id = ANY(v_ids) AND t.trade_date >= p_from AND t.trade_date <= p_to;
            RETURN;
        END IF;
    END IF;
    FOREACH v_id IN ARRAY v_ids LOOP
        RETURN QUERY
        SELECT %4$s
          FROM %5$I t
         WHERE t.instrument_id = v_id AND t.trade_date >= p_from AND t.trade_date <= p_to;
    END LOOP;
END
$body$
$function$, v_table || '_range', v_columns, v_table || '_', v_select, v_table);
    END LOOP;
END
$migration$;
