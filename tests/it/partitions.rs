//! Partition upkeep: partitions ahead of time, the catalog view, rows stranded in DEFAULT
//! partitions, retention with archives, its refusals, and the `partitions` commands.

use foresto::PartitionError;

use foresto::Error;
use foresto::partitions::{
    self, DateWindow, DropRefusal, Parent, PartitionKind, PartitionLimits, Retention, RowCounting,
    check_droppable, drop_partition, find_partition,
};

use crate::support::{
    TestDatabase, archive_exists, count, date, exec, foresto, gunzip_csv, migrated_with, row_count,
    strings,
};

const FIXTURE: &str = "
INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
VALUES ('ETF', 'SPY', 'NYSE', 'USD'), ('ETF', 'TLT', 'NASDAQ', 'USD');
INSERT INTO simulation_run (request_hash, start_date, end_date, initial_amount, engine_version)
VALUES (repeat('a', 64), '2020-01-01', '2041-12-31', 100, '1.0.0');
";

async fn partition_names(t: &TestDatabase) -> Vec<String> {
    strings(
        t.conn(),
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid ORDER BY 1",
    )
    .await
}

async fn exists(t: &TestDatabase, table: &str) -> bool {
    count(
        t.conn(),
        &format!("SELECT count(*) FROM pg_class WHERE relname = '{table}'"),
    )
    .await
        == 1
}

