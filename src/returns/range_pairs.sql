-- The head of a range's writing statement: the pairs (instrument_id, trade_date, price,
-- prev_price) of the range's prices, each price after the first paired with the one before it,
-- the first with the price its instrument carries in from the ranges before ($2 instrument ids,
-- $3 dates, $4 prices). The placeholder in `priced` stands for the range's prices
-- (`chunks::prices_in`, $1 the instruments); `upsert.sql` follows.
WITH priced AS ({prices}),
carried AS (
    SELECT * FROM unnest($2::bigint[], $3::date[], $4::numeric[])
                  AS c (instrument_id, trade_date, price)
),
series AS (
    SELECT instrument_id, trade_date, price, false AS carried FROM priced
     UNION ALL
    SELECT instrument_id, trade_date, price, true FROM carried
),
lagged AS (
    SELECT instrument_id, trade_date, price, carried,
           lag(price) OVER w AS prev_price, lag(trade_date) OVER w AS prev_date
      FROM series
    WINDOW w AS (PARTITION BY instrument_id ORDER BY trade_date)
),
pairs AS (
    SELECT instrument_id, trade_date, price, prev_price
      FROM lagged
     WHERE NOT carried AND prev_date IS NOT NULL
),
