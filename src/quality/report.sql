-- The data-quality report, one row per chosen instrument, from one pass over each time-series
-- table. $1 instrument ids (NULL = every instrument), $2 first date examined (NULL = open),
-- $3 as-of date (NULL only when there are no prices at all), $4 shortest forward-fill run,
-- $5 return threshold, $6 examples kept per finding.
--
-- `bd` numbers the weekdays: bd(x) is how many Mondays-to-Fridays lie from Monday 2000-01-03 up
-- to, not including, x (negative before it), so bd(b) − bd(a) weekdays lie in [a, b) and no
-- calendar table or series of days is needed. `bd_next` is bd(x + 1): bd(x), plus x itself if it
-- is a weekday.
WITH as_of AS (
    SELECT (n - m) / 7 * 5 + least(m + 1, 5) AS bd_next
      FROM (SELECT $3::date - DATE '2000-01-03' AS n) days
     CROSS JOIN LATERAL (SELECT ((n % 7) + 7) % 7 AS m) weekday
),
chosen AS (
    SELECT instrument_id, ticker, exchange
      FROM instrument_master
     WHERE $1::bigint[] IS NULL OR instrument_id = ANY ($1::bigint[])
),
-- The window is written with the parameters themselves, not a joined CTE, so that the planner
-- prunes the monthly partitions outside it.
prices AS (
    SELECT instrument_id, trade_date, close_price, adj_close_price,
           (n - m) / 7 * 5 + least(m, 5) AS bd,
           (n - m) / 7 * 5 + least(m + 1, 5) AS bd_next,
           least(open_price, high_price, low_price, close_price, adj_close_price) <= 0
               AS non_positive,
           high_price < low_price AS high_below_low,
           low_price <= high_price AND (close_price < low_price OR close_price > high_price)
               AS close_outside_range
      FROM daily_price
     CROSS JOIN LATERAL (SELECT trade_date - DATE '2000-01-03' AS n) days
     CROSS JOIN LATERAL (SELECT ((n % 7) + 7) % 7 AS m) weekday
     WHERE ($1::bigint[] IS NULL OR instrument_id = ANY ($1::bigint[]))
       AND trade_date BETWEEN coalesce($2::date, '-infinity') AND coalesce($3::date, 'infinity')
),
-- Each price next to the one before it: the weekdays between them that have no price, and
-- whether it repeats the previous close and adjusted close (a forward fill, if it goes on).
steps AS (
    SELECT *,
           lag(trade_date) OVER w AS prev_date,
           bd - lag(bd_next) OVER w AS missing,
           coalesce(close_price = lag(close_price) OVER w
                    AND adj_close_price IS NOT DISTINCT FROM lag(adj_close_price) OVER w,
                    false) AS repeats,
           row_number() OVER w AS rn
      FROM prices
    WINDOW w AS (PARTITION BY instrument_id ORDER BY trade_date)
),
-- Runs of repeated values, seen from their last row: how long the run is and where it began.
-- Same window as above, so the rows are not sorted again.
runs AS (
    SELECT *,
           NOT coalesce(lead(repeats) OVER w, false) AS run_ends,
           rn + 1 - max(rn) FILTER (WHERE NOT repeats) OVER w AS run_length,
           max(trade_date) FILTER (WHERE NOT repeats) OVER w AS run_first
      FROM steps
    WINDOW w AS (PARTITION BY instrument_id ORDER BY trade_date)
),
price_findings AS (
    SELECT instrument_id,
           min(trade_date) AS first_price,
           max(trade_date) AS last_price,
           count(*) AS price_rows,
           max(bd_next) AS last_bd_next,
           coalesce(sum(missing) FILTER (WHERE missing > 0), 0) AS missing_days,
           count(*) FILTER (WHERE missing > 0) AS gaps,
           -- A gap's first and last missing weekday: the weekdays next to its two prices.
           to_jsonb((array_agg(jsonb_build_object(
                   'first', prev_date + CASE extract(isodow FROM prev_date)::int
                                            WHEN 5 THEN 3 WHEN 6 THEN 2 ELSE 1 END,
                   'last', trade_date - CASE extract(isodow FROM trade_date)::int
                                            WHEN 1 THEN 3 WHEN 7 THEN 2 ELSE 1 END,
                   'days', missing) ORDER BY trade_date) FILTER (WHERE missing > 0))[1:$6])
               AS gap_examples,
           count(*) FILTER (WHERE run_ends AND run_length >= $4) AS fill_runs,
           to_jsonb((array_agg(jsonb_build_object(
                   'first', run_first, 'last', trade_date, 'days', run_length) ORDER BY trade_date)
               FILTER (WHERE run_ends AND run_length >= $4))[1:$6]) AS fill_run_examples,
           count(*) FILTER (WHERE non_positive) AS non_positive_prices,
           (array_agg(trade_date ORDER BY trade_date) FILTER (WHERE non_positive))[1:$6]
               AS non_positive_price_examples,
           count(*) FILTER (WHERE high_below_low) AS high_below_low,
           (array_agg(trade_date ORDER BY trade_date) FILTER (WHERE high_below_low))[1:$6]
               AS high_below_low_examples,
           count(*) FILTER (WHERE close_outside_range) AS close_outside_range,
           (array_agg(trade_date ORDER BY trade_date) FILTER (WHERE close_outside_range))[1:$6]
               AS close_outside_range_examples
      FROM runs
     GROUP BY instrument_id
),
-- Only the flagged returns go past the scan: normally a handful among millions.
flagged_returns AS (
    SELECT instrument_id, trade_date, data_quality,
           data_quality IS DISTINCT FROM 'MISSING' AND abs(daily_return) > $5 AS jump
      FROM daily_return
     WHERE ($1::bigint[] IS NULL OR instrument_id = ANY ($1::bigint[]))
       AND trade_date BETWEEN coalesce($2::date, '-infinity') AND coalesce($3::date, 'infinity')
       AND (data_quality IN ('MISSING', 'IMPUTED') OR abs(daily_return) > $5)
),
return_findings AS (
    SELECT instrument_id,
           count(*) FILTER (WHERE data_quality = 'MISSING') AS missing_returns,
           (array_agg(trade_date ORDER BY trade_date) FILTER (WHERE data_quality = 'MISSING'))[1:$6]
               AS missing_return_examples,
           count(*) FILTER (WHERE data_quality = 'IMPUTED') AS imputed_returns,
           (array_agg(trade_date ORDER BY trade_date) FILTER (WHERE data_quality = 'IMPUTED'))[1:$6]
               AS imputed_return_examples,
           count(*) FILTER (WHERE jump) AS jumps,
           (array_agg(trade_date ORDER BY trade_date) FILTER (WHERE jump))[1:$6] AS jump_examples
      FROM flagged_returns
     GROUP BY instrument_id
)
SELECT c.instrument_id, c.ticker, c.exchange,
       p.first_price, p.last_price,
       coalesce(p.price_rows, 0) AS price_rows,
       coalesce(p.missing_days, 0) AS missing_days,
       coalesce(p.gaps, 0) AS gaps,
       coalesce(p.gap_examples, '[]') AS gap_examples,
       -- Weekdays after the last price through the as-of date: bd_next(as_of) − bd_next(last).
       (a.bd_next - p.last_bd_next)::bigint AS business_days_since_last,
       coalesce(p.fill_runs, 0) AS fill_runs,
       coalesce(p.fill_run_examples, '[]') AS fill_run_examples,
       coalesce(r.missing_returns, 0) AS missing_returns,
       coalesce(r.missing_return_examples, '{}') AS missing_return_examples,
       coalesce(r.imputed_returns, 0) AS imputed_returns,
       coalesce(r.imputed_return_examples, '{}') AS imputed_return_examples,
       coalesce(r.jumps, 0) AS jumps,
       coalesce(r.jump_examples, '{}') AS jump_examples,
       coalesce(p.non_positive_prices, 0) AS non_positive_prices,
       coalesce(p.non_positive_price_examples, '{}') AS non_positive_price_examples,
       coalesce(p.high_below_low, 0) AS high_below_low,
       coalesce(p.high_below_low_examples, '{}') AS high_below_low_examples,
       coalesce(p.close_outside_range, 0) AS close_outside_range,
       coalesce(p.close_outside_range_examples, '{}') AS close_outside_range_examples
  FROM chosen c
 CROSS JOIN as_of a
  LEFT JOIN price_findings p USING (instrument_id)
  LEFT JOIN return_findings r USING (instrument_id)
 ORDER BY c.ticker, c.exchange, c.instrument_id