#[tokio::test]
async fn ensure_ahead_creates_missing_months_and_a_dry_run_creates_nothing() {
    let t = migrated_with(FIXTURE).await;
    let today = chrono::Utc::now().date_naive();
    // Migrations already cover the current month + 6.
    assert!(
        partitions::ensure_ahead(t.conn(), today, 6)
            .await
            .unwrap()
            .is_empty()
    );

    let later = date(2030, 1, 15);
    let before = partition_names(&t).await;
    let planned = partitions::missing_ahead(t.conn(), later, 2).await.unwrap();
    assert_eq!(
        partition_names(&t).await,
        before,
        "a dry run creates nothing"
    );
    let names: Vec<_> = planned.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "daily_price_203001",
            "daily_price_203002",
            "daily_price_203003",
            "daily_return_203001",
            "daily_return_203002",
            "daily_return_203003",
            "simulation_path_203001",
            "simulation_path_203002",
            "simulation_path_203003",
        ]
    );
    assert_eq!(planned[1].parent, Parent::DailyPrice);
    assert_eq!(planned[1].month, date(2030, 2, 1));

    let created = partitions::ensure_ahead(t.conn(), later, 2).await.unwrap();
    assert_eq!(created, planned);
    for p in &planned {
        assert!(exists(&t, &p.name).await, "{}", p.name);
    }
    assert!(
        partitions::ensure_ahead(t.conn(), later, 2)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn list_shows_kinds_exact_and_estimated_counts_and_sizes() {
    let t = migrated_with(FIXTURE).await;
    exec(
        t.conn(),
        "INSERT INTO daily_price (instrument_id, trade_date, close_price)
         VALUES (1, '2024-01-02', 10), (1, '2024-01-03', 11), (2, '2024-01-03', 12),
                (1, '2041-03-04', 13);
         CREATE TABLE daily_price_hand PARTITION OF daily_price FOR VALUES FROM ('2050-01-01') TO ('2050-03-01');",
    )
    .await;
    let all = partitions::list(t.conn(), RowCounting::Exact)
        .await
        .unwrap();
    let get = |name: &str| all.iter().find(|p| p.name == name).unwrap();

    let january = get("daily_price_202401");
    assert_eq!(january.parent, Parent::DailyPrice);
    assert_eq!(
        january.kind,
        PartitionKind::Monthly {
            month: date(2024, 1, 1)
        }
    );
    assert_eq!((january.rows, january.rows_exact), (Some(3), true));
    assert!(january.total_bytes > 0);
    assert_eq!(get("daily_price_default").kind, PartitionKind::Default);
    assert_eq!(get("daily_price_default").rows, Some(1));
    assert!(
        matches!(&get("daily_price_hand").kind, PartitionKind::Other { bound } if bound.contains("2050-03-01"))
    );
    assert_eq!(get("daily_return_202401").rows, Some(0));
    // By parent, DEFAULT last within each.
    let parents: Vec<_> = all.iter().map(|p| p.parent).collect();
    assert!(parents.is_sorted_by_key(|p| Parent::ALL.iter().position(|q| q == p)));
    for parent in Parent::ALL {
        let last = all.iter().rfind(|p| p.parent == parent).unwrap();
        assert_eq!(last.kind, PartitionKind::Default, "{parent}");
    }

    exec(t.conn(), "ANALYZE daily_price").await;
    let estimated = partitions::list(t.conn(), RowCounting::Estimated)
        .await
        .unwrap();
    let january = estimated
        .iter()
        .find(|p| p.name == "daily_price_202401")
        .unwrap();
    assert_eq!((january.rows, january.rows_exact), (Some(3), false));
}

#[tokio::test]
async fn rows_in_default_partitions_are_reported_and_moved_to_their_months() {
    let t = migrated_with(FIXTURE).await;
    exec(
        t.conn(),
        "INSERT INTO daily_price (instrument_id, trade_date, close_price)
         VALUES (1, '2041-03-04', 10), (1, '2041-03-05', 11), (1, '2041-04-01', 12);
         INSERT INTO daily_return (instrument_id, trade_date, daily_return) VALUES (1, '2041-03-05', 0.1);
         INSERT INTO simulation_path (run_id, path_date, nav) VALUES (1, '2041-03-05', 100);",
    )
    .await;
    let found = partitions::default_rows(t.conn()).await.unwrap();
    let summary: Vec<_> = found
        .iter()
        .map(|r| format!("{} {} {} {}", r.parent, r.partition, r.month, r.rows))
        .collect();
    assert_eq!(
        summary,
        [
            "daily_price daily_price_default 2041-03-01 2",
            "daily_price daily_price_default 2041-04-01 1",
            "daily_return daily_return_default 2041-03-01 1",
            "simulation_path simulation_path_default 2041-03-01 1",
        ]
    );

    let moved = partitions::move_default_rows(t.conn()).await.unwrap();
    assert_eq!(moved, found);
    assert!(partitions::default_rows(t.conn()).await.unwrap().is_empty());
    assert_eq!(
        strings(
            t.conn(),
            "SELECT tableoid::regclass || ':' || trade_date FROM daily_price ORDER BY trade_date"
        )
        .await,
        [
            "daily_price_204103:2041-03-04",
            "daily_price_204103:2041-03-05",
            "daily_price_204104:2041-04-01"
        ]
    );
    assert_eq!(row_count(t.conn(), "daily_return_204103").await, 1);
    assert_eq!(row_count(t.conn(), "simulation_path_204103").await, 1);
}

#[tokio::test]
async fn retention_cut_off_and_dry_run_candidates() {
    let t = migrated_with(FIXTURE).await;
    let retention = Retention::older_than(date(2020, 6, 15), 3).unwrap();
    assert_eq!(retention.cutoff(), date(2020, 3, 1));
    assert!(matches!(
        Retention::older_than(date(2020, 6, 15), 0),
        Err(Error::InvalidInput { .. })
    ));

    exec(
        t.conn(),
        "INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES (1, '2020-01-02', 10)",
    )
    .await;
    let before = partition_names(&t).await;
    let candidates = partitions::retention_candidates(t.conn(), &retention, RowCounting::Exact)
        .await
        .unwrap();
    let names: Vec<_> = candidates
        .iter()
        .map(|p| format!("{}:{}", p.name, p.rows.unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            "daily_price_202001:1",
            "daily_price_202002:0",
            "daily_return_202001:0",
            "daily_return_202002:0",
            "simulation_path_202001:0",
            "simulation_path_202002:0",
        ]
    );
    assert_eq!(partition_names(&t).await, before, "a dry run drops nothing");
}

#[tokio::test]
async fn dropping_with_an_archive_writes_a_readable_gzip_csv_then_drops() {
    let t = migrated_with(FIXTURE).await;
    exec(
        t.conn(),
        "INSERT INTO daily_price (instrument_id, trade_date, close_price, adj_close_price)
         VALUES (1, '2020-01-02', 10.5, 10.25), (2, '2020-01-31', 20, NULL)",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let archive_dir = dir.path().join("archive");
    let retention = Retention::older_than(date(2020, 6, 15), 3).unwrap();

    let dropped = drop_partition(
        t.conn(),
        "daily_price_202001",
        &retention,
        Some(&archive_dir),
    )
    .await
    .unwrap();
    let file = archive_dir.join("daily_price_202001.csv.gz");
    assert_eq!(dropped.archive.as_deref(), Some(file.as_path()));
    assert_eq!((dropped.rows, dropped.month), (2, date(2020, 1, 1)));
    assert!(!exists(&t, "daily_price_202001").await);
    assert_eq!(
        std::fs::read_dir(&archive_dir).unwrap().count(),
        1,
        "no temporary file left"
    );

    let (header, rows) = gunzip_csv(&file);
    assert_eq!(
        header[..4],
        ["price_id", "instrument_id", "trade_date", "open_price"]
    );
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let picked: Vec<_> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r[column("instrument_id")],
                r[column("trade_date")],
                r[column("close_price")],
                r[column("adj_close_price")]
            )
        })
        .collect();
    assert_eq!(
        picked,
        ["1 2020-01-02 10.5000 10.2500", "2 2020-01-31 20.0000 "]
    );

    // Without an archive directory the partition simply goes.
    drop_partition(t.conn(), "daily_return_202001", &retention, None)
        .await
        .unwrap();
    assert!(!exists(&t, "daily_return_202001").await);
}

