-- Daily prices and returns: range-partitioned by trade_date, one partition per month (created by
-- create_monthly_partitions), plus a DEFAULT partition so that no write fails for want of one.

CREATE TABLE IF NOT EXISTS daily_price (
    price_id        BIGSERIAL,
    instrument_id   BIGINT        NOT NULL,
    trade_date      DATE          NOT NULL,
    open_price      NUMERIC(18,4),
    high_price      NUMERIC(18,4),
    low_price       NUMERIC(18,4),
    close_price     NUMERIC(18,4) NOT NULL,
    adj_close_price NUMERIC(18,4),
    volume          BIGINT,
    load_id         BIGINT,
    created_at      TIMESTAMPTZ   DEFAULT now(),
    PRIMARY KEY (instrument_id, trade_date)
) PARTITION BY RANGE (trade_date);

CREATE INDEX IF NOT EXISTS idx_daily_price_date ON daily_price (trade_date);
CREATE INDEX IF NOT EXISTS idx_daily_price_instrument_date ON daily_price (instrument_id, trade_date DESC);

CREATE TABLE IF NOT EXISTS daily_return (
    return_id      BIGSERIAL,
    instrument_id  BIGINT        NOT NULL,
    trade_date     DATE          NOT NULL,
    daily_return   NUMERIC(12,8) NOT NULL,
    log_return     NUMERIC(12,8),
    data_quality   VARCHAR(20)   DEFAULT 'OK',
    engine_version VARCHAR(20),
    created_at     TIMESTAMPTZ   DEFAULT now(),
    PRIMARY KEY (instrument_id, trade_date)
) PARTITION BY RANGE (trade_date);

CREATE INDEX IF NOT EXISTS idx_daily_return_date ON daily_return (trade_date);
CREATE INDEX IF NOT EXISTS idx_daily_return_quality ON daily_return (data_quality) WHERE data_quality <> 'OK';
CREATE INDEX IF NOT EXISTS idx_daily_return_instrument_date ON daily_return (instrument_id, trade_date DESC);

SELECT pg_temp.ensure_default_partition('daily_price');
SELECT pg_temp.ensure_default_partition('daily_return');

-- A price whose load row is gone keeps its values and loses only the provenance link, which is
-- what ON DELETE SET NULL would have done had the reference DDL declared it.
UPDATE daily_price p SET load_id = NULL
 WHERE p.load_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM source_load_history l WHERE l.load_id = p.load_id);

SELECT pg_temp.require_none(
    'SELECT count(*) FROM daily_price p WHERE NOT EXISTS (SELECT 1 FROM instrument_master i WHERE i.instrument_id = p.instrument_id)',
    'daily_price rows reference instruments missing from instrument_master');
SELECT pg_temp.require_none(
    'SELECT count(*) FROM daily_return r WHERE NOT EXISTS (SELECT 1 FROM instrument_master i WHERE i.instrument_id = r.instrument_id)',
    'daily_return rows reference instruments missing from instrument_master');

SELECT pg_temp.ensure_fk('daily_price', 'instrument_id', 'instrument_master', 'instrument_id',
                         'NO ACTION', 'daily_price_instrument_id_fkey');
SELECT pg_temp.ensure_fk('daily_price', 'load_id', 'source_load_history', 'load_id',
                         'SET NULL', 'daily_price_load_id_fkey');
SELECT pg_temp.ensure_fk('daily_return', 'instrument_id', 'instrument_master', 'instrument_id',
                         'NO ACTION', 'daily_return_instrument_id_fkey');
