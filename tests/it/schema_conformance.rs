//! The migrated schema is exactly the original DDL of docs/schema.md, "Tables" (names, types, nullability, defaults,
//! constraints, indexes, function, trigger) plus what docs/schema.md lists "Beyond the original DDL", read from the catalog.

use crate::support::{
    TABLES, TestDatabase, count, exec, months_through_now_plus, schema_snapshot, strings,
};

/// The original DDL, column by column: `table.column type [NOT NULL] [DEFAULT expr]` as PostgreSQL prints it.
const PART_A_COLUMNS: &str = r#"
model_version_registry.version_id character varying(20) NOT NULL
model_version_registry.version_name character varying(100) NOT NULL
model_version_registry.description text
model_version_registry.release_date date NOT NULL
model_version_registry.is_active boolean DEFAULT true
model_version_registry.created_at timestamp with time zone DEFAULT now()
model_version_registry.updated_at timestamp with time zone DEFAULT now()
source_load_history.load_id bigint NOT NULL DEFAULT nextval('source_load_history_load_id_seq'::regclass)
source_load_history.source_type character varying(50) NOT NULL
source_load_history.source_name character varying(100) NOT NULL
source_load_history.load_status character varying(20) NOT NULL DEFAULT 'STARTED'::character varying
source_load_history.records_loaded integer DEFAULT 0
source_load_history.records_failed integer DEFAULT 0
source_load_history.error_message text
source_load_history.started_at timestamp with time zone DEFAULT now()
source_load_history.completed_at timestamp with time zone
source_load_history.loaded_by character varying(50)
source_load_history.created_at timestamp with time zone DEFAULT now()
instrument_master.instrument_id bigint NOT NULL DEFAULT nextval('instrument_master_instrument_id_seq'::regclass)
instrument_master.instrument_type character varying(20) NOT NULL
instrument_master.ticker character varying(20) NOT NULL
instrument_master.exchange character varying(20) NOT NULL
instrument_master.name_ko character varying(200)
instrument_master.name_en character varying(200)
instrument_master.currency character varying(3) NOT NULL DEFAULT 'KRW'::character varying
instrument_master.sector character varying(100)
instrument_master.is_active boolean DEFAULT true
instrument_master.data_source character varying(50)
instrument_master.created_at timestamp with time zone DEFAULT now()
instrument_master.updated_at timestamp with time zone DEFAULT now()
daily_price.price_id bigint NOT NULL DEFAULT nextval('daily_price_price_id_seq'::regclass)
daily_price.instrument_id bigint NOT NULL
daily_price.trade_date date NOT NULL
daily_price.open_price numeric(18,4)
daily_price.high_price numeric(18,4)
daily_price.low_price numeric(18,4)
daily_price.close_price numeric(18,4) NOT NULL
daily_price.adj_close_price numeric(18,4)
daily_price.volume bigint
daily_price.load_id bigint
daily_price.created_at timestamp with time zone DEFAULT now()
daily_return.return_id bigint NOT NULL DEFAULT nextval('daily_return_return_id_seq'::regclass)
daily_return.instrument_id bigint NOT NULL
daily_return.trade_date date NOT NULL
daily_return.daily_return numeric(12,8) NOT NULL
daily_return.log_return numeric(12,8)
daily_return.data_quality character varying(20) DEFAULT 'OK'::character varying
daily_return.engine_version character varying(20)
daily_return.created_at timestamp with time zone DEFAULT now()
scenario_definition.scenario_id character varying(50) NOT NULL
scenario_definition.name_ko character varying(100) NOT NULL
scenario_definition.name_en character varying(100)
scenario_definition.description text
scenario_definition.objective text
scenario_definition.target_investor text
scenario_definition.risk_level character varying(20)
scenario_definition.disclaimer text NOT NULL
scenario_definition.is_active boolean DEFAULT true
scenario_definition.display_order integer DEFAULT 0
scenario_definition.created_at timestamp with time zone DEFAULT now()
scenario_definition.updated_at timestamp with time zone DEFAULT now()
portfolio_model.portfolio_id bigint NOT NULL DEFAULT nextval('portfolio_model_portfolio_id_seq'::regclass)
portfolio_model.scenario_id character varying(50) NOT NULL
portfolio_model.portfolio_name character varying(100) NOT NULL
portfolio_model.effective_date date NOT NULL
portfolio_model.expiry_date date
portfolio_model.rebalance_freq character varying(20) DEFAULT 'NONE'::character varying
portfolio_model.engine_version character varying(20)
portfolio_model.created_at timestamp with time zone DEFAULT now()
portfolio_allocation.allocation_id bigint NOT NULL DEFAULT nextval('portfolio_allocation_allocation_id_seq'::regclass)
portfolio_allocation.portfolio_id bigint NOT NULL
portfolio_allocation.instrument_id bigint NOT NULL
portfolio_allocation.weight numeric(5,4) NOT NULL
portfolio_allocation.asset_class character varying(50)
portfolio_allocation.created_at timestamp with time zone DEFAULT now()
simulation_run.run_id bigint NOT NULL DEFAULT nextval('simulation_run_run_id_seq'::regclass)
simulation_run.request_hash character varying(64) NOT NULL
simulation_run.scenario_id character varying(50)
simulation_run.portfolio_id bigint
simulation_run.user_id bigint
simulation_run.start_date date NOT NULL
simulation_run.end_date date NOT NULL
simulation_run.initial_amount numeric(18,2) NOT NULL
simulation_run.rebalance_freq character varying(20)
simulation_run.max_loss_limit_pct numeric(5,2)
simulation_run.request_params jsonb
simulation_run.engine_version character varying(20) NOT NULL
simulation_run.run_status character varying(20) DEFAULT 'COMPLETED'::character varying
simulation_run.error_message text
simulation_run.created_at timestamp with time zone DEFAULT now()
simulation_run.expires_at timestamp with time zone
simulation_path.path_id bigint NOT NULL DEFAULT nextval('simulation_path_path_id_seq'::regclass)
simulation_path.run_id bigint NOT NULL
simulation_path.path_date date NOT NULL
simulation_path.nav numeric(18,4) NOT NULL
simulation_path.daily_return numeric(12,8)
simulation_path.cumulative_return numeric(12,8)
simulation_path.drawdown numeric(12,8)
simulation_path.high_water_mark numeric(18,4)
simulation_path.created_at timestamp with time zone DEFAULT now()
simulation_summary.summary_id bigint NOT NULL DEFAULT nextval('simulation_summary_summary_id_seq'::regclass)
simulation_summary.run_id bigint NOT NULL
simulation_summary.max_drawdown numeric(8,4) NOT NULL
simulation_summary.max_recovery_days integer
simulation_summary.worst_1m_return numeric(8,4)
simulation_summary.worst_3m_return numeric(8,4)
simulation_summary.volatility numeric(8,4)
simulation_summary.total_return numeric(10,4) NOT NULL
simulation_summary.cagr numeric(8,4)
simulation_summary.sharpe_ratio numeric(8,4)
simulation_summary.sortino_ratio numeric(8,4)
simulation_summary.final_value numeric(18,2)
simulation_summary.trading_days integer
simulation_summary.rebalance_count integer DEFAULT 0
simulation_summary.created_at timestamp with time zone DEFAULT now()
simulation_run_instrument.run_id bigint NOT NULL
simulation_run_instrument.instrument_id bigint NOT NULL
"#;

