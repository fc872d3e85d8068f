//! A migrated database with partitioned data survives `pg_dump -Fc` / `pg_restore` into an empty
//! database: same schema (partitions, DEFAULT partitions, functions, deferred trigger), same
//! rows in the same partitions, and it keeps working (new partitions, the weight check).

use std::process::Command;

use foresto::db::local_server::PgBinaries;

use crate::support::{
    TestDatabase, assert_same_schema, count, exec, migrated_with, row_count, schema_snapshot,
    strings,
};

const ROWS: &str = r#"
INSERT INTO instrument_master (instrument_type, ticker, exchange, currency) VALUES ('ETF', 'SPY', 'NYSE', 'USD');
INSERT INTO daily_price (instrument_id, trade_date, close_price)
SELECT 1, d::date, 100 + i FROM generate_series(DATE '2021-01-04', DATE '2021-03-31', INTERVAL '1 day') WITH ORDINALITY g(d, i);
INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES (1, '2045-01-02', 1);
INSERT INTO portfolio_model (scenario_id, portfolio_name, effective_date) VALUES ('GROWTH', 'GROWTH_v1', '2021-01-01');
INSERT INTO portfolio_allocation (portfolio_id, instrument_id, weight) VALUES (1, 1, 1.0);
INSERT INTO simulation_run (request_hash, scenario_id, portfolio_id, start_date, end_date, initial_amount, engine_version)
VALUES (repeat('a', 64), 'GROWTH', 1, '2021-01-04', '2021-03-31', 100, '1.0.0');
INSERT INTO simulation_path (run_id, path_date, nav) VALUES (1, '2021-01-04', 100), (1, '2021-03-31', 110);
INSERT INTO simulation_summary (run_id, max_drawdown, total_return) VALUES (1, 0, 10);
"#;

fn tool(name: &str) -> std::path::PathBuf {
    // The dump tools ship with the server binaries the tests run on.
    PgBinaries::locate()
        .unwrap()
        .client_tool(name)
        .unwrap_or_else(|| panic!("{name} not installed"))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn pg_dump_and_pg_restore_round_trip_a_partitioned_database() {
    let source = migrated_with(ROWS).await;
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("foresto.dump");
    run(Command::new(tool("pg_dump"))
        .args(["-F", "c", "-f"])
        .arg(&dump)
        .args(["-d", source.url()]));

    let target = TestDatabase::empty().await;
    run(Command::new(tool("pg_restore"))
        .args(["--no-owner", "--exit-on-error", "-d", target.url()])
        .arg(&dump));

    assert_same_schema(
        &schema_snapshot(source.conn()).await,
        &schema_snapshot(target.conn()).await,
    );
    let homes = "SELECT tableoid::regclass || ' ' || count(*) FROM daily_price GROUP BY tableoid ORDER BY 1";
    assert_eq!(
        strings(source.conn(), homes).await,
        strings(target.conn(), homes).await
    );
    assert_eq!(
        strings(target.conn(), homes).await,
        [
            "daily_price_202101 28",
            "daily_price_202102 28",
            "daily_price_202103 31",
            "daily_price_default 1"
        ]
    );
    assert_eq!(row_count(target.conn(), "simulation_path").await, 2);

    // The restored database works like the original: sequences continue, partitions are made
    // (moving the DEFAULT row), the deferred weight check holds, cascades fire.
    exec(target.conn(), "INSERT INTO instrument_master (instrument_type, ticker, exchange) VALUES ('ETF', 'TLT', 'NASDAQ')").await;
    assert_eq!(
        count(
            target.conn(),
            "SELECT max(instrument_id) FROM instrument_master"
        )
        .await,
        2
    );
    assert_eq!(
        count(target.conn(), "SELECT create_monthly_partitions('daily_price', DATE '2045-01-01', DATE '2045-02-01')::bigint").await,
        1
    );
    assert_eq!(row_count(target.conn(), "daily_price_default").await, 0);
    let over = sea_orm::ConnectionTrait::execute_unprepared(
        target.conn(),
        "INSERT INTO portfolio_allocation (portfolio_id, instrument_id, weight) VALUES (1, 2, 0.1)",
    )
    .await
    .unwrap_err();
    assert!(
        over.to_string()
            .contains("Portfolio weight sum exceeds 1.0"),
        "{over}"
    );
    exec(target.conn(), "DELETE FROM simulation_run").await;
    assert_eq!(row_count(target.conn(), "simulation_path").await, 0);
}