#[tokio::test]
async fn a_failed_archive_drops_nothing() {
    let t = migrated_with(FIXTURE).await;
    exec(
        t.conn(),
        "INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES (1, '2020-01-02', 10)",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let retention = Retention::older_than(date(2020, 6, 15), 3).unwrap();
    // A directory where the archive's temporary file must go: the write fails mid-transaction,
    // after the partition was detached.
    std::fs::create_dir(dir.path().join(".daily_price_202001.csv.gz.partial")).unwrap();
    let err = drop_partition(t.conn(), "daily_price_202001", &retention, Some(dir.path()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(!dir.path().join("daily_price_202001.csv.gz").exists());
    assert_eq!(
        count(
            t.conn(),
            "SELECT count(*) FROM daily_price WHERE tableoid = 'daily_price_202001'::regclass"
        )
        .await,
        1,
        "still attached, row intact"
    );

    // An existing archive is never overwritten.
    std::fs::write(dir.path().join("daily_price_202002.csv.gz"), b"earlier").unwrap();
    let err = drop_partition(t.conn(), "daily_price_202002", &retention, Some(dir.path()))
        .await
        .unwrap_err();
    archive_exists(&err);
    assert!(exists(&t, "daily_price_202002").await);
    assert_eq!(
        std::fs::read(dir.path().join("daily_price_202002.csv.gz")).unwrap(),
        b"earlier"
    );
}

#[tokio::test]
async fn default_young_and_foreign_partitions_are_refused() {
    let t = migrated_with(FIXTURE).await;
    exec(
        t.conn(),
        "CREATE TABLE daily_price_201901 PARTITION OF daily_price FOR VALUES FROM ('2019-01-01') TO ('2019-03-01');
         CREATE SCHEMA elsewhere;
         CREATE TABLE elsewhere.daily_price_201801 PARTITION OF daily_price FOR VALUES FROM ('2018-01-01') TO ('2018-02-01');",
    )
    .await;
    let retention = Retention::older_than(date(2020, 6, 15), 3).unwrap();
    let refusal = async |name: &str| match drop_partition(t.conn(), name, &retention, None).await {
        Err(Error::Partition(PartitionError::DropRefused { reason, .. })) => reason,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(refusal("daily_price_default").await, DropRefusal::Default);
    assert_eq!(
        refusal("daily_price_202003").await,
        DropRefusal::NotOlderThanCutoff {
            month: date(2020, 3, 1),
            cutoff: date(2020, 3, 1)
        }
    );
    // Named like a monthly partition but bounded over two months, or in another schema.
    assert_eq!(refusal("daily_price_201901").await, DropRefusal::NotMonthly);
    assert_eq!(refusal("daily_price_201801").await, DropRefusal::NotMonthly);
    for name in [
        "daily_price_default",
        "daily_price_202003",
        "daily_price_201901",
        "daily_price_201801",
    ] {
        assert!(exists(&t, name).await, "{name}");
    }
    // The newest month the rule allows is accepted.
    check_droppable(
        t.conn(),
        "daily_price_202002",
        &retention,
        RowCounting::Exact,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn names_from_user_text_cannot_inject() {
    let t = migrated_with(FIXTURE).await;
    let crafted = r#"daily_price_x"; DROP TABLE instrument_master; --"#;
    exec(
        t.conn(),
        &format!(
            r#"CREATE TABLE "{}" PARTITION OF daily_price FOR VALUES FROM ('2060-01-01') TO ('2060-02-01')"#,
            crafted.replace('"', "\"\"")
        ),
    )
    .await;
    let retention = Retention::older_than(date(2099, 1, 1), 1).unwrap();
    for name in [
        "daily_price_202001; DROP TABLE instrument_master",
        "daily_price_202001\" CASCADE; --",
        "public.daily_price_202001",
        "daily_price",
        "instrument_master",
        "",
    ] {
        let err = drop_partition(t.conn(), name, &retention, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Partition(PartitionError::UnknownPartition { name: n }) if n == name),
            "{name}: {err}"
        );
    }
    // An attached partition with a hostile name is listed (its count query quoted correctly)
    // and refused, never executed.
    let listed = find_partition(t.conn(), crafted, RowCounting::Exact)
        .await
        .unwrap();
    assert!(matches!(listed.kind, PartitionKind::Other { .. }));
    assert_eq!(listed.rows, Some(0));
    let err = drop_partition(t.conn(), crafted, &retention, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Partition(PartitionError::DropRefused {
                reason: DropRefusal::NotMonthly,
                ..
            })
        ),
        "{err}"
    );
    assert!(exists(&t, "instrument_master").await);
    assert!(exists(&t, "daily_price_202001").await);
    assert!(exists(&t, crafted).await);
}

#[tokio::test]
async fn cli_lists_partitions_as_json_and_refuses_a_zero_retention() {
    let t = migrated_with(FIXTURE).await;
    exec(
        t.conn(),
        "INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES (1, '2024-01-02', 10)",
    )
    .await;
    let out = foresto(&t, &["partitions", "list", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = json.as_array().unwrap();
    let january = list
        .iter()
        .find(|p| p["name"] == "daily_price_202401")
        .unwrap();
    assert_eq!(january["parent"], "daily_price");
    assert_eq!(january["schema"], "public");
    assert_eq!(january["kind"], "monthly");
    assert_eq!(january["month"], "2024-01-01");
    assert_eq!(january["rows"], 1);
    assert_eq!(january["rows_exact"], true);
    assert!(january["total_bytes"].as_i64().unwrap() > 0);
    let default = list
        .iter()
        .find(|p| p["name"] == "simulation_path_default")
        .unwrap();
    assert_eq!(default["kind"], "default");
    assert!(stderr.starts_with("partitions: "), "{stderr}");

    let out = foresto(
        &t,
        &[
            "partitions",
            "drop",
            "--older-than-months",
            "0",
            "--dry-run",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: invalid retention"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[tokio::test]
async fn partitions_are_refused_outside_the_window_and_beyond_the_cap_before_any_is_made() {
    let t = migrated_with(FIXTURE).await;
    let before = partition_names(&t).await;
    let db = t.conn();
    let ensure = |parent, first, last, max_new| {
        let limits = PartitionLimits {
            window: DateWindow::plausible(date(2026, 12, 1)),
            max_new,
        };
        async move { partitions::ensure_range_within(db, parent, first, last, &limits).await }
    };

    let year_zero = ensure(Parent::DailyPrice, date(0, 1, 6), date(2024, 1, 1), 600)
        .await
        .unwrap_err();
    assert_eq!(
        year_zero.to_string(),
        "refusing to create partition daily_price_000001: 0000-01 is outside the date window \
         1900-01-01 to 2036-12-01"
    );
    let too_far = ensure(Parent::DailyReturn, date(2036, 6, 1), date(2037, 1, 1), 600)
        .await
        .unwrap_err();
    assert!(
        matches!(too_far, Error::Partition(PartitionError::OutsideWindow { month, .. }) if month == date(2037, 1, 1)),
        "{too_far}"
    );

    let over = ensure(
        Parent::SimulationPath,
        date(1950, 1, 31),
        date(1950, 12, 1),
        11,
    )
    .await
    .unwrap_err();
    assert_eq!(
        over.to_string(),
        "refusing to create 12 partitions of simulation_path (1950-01 through 1950-12): one \
         operation may create at most 11"
    );
    assert_eq!(partition_names(&t).await, before, "nothing was created");

    let made = ensure(
        Parent::SimulationPath,
        date(1950, 1, 31),
        date(1950, 12, 1),
        12,
    )
    .await;
    assert_eq!(made.unwrap(), 12);
    // Existing partitions cost nothing: the same range again fits a cap of none.
    let again = ensure(
        Parent::SimulationPath,
        date(1950, 1, 1),
        date(1950, 12, 31),
        0,
    )
    .await;
    assert_eq!(again.unwrap(), 0);
}

#[tokio::test]
async fn ensure_ahead_refuses_a_horizon_past_the_window_and_creates_nothing() {
    let t = migrated_with(FIXTURE).await;
    let before = partition_names(&t).await;
    let today = chrono::Utc::now().date_naive();

    let err = partitions::ensure_ahead(t.conn(), today, 1_000_000)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field: "months ahead", reason } if reason.contains("leaves the date window")),
        "{err}"
    );
    assert!(
        partitions::missing_ahead(t.conn(), today, 121)
            .await
            .is_err()
    );
    assert_eq!(partition_names(&t).await, before);

    let out = foresto(&t, &["partitions", "ensure", "--months-ahead", "1000000"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: invalid months ahead: 1000000 months after "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