/// The original constraints and our added foreign keys: `table name definition`.
const CONSTRAINTS: &str = r#"
daily_price daily_price_instrument_id_fkey FOREIGN KEY (instrument_id) REFERENCES instrument_master(instrument_id)
daily_price daily_price_load_id_fkey FOREIGN KEY (load_id) REFERENCES source_load_history(load_id) ON DELETE SET NULL
daily_price daily_price_pkey PRIMARY KEY (instrument_id, trade_date)
daily_return daily_return_instrument_id_fkey FOREIGN KEY (instrument_id) REFERENCES instrument_master(instrument_id)
daily_return daily_return_pkey PRIMARY KEY (instrument_id, trade_date)
instrument_master instrument_master_pkey PRIMARY KEY (instrument_id)
instrument_master uq_instrument_ticker_exchange UNIQUE (instrument_type, ticker, exchange)
model_version_registry model_version_registry_pkey PRIMARY KEY (version_id)
portfolio_allocation chk_weight_range CHECK (((weight >= (0)::numeric) AND (weight <= (1)::numeric)))
portfolio_allocation portfolio_allocation_instrument_id_fkey FOREIGN KEY (instrument_id) REFERENCES instrument_master(instrument_id)
portfolio_allocation portfolio_allocation_pkey PRIMARY KEY (allocation_id)
portfolio_allocation portfolio_allocation_portfolio_id_fkey FOREIGN KEY (portfolio_id) REFERENCES portfolio_model(portfolio_id) ON DELETE CASCADE
portfolio_allocation uq_allocation_portfolio_instrument UNIQUE (portfolio_id, instrument_id)
portfolio_model portfolio_model_pkey PRIMARY KEY (portfolio_id)
portfolio_model portfolio_model_scenario_id_fkey FOREIGN KEY (scenario_id) REFERENCES scenario_definition(scenario_id)
portfolio_model uq_portfolio_scenario_date UNIQUE (scenario_id, effective_date)
scenario_definition scenario_definition_pkey PRIMARY KEY (scenario_id)
simulation_path simulation_path_pkey PRIMARY KEY (run_id, path_date)
simulation_path simulation_path_run_id_fkey FOREIGN KEY (run_id) REFERENCES simulation_run(run_id) ON DELETE CASCADE
simulation_run chk_date_range CHECK ((end_date > start_date))
simulation_run simulation_run_pkey PRIMARY KEY (run_id)
simulation_run simulation_run_portfolio_id_fkey FOREIGN KEY (portfolio_id) REFERENCES portfolio_model(portfolio_id)
simulation_run simulation_run_request_hash_key UNIQUE (request_hash)
simulation_run simulation_run_scenario_id_fkey FOREIGN KEY (scenario_id) REFERENCES scenario_definition(scenario_id)
simulation_summary simulation_summary_pkey PRIMARY KEY (summary_id)
simulation_summary simulation_summary_run_id_fkey FOREIGN KEY (run_id) REFERENCES simulation_run(run_id) ON DELETE CASCADE
simulation_summary simulation_summary_run_id_key UNIQUE (run_id)
source_load_history source_load_history_pkey PRIMARY KEY (load_id)
simulation_run_instrument simulation_run_instrument_instrument_id_fkey FOREIGN KEY (instrument_id) REFERENCES instrument_master(instrument_id)
simulation_run_instrument simulation_run_instrument_pkey PRIMARY KEY (run_id, instrument_id)
simulation_run_instrument simulation_run_instrument_run_id_fkey FOREIGN KEY (run_id) REFERENCES simulation_run(run_id) ON DELETE CASCADE
"#;

