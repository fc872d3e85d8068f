//! What a migrated database does beyond the original DDL (docs/schema.md, "Beyond the original DDL"): cascades, partitions that never make a write fail,
//! a schema-aware partition function, and a weight-sum rule that holds at commit and under
//! concurrency.

use foresto::Error;
use foresto::ScenarioError;
use sea_orm::{ConnectionTrait, TransactionTrait};
use sqlx::Connection;

use crate::support::{TestDatabase, count, exec, migrated_with, row_count, strings};

const FIXTURE: &str = r#"
INSERT INTO source_load_history (source_type, source_name) VALUES ('manual', 'x.csv');
INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
VALUES ('ETF', 'SPY', 'NYSE', 'USD'), ('ETF', 'TLT', 'NASDAQ', 'USD'), ('ETF', 'GLD', 'NYSE', 'USD');
INSERT INTO portfolio_model (scenario_id, portfolio_name, effective_date) VALUES ('GROWTH', 'GROWTH_v1', '2024-01-01');
"#;

#[tokio::test]
async fn deleting_a_run_removes_its_path_and_summary() {
    let t = migrated_with(FIXTURE).await;
    exec(
        t.conn(),
        "INSERT INTO simulation_run (request_hash, scenario_id, start_date, end_date, initial_amount, engine_version)
         VALUES (repeat('a', 64), 'GROWTH', '2019-12-30', '2031-01-02', 100, '1.0.0');
         INSERT INTO simulation_path (run_id, path_date, nav)
         VALUES (1, '2019-12-31', 100), (1, '2024-05-02', 101), (1, '2031-01-02', 102);
         INSERT INTO simulation_summary (run_id, max_drawdown, total_return) VALUES (1, 0, 2);
         DELETE FROM simulation_run WHERE run_id = 1;",
    )
    .await;
    assert_eq!(row_count(t.conn(), "simulation_path").await, 0);
    assert_eq!(row_count(t.conn(), "simulation_summary").await, 0);
}

