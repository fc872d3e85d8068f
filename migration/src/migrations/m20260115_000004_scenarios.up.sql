-- Managed scenarios and their portfolios, versioned by effective date, with the weights of each.

CREATE TABLE IF NOT EXISTS scenario_definition (
    scenario_id     VARCHAR(50)  PRIMARY KEY,
    name_ko         VARCHAR(100) NOT NULL,
    name_en         VARCHAR(100),
    description     TEXT,
    objective       TEXT,
    target_investor TEXT,
    risk_level      VARCHAR(20),
    disclaimer      TEXT         NOT NULL,
    is_active       BOOLEAN      DEFAULT true,
    display_order   INTEGER      DEFAULT 0,
    created_at      TIMESTAMPTZ  DEFAULT now(),
    updated_at      TIMESTAMPTZ  DEFAULT now()
);

CREATE TABLE IF NOT EXISTS portfolio_model (
    portfolio_id   BIGSERIAL    PRIMARY KEY,
    scenario_id    VARCHAR(50)  NOT NULL,
    portfolio_name VARCHAR(100) NOT NULL,
    effective_date DATE         NOT NULL,
    expiry_date    DATE,
    rebalance_freq VARCHAR(20)  DEFAULT 'NONE',
    engine_version VARCHAR(20),
    created_at     TIMESTAMPTZ  DEFAULT now(),
    CONSTRAINT uq_portfolio_scenario_date UNIQUE (scenario_id, effective_date)
);

CREATE INDEX IF NOT EXISTS idx_portfolio_model_scenario ON portfolio_model (scenario_id);
CREATE INDEX IF NOT EXISTS idx_portfolio_model_effective ON portfolio_model (effective_date);

CREATE TABLE IF NOT EXISTS portfolio_allocation (
    allocation_id BIGSERIAL    PRIMARY KEY,
    portfolio_id  BIGINT       NOT NULL,
    instrument_id BIGINT       NOT NULL,
    weight        NUMERIC(5,4) NOT NULL,
    asset_class   VARCHAR(50),
    created_at    TIMESTAMPTZ  DEFAULT now(),
    CONSTRAINT chk_weight_range CHECK (weight >= 0 AND weight <= 1),
    CONSTRAINT uq_allocation_portfolio_instrument UNIQUE (portfolio_id, instrument_id)
);

CREATE INDEX IF NOT EXISTS idx_portfolio_allocation_portfolio ON portfolio_allocation (portfolio_id);

SELECT pg_temp.require_none(
    'SELECT count(*) FROM portfolio_allocation a WHERE NOT EXISTS (SELECT 1 FROM instrument_master i WHERE i.instrument_id = a.instrument_id)',
    'portfolio_allocation rows reference instruments missing from instrument_master');

SELECT pg_temp.ensure_fk('portfolio_model', 'scenario_id', 'scenario_definition', 'scenario_id',
                         'NO ACTION', 'portfolio_model_scenario_id_fkey');
SELECT pg_temp.ensure_fk('portfolio_allocation', 'portfolio_id', 'portfolio_model', 'portfolio_id',
                         'CASCADE', 'portfolio_allocation_portfolio_id_fkey');
SELECT pg_temp.ensure_fk('portfolio_allocation', 'instrument_id', 'instrument_master', 'instrument_id',
                         'NO ACTION', 'portfolio_allocation_instrument_id_fkey');

-- The weight-sum rule. It runs at commit (deferred constraint trigger), so re-weighting several
-- rows inside one transaction never trips over an intermediate state, and it first takes a row
-- lock on the portfolio by updating it: a concurrent transaction checking the same portfolio
-- waits for this one and then sums the committed rows (READ COMMITTED), or fails with a
-- serialization error (REPEATABLE READ / SERIALIZABLE) — never two commits that together exceed
-- the limit. Message prefix kept from the reference: 'Portfolio weight sum exceeds 1.0'.
CREATE OR REPLACE FUNCTION check_portfolio_weight_sum() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_sum NUMERIC;
BEGIN
    UPDATE portfolio_model SET portfolio_id = portfolio_id WHERE portfolio_id = NEW.portfolio_id;

    SELECT COALESCE(SUM(weight), 0) INTO v_sum
      FROM portfolio_allocation WHERE portfolio_id = NEW.portfolio_id;

    IF v_sum > 1.0001 THEN
        RAISE EXCEPTION 'Portfolio weight sum exceeds 1.0: % (portfolio_id %)', v_sum, NEW.portfolio_id
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'trg_check_portfolio_weight',
                  DETAIL = format('portfolio_id=%s sum=%s', NEW.portfolio_id, v_sum);
    END IF;
    RETURN NULL;
END
$$;

-- The reference DDL created a plain (immediate) trigger of the same name; replace it, and only
-- it, so that re-running leaves an existing deferred trigger untouched.
DO $$
DECLARE
    v_deferred boolean;
BEGIN
    SELECT tgdeferrable AND tginitdeferred INTO v_deferred
      FROM pg_trigger
     WHERE tgrelid = 'portfolio_allocation'::regclass AND tgname = 'trg_check_portfolio_weight';
    IF v_deferred IS FALSE THEN
        DROP TRIGGER trg_check_portfolio_weight ON portfolio_allocation;
    END IF;
    IF v_deferred IS NOT TRUE THEN
        CREATE CONSTRAINT TRIGGER trg_check_portfolio_weight
            AFTER INSERT OR UPDATE ON portfolio_allocation
            DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION check_portfolio_weight_sum();
    END IF;
END
$$;