/// The original named indexes (plus the ones its keys imply), as `pg_get_indexdef` prints them.
const INDEXES: &str = r#"
CREATE INDEX idx_daily_price_date ON ONLY public.daily_price USING btree (trade_date)
CREATE INDEX idx_daily_price_instrument_date ON ONLY public.daily_price USING btree (instrument_id, trade_date DESC)
CREATE INDEX idx_daily_return_date ON ONLY public.daily_return USING btree (trade_date)
CREATE INDEX idx_daily_return_instrument_date ON ONLY public.daily_return USING btree (instrument_id, trade_date DESC)
CREATE INDEX idx_daily_return_quality ON ONLY public.daily_return USING btree (data_quality) WHERE ((data_quality)::text <> 'OK'::text)
CREATE INDEX idx_instrument_master_active ON public.instrument_master USING btree (is_active) WHERE (is_active = true)
CREATE INDEX idx_instrument_master_ticker ON public.instrument_master USING btree (ticker)
CREATE INDEX idx_instrument_master_type ON public.instrument_master USING btree (instrument_type)
CREATE INDEX idx_portfolio_allocation_portfolio ON public.portfolio_allocation USING btree (portfolio_id)
CREATE INDEX idx_portfolio_model_effective ON public.portfolio_model USING btree (effective_date)
CREATE INDEX idx_portfolio_model_scenario ON public.portfolio_model USING btree (scenario_id)
CREATE INDEX idx_simulation_path_run ON ONLY public.simulation_path USING btree (run_id)
CREATE INDEX idx_simulation_path_run_date ON ONLY public.simulation_path USING btree (run_id, path_date DESC)
CREATE INDEX idx_simulation_run_expires ON public.simulation_run USING btree (expires_at) WHERE (expires_at IS NOT NULL)
CREATE INDEX idx_simulation_run_hash ON public.simulation_run USING btree (request_hash)
CREATE INDEX idx_simulation_run_scenario ON public.simulation_run USING btree (scenario_id)
CREATE INDEX idx_simulation_run_user ON public.simulation_run USING btree (user_id)
CREATE INDEX idx_simulation_summary_run ON public.simulation_summary USING btree (run_id)
CREATE INDEX idx_source_load_history_source ON public.source_load_history USING btree (source_type, source_name)
CREATE INDEX idx_source_load_history_status ON public.source_load_history USING btree (load_status)
CREATE UNIQUE INDEX daily_price_pkey ON ONLY public.daily_price USING btree (instrument_id, trade_date)
CREATE UNIQUE INDEX daily_return_pkey ON ONLY public.daily_return USING btree (instrument_id, trade_date)
CREATE UNIQUE INDEX instrument_master_pkey ON public.instrument_master USING btree (instrument_id)
CREATE UNIQUE INDEX model_version_registry_pkey ON public.model_version_registry USING btree (version_id)
CREATE UNIQUE INDEX portfolio_allocation_pkey ON public.portfolio_allocation USING btree (allocation_id)
CREATE UNIQUE INDEX portfolio_model_pkey ON public.portfolio_model USING btree (portfolio_id)
CREATE UNIQUE INDEX scenario_definition_pkey ON public.scenario_definition USING btree (scenario_id)
CREATE UNIQUE INDEX simulation_path_pkey ON ONLY public.simulation_path USING btree (run_id, path_date)
CREATE UNIQUE INDEX simulation_run_pkey ON public.simulation_run USING btree (run_id)
CREATE UNIQUE INDEX simulation_run_request_hash_key ON public.simulation_run USING btree (request_hash)
CREATE UNIQUE INDEX simulation_summary_pkey ON public.simulation_summary USING btree (summary_id)
CREATE UNIQUE INDEX simulation_summary_run_id_key ON public.simulation_summary USING btree (run_id)
CREATE UNIQUE INDEX source_load_history_pkey ON public.source_load_history USING btree (load_id)
CREATE UNIQUE INDEX uq_allocation_portfolio_instrument ON public.portfolio_allocation USING btree (portfolio_id, instrument_id)
CREATE UNIQUE INDEX uq_instrument_ticker_exchange ON public.instrument_master USING btree (instrument_type, ticker, exchange)
CREATE UNIQUE INDEX uq_portfolio_scenario_date ON public.portfolio_model USING btree (scenario_id, effective_date)
CREATE INDEX idx_simulation_run_instrument_instrument ON public.simulation_run_instrument USING btree (instrument_id)
CREATE UNIQUE INDEX simulation_run_instrument_pkey ON public.simulation_run_instrument USING btree (run_id, instrument_id)
"#;

