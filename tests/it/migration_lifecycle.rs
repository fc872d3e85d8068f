//! Migrations are re-runnable, reversible and adopt a database built by hand from the reference
//! DDL without losing a row (docs/schema.md, "Beyond the original DDL", item 1), and run from Rust as they do from the CLI.

use migration::{MIGRATIONS, Migrator, MigratorTrait, PRELUDE};

use crate::support::{
    TABLES, TestDatabase, assert_same_schema, count, exec, row_count, schema_snapshot,
};

const REFERENCE_DDL: &str = include_str!("../fixtures/reference_phase1.sql");

/// Counts of the rows every table holds, so that a migration can be shown to keep them all.
async fn row_counts(t: &TestDatabase) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for table in TABLES {
        let n = row_count(t.conn(), table).await;
        out.push((table.to_owned(), n));
    }
    out
}

#[tokio::test]
async fn rerunning_every_up_script_changes_nothing() {
    let t = TestDatabase::migrated().await;
    let before = schema_snapshot(t.conn()).await;
    let rows_before = row_counts(&t).await;
    for m in MIGRATIONS {
        exec(t.conn(), &format!("{PRELUDE}\n{}", m.up)).await;
    }
    assert_same_schema(&before, &schema_snapshot(t.conn()).await);
    assert_eq!(rows_before, row_counts(&t).await, "seed rows duplicated");
    // And through the migrator: nothing pending, nothing done.
    Migrator::up(t.conn(), None).await.unwrap();
    assert!(
        Migrator::get_pending_migrations(t.conn())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn down_then_up_restores_the_same_schema_step_by_step() {
    let t = TestDatabase::migrated().await;
    let migrated = schema_snapshot(t.conn()).await;
    for steps in 1..=MIGRATIONS.len() as u32 {
        Migrator::down(t.conn(), Some(steps)).await.unwrap();
        assert_eq!(
            Migrator::get_pending_migrations(t.conn())
                .await
                .unwrap()
                .len(),
            steps as usize
        );
        Migrator::up(t.conn(), None).await.unwrap();
        assert_same_schema(&migrated, &schema_snapshot(t.conn()).await);
    }
}

#[tokio::test]
async fn full_down_leaves_nothing_but_the_migration_table() {
    let t = TestDatabase::migrated().await;
    Migrator::down(t.conn(), None).await.unwrap();
    let left = count(
        t.conn(),
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace
            AND relkind IN ('r','p','S','v','m') AND relname NOT LIKE 'seaql_migrations%'",
    )
    .await;
    assert_eq!(left, 0);
    let functions = count(
        t.conn(),
        "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
    )
    .await;
    assert_eq!(functions, 0);
}

/// Rows in every table of a reference-DDL database, including the cases the reference lets
/// happen and our constraints must cope with: a price whose load row was deleted, path rows of a
/// run deleted without cascade, allocations summing to exactly 1.
const REFERENCE_ROWS: &str = r#"
INSERT INTO source_load_history (source_type, source_name, load_status, records_loaded)
VALUES ('manual', 'a.csv', 'SUCCESS', 2), ('manual', 'gone.csv', 'SUCCESS', 1);
INSERT INTO instrument_master (instrument_type, ticker, exchange, currency, name_en)
VALUES ('ETF', 'SPY', 'NYSE', 'USD', 'SPDR S&P 500'), ('ETF', 'TLT', 'NASDAQ', 'USD', 'iShares 20+');
INSERT INTO daily_price (instrument_id, trade_date, close_price, adj_close_price, load_id)
VALUES (1, '2024-01-02', 470.1, 470.1, 1), (1, '2024-01-03', 468.8, 468.8, 1), (2, '2024-01-02', 98.5, 98.5, 2);
DELETE FROM source_load_history WHERE load_id = 2;
INSERT INTO daily_return (instrument_id, trade_date, daily_return, log_return, engine_version)
VALUES (1, '2024-01-03', -0.00276537, -0.00276920, '1.0.0');
INSERT INTO portfolio_model (scenario_id, portfolio_name, effective_date) VALUES ('GROWTH', 'GROWTH_v1', '2024-01-01');
INSERT INTO portfolio_allocation (portfolio_id, instrument_id, weight, asset_class)
VALUES (1, 1, 0.6, 'EQUITY'), (1, 2, 0.4, 'BOND');
INSERT INTO simulation_run (request_hash, scenario_id, portfolio_id, start_date, end_date, initial_amount, engine_version)
VALUES (repeat('a', 64), 'GROWTH', 1, '2024-01-02', '2024-01-03', 1000000, '1.0.0'),
       (repeat('b', 64), 'GROWTH', 1, '2024-01-02', '2024-01-03', 1000000, '1.0.0');
INSERT INTO simulation_path (run_id, path_date, nav) VALUES (1, '2024-01-02', 1000000), (1, '2024-01-03', 998000),
       (2, '2024-01-02', 1000000);
INSERT INTO simulation_summary (run_id, max_drawdown, total_return) VALUES (1, 0.2, -0.2);
DELETE FROM simulation_run WHERE run_id = 2;
"#;

#[tokio::test]
async fn adopting_a_reference_ddl_database_keeps_every_row_and_converges_on_the_schema() {
    let fresh = TestDatabase::migrated().await;
    let target = schema_snapshot(fresh.conn()).await;

    let t = TestDatabase::empty().await;
    exec(t.conn(), REFERENCE_DDL).await;
    exec(t.conn(), REFERENCE_ROWS).await;
    let before = row_counts(&t).await;

    Migrator::up(t.conn(), None).await.unwrap();

    let after = row_counts(&t).await;
    let expected: Vec<(String, i64)> = before
        .iter()
        .map(|(table, n)| {
            // Only the unreachable path row of the run the reference let us delete goes.
            let n = if table == "simulation_path" {
                n - 1
            } else {
                *n
            };
            (table.clone(), n)
        })
        .collect();
    assert_eq!(after, expected);
    assert_same_schema(&target, &schema_snapshot(t.conn()).await);
    // The price whose load row was gone kept its values and lost only the link.
    assert_eq!(
        count(
            t.conn(),
            "SELECT count(*) FROM daily_price WHERE instrument_id = 2 AND load_id IS NULL AND close_price = 98.5"
        )
        .await,
        1
    );
    // The adopted database now has what we add beyond the original DDL: cascades and the deferred check.
    exec(t.conn(), "DELETE FROM simulation_run WHERE run_id = 1").await;
    assert_eq!(row_count(t.conn(), "simulation_path").await, 0);
    assert_eq!(row_count(t.conn(), "simulation_summary").await, 0);
    exec(
        t.conn(),
        "BEGIN; UPDATE portfolio_allocation SET weight = 0.7 WHERE instrument_id = 1;
                UPDATE portfolio_allocation SET weight = 0.3 WHERE instrument_id = 2; COMMIT;",
    )
    .await;
    // Migrating again is a no-op.
    Migrator::up(t.conn(), None).await.unwrap();
    assert_eq!(row_counts(&t).await.len(), 11);
}

#[tokio::test]
async fn adoption_refuses_with_a_clear_message_when_prices_reference_missing_instruments() {
    let t = TestDatabase::empty().await;
    exec(t.conn(), REFERENCE_DDL).await;
    exec(
        t.conn(),
        "INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES (42, '2024-01-02', 1)",
    )
    .await;
    let err = Migrator::up(t.conn(), None).await.unwrap_err().to_string();
    assert!(
        err.contains(
            "daily_price rows reference instruments missing from instrument_master (1 rows)"
        ),
        "{err}"
    );
    // Nothing was lost: the failing step rolled back and the row is still there.
    assert_eq!(row_count(t.conn(), "daily_price").await, 1);
}
