//! The result store and cache against a real PostgreSQL: hits without recomputing, atomic misses,
//! replacement of expired / FAILED / abandoned runs, exactly-once computation under concurrency,
//! partitions far outside the migrated range, reads, and cleanup with archives.

use foresto::SimulationError;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use entity::enums::{RebalanceFreq, RunStatus};
use foresto::Error;
use foresto::engine::{StoredPathPoint, StoredSummary};
use foresto::partitions::PartitionLimits;
use foresto::settings::PoolSettings;
use foresto::simulation::cleanup::{CleanupOptions, cleanup_expired};
use foresto::simulation::{
    CachePolicy, Cached, ComputedRun, RunFilter, RunKey, SimulationRequest, get_or_compute, runs,
};
use rust_decimal::Decimal;
use sea_orm::DatabaseConnection;

use crate::support::{
    TestDatabase, count, date, exec, gunzip, request, row_count, stored_runs, strings,
};

/// A made-up path over `dates`: NAV 1000, 1001, 1002, … (the store does not care how it was
/// computed).
fn computed(dates: &[NaiveDate]) -> ComputedRun {
    let path: Vec<StoredPathPoint> = dates
        .iter()
        .enumerate()
        .map(|(i, &date)| StoredPathPoint {
            date,
            nav: Decimal::new(10_000_000 + 10_000 * i as i64, 4),
            daily_return: Some(Decimal::new(99_900, 8)),
            cumulative_return: Some(Decimal::new(100_000 * i as i64, 8)),
            drawdown: Some(Decimal::new(0, 8)),
            high_water_mark: None,
        })
        .collect();
    ComputedRun {
        portfolio_id: None,
        rebalance_freq: Some(RebalanceFreq::Monthly),
        instrument_ids: Vec::new(),
        summary: StoredSummary {
            trading_days: path.len() as i32,
            final_value: Some(Decimal::new(100_100, 2)),
            total_return: Decimal::new(1_000, 4),
            cagr: None,
            volatility: Some(Decimal::new(12_3456, 4)),
            sharpe_ratio: Some(Decimal::new(-5, 4)),
            sortino_ratio: None,
            max_drawdown: Decimal::new(0, 4),
            max_recovery_days: 0,
            worst_1m_return: None,
            worst_3m_return: None,
            rebalance_count: 2,
        },
        path,
    }
}

fn days(start: NaiveDate, n: usize) -> Vec<NaiveDate> {
    start.iter_days().take(n).collect()
}

/// `get_or_compute` with a computation that counts its calls and returns `result`.
async fn run_counting(
    db: &DatabaseConnection,
    req: &SimulationRequest,
    policy: &CachePolicy,
    calls: &AtomicUsize,
    result: ComputedRun,
) -> foresto::Result<Cached<()>> {
    get_or_compute(db, req, policy, &PartitionLimits::default(), async |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok((result, ()))
    })
    .await
}