const PARENTS: [&str; 3] = ["daily_price", "daily_return", "simulation_path"];

fn lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// Snapshot lines of one kind, for the parent tables only (partitions repeat their parent).
fn of_kind(snapshot: &[String], kind: &str) -> Vec<String> {
    let parent_objects = |l: &&String| !l.contains("_default") && !l.contains("_20");
    snapshot
        .iter()
        .filter(parent_objects)
        .filter_map(|l| l.strip_prefix(kind))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn columns_constraints_and_indexes_match_part_a_exactly() {
    let t = TestDatabase::migrated().await;
    let snapshot = schema_snapshot(t.conn()).await;
    let mut columns = of_kind(&snapshot, "column ");
    columns.sort();
    assert_eq!(columns, lines(PART_A_COLUMNS));
    let mut constraints = of_kind(&snapshot, "constraint ");
    constraints.sort();
    assert_eq!(constraints, lines(CONSTRAINTS));
    let mut indexes = of_kind(&snapshot, "index ");
    indexes.sort();
    assert_eq!(indexes, lines(INDEXES));
}

#[tokio::test]
async fn time_series_tables_are_range_partitioned_with_a_default_partition() {
    let t = TestDatabase::migrated().await;
    let parents = strings(
        t.conn(),
        "SELECT c.relname || ' ' || pg_get_partkeydef(c.oid) || ' default=' || d.relname
           FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
           JOIN pg_class d ON d.oid = p.partdefid ORDER BY 1",
    )
    .await;
    assert_eq!(
        parents,
        [
            "daily_price RANGE (trade_date) default=daily_price_default",
            "daily_return RANGE (trade_date) default=daily_return_default",
            "simulation_path RANGE (path_date) default=simulation_path_default",
        ]
    );
}

#[tokio::test]
async fn monthly_partitions_cover_2020_01_through_current_month_plus_6() {
    let t = TestDatabase::migrated().await;
    let mut expected_months = months_through_now_plus(6);
    // Never less than the reference's fixed horizon of 2026-12.
    if expected_months
        .last()
        .is_some_and(|l| l.as_str() < "202612")
    {
        expected_months = (2020..=2026)
            .flat_map(|y| (1..=12).map(move |m| format!("{y}{m:02}")))
            .collect();
    }
    for parent in PARENTS {
        let bounds = strings(
            t.conn(),
            &format!(
                "SELECT c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid)
                   FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                  WHERE i.inhparent = '{parent}'::regclass AND c.relname <> '{parent}_default'
                  ORDER BY 1"
            ),
        )
        .await;
        let first = &expected_months[0];
        assert_eq!(
            bounds[0],
            format!("{parent}_{first} FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')")
        );
        let names: Vec<String> = bounds
            .iter()
            .map(|b| b.split(' ').next().unwrap().to_owned())
            .collect();
        for month in &expected_months {
            assert!(
                names.contains(&format!("{parent}_{month}")),
                "{parent}_{month} missing"
            );
        }
        assert!(names.len() >= expected_months.len());
    }
}

#[tokio::test]
async fn weight_trigger_is_a_deferred_constraint_trigger_and_function_signature_is_kept() {
    let t = TestDatabase::migrated().await;
    let triggers = strings(
        t.conn(),
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
    )
    .await;
    assert_eq!(
        triggers,
        [
            "CREATE CONSTRAINT TRIGGER trg_check_portfolio_weight AFTER INSERT OR UPDATE ON public.portfolio_allocation DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_portfolio_weight_sum()"
        ]
    );
    let functions = strings(
        t.conn(),
        "SELECT p.oid::regprocedure || ' -> ' || format_type(p.prorettype, NULL)
           FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1",
    )
    .await;
    assert!(functions.contains(&"check_portfolio_weight_sum() -> trigger".to_owned()));
    assert!(functions.contains(&"create_monthly_partitions(text,date,date) -> integer".to_owned()));
}

#[tokio::test]
async fn range_read_functions_are_stable_with_generic_plans_and_no_jit() {
    let t = TestDatabase::migrated().await;
    let functions = strings(
        t.conn(),
        "SELECT p.oid::regprocedure || ' ' || p.provolatile::text || ' ' || array_to_string(p.proconfig, ';')
           FROM pg_proc p
          WHERE p.pronamespace = 'public'::regnamespace AND p.proname IN ('daily_price_range', 'daily_return_range')
          ORDER BY 1",
    )
    .await;
    let config = r#"plan_cache_mode=force_generic_plan;jit=off;search_path="$user", public"#;
    assert_eq!(
        functions,
        [
            format!("daily_price_range(bigint[],date,date) s {config}"),
            format!("daily_return_range(bigint[],date,date) s {config}"),
        ]
    );
}

#[tokio::test]
async fn seed_rows_are_exact() {
    let t = TestDatabase::migrated().await;
    let disclaimer = "본 시나리오는 교육 목적의 학습 자료이며, 투자 권유가 아닙니다. 과거 데이터 기반 참고치이며 미래 성과를 보장하지 않습니다.";
    let scenarios = strings(
        t.conn(),
        "SELECT concat_ws('|', scenario_id, name_ko, name_en, risk_level, display_order, is_active,
                          description, objective, target_investor, disclaimer)
           FROM scenario_definition ORDER BY display_order",
    )
    .await;
    assert_eq!(
        scenarios,
        [
            format!(
                "MIN_VOL|변동성 최소화|Minimum Volatility|LOW|1|t|변동성을 최소화하는 전략을 학습하기 위한 시나리오입니다.|변동성 최소화를 통한 안정적 자산 운용 학습|변동성에 민감하며 안정적인 자산 운용을 학습하고자 하는 분|{disclaimer}"
            ),
            format!(
                "DEFENSIVE|방어형|Defensive|LOW|2|t|시장 하락 시 손실을 최소화하는 전략을 학습하기 위한 시나리오입니다.|시장 하락 시 손실 최소화 전략 학습|하락장에서의 자산 보전을 학습하고자 하는 분|{disclaimer}"
            ),
            format!(
                "GROWTH|성장형|Growth|HIGH|3|t|장기 자산 성장 전략을 학습하기 위한 시나리오입니다.|장기 자산 성장 전략 학습|장기적인 자산 성장을 학습하고자 하는 분|{disclaimer}"
            ),
        ]
    );
    let versions = strings(
        t.conn(),
        "SELECT concat_ws('|', version_id, version_name, description, is_active,
                          release_date = CURRENT_DATE) FROM model_version_registry",
    )
    .await;
    assert_eq!(versions, ["1.0.0|Phase 1 Initial|Phase 1 초기 릴리스|t|t"]);
}

