INSERT INTO instrument_master AS m
       (instrument_type, ticker, exchange, name_ko, name_en, currency, sector, is_active, data_source)
VALUES ($1, $2, $3, $4, $5, COALESCE($6, 'KRW'), $7, COALESCE($8, true), $9)
ON CONFLICT ON CONSTRAINT uq_instrument_ticker_exchange DO UPDATE
   SET name_ko = COALESCE($4, m.name_ko), name_en = COALESCE($5, m.name_en),
       currency = COALESCE($6, m.currency), sector = COALESCE($7, m.sector),
       is_active = COALESCE($8, m.is_active), data_source = COALESCE($9, m.data_source),
       updated_at = now()
 WHERE (m.name_ko, m.name_en, m.currency, m.sector, m.is_active, m.data_source)
       IS DISTINCT FROM
       (COALESCE($4, m.name_ko), COALESCE($5, m.name_en), COALESCE($6, m.currency),
        COALESCE($7, m.sector), COALESCE($8, m.is_active), COALESCE($9, m.data_source))
RETURNING m.*, (m.xmax = 0) AS inserted
