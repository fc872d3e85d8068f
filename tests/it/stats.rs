//! `foresto stats` and `foresto::stats::collect`: monitoring figures rolled up per logical
//! table, partition coverage, DEFAULT rows, stale loads and expired runs.

use foresto::partitions::Parent;

use crate::support::{count, foresto, migrated_with};

const ROWS: &str = r#"
INSERT INTO instrument_master (instrument_type, ticker, exchange) VALUES ('ETF', 'SPY', 'NYSE');
INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES (1, '2024-01-02', 10), (1, '2051-07-01', 11);
INSERT INTO source_load_history (source_type, source_name, started_at) VALUES ('manual', 'died.csv', now() - interval '2 hours');
INSERT INTO source_load_history (source_type, source_name) VALUES ('manual', 'running.csv');
INSERT INTO simulation_run (request_hash, start_date, end_date, initial_amount, engine_version, expires_at)
VALUES (repeat('a', 64), '2024-01-01', '2024-02-01', 100, '1.0.0', now() - interval '1 day'),
       (repeat('b', 64), '2024-01-01', '2024-02-01', 100, '1.0.0', now() + interval '1 day');
"#;

#[tokio::test]
async fn collects_rolled_up_sizes_coverage_defaults_and_housekeeping() {
    let t = migrated_with(ROWS).await;
    let today = chrono::Utc::now().date_naive();
    let s = foresto::stats::collect(t.conn(), today).await.unwrap();

    let prices = s.tables.iter().find(|x| x.table == "daily_price").unwrap();
    let partitions = count(
        t.conn(),
        "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'daily_price'::regclass AND c.relkind = 'r'",
    )
    .await;
    assert_eq!(prices.relations, partitions);
    // The total is data + indexes + TOAST.
    assert!(prices.total_bytes >= prices.data_bytes + prices.index_bytes);
    assert!(prices.index_bytes > 0 && prices.data_bytes > 0);
    assert!(
        s.tables
            .iter()
            .all(|x| !x.table.starts_with("daily_price_")),
        "partitions rolled up"
    );
    assert!(s.indexes.iter().any(|i| i.index == "idx_daily_price_date"));
    assert!(s.cache_hits.iter().any(|c| c.table == "daily_price"));

    let cov = s
        .coverage
        .iter()
        .find(|c| c.parent == Parent::DailyPrice)
        .unwrap();
    assert_eq!(cov.first_month.unwrap().to_string(), "2020-01-01");
    assert!(cov.months_ahead.unwrap() >= 6, "{cov:?}");
    assert!(cov.gaps.is_empty());

    assert_eq!(s.default_rows.len(), 1);
    assert_eq!(s.default_rows[0].rows, 1);
    assert_eq!(s.default_rows[0].parent, Parent::DailyPrice);

    assert_eq!(s.housekeeping.loads_started, 2);
    assert_eq!(s.housekeeping.stale_load_ids, vec![1]);
    assert_eq!(s.housekeeping.expired_runs, 1);
    assert_eq!(
        s.housekeeping.runs_by_status,
        vec![("COMPLETED".to_owned(), 2)]
    );
}

#[tokio::test]
async fn cli_prints_a_table_and_json() {
    let t = migrated_with(ROWS).await;
    let text = foresto(&t, &["stats"]);
    assert!(text.status.success(), "{text:?}");
    let out = String::from_utf8_lossy(&text.stdout);
    for needle in [
        "Table sizes",
        "Index usage",
        "Cache hits",
        "Partition coverage",
        "1 stale",
        "1 expired",
    ] {
        assert!(out.contains(needle), "{needle} missing in:\n{out}");
    }
    let json = foresto(&t, &["stats", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["housekeeping"]["expired_runs"], 1);
    assert_eq!(v["default_rows"][0]["rows"], 1);
    assert!(v["tables"].as_array().unwrap().len() >= 11);
}