/// The setup guide's own verification queries and partition call run unchanged.
#[tokio::test]
async fn setup_guide_checks_run_unchanged() {
    let t = TestDatabase::migrated().await;
    let tables = strings(
        t.conn(),
        // What psql's \dt lists: tables and partitioned tables visible in the search path.
        "SELECT c.relname::text FROM pg_catalog.pg_class c
           LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog'
            AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema'
            AND pg_catalog.pg_table_is_visible(c.oid) AND c.relname NOT LIKE '%\\_2%'
          ORDER BY 1",
    )
    .await;
    for table in TABLES {
        assert!(
            tables.contains(&table.to_owned()),
            "{table} missing from \\dt"
        );
    }
    let partitions = count(
        t.conn(),
        "SELECT count(*) FROM (
            SELECT parent.relname AS parent, child.relname AS partition
            FROM pg_inherits
            JOIN pg_class parent ON pg_inherits.inhparent = parent.oid
            JOIN pg_class child ON pg_inherits.inhrelid = child.oid
            WHERE parent.relname IN ('daily_price', 'daily_return', 'simulation_path')
            ORDER BY parent.relname, child.relname) q",
    )
    .await;
    assert!(partitions >= 3 * (84 + 1), "{partitions} partitions");
    let scenarios = strings(
        t.conn(),
        "SELECT scenario_id || ' ' || name_ko || ' ' || risk_level FROM scenario_definition",
    )
    .await;
    assert_eq!(scenarios.len(), 3);
    // The guide's monthly batch: with the horizon already at +6 months it creates nothing new,
    // and the timestamp argument (CURRENT_DATE + INTERVAL) resolves.
    let created = count(
        t.conn(),
        "SELECT create_monthly_partitions('daily_price', CURRENT_DATE, CURRENT_DATE + INTERVAL '6 months')::bigint",
    )
    .await;
    assert_eq!(created, 0);
    // The troubleshooting section's call with bare literals resolves too.
    let created = count(
        t.conn(),
        "SELECT create_monthly_partitions('daily_price', '2040-01-01', '2040-07-01')::bigint",
    )
    .await;
    assert_eq!(created, 6);
    exec(t.conn(), "SELECT 1 FROM daily_price_204006 LIMIT 0").await;
    let sizes = count(
        t.conn(),
        "SELECT count(*) FROM (
            SELECT schemaname, tablename,
                   pg_size_pretty(pg_total_relation_size(schemaname || '.' || tablename)) AS size
            FROM pg_tables
            WHERE tablename LIKE 'daily_price_%' OR tablename LIKE 'daily_return_%'
               OR tablename LIKE 'simulation_path_%'
            ORDER BY tablename) q",
    )
    .await;
    assert!(sizes > 0);
}

