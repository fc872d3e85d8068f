//! Result-store benchmark: storing and reading back a 2,520-row run (ten years of trading days)
//! through the cache, against the same work done with raw SQL on the same server.
//!
//! Targets: a miss that stores run + summary + path in one transaction takes at most 1.5× one
//! raw COPY of the path rows; a hit (run + summary + path) at most 1.5× the same three reads as
//! raw SQL. Run with `cargo bench --bench result_store`; prints medians of several repetitions.

use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, Weekday};
use entity::enums::RebalanceFreq;
use foresto::engine::{StoredPathPoint, StoredSummary};
use foresto::partitions::PartitionLimits;
use foresto::simulation::{
    CachePolicy, ComputedRun, SimulationRequest, Subject, get_or_compute, store,
};
use foresto::testing::TestDatabase;
use rust_decimal::Decimal;

#[path = "support/raw_store.rs"]
mod raw_store;
use raw_store::{raw_copy, raw_reads, raw_run};

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
    store::ensure_path_partitions(db, &computed.path, &PartitionLimits::default()).await?;

    let (raw_copy, miss) = measure_pair(
        || async {
            let run_id = raw_run(pool, day(2015, 1, 1), day(2024, 12, 31)).await?;
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
                let cached =
                    get_or_compute(db, &req, policy, &PartitionLimits::default(), async |_| {
                        Ok((computed, ()))
                    })
                    .await?;
                let elapsed = started.elapsed();
                anyhow::ensure!(!cached.cache_hit() && cached.stored.path.len() == ROWS);
                Ok(elapsed)
            }
        },
    )
    .await?;

    let stored = request(0);
    get_or_compute(
        db,
        &stored,
        &policy,
        &PartitionLimits::default(),
        async |_| Ok((computed.clone(), ())),
    )
    .await?;
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
            let cached = get_or_compute::<(), _>(
                db,
                &stored,
                &policy,
                &PartitionLimits::default(),
                async |_| unreachable!("the run is stored"),
            )
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

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a calendar date")
}
