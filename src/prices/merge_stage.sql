WITH changed AS MATERIALIZED (
    SELECT s.*, e.instrument_id IS NULL AS is_new
      FROM foresto_price_stage s
      LEFT JOIN (SELECT instrument_id, trade_date, open_price, high_price, low_price,
                        close_price, adj_close_price, volume
                   FROM daily_price
                  WHERE instrument_id = ANY($1) AND trade_date BETWEEN $2 AND $3) e
             ON e.instrument_id = s.instrument_id AND e.trade_date = s.trade_date
     WHERE e.instrument_id IS NULL
        OR (e.open_price, e.high_price, e.low_price, e.close_price, e.adj_close_price, e.volume)
           IS DISTINCT FROM
           (s.open_price, s.high_price, s.low_price, s.close_price, s.adj_close_price, s.volume)
), written AS (
    INSERT INTO daily_price AS d (instrument_id, trade_date, open_price, high_price, low_price,
                                  close_price, adj_close_price, volume, load_id)
    SELECT instrument_id, trade_date, open_price, high_price, low_price,
           close_price, adj_close_price, volume, load_id
      FROM changed
    ON CONFLICT (instrument_id, trade_date) DO UPDATE
       SET open_price = EXCLUDED.open_price, high_price = EXCLUDED.high_price,
           low_price = EXCLUDED.low_price, close_price = EXCLUDED.close_price,
           adj_close_price = EXCLUDED.adj_close_price, volume = EXCLUDED.volume,
           load_id = EXCLUDED.load_id
     -- A concurrent writer may have stored the same values since the join looked.
     WHERE (d.open_price, d.high_price, d.low_price, d.close_price, d.adj_close_price, d.volume)
           IS DISTINCT FROM
           (EXCLUDED.open_price, EXCLUDED.high_price, EXCLUDED.low_price, EXCLUDED.close_price,
            EXCLUDED.adj_close_price, EXCLUDED.volume)
    RETURNING 1
)
SELECT (SELECT count(*) FROM changed WHERE is_new), (SELECT count(*) FROM written)