/// The guide's verification block, verbatim, through `psql` itself (`\dt` is a psql command).
#[tokio::test]
async fn setup_guide_verification_block_runs_verbatim_in_psql() {
    let t = TestDatabase::migrated().await;
    let psql = foresto::db::local_server::PgBinaries::locate()
        .ok()
        .and_then(|b| b.client_tool("psql"))
        .expect("psql is installed with the server binaries");
    let script = r#"
-- 테이블 목록 확인
\dt

-- 파티션 확인
SELECT
    parent.relname AS parent,
    child.relname AS partition
FROM pg_inherits
JOIN pg_class parent ON pg_inherits.inhparent = parent.oid
JOIN pg_class child ON pg_inherits.inhrelid = child.oid
WHERE parent.relname IN ('daily_price', 'daily_return', 'simulation_path')
ORDER BY parent.relname, child.relname;

-- 시나리오 데이터 확인
SELECT scenario_id, name_ko, risk_level FROM scenario_definition;

SELECT create_monthly_partitions('daily_price', CURRENT_DATE, CURRENT_DATE + INTERVAL '6 months');
"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("verify.sql");
    std::fs::write(&file, script).unwrap();
    let out = std::process::Command::new(psql)
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-d", t.url(), "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "daily_price               | partitioned table",
        "simulation_summary        | table",
        "daily_price     | daily_price_202001",
        "simulation_path | simulation_path_default",
        "MIN_VOL     | 변동성 최소화 | LOW",
        "GROWTH      | 성장형        | HIGH",
        "create_monthly_partitions",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in:\n{text}");
    }
}