#[tokio::test]
async fn deleting_a_portfolio_removes_its_allocations_and_a_load_unlinks_its_prices() {
    let t = migrated_with(FIXTURE).await;
    exec(
        t.conn(),
        "INSERT INTO portfolio_allocation (portfolio_id, instrument_id, weight) VALUES (1, 1, 0.5), (1, 2, 0.5);
         INSERT INTO daily_price (instrument_id, trade_date, close_price, load_id) VALUES (1, '2024-01-02', 10, 1);
         DELETE FROM portfolio_model WHERE portfolio_id = 1;
         DELETE FROM source_load_history WHERE load_id = 1;",
    )
    .await;
    assert_eq!(row_count(t.conn(), "portfolio_allocation").await, 0);
    assert_eq!(
        count(
            t.conn(),
            "SELECT count(*) FROM daily_price WHERE load_id IS NULL"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn instruments_are_referenced_by_prices_returns_and_allocations() {
    let t = migrated_with(FIXTURE).await;
    for sql in [
        "INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES (99, '2024-01-02', 1)",
        "INSERT INTO daily_return (instrument_id, trade_date, daily_return) VALUES (99, '2024-01-02', 0)",
        "INSERT INTO portfolio_allocation (portfolio_id, instrument_id, weight) VALUES (1, 99, 0.1)",
    ] {
        let err = t.conn().execute_unprepared(sql).await.unwrap_err();
        assert!(err.to_string().contains("foreign key"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn a_row_years_past_the_last_partition_inserts_and_later_moves_to_its_month() {
    let t = migrated_with(FIXTURE).await;
    exec(
        t.conn(),
        "INSERT INTO daily_price (instrument_id, trade_date, close_price)
         VALUES (1, '2041-03-04', 10), (1, '2041-03-05', 11), (1, '2041-04-01', 12);
         INSERT INTO daily_return (instrument_id, trade_date, daily_return) VALUES (1, '2041-03-05', 0.1);
         INSERT INTO simulation_run (request_hash, start_date, end_date, initial_amount, engine_version)
         VALUES (repeat('c', 64), '2041-03-01', '2041-03-31', 100, '1.0.0');
         INSERT INTO simulation_path (run_id, path_date, nav) VALUES (1, '2041-03-05', 100);",
    )
    .await;
    let homes = strings(
        t.conn(),
        "SELECT tableoid::regclass || ':' || trade_date FROM daily_price ORDER BY trade_date",
    )
    .await;
    assert_eq!(
        homes,
        [
            "daily_price_default:2041-03-04",
            "daily_price_default:2041-03-05",
            "daily_price_default:2041-04-01"
        ]
    );
    for parent in ["daily_price", "daily_return", "simulation_path"] {
        let created = count(
            t.conn(),
            &format!("SELECT create_monthly_partitions('{parent}', DATE '2041-03-01', DATE '2041-04-01')::bigint"),
        )
        .await;
        assert_eq!(created, 1, "{parent}");
    }
    let homes = strings(
        t.conn(),
        "SELECT tableoid::regclass || ':' || trade_date FROM daily_price ORDER BY trade_date",
    )
    .await;
    assert_eq!(
        homes,
        [
            "daily_price_204103:2041-03-04",
            "daily_price_204103:2041-03-05",
            "daily_price_default:2041-04-01"
        ]
    );
    for (parent, partition) in [
        ("daily_return", "daily_return_204103"),
        ("simulation_path", "simulation_path_204103"),
    ] {
        let n = count(
            t.conn(),
            &format!("SELECT count(*) FROM {parent} WHERE tableoid = '{partition}'::regclass"),
        )
        .await;
        assert_eq!(n, 1, "{partition}");
    }
    // The moved partition is a full member: keys, indexes and foreign keys apply to it.
    let dup = t
        .conn()
        .execute_unprepared(
            "INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES (1, '2041-03-04', 1)",
        )
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("duplicate key"), "{dup}");
    let indexes = count(
        t.conn(),
        "SELECT count(*) FROM pg_index WHERE indrelid = 'daily_price_204103'::regclass",
    )
    .await;
    assert_eq!(indexes, 3);
}

#[tokio::test]
async fn partition_function_looks_up_partitions_by_parent_and_schema() {
    let t = TestDatabase::migrated().await;
    exec(
        t.conn(),
        "CREATE SCHEMA shadow;
         CREATE TABLE shadow.daily_price_204501 (x int);
         CREATE SCHEMA archive;
         CREATE TABLE archive.events (d date NOT NULL, v int) PARTITION BY RANGE (d);",
    )
    .await;
    // A same-named table in another schema does not count as the partition.
    assert_eq!(
        count(t.conn(), "SELECT create_monthly_partitions('daily_price', DATE '2045-01-01', DATE '2045-02-01')::bigint").await,
        1
    );
    assert_eq!(
        count(t.conn(), "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'public.daily_price_204501'::regclass").await,
        1
    );
    // A parent in another schema gets its partitions there.
    assert_eq!(
        count(t.conn(), "SELECT create_monthly_partitions('archive.events', DATE '2024-01-15', DATE '2024-03-01')::bigint").await,
        2
    );
    let parts = strings(
        t.conn(),
        "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'archive.events'::regclass ORDER BY 1",
    )
    .await;
    assert_eq!(parts, ["archive.events_202401", "archive.events_202402"]);
    // Not a partitioned table: a clear error, not a half-made partition.
    let err = t
        .conn()
        .execute_unprepared("SELECT create_monthly_partitions('instrument_master', DATE '2024-01-01', DATE '2024-02-01')")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("is not a range-partitioned table"),
        "{err}"
    );
}

async fn insert_weights(t: &TestDatabase, values: &str) -> Result<(), Error> {
    let txn = t.conn().begin().await?;
    txn.execute_unprepared(&format!(
        "INSERT INTO portfolio_allocation (portfolio_id, instrument_id, weight) VALUES {values}"
    ))
    .await?;
    txn.commit().await?;
    Ok(())
}

#[tokio::test]
async fn weights_over_one_are_rejected_at_commit_with_the_reference_message() {
    let t = migrated_with(FIXTURE).await;
    let err = insert_weights(&t, "(1, 1, 0.7), (1, 2, 0.3002)")
        .await
        .unwrap_err();
    match err {
        Error::Scenario(ScenarioError::WeightSumExceeded { portfolio_id, sum }) => {
            assert_eq!(portfolio_id, Some(1));
            assert_eq!(sum.to_string(), "1.0002");
        }
        other => panic!("expected WeightSumExceeded, got {other:?}"),
    }
    // Nothing of the failed transaction stays.
    assert_eq!(row_count(t.conn(), "portfolio_allocation").await, 0);
    // 1.0001 is the rounding tolerance: accepted.
    insert_weights(&t, "(1, 1, 0.7), (1, 2, 0.3001)")
        .await
        .unwrap();
    exec(t.conn(), "DELETE FROM portfolio_allocation").await;
    let raw = t
        .conn()
        .execute_unprepared(
            "INSERT INTO portfolio_allocation (portfolio_id, instrument_id, weight) VALUES (1, 1, 0.9), (1, 2, 0.2)",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(raw.contains("Portfolio weight sum exceeds 1.0"), "{raw}");
    insert_weights(&t, "(1, 1, 0.5), (1, 2, 0.3), (1, 3, 0.2)")
        .await
        .unwrap();
}

#[tokio::test]
async fn reweighting_inside_one_transaction_passes_through_an_intermediate_sum_over_one() {
    let t = migrated_with(FIXTURE).await;
    insert_weights(&t, "(1, 1, 0.6), (1, 2, 0.4)")
        .await
        .unwrap();
    let txn = t.conn().begin().await.unwrap();
    // After the first statement the sum is 1.3; only the committed state counts.
    txn.execute_unprepared("UPDATE portfolio_allocation SET weight = 0.9 WHERE instrument_id = 2")
        .await
        .unwrap();
    txn.execute_unprepared("UPDATE portfolio_allocation SET weight = 0.1 WHERE instrument_id = 1")
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(
        strings(
            t.conn(),
            "SELECT sum(weight)::text FROM portfolio_allocation"
        )
        .await,
        ["1.0000"]
    );
}

#[tokio::test]
async fn two_concurrent_sessions_cannot_together_exceed_one() {
    let t = migrated_with(FIXTURE).await;
    for isolation in ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"] {
        exec(t.conn(), "DELETE FROM portfolio_allocation").await;
        let mut a = sqlx::PgConnection::connect(t.url()).await.unwrap();
        let mut b = sqlx::PgConnection::connect(t.url()).await.unwrap();
        for (conn, instrument) in [(&mut a, 1), (&mut b, 2)] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "BEGIN ISOLATION LEVEL {isolation};
                 INSERT INTO portfolio_allocation (portfolio_id, instrument_id, weight) VALUES (1, {instrument}, 0.6);"
            )))
            .execute(&mut *conn)
            .await
            .unwrap();
        }
        // Both transactions hold their 0.6 uncommitted; now both commit at once.
        let (ra, rb) = tokio::join!(
            sqlx::raw_sql("COMMIT").execute(&mut a),
            sqlx::raw_sql("COMMIT").execute(&mut b)
        );
        let committed = [ra.is_ok(), rb.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(committed, 1, "{isolation}: {ra:?} {rb:?}");
        assert_eq!(
            strings(
                t.conn(),
                "SELECT sum(weight)::text FROM portfolio_allocation"
            )
            .await,
            ["0.6000"],
            "{isolation}"
        );
    }
}
