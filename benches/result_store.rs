//! Result-store benchmark: storing and reading back a 2,520-row run (ten years of trading days)
//! through the cache, against the same work done with raw SQL on the same server.
//!
//! Targets: a miss that stores run + summary + path in one transaction takes at most 1.5× one
//! raw COPY of the path rows; a hit (run + summary + path) at most 1.5× the same three reads as
//! raw SQL. Run with `cargo bench --bench result_store`; prints medians of several repetitions.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate, Weekday};
use entity::enums::RebalanceFreq;
use foresto::engine::{StoredPathPoint, StoredSummary};
use foresto::simulation::{
    CachePolicy, ComputedRun, SimulationRequest, Subject, get_or_compute, store,
};
use foresto::testing::TestDatabase;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgPool;

const ROWS: usize = 2_520;
const WARM_UP: usize = 3;
const REPETITIONS: usize = 31;
const TARGET_RATIO: f64 = 1.5;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench())
}

async fn bench() -> anyhow::Result<()> {
    let t = TestDatabase::migrated().await;
    let db = t.conn();
    let pool = db.get_postgres_connection_pool();
    let computed = computed_run();
    let policy = CachePolicy::default();
    let mut serial = 0_i64;
    let mut next_request = || {
        serial += 1;
        request(serial)
    };

    // Partitions for the whole path exist before anything is timed.
    store::ensure_path_partitions(db, &computed.path).await?;

    let (raw_copy, miss) = measure_pair(
        || async {
            let run_id = raw_run(pool).await?;
            let started = Instant::now();
            raw_copy(pool, run_id, &computed.path).await?;
            Ok(started.elapsed())
        },
        || {
            let req = next_request();
            let computed = computed.clone();
            let policy = &policy;
            async move {
                let started = Instant::now();
                let cached = get_or_compute(db, &req, policy, async |_| Ok((computed, ()))).await?;
                let elapsed = started.elapsed();
                anyhow::ensure!(!cached.cache_hit() && cached.stored.path.len() == ROWS);
                Ok(elapsed)
            }
        },
    )
    .await?;

    let stored = request(0);
    get_or_compute(db, &stored, &policy, async |_| Ok((computed.clone(), ()))).await?;
    let hash = stored.request_hash();
    let (raw_reads, hit) = measure_pair(
        || async {
            let started = Instant::now();
            let rows = raw_reads(pool, &hash).await?;
            let elapsed = started.elapsed();
            anyhow::ensure!(rows == ROWS);
            Ok(elapsed)
        },
        || async {
            let started = Instant::now();
            let cached = get_or_compute::<(), _>(db, &stored, &policy, async |_| {
                unreachable!("the run is stored")
            })
            .await?;
            let elapsed = started.elapsed();
            anyhow::ensure!(cached.cache_hit() && cached.stored.path.len() == ROWS);
            Ok(elapsed)
        },
    )
    .await?;

    println!(
        "result store, {ROWS}-row path, median of {REPETITIONS} interleaved runs (after {WARM_UP} warm-up)"
    );
    println!(
        "{:<58} {:>9} {:>7} {:>7}",
        "operation", "ms", "ratio", "target"
    );
    let line = |name: &str, d: Duration, baseline: Option<Duration>| {
        let ms = d.as_secs_f64() * 1000.0;
        match baseline {
            None => println!("{name:<58} {ms:>9.2}"),
            Some(b) => {
                let ratio = d.as_secs_f64() / b.as_secs_f64();
                let verdict = if ratio <= TARGET_RATIO {
                    "ok"
                } else {
                    "MISSED"
                };
                println!("{name:<58} {ms:>9.2} {ratio:>6.2}x {verdict:>7}");
            }
        }
    };
    line("raw COPY of the path rows (baseline)", raw_copy, None);
    line(
        "save: get_or_compute miss (run + summary + path, one tx)",
        miss,
        Some(raw_copy),
    );
    line("raw SQL: run + summary + path (baseline)", raw_reads, None);
    line(
        "hit: get_or_compute (run + summary + full path)",
        hit,
        Some(raw_reads),
    );
    Ok(())
}