#[tokio::test]
async fn a_hit_returns_the_stored_run_without_computing() {
    let t = TestDatabase::migrated().await;
    let req = request("GROWTH", date(2024, 1, 1), date(2024, 3, 31));
    let policy = CachePolicy::default();
    let calls = AtomicUsize::new(0);
    let result = computed(&days(date(2024, 1, 2), 60));
    let first = run_counting(t.conn(), &req, &policy, &calls, result.clone())
        .await
        .unwrap();
    assert!(!first.cache_hit());
    assert_eq!(first.stored.path, result.path);
    assert_eq!(first.stored.run.request_hash, req.request_hash());
    assert_eq!(first.stored.run.run_status, Some(RunStatus::Completed));
    assert_eq!(first.stored.run.scenario_id.as_deref(), Some("GROWTH"));
    assert_eq!(
        first.stored.run.rebalance_freq,
        Some(RebalanceFreq::Monthly)
    );
    assert_eq!(
        first.stored.run.request_params,
        Some(serde_json::to_value(&req).unwrap())
    );
    assert_eq!(
        first.stored.summary.volatility,
        Some(Decimal::new(12_3456, 4))
    );
    assert_eq!(first.stored.summary.trading_days, Some(60));

    let hit = get_or_compute::<(), _>(
        t.conn(),
        &req,
        &policy,
        &PartitionLimits::default(),
        async |_| panic!("a hit must not compute"),
    )
    .await
    .unwrap();
    assert!(hit.cache_hit());
    assert_eq!(hit.stored, first.stored);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A request that differs only in who asked is the same request.
    let mut other_user = req.clone();
    other_user.user_id = Some(7);
    let hit = run_counting(t.conn(), &other_user, &policy, &calls, result)
        .await
        .unwrap();
    assert!(hit.cache_hit());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn expires_at_follows_the_ttl() {
    let t = TestDatabase::migrated().await;
    let calls = AtomicUsize::new(0);
    let result = computed(&days(date(2024, 1, 2), 3));
    let week = CachePolicy {
        ttl: Some(TimeDelta::days(7)),
        ..CachePolicy::default()
    };
    let keep = CachePolicy {
        ttl: None,
        ..CachePolicy::default()
    };
    let a = run_counting(
        t.conn(),
        &request("GROWTH", date(2024, 1, 1), date(2024, 2, 1)),
        &week,
        &calls,
        result.clone(),
    )
    .await
    .unwrap();
    let b = run_counting(
        t.conn(),
        &request("GROWTH", date(2024, 1, 1), date(2024, 2, 2)),
        &keep,
        &calls,
        result,
    )
    .await
    .unwrap();
    let run = &a.stored.run;
    assert_eq!(
        run.expires_at.unwrap() - run.created_at.unwrap(),
        TimeDelta::days(7)
    );
    assert_eq!(b.stored.run.expires_at, None);
}

#[tokio::test]
async fn a_failure_while_storing_leaves_nothing_behind() {
    let t = TestDatabase::migrated().await;
    let req = request("GROWTH", date(2024, 1, 1), date(2024, 3, 31));
    let policy = CachePolicy::default();
    let calls = AtomicUsize::new(0);
    let mut overflowing = computed(&days(date(2024, 1, 2), 30));
    // numeric(18,4) holds 14 integer digits: the last path row fails, after run and summary
    // were inserted.
    overflowing.path[29].nav = Decimal::new(10_i64.pow(15), 0);
    let err = run_counting(t.conn(), &req, &policy, &calls, overflowing)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("numeric field overflow"), "{err}");
    assert_eq!(
        stored_runs(t.conn()).await,
        (0, 0, 0),
        "run, summary, path rows"
    );
    // A failing computation stores nothing either, and neither blocks the hash.
    let err = get_or_compute::<(), _>(
        t.conn(),
        &req,
        &policy,
        &PartitionLimits::default(),
        async |_| {
            Err(Error::Simulation(SimulationError::NoReturnsInWindow {
                start_date: date(2024, 1, 1),
                end_date: date(2024, 3, 31),
            }))
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        Error::Simulation(SimulationError::NoReturnsInWindow { .. })
    ));
    assert_eq!(row_count(t.conn(), "simulation_run").await, 0);
    let ok = run_counting(
        t.conn(),
        &req,
        &policy,
        &calls,
        computed(&days(date(2024, 1, 2), 30)),
    )
    .await
    .unwrap();
    assert!(!ok.cache_hit());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_expired_run_is_replaced() {
    let t = TestDatabase::migrated().await;
    let req = request("GROWTH", date(2024, 1, 1), date(2024, 3, 31));
    let policy = CachePolicy::default();
    let calls = AtomicUsize::new(0);
    let old = run_counting(
        t.conn(),
        &req,
        &policy,
        &calls,
        computed(&days(date(2024, 1, 2), 10)),
    )
    .await
    .unwrap();
    exec(
        t.conn(),
        "UPDATE simulation_run SET expires_at = now() - interval '1 second'",
    )
    .await;
    let new = run_counting(
        t.conn(),
        &req,
        &policy,
        &calls,
        computed(&days(date(2024, 1, 2), 12)),
    )
    .await
    .unwrap();
    assert!(!new.cache_hit());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_ne!(new.stored.run.run_id, old.stored.run.run_id);
    assert_eq!(row_count(t.conn(), "simulation_run").await, 1);
    assert_eq!(row_count(t.conn(), "simulation_summary").await, 1);
    assert_eq!(row_count(t.conn(), "simulation_path").await, 12);
}

#[tokio::test]
async fn failed_and_abandoned_runs_are_taken_over() {
    let t = TestDatabase::migrated().await;
    let calls = AtomicUsize::new(0);
    let policy = CachePolicy {
        stale_after: TimeDelta::seconds(1),
        poll_interval: Duration::from_millis(20),
        ..CachePolicy::default()
    };
    // FAILED, a RUNNING row an hour old, and a RUNNING row that goes stale while we wait.
    let cases = [
        ("2024-02-01", "FAILED", "now()"),
        ("2024-02-02", "RUNNING", "now() - interval '1 hour'"),
        ("2024-02-03", "RUNNING", "now()"),
    ];
    for (i, (end, status, created)) in cases.iter().enumerate() {
        let req = request("GROWTH", date(2024, 1, 1), end.parse().unwrap());
        exec(
            t.conn(),
            &format!(
                "INSERT INTO simulation_run (request_hash, scenario_id, start_date, end_date,
                     initial_amount, engine_version, run_status, created_at)
                 VALUES ('{}', 'GROWTH', '2024-01-01', '{end}', 1, '1.0.0', '{status}', {created})",
                req.request_hash()
            ),
        )
        .await;
        let taken = run_counting(
            t.conn(),
            &req,
            &policy,
            &calls,
            computed(&days(date(2024, 1, 2), 5)),
        )
        .await
        .unwrap();
        assert!(!taken.cache_hit(), "{status}");
        assert_eq!(taken.stored.run.run_status, Some(RunStatus::Completed));
        assert_eq!(calls.load(Ordering::SeqCst), i + 1);
    }
    assert_eq!(
        strings(t.conn(), "SELECT DISTINCT run_status FROM simulation_run").await,
        ["COMPLETED"]
    );
}

