-- Unified instrument master (stock / ETF / bond / index / FX).

CREATE TABLE IF NOT EXISTS instrument_master (
    instrument_id   BIGSERIAL    PRIMARY KEY,
    instrument_type VARCHAR(20)  NOT NULL,
    ticker          VARCHAR(20)  NOT NULL,
    exchange        VARCHAR(20)  NOT NULL,
    name_ko         VARCHAR(200),
    name_en         VARCHAR(200),
    currency        VARCHAR(3)   NOT NULL DEFAULT 'KRW',
    sector          VARCHAR(100),
    is_active       BOOLEAN      DEFAULT true,
    data_source     VARCHAR(50),
    created_at      TIMESTAMPTZ  DEFAULT now(),
    updated_at      TIMESTAMPTZ  DEFAULT now(),
    CONSTRAINT uq_instrument_ticker_exchange UNIQUE (instrument_type, ticker, exchange)
);

CREATE INDEX IF NOT EXISTS idx_instrument_master_type ON instrument_master (instrument_type);
CREATE INDEX IF NOT EXISTS idx_instrument_master_ticker ON instrument_master (ticker);
CREATE INDEX IF NOT EXISTS idx_instrument_master_active ON instrument_master (is_active) WHERE is_active = true;
