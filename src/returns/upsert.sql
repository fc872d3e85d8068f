-- The tail of every writing statement of a run: the returns of `pairs` (instrument_id,
-- trade_date, price, prev_price) graded, upserted, and summarised per instrument. $5 engine
-- version.
raw AS (
    SELECT instrument_id, trade_date,
           CASE WHEN prev_price > 0 AND price > 0
                THEN round((price - prev_price) / prev_price, 8) END AS simple,
           CASE WHEN prev_price > 0 AND price > 0
                THEN round(ln(price / prev_price), 8) END AS logr
      FROM pairs
),
graded AS (
    SELECT instrument_id, trade_date, simple, logr,
           coalesce(abs(simple) < 10000, false) AS ok,
           coalesce(abs(simple) >= 10000, false) AS out_of_range
      FROM raw
),
written AS (
    INSERT INTO daily_return AS d
           (instrument_id, trade_date, daily_return, log_return, data_quality, engine_version)
    SELECT instrument_id, trade_date,
           CASE WHEN ok THEN simple ELSE 0 END,
           CASE WHEN ok THEN logr END,
           CASE WHEN ok THEN 'OK' ELSE 'MISSING' END,
           $5
      FROM graded
    ON CONFLICT (instrument_id, trade_date) DO UPDATE
       SET daily_return = EXCLUDED.daily_return,
           log_return = EXCLUDED.log_return,
           data_quality = EXCLUDED.data_quality,
           engine_version = EXCLUDED.engine_version
     WHERE (d.daily_return, d.log_return, d.data_quality, d.engine_version)
           IS DISTINCT FROM
           (EXCLUDED.daily_return, EXCLUDED.log_return, EXCLUDED.data_quality, EXCLUDED.engine_version)
    RETURNING d.instrument_id, d.trade_date
),
-- The rows written, in spans of returns consecutive in the instrument's computed series: no
-- return inside a span was left as it was. (Rank among the computed minus rank among the written
-- is constant along a span.)
computed_rank AS (
    SELECT instrument_id, trade_date,
           row_number() OVER (PARTITION BY instrument_id ORDER BY trade_date) AS n
      FROM graded
),
spans AS (
    SELECT instrument_id, min(trade_date) AS first_date, max(trade_date) AS last_date,
           count(*) AS n
      FROM (SELECT w.instrument_id, w.trade_date,
                   c.n - row_number() OVER (PARTITION BY w.instrument_id ORDER BY w.trade_date)
                       AS span
              FROM written w JOIN computed_rank c USING (instrument_id, trade_date)) ranked
     GROUP BY instrument_id, span
),
written_counts AS (
    SELECT instrument_id, sum(n)::bigint AS n,
           array_agg(first_date ORDER BY first_date) AS changed_first,
           array_agg(last_date ORDER BY first_date) AS changed_last
      FROM spans GROUP BY instrument_id
),
computed_counts AS (
    SELECT instrument_id,
           count(*) AS computed,
           count(*) FILTER (WHERE NOT ok) AS missing,
           min(trade_date) AS first_date,
           max(trade_date) AS last_date,
           coalesce(array_agg(trade_date ORDER BY trade_date) FILTER (WHERE out_of_range),
                    '{}') AS out_of_range
      FROM graded
     GROUP BY instrument_id
)
SELECT g.instrument_id, g.computed, coalesce(w.n, 0) AS written, g.missing, g.first_date,
       g.last_date, g.out_of_range,
       coalesce(w.changed_first, '{}') AS changed_first,
       coalesce(w.changed_last, '{}') AS changed_last
  FROM computed_counts g
  LEFT JOIN written_counts w USING (instrument_id)
 ORDER BY g.instrument_id