/// The medians of [`REPETITIONS`] timings of `baseline` and `candidate` (each returns its own
/// timed span), taken alternately so that changes in machine load hit both alike, after
/// [`WARM_UP`] untimed runs of each.
async fn measure_pair<A, AF, B, BF>(
    mut baseline: A,
    mut candidate: B,
) -> anyhow::Result<(Duration, Duration)>
where
    A: FnMut() -> AF,
    AF: Future<Output = anyhow::Result<Duration>>,
    B: FnMut() -> BF,
    BF: Future<Output = anyhow::Result<Duration>>,
{
    for _ in 0..WARM_UP {
        baseline().await?;
        candidate().await?;
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..REPETITIONS {
        a.push(baseline().await?);
        b.push(candidate().await?);
    }
    let median = |mut times: Vec<Duration>| {
        times.sort_unstable();
        times[times.len() / 2]
    };
    Ok((median(a), median(b)))
}

fn request(serial: i64) -> SimulationRequest {
    SimulationRequest {
        subject: Subject::Scenario {
            scenario_id: "GROWTH".into(),
        },
        start_date: NaiveDate::from_ymd_opt(2015, 1, 1).unwrap(),
        end_date: NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
        initial_amount: Decimal::new(1_000_000 + serial, 0),
        rebalance_freq: Some(RebalanceFreq::Monthly),
        risk_free_rate: Decimal::ZERO,
        max_loss_limit_pct: None,
        engine_version: foresto::settings::DEFAULT_ENGINE_VERSION.into(),
        user_id: None,
    }
}

/// A 2,520-row path on weekdays from 2015-01-02 with figures at full column scale.
fn computed_run() -> ComputedRun {
    let dates = NaiveDate::from_ymd_opt(2015, 1, 2)
        .unwrap()
        .iter_days()
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .take(ROWS);
    let path: Vec<StoredPathPoint> = dates
        .enumerate()
        .map(|(i, date)| {
            let i = i as i64;
            StoredPathPoint {
                date,
                nav: Decimal::new(10_000_000_000 + i * 12_345, 4),
                daily_return: Some(Decimal::new((i % 200 - 100) * 12_345, 8)),
                cumulative_return: Some(Decimal::new(i * 1_234_567, 8)),
                drawdown: Some(Decimal::new(-(i % 97) * 123_457, 8)),
                high_water_mark: Some(Decimal::new(10_000_000_000 + i * 12_345, 4)),
            }
        })
        .collect();
    ComputedRun {
        portfolio_id: None,
        rebalance_freq: Some(RebalanceFreq::Monthly),
        instrument_ids: Vec::new(),
        summary: StoredSummary {
            trading_days: ROWS as i32,
            final_value: Some(Decimal::new(131_110_000, 2)),
            total_return: Decimal::new(311_100, 4),
            cagr: Some(Decimal::new(27_600, 4)),
            volatility: Some(Decimal::new(123_456, 4)),
            sharpe_ratio: Some(Decimal::new(4_321, 4)),
            sortino_ratio: Some(Decimal::new(6_543, 4)),
            max_drawdown: Decimal::new(118_765, 4),
            max_recovery_days: 321,
            worst_1m_return: Some(Decimal::new(-81_234, 4)),
            worst_3m_return: Some(Decimal::new(-143_210, 4)),
            rebalance_count: 119,
        },
        path,
    }
}

/// A bare run row for the raw COPY to hang its path on.
async fn raw_run(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO simulation_run (request_hash, start_date, end_date, initial_amount, engine_version)
         VALUES (md5(random()::text) || md5(random()::text), '2015-01-01', '2024-12-31', 1, '1.0.0')
         RETURNING run_id",
    )
    .fetch_one(pool)
    .await?)
}

/// One COPY of the path rows, as a hand-written loader would do it.
async fn raw_copy(pool: &PgPool, run_id: i64, path: &[StoredPathPoint]) -> anyhow::Result<()> {
    let mut text = String::with_capacity(path.len() * 96);
    let opt = |v: Option<Decimal>| v.map_or_else(|| "\\N".to_owned(), |d| d.to_string());
    for p in path {
        writeln!(
            text,
            "{run_id}\t{}\t{}\t{}\t{}\t{}\t{}",
            p.date,
            p.nav,
            opt(p.daily_return),
            opt(p.cumulative_return),
            opt(p.drawdown),
            opt(p.high_water_mark)
        )?;
    }
    let mut conn = pool.acquire().await?;
    let mut copy = conn
        .copy_in_raw(
            "COPY simulation_path (run_id, path_date, nav, daily_return, cumulative_return, \
             drawdown, high_water_mark) FROM STDIN",
        )
        .await?;
    copy.send(text.into_bytes()).await?;
    copy.finish().await.context("COPY")?;
    Ok(())
}

type RunRow = (
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    NaiveDate,
    NaiveDate,
    Decimal,
    Option<String>,
    Option<Decimal>,
    Option<Value>,
    String,
    Option<String>,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
);

type SummaryRow = (
    i64,
    i64,
    Decimal,
    Option<i32>,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Decimal,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Option<i32>,
    Option<i32>,
    Option<chrono::DateTime<chrono::Utc>>,
);

type PathRow = (
    NaiveDate,
    Decimal,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
);

/// The run, its summary and its path with plain sqlx, decoded into tuples.
async fn raw_reads(pool: &PgPool, hash: &str) -> anyhow::Result<usize> {
    let run: RunRow = sqlx::query_as(
        "SELECT run_id, request_hash, scenario_id, portfolio_id, user_id, start_date, end_date,
                initial_amount, rebalance_freq, max_loss_limit_pct, request_params, engine_version,
                run_status, error_message, created_at, expires_at
           FROM simulation_run WHERE request_hash = $1",
    )
    .bind(hash)
    .fetch_one(pool)
    .await?;
    let _summary: SummaryRow = sqlx::query_as(
        "SELECT summary_id, run_id, max_drawdown, max_recovery_days, worst_1m_return,
                worst_3m_return, volatility, total_return, cagr, sharpe_ratio, sortino_ratio,
                final_value, trading_days, rebalance_count, created_at
           FROM simulation_summary WHERE run_id = $1",
    )
    .bind(run.0)
    .fetch_one(pool)
    .await?;
    let path: Vec<PathRow> = sqlx::query_as(
        "SELECT path_date, nav, daily_return, cumulative_return, drawdown, high_water_mark
           FROM simulation_path WHERE run_id = $1 ORDER BY path_date",
    )
    .bind(run.0)
    .fetch_all(pool)
    .await?;
    Ok(path.len())
}
