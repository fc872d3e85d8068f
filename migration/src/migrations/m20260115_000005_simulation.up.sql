-- Simulation results: one run per request (cached by hash), its daily NAV path (range-partitioned
-- by path_date, monthly) and one summary row. Deleting a run deletes its path and summary.

CREATE TABLE IF NOT EXISTS simulation_run (
    run_id             BIGSERIAL    PRIMARY KEY,
    request_hash       VARCHAR(64)  NOT NULL UNIQUE,
    scenario_id        VARCHAR(50),
    portfolio_id       BIGINT,
    user_id            BIGINT,
    start_date         DATE         NOT NULL,
    end_date           DATE         NOT NULL,
    initial_amount     NUMERIC(18,2) NOT NULL,
    rebalance_freq     VARCHAR(20),
    max_loss_limit_pct NUMERIC(5,2),
    request_params     JSONB,
    engine_version     VARCHAR(20)  NOT NULL,
    run_status         VARCHAR(20)  DEFAULT 'COMPLETED',
    error_message      TEXT,
    created_at         TIMESTAMPTZ  DEFAULT now(),
    expires_at         TIMESTAMPTZ,
    CONSTRAINT chk_date_range CHECK (end_date > start_date)
);

CREATE INDEX IF NOT EXISTS idx_simulation_run_hash ON simulation_run (request_hash);
CREATE INDEX IF NOT EXISTS idx_simulation_run_scenario ON simulation_run (scenario_id);
CREATE INDEX IF NOT EXISTS idx_simulation_run_user ON simulation_run (user_id);
CREATE INDEX IF NOT EXISTS idx_simulation_run_expires ON simulation_run (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS simulation_path (
    path_id           BIGSERIAL,
    run_id            BIGINT        NOT NULL,
    path_date         DATE          NOT NULL,
    nav               NUMERIC(18,4) NOT NULL,
    daily_return      NUMERIC(12,8),
    cumulative_return NUMERIC(12,8),
    drawdown          NUMERIC(12,8),
    high_water_mark   NUMERIC(18,4),
    created_at        TIMESTAMPTZ   DEFAULT now(),
    PRIMARY KEY (run_id, path_date)
) PARTITION BY RANGE (path_date);

CREATE INDEX IF NOT EXISTS idx_simulation_path_run ON simulation_path (run_id);
CREATE INDEX IF NOT EXISTS idx_simulation_path_run_date ON simulation_path (run_id, path_date DESC);

SELECT pg_temp.ensure_default_partition('simulation_path');

CREATE TABLE IF NOT EXISTS simulation_summary (
    summary_id        BIGSERIAL     PRIMARY KEY,
    run_id            BIGINT        NOT NULL UNIQUE,
    max_drawdown      NUMERIC(8,4)  NOT NULL,
    max_recovery_days INTEGER,
    worst_1m_return   NUMERIC(8,4),
    worst_3m_return   NUMERIC(8,4),
    volatility        NUMERIC(8,4),
    total_return      NUMERIC(10,4) NOT NULL,
    cagr              NUMERIC(8,4),
    sharpe_ratio      NUMERIC(8,4),
    sortino_ratio     NUMERIC(8,4),
    final_value       NUMERIC(18,2),
    trading_days      INTEGER,
    rebalance_count   INTEGER       DEFAULT 0,
    created_at        TIMESTAMPTZ   DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_simulation_summary_run ON simulation_summary (run_id);

-- Path rows of a run that no longer exists are unreachable leftovers of the reference schema's
-- missing cascade (it let a run be deleted without its path): the cascade would have removed
-- them, so adoption does too. Anything else dangling is reported, not touched.
DELETE FROM simulation_path p
 WHERE NOT EXISTS (SELECT 1 FROM simulation_run r WHERE r.run_id = p.run_id);
SELECT pg_temp.require_none(
    'SELECT count(*) FROM simulation_run r WHERE r.portfolio_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM portfolio_model m WHERE m.portfolio_id = r.portfolio_id)',
    'simulation_run rows reference portfolios missing from portfolio_model');

SELECT pg_temp.ensure_fk('simulation_run', 'scenario_id', 'scenario_definition', 'scenario_id',
                         'NO ACTION', 'simulation_run_scenario_id_fkey');
SELECT pg_temp.ensure_fk('simulation_run', 'portfolio_id', 'portfolio_model', 'portfolio_id',
                         'NO ACTION', 'simulation_run_portfolio_id_fkey');
SELECT pg_temp.ensure_fk('simulation_path', 'run_id', 'simulation_run', 'run_id',
                         'CASCADE', 'simulation_path_run_id_fkey');
SELECT pg_temp.ensure_fk('simulation_summary', 'run_id', 'simulation_run', 'run_id',
                         'CASCADE', 'simulation_summary_run_id_fkey');
