-- Metadata: engine/model versions and the history of every data load.

CREATE TABLE IF NOT EXISTS model_version_registry (
    version_id   VARCHAR(20)  PRIMARY KEY,
    version_name VARCHAR(100) NOT NULL,
    description  TEXT,
    release_date DATE         NOT NULL,
    is_active    BOOLEAN      DEFAULT true,
    created_at   TIMESTAMPTZ  DEFAULT now(),
    updated_at   TIMESTAMPTZ  DEFAULT now()
);

CREATE TABLE IF NOT EXISTS source_load_history (
    load_id        BIGSERIAL    PRIMARY KEY,
    source_type    VARCHAR(50)  NOT NULL,
    source_name    VARCHAR(100) NOT NULL,
    load_status    VARCHAR(20)  NOT NULL DEFAULT 'STARTED',
    records_loaded INTEGER      DEFAULT 0,
    records_failed INTEGER      DEFAULT 0,
    error_message  TEXT,
    started_at     TIMESTAMPTZ  DEFAULT now(),
    completed_at   TIMESTAMPTZ,
    loaded_by      VARCHAR(50),
    created_at     TIMESTAMPTZ  DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_source_load_history_status ON source_load_history (load_status);
CREATE INDEX IF NOT EXISTS idx_source_load_history_source ON source_load_history (source_type, source_name);
