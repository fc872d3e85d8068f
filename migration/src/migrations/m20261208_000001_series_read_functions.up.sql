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
-- Columns are qualified: RETURNS TABLE names are PL/pgSQL variables inside the body.

CREATE OR REPLACE FUNCTION daily_price_range(p_instrument_ids BIGINT[], p_from DATE, p_to DATE)
RETURNS TABLE (
    instrument_id   BIGINT,
    trade_date      DATE,
    open_price      NUMERIC,
    high_price      NUMERIC,
    low_price       NUMERIC,
    close_price     NUMERIC,
    adj_close_price NUMERIC,
    volume          BIGINT
)
LANGUAGE plpgsql STABLE ROWS 1000
SET plan_cache_mode = force_generic_plan
SET jit = off
SET search_path FROM CURRENT
AS $$
DECLARE
    v_ids         BIGINT[] := ARRAY(SELECT DISTINCT u.id FROM unnest(p_instrument_ids) AS u(id)
                                     WHERE u.id IS NOT NULL ORDER BY u.id);
    v_month_rows  REAL;
    v_id          BIGINT;
BEGIN
    IF cardinality(v_ids) > 1 THEN
        SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples
                    ELSE pg_relation_size(c.oid) / 100 END
          INTO v_month_rows FROM pg_class c
         WHERE c.oid = to_regclass('daily_price_' || to_char(least(p_to, current_date), 'YYYYMM'));
        IF v_month_rows > 0 AND cardinality(v_ids) * 4 * 23 >= v_month_rows THEN
            RETURN QUERY
            SELECT p.instrument_id, p.trade_date, p.open_price, p.high_price, p.low_price,
                   p.close_price, p.adj_close_price, p.volume
              FROM daily_price p
             WHERE p.instrument_id = ANY(v_ids)
               AND p.trade_date >= p_from AND p.trade_date <= p_to;
            RETURN;
        END IF;
    END IF;
    FOREACH v_id IN ARRAY v_ids LOOP
        RETURN QUERY
        SELECT p.instrument_id, p.trade_date, p.open_price, p.high_price, p.low_price,
               p.close_price, p.adj_close_price, p.volume
          FROM daily_price p
         WHERE p.instrument_id = v_id
           AND p.trade_date >= p_from AND p.trade_date <= p_to;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION daily_return_range(p_instrument_ids BIGINT[], p_from DATE, p_to DATE)
RETURNS TABLE (
    instrument_id  BIGINT,
    trade_date     DATE,
    daily_return   NUMERIC,
    log_return     NUMERIC,
    data_quality   VARCHAR,
    engine_version VARCHAR
)
LANGUAGE plpgsql STABLE ROWS 1000
SET plan_cache_mode = force_generic_plan
SET jit = off
SET search_path FROM CURRENT
AS $$
DECLARE
    v_ids         BIGINT[] := ARRAY(SELECT DISTINCT u.id FROM unnest(p_instrument_ids) AS u(id)
                                     WHERE u.id IS NOT NULL ORDER BY u.id);
    v_month_rows  REAL;
    v_id          BIGINT;
BEGIN
    IF cardinality(v_ids) > 1 THEN
        SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples
                    ELSE pg_relation_size(c.oid) / 100 END
          INTO v_month_rows FROM pg_class c
         WHERE c.oid = to_regclass('daily_return_' || to_char(least(p_to, current_date), 'YYYYMM'));
        IF v_month_rows > 0 AND cardinality(v_ids) * 4 * 23 >= v_month_rows THEN
            RETURN QUERY
            SELECT r.instrument_id, r.trade_date, r.daily_return, r.log_return, r.data_quality,
                   r.engine_version
              FROM daily_return r
             WHERE r.instrument_id = ANY(v_ids)
               AND r.trade_date >= p_from AND r.trade_date <= p_to;
            RETURN;
        END IF;
    END IF;
    FOREACH v_id IN ARRAY v_ids LOOP
        RETURN QUERY
        SELECT r.instrument_id, r.trade_date, r.daily_return, r.log_return, r.data_quality,
               r.engine_version
          FROM daily_return r
         WHERE r.instrument_id = v_id
           AND r.trade_date >= p_from AND r.trade_date <= p_to;
    END LOOP;
END
$$;