#[tokio::test]
async fn concurrent_identical_requests_compute_once() {
    let t = TestDatabase::migrated().await;
    let req = request("GROWTH", date(2024, 1, 1), date(2024, 12, 31));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        // Each caller has a pool of its own, as separate processes would.
        let db = foresto::db::connect(t.url(), &Default::default())
            .await
            .unwrap();
        let (req, calls) = (req.clone(), Arc::clone(&calls));
        tasks.push(tokio::spawn(async move {
            get_or_compute(
                &db,
                &req,
                &CachePolicy::default(),
                &PartitionLimits::default(),
                async |_| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    // Long enough for every other caller to arrive while this one computes.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Ok((computed(&days(date(2024, 1, 2), 250)), ()))
                },
            )
            .await
            .unwrap()
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(results.iter().filter(|r| !r.cache_hit()).count(), 1);
    let first = &results[0].stored;
    assert!(results.iter().all(|r| r.stored == *first));
    assert_eq!(first.path.len(), 250);
}

#[tokio::test]
async fn a_caller_queues_for_a_connection_held_longer_than_the_acquire_timeout() {
    let t = TestDatabase::migrated().await;
    let one_connection = PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(1),
        ..PoolSettings::default()
    };
    let db = foresto::db::connect(t.url(), &one_connection)
        .await
        .unwrap();
    let policy = CachePolicy::default();
    let (computing, computing_started) = tokio::sync::oneshot::channel();
    let first = {
        let (db, policy) = (db.clone(), policy.clone());
        tokio::spawn(async move {
            let req = request("GROWTH", date(2024, 1, 1), date(2024, 2, 1));
            get_or_compute(
                &db,
                &req,
                &policy,
                &PartitionLimits::default(),
                async move |_| {
                    computing.send(()).unwrap();
                    // Holds the pool's only connection for four acquire timeouts.
                    tokio::time::sleep(Duration::from_secs(4)).await;
                    Ok((computed(&days(date(2024, 1, 2), 5)), ()))
                },
            )
            .await
        })
    };
    computing_started.await.unwrap();
    let req = request("GROWTH", date(2024, 1, 1), date(2024, 2, 2));
    let second = get_or_compute(
        &db,
        &req,
        &policy,
        &PartitionLimits::default(),
        async |_| Ok((computed(&days(date(2024, 1, 2), 5)), ())),
    )
    .await
    .unwrap();
    assert!(!second.cache_hit());
    assert!(!first.await.unwrap().unwrap().cache_hit());
    assert_eq!(row_count(t.conn(), "simulation_run").await, 2);
}

#[tokio::test]
async fn paths_before_2020_and_past_the_horizon_store_in_their_months() {
    let t = TestDatabase::migrated().await;
    let dates = [date(2019, 12, 30), date(2019, 12, 31), date(2032, 3, 1)];
    let req = request("GROWTH", date(2019, 12, 1), date(2032, 3, 31));
    let calls = AtomicUsize::new(0);
    let stored = run_counting(
        t.conn(),
        &req,
        &CachePolicy::default(),
        &calls,
        computed(&dates),
    )
    .await
    .unwrap();
    assert_eq!(stored.stored.path.len(), 3);
    assert_eq!(
        strings(
            t.conn(),
            "SELECT tableoid::regclass || ' ' || path_date FROM simulation_path ORDER BY path_date"
        )
        .await,
        [
            "simulation_path_201912 2019-12-30",
            "simulation_path_201912 2019-12-31",
            "simulation_path_203203 2032-03-01"
        ]
    );
}

#[tokio::test]
async fn runs_are_read_by_id_or_hash_and_listed_by_filter() {
    let t = TestDatabase::migrated().await;
    let calls = AtomicUsize::new(0);
    let policy = CachePolicy::default();
    let mut ids = Vec::new();
    for (scenario, user, end) in [
        ("GROWTH", Some(1), date(2024, 2, 1)),
        ("GROWTH", Some(2), date(2024, 2, 2)),
        ("MIN_VOL", Some(1), date(2024, 2, 3)),
    ] {
        let mut req = request(scenario, date(2024, 1, 1), end);
        req.user_id = user;
        let run = run_counting(
            t.conn(),
            &req,
            &policy,
            &calls,
            computed(&days(date(2024, 1, 2), 4)),
        )
        .await
        .unwrap();
        ids.push(run.stored.run.run_id);
    }
    exec(
        t.conn(),
        "INSERT INTO simulation_run (request_hash, scenario_id, start_date, end_date,
             initial_amount, engine_version, run_status, error_message)
         VALUES (repeat('f', 64), 'GROWTH', '2024-01-01', '2024-02-04', 1, '1.0.0', 'FAILED', 'boom')",
    )
    .await;

    let by_id = runs::find(t.conn(), &RunKey::Id(ids[1])).await.unwrap();
    let key: RunKey = by_id.request_hash.to_uppercase().parse().unwrap();
    assert_eq!(runs::find(t.conn(), &key).await.unwrap(), by_id);
    assert_eq!(by_id.user_id, Some(2));
    assert_eq!(runs::path(t.conn(), ids[1]).await.unwrap().len(), 4);
    assert!(runs::summary(t.conn(), ids[1]).await.unwrap().is_some());
    assert!(matches!(
        runs::find(t.conn(), &RunKey::Id(999_999)).await,
        Err(Error::NotFound { .. })
    ));
    assert!("nope".parse::<RunKey>().is_err());
    let failed = runs::find(t.conn(), &"f".repeat(64).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(runs::summary(t.conn(), failed.run_id).await.unwrap(), None);

    let db = t.conn();
    let list = |filter: RunFilter| async move {
        runs::list(db, &filter)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect::<Vec<_>>()
    };
    let growth = list(RunFilter {
        scenario_id: Some("GROWTH".into()),
        ..RunFilter::default()
    })
    .await;
    assert_eq!(growth, [failed.run_id, ids[1], ids[0]]);
    let user_1 = list(RunFilter {
        user_id: Some(1),
        ..RunFilter::default()
    })
    .await;
    assert_eq!(user_1, [ids[2], ids[0]]);
    let failed_only = list(RunFilter {
        status: Some(RunStatus::Failed),
        ..RunFilter::default()
    })
    .await;
    assert_eq!(failed_only, [failed.run_id]);
    let newest_two = list(RunFilter {
        limit: Some(2),
        ..RunFilter::default()
    })
    .await;
    assert_eq!(newest_two, [failed.run_id, ids[2]]);
}

/// Three runs: two expired (one yesterday, one 40 days ago) and one still valid.
async fn three_runs(t: &TestDatabase) -> Vec<i64> {
    let calls = AtomicUsize::new(0);
    let mut ids = Vec::new();
    for end in [date(2024, 2, 1), date(2024, 2, 2), date(2024, 2, 3)] {
        let run = run_counting(
            t.conn(),
            &request("GROWTH", date(2024, 1, 1), end),
            &CachePolicy::default(),
            &calls,
            computed(&days(date(2024, 1, 2), 20)),
        )
        .await
        .unwrap();
        ids.push(run.stored.run.run_id);
    }
    exec(
        t.conn(),
        &format!(
            "UPDATE simulation_run SET expires_at = now() - interval '1 day' WHERE run_id = {};
             UPDATE simulation_run SET expires_at = now() - interval '40 days' WHERE run_id = {};",
            ids[0], ids[1]
        ),
    )
    .await;
    ids
}

#[tokio::test]
async fn cleanup_dry_run_counts_and_deletes_nothing() {
    let t = TestDatabase::migrated().await;
    three_runs(&t).await;
    let report = cleanup_expired(
        t.conn(),
        &CleanupOptions {
            dry_run: true,
            ..CleanupOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((report.expired, report.deleted, report.batches), (2, 0, 0));
    assert_eq!(stored_runs(t.conn()).await, (3, 3, 60));
}

#[tokio::test]
async fn cleanup_deletes_expired_runs_in_batches_with_their_rows() {
    let t = TestDatabase::migrated().await;
    let ids = three_runs(&t).await;
    let report = cleanup_expired(
        t.conn(),
        &CleanupOptions {
            batch_size: 1,
            ..CleanupOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((report.expired, report.deleted, report.batches), (2, 2, 2));
    assert_eq!(stored_runs(t.conn()).await, (1, 1, 20));
    assert_eq!(
        count(t.conn(), "SELECT run_id FROM simulation_run").await,
        ids[2]
    );
    assert!(matches!(
        cleanup_expired(
            t.conn(),
            &CleanupOptions {
                batch_size: 0,
                ..CleanupOptions::default()
            }
        )
        .await,
        Err(Error::InvalidInput { .. })
    ));
}

#[tokio::test]
async fn cleanup_with_a_cut_off_keeps_runs_that_expired_after_it() {
    let t = TestDatabase::migrated().await;
    let ids = three_runs(&t).await;
    let cut_off = (chrono::Utc::now() - TimeDelta::days(10)).date_naive();
    let report = cleanup_expired(
        t.conn(),
        &CleanupOptions {
            before: Some(cut_off),
            ..CleanupOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((report.expired, report.deleted), (1, 1));
    let left = strings(
        t.conn(),
        "SELECT run_id::text FROM simulation_run ORDER BY run_id",
    )
    .await;
    assert_eq!(left, [ids[0].to_string(), ids[2].to_string()]);
}

#[tokio::test]
async fn cleanup_archives_each_run_before_deleting_it() {
    let t = TestDatabase::migrated().await;
    let ids = three_runs(&t).await;
    let dir = tempfile::tempdir().unwrap();
    let report = cleanup_expired(
        t.conn(),
        &CleanupOptions {
            archive_dir: Some(dir.path().join("archive")),
            ..CleanupOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.deleted, 2);
    assert_eq!(report.archived.len(), 2);
    assert_eq!(stored_runs(t.conn()).await, (1, 1, 20));

    let file = report
        .archived
        .iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("run-{}-", ids[1]))
        })
        .unwrap();
    let archive: serde_json::Value = serde_json::from_str(&gunzip(file)).unwrap();
    assert_eq!(archive["format"], "foresto.simulation_run.v1");
    let run = &archive["run"];
    assert_eq!(run["run_id"].as_i64(), Some(ids[1]));
    assert_eq!(run["initial_amount"], "1000000.00");
    assert_eq!(run["request_params"]["scenario_id"], "GROWTH");
    assert_eq!(run["run_status"], "COMPLETED");
    let summary = &archive["summary"];
    assert_eq!(summary["run_id"].as_i64(), Some(ids[1]));
    assert!(summary["summary_id"].is_i64());
    assert_eq!(summary["volatility"], "12.3456");
    assert_eq!(summary["total_return"], "0.1000");
    assert_eq!(summary["sortino_ratio"], serde_json::Value::Null);
    assert_eq!(summary["trading_days"].as_i64(), Some(20));
    let path = archive["path"].as_array().unwrap();
    assert_eq!(path.len(), 20);
    assert_eq!(path[0]["path_date"], "2024-01-02");
    assert_eq!(path[0]["nav"], "1000.0000");
    assert_eq!(path[19]["nav"], "1019.0000");
    assert_eq!(path[1]["daily_return"], "0.00099900");
    assert!(path[0]["path_id"].is_i64());
    assert_eq!(path[0]["high_water_mark"], serde_json::Value::Null);
}
