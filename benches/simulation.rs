//! Simulation benchmark: cache-miss and cache-hit `simulate` of a 5-instrument, 20-year portfolio
//! on the bundled real ETF prices, against the same work done by hand on the same server, with a
//! breakdown of a miss and the throughput of distinct misses from 1, 2 and 8 concurrent callers.
//!
//! Data: `data/etf-prices` loaded with `prices::load_file`, returns by
//! `returns::compute_returns`; the request is `Subject::Portfolio` SPY 0.30, QQQ 0.20, IWM 0.20,
//! TLT 0.20, SHY 0.10, 2003-01-01..2022-12-31, rebalanced monthly (every instrument has returns
//! over the whole window). Each miss varies `initial_amount`, so each has its own hash.
//!
//! Targets (issue 11, target 3): a miss at most 1.5× one hand-written SQL read of the same
//! returns plus one raw COPY of the same path rows; a hit at most 1.3× the raw reads of run +
//! summary + path. Run with `cargo bench --bench simulation`; `FORESTO_BENCH_ROUNDS` (default 31)
//! timed interleaved rounds after 3 warm-ups, `FORESTO_BENCH_REQUESTS` (default 24) distinct
//! misses per throughput case.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{NaiveDate, TimeDelta};
use entity::enums::RebalanceFreq;
use foresto::engine::{self, PathPoint, PortfolioVersion, SimulationInput, Weight};
use foresto::partitions::PartitionLimits;
use foresto::prices::{LoadOptions, load_file};
use foresto::returns::{ReturnsScope, compute_returns};
use foresto::settings::Settings;
use foresto::simulation::request::InstrumentWeight;
use foresto::simulation::{
    ComputedRun, SimulationOutcome, SimulationRequest, Subject, service, simulate, store,
};
use foresto::testing::TestDatabase;
use rust_decimal::Decimal;
use sea_orm::DatabaseConnection;
use sqlx::{AssertSqlSafe, PgPool};

#[path = "support/raw_store.rs"]
mod raw_store;
mod support;
use raw_store::{raw_copy, raw_reads, raw_run};
use support::{block_on, env_or};

const WARM_UP: usize = 3;
const MISS_TARGET: f64 = 1.5;
const HIT_TARGET: f64 = 1.3;
const HOLDINGS: [(&str, &str); 5] = [
    ("SPY", "0.30"),
    ("QQQ", "0.20"),
    ("IWM", "0.20"),
    ("TLT", "0.20"),
    ("SHY", "0.10"),
];
const START: &str = "2003-01-01";
const END: &str = "2022-12-31";
const CALLERS: [usize; 3] = [1, 2, 8];

fn main() -> anyhow::Result<()> {
    tracing::subscriber::set_global_default(SpanTimer::default())?;
    block_on(bench())
}

/// A tracing subscriber that times every span from its creation to its close (an `#[instrument]`
/// async fn: call to completion), keeping the times of spans that close while `recording`.
/// Events are ignored.
#[derive(Default)]
struct SpanTimer {
    next_id: AtomicU64,
    /// Span id → (name, created, handles).
    live: Mutex<HashMap<u64, (&'static str, Instant, usize)>>,
    recording: AtomicBool,
    closed: Mutex<Vec<(&'static str, Duration)>>,
}

impl SpanTimer {
    fn global<R>(mut f: impl FnMut(&SpanTimer) -> R) -> R {
        tracing::dispatcher::get_default(|d| {
            f(d.downcast_ref::<SpanTimer>()
                .expect("the span timer is the global subscriber"))
        })
    }

    fn start() {
        Self::global(|t| {
            t.closed.lock().expect("not poisoned").clear();
            t.recording.store(true, Ordering::Relaxed);
        });
    }

    /// The spans closed since [`SpanTimer::start`]: name, total time, how many.
    fn stop() -> Vec<(&'static str, Duration, usize)> {
        Self::global(|t| {
            t.recording.store(false, Ordering::Relaxed);
            let mut out: Vec<(&'static str, Duration, usize)> = Vec::new();
            for (name, d) in t.closed.lock().expect("not poisoned").drain(..) {
                match out.iter_mut().find(|(n, ..)| *n == name) {
                    Some(entry) => {
                        entry.1 += d;
                        entry.2 += 1;
                    }
                    None => out.push((name, d, 1)),
                }
            }
            out
        })
    }
}

impl tracing::Subscriber for SpanTimer {
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if metadata.is_span() {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.is_span()
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.live
            .lock()
            .expect("not poisoned")
            .insert(id, (span.metadata().name(), Instant::now(), 1));
        tracing::span::Id::from_u64(id)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, _: &tracing::Event<'_>) {}

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}

    fn clone_span(&self, id: &tracing::span::Id) -> tracing::span::Id {
        if let Some(entry) = self
            .live
            .lock()
            .expect("not poisoned")
            .get_mut(&id.into_u64())
        {
            entry.2 += 1;
        }
        id.clone()
    }

    fn try_close(&self, id: tracing::span::Id) -> bool {
        let mut live = self.live.lock().expect("not poisoned");
        let Some(entry) = live.get_mut(&id.into_u64()) else {
            return false;
        };
        entry.2 -= 1;
        if entry.2 > 0 {
            return false;
        }
        let (name, created, _) = live.remove(&id.into_u64()).expect("present");
        if self.recording.load(Ordering::Relaxed) {
            self.closed
                .lock()
                .expect("not poisoned")
                .push((name, created.elapsed()));
        }
        true
    }
}

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a valid date")
}

/// The benchmark's request, `serial` added to 1,000,000 invested (a distinct hash per serial).
fn request(serial: i64) -> SimulationRequest {
    SimulationRequest {
        subject: Subject::Portfolio {
            weights: HOLDINGS
                .iter()
                .map(|(ticker, weight)| InstrumentWeight {
                    instrument: (*ticker).into(),
                    weight: weight.parse().expect("a valid weight"),
                })
                .collect(),
        },
        start_date: day(START),
        end_date: day(END),
        initial_amount: Decimal::new(1_000_000 + serial, 0),
        rebalance_freq: Some(RebalanceFreq::Monthly),
        risk_free_rate: Decimal::ZERO,
        max_loss_limit_pct: None,
        engine_version: foresto::settings::DEFAULT_ENGINE_VERSION.into(),
        user_id: None,
    }
}

/// Every timed series of one section, by name, in the order they print.
#[derive(Default)]
struct Timings(Vec<(&'static str, Vec<Duration>)>);

impl Timings {
    fn push(&mut self, name: &'static str, d: Duration) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push(d),
            None => self.0.push((name, vec![d])),
        }
    }

    fn median(&self, name: &str) -> Duration {
        let mut v = self
            .0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no timings for {name}"));
        v.sort_unstable();
        v[v.len() / 2]
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn bench() -> anyhow::Result<()> {
    let rounds = env_or("FORESTO_BENCH_ROUNDS", 31)?;
    let requests = env_or("FORESTO_BENCH_REQUESTS", 24)?;
    let t = TestDatabase::migrated().await;
    let db = t.conn();
    let pool = db.get_postgres_connection_pool();
    let settings = Settings::default();
    let ids = load_data(db, &settings).await?;
    let (start, end) = (day(START), day(END));

    // The hand-written read: literal ids and dates, as one would type it.
    let hand_sql = format!(
        "SELECT instrument_id, trade_date, daily_return FROM daily_return
          WHERE instrument_id IN ({}) AND trade_date BETWEEN '{START}' AND '{END}'
            AND (data_quality IS NULL OR data_quality <> 'MISSING')",
        ids.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );

    // A first miss: makes the path's partitions (not timed) and gives the path the baseline
    // copies, then the correctness check of a stored path against the same rows COPYed by hand.
    let first = simulate(db, &request(0), &settings).await?;
    anyhow::ensure!(!first.cache_hit, "the first request must be a miss");
    let path = first.stored.path.clone();
    let raw_id = raw_run(pool, day("2003-01-01"), day("2022-12-31")).await?;
    raw_copy(pool, raw_id, &path).await?;
    let ours = path_checksum(pool, first.stored.run.run_id).await?;
    let theirs = path_checksum(pool, raw_id).await?;
    anyhow::ensure!(
        ours == theirs && ours.0 == path.len() as i64,
        "stored path {ours:?} differs from the hand-made COPY {theirs:?}"
    );
    let hand_rows = hand_read(pool, &hand_sql).await?;
    let lib_rows = service::load_returns(db, &ids, start, end).await?;
    anyhow::ensure!(
        hand_rows == lib_rows.len(),
        "hand read {hand_rows} rows, library read {}",
        lib_rows.len()
    );
    let hit_request = request(0);
    let hit_hash = hit_request.request_hash();
    println!(
        "simulation bench: {} instruments {START}..{END}, {} return rows read, {} path rows; \
         stored path = hand COPY: {} rows, md5 {}",
        ids.len(),
        hand_rows,
        path.len(),
        ours.0,
        ours.1
    );

    // Sections 1–3, interleaved: every round runs each operation once, in this order.
    let mut timings = Timings::default();
    let mut spans = Timings::default();
    let mut span_counts: HashMap<&'static str, usize> = HashMap::new();
    let mut serial = 0_i64;
    let mut store_serial = 0_i64;
    for round in 0..WARM_UP + rounds {
        let mut take = |name: &'static str, d: Duration| {
            if round >= WARM_UP {
                timings.push(name, d);
            }
        };

        // 1. baseline: hand read + raw COPY of the same path rows.
        let started = Instant::now();
        let rows = hand_read(pool, &hand_sql).await?;
        let read = started.elapsed();
        anyhow::ensure!(rows == hand_rows);
        let run_id = raw_run(pool, day("2003-01-01"), day("2022-12-31")).await?;
        let started = Instant::now();
        raw_copy(pool, run_id, &path).await?;
        let copy = started.elapsed();
        take("hand read", read);
        let started = Instant::now();
        let rows = hand_read_unprepared(pool, &hand_sql).await?;
        take("hand read, unprepared", started.elapsed());
        anyhow::ensure!(rows == hand_rows);
        take("raw copy", copy);
        take("hand read + raw copy", read + copy);

        // 1. candidate: a miss.
        serial += 1;
        let req = request(serial);
        SpanTimer::start();
        let started = Instant::now();
        let outcome = simulate(db, &req, &settings).await?;
        take("miss", started.elapsed());
        for (name, d, count) in SpanTimer::stop() {
            if round >= WARM_UP {
                spans.push(name, d);
                span_counts.insert(name, count);
            }
        }
        anyhow::ensure!(!outcome.cache_hit && outcome.stored.path.len() == path.len());

        // 3. breakdown: the library's read, the engine, the storing transaction.
        let started = Instant::now();
        let returns = service::load_returns(db, &ids, start, end).await?;
        take("library read", started.elapsed());
        let started = Instant::now();
        let computed = compute(&ids, &returns, &req)?;
        take("engine compute", started.elapsed());
        anyhow::ensure!(computed.path == outcome.stored.path);
        let started = Instant::now();
        store::ensure_path_partitions(db, &computed.path, &PartitionLimits::default()).await?;
        take("partition check", started.elapsed());
        store_serial += 1;
        let store_req = request(5_000_000 + store_serial);
        let started = Instant::now();
        let mut tx = pool.begin().await?;
        store::insert_run(
            &mut tx,
            &store_req.request_hash(),
            &store_req,
            &computed,
            Some(TimeDelta::days(30)),
        )
        .await?;
        tx.commit().await?;
        take("store", started.elapsed());

        // 2. hit vs raw reads.
        let started = Instant::now();
        let rows = raw_reads(pool, &hit_hash).await?;
        take("raw reads", started.elapsed());
        anyhow::ensure!(rows == path.len());
        let started = Instant::now();
        let outcome: SimulationOutcome = simulate(db, &hit_request, &settings).await?;
        take("hit", started.elapsed());
        anyhow::ensure!(outcome.cache_hit && outcome.stored.path == path);
    }

    let baseline = timings.median("hand read + raw copy");
    let miss = timings.median("miss");
    let raw = timings.median("raw reads");
    let hit = timings.median("hit");
    println!("\nmedian of {rounds} interleaved rounds (after {WARM_UP} warm-up), release build\n");
    println!("| operation | median ms | ratio | target |");
    println!("|---|---|---|---|");
    let verdict = |ratio: f64, target: f64| {
        if ratio <= target {
            format!("≤ {target}× ✔")
        } else {
            format!("≤ {target}× ✘")
        }
    };
    for (name, label) in [
        (
            "hand read, unprepared",
            "hand read as an unnamed statement (planned per call; not in the baseline)",
        ),
        ("hand read", "hand read (sqlx's cached prepared statement)"),
        ("raw copy", "raw COPY of the path rows"),
    ] {
        println!("| {label} | {:.2} | | |", ms(timings.median(name)));
    }
    println!(
        "| hand read + raw COPY (baseline) | {:.2} | | |",
        ms(baseline)
    );
    let ratio = miss.as_secs_f64() / baseline.as_secs_f64();
    println!(
        "| cache miss: `simulate` | {:.2} | **{ratio:.2}×** | {} |",
        ms(miss),
        verdict(ratio, MISS_TARGET)
    );
    println!(
        "| raw reads: run + summary + path (baseline) | {:.2} | | |",
        ms(raw)
    );
    let ratio = hit.as_secs_f64() / raw.as_secs_f64();
    println!(
        "| cache hit: `simulate` | {:.2} | **{ratio:.2}×** | {} |",
        ms(hit),
        verdict(ratio, HIT_TARGET)
    );

    println!("\nbreakdown of a miss (each piece called on its own, same rounds)\n");
    println!("| piece | median ms | share of the miss |");
    println!("|---|---|---|");
    let mut parts = Duration::ZERO;
    for (name, label) in [
        (
            "library read",
            "read: the library's `daily_return` query (SeaORM, as `simulate` issues it) + to f64",
        ),
        (
            "engine compute",
            "compute: `engine::simulate` + rounding to column scale",
        ),
        (
            "partition check",
            "`store::ensure_path_partitions` (all months exist)",
        ),
        (
            "store",
            "store: `store::insert_run` in its own transaction, commit",
        ),
    ] {
        let d = timings.median(name);
        parts += d;
        println!(
            "| {label} | {:.2} | {:.0} % |",
            ms(d),
            100.0 * d.as_secs_f64() / miss.as_secs_f64()
        );
    }
    let rest = miss.as_secs_f64() - parts.as_secs_f64();
    println!(
        "| rest (miss − the pieces above; negative: the pieces alone took longer) | {:.2} | {:.0} % |",
        rest * 1000.0,
        100.0 * rest / miss.as_secs_f64()
    );

    println!("\ntracing spans inside the timed misses (creation to close; nested spans overlap)\n");
    println!("| span | per miss | median ms | share of the miss |");
    println!("|---|---|---|---|");
    for (name, _) in &spans.0 {
        let d = spans.median(name);
        println!(
            "| `{name}` | {}× | {:.2} | {:.0} % |",
            span_counts[name],
            ms(d),
            100.0 * d.as_secs_f64() / miss.as_secs_f64()
        );
    }

    println!("\nthroughput of distinct misses, one process, one pool of 10, {requests} requests\n");
    println!("| concurrent callers | seconds | simulations/s | × 1 caller |");
    println!("|---|---|---|---|");
    let mut one = None;
    for (i, callers) in CALLERS.into_iter().enumerate() {
        let first_serial = 10_000_000 + (i as i64) * 100_000;
        let elapsed =
            throughput(db, &settings, callers, requests, first_serial, path.len()).await?;
        let rate = requests as f64 / elapsed.as_secs_f64();
        let base = *one.get_or_insert(rate);
        println!(
            "| {callers} | {:.2} | {rate:.2} | {:.2}× |",
            elapsed.as_secs_f64(),
            rate / base
        );
    }
    Ok(())
}

/// Registers the instruments, loads the bundled prices and computes their returns; the ids of
/// [`HOLDINGS`] in their order.
async fn load_data(db: &DatabaseConnection, settings: &Settings) -> anyhow::Result<Vec<i64>> {
    foresto::instruments::seed(db).await?;
    for instrument in &foresto::instruments::demo_instruments() {
        foresto::instruments::upsert(db, instrument).await?;
    }
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/etf-prices/etf_adjusted_close_sample.csv");
    let started = Instant::now();
    let options = LoadOptions {
        skip_weekend_fill: true,
        ..LoadOptions::default()
    };
    let report = load_file(db, &file, &options).await?;
    let returns = compute_returns(db, &ReturnsScope::default(), settings).await?;
    let pool = db.get_postgres_connection_pool();
    sqlx::raw_sql("VACUUM ANALYZE").execute(pool).await?;
    println!(
        "loaded {} prices and {} returns from {} in {:.1} s",
        report.records_loaded,
        returns.written,
        file.display(),
        started.elapsed().as_secs_f64()
    );
    let mut ids = Vec::new();
    for (ticker, _) in HOLDINGS {
        ids.push(
            foresto::instruments::find_by_ticker(db, ticker, None)
                .await
                .with_context(|| format!("instrument {ticker}"))?
                .instrument_id,
        );
    }
    Ok(ids)
}

/// The hand-written read, decoded into tuples; its row count. sqlx prepares it once per
/// connection (its plan, having no parameters, is then reused without planning).
async fn hand_read(pool: &PgPool, sql: &str) -> anyhow::Result<usize> {
    let rows: Vec<(i64, NaiveDate, Decimal)> =
        sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await?;
    Ok(rows.len())
}

/// As [`hand_read`], as an unnamed statement: planned on every call.
async fn hand_read_unprepared(pool: &PgPool, sql: &str) -> anyhow::Result<usize> {
    let rows: Vec<(i64, NaiveDate, Decimal)> = sqlx::query_as(AssertSqlSafe(sql))
        .persistent(false)
        .fetch_all(pool)
        .await?;
    Ok(rows.len())
}

fn to_f64(value: Decimal) -> f64 {
    value.to_string().parse().expect("a decimal is a float")
}

/// What `simulate` computes from the rows it read: the engine and the rounding to column scale.
fn compute(
    ids: &[i64],
    returns: &[engine::ReturnRow],
    req: &SimulationRequest,
) -> anyhow::Result<ComputedRun> {
    let mut weights: Vec<Weight> = ids
        .iter()
        .zip(HOLDINGS)
        .map(|(&instrument_id, (_, w))| Weight {
            instrument_id,
            weight: w.parse().expect("a weight"),
        })
        .collect();
    weights.sort_by_key(|w| w.instrument_id);
    let versions = [PortfolioVersion {
        portfolio_id: 0,
        effective_date: req.start_date,
        weights,
    }];
    let output = engine::simulate(&SimulationInput {
        versions: &versions,
        returns,
        start_date: req.start_date,
        end_date: req.end_date,
        initial_amount: to_f64(req.initial_amount),
        rebalance: RebalanceFreq::Monthly,
        risk_free_rate: 0.0,
    })?;
    Ok(ComputedRun {
        portfolio_id: None,
        rebalance_freq: Some(RebalanceFreq::Monthly),
        instrument_ids: engine::instruments_of(&versions),
        summary: output.summary.to_stored()?,
        path: output
            .path
            .iter()
            .map(PathPoint::to_stored)
            .collect::<Result<Vec<_>, _>>()?,
    })
}

/// `requests` distinct misses shared out among `callers` tasks on one pool; the wall time.
async fn throughput(
    db: &DatabaseConnection,
    settings: &Settings,
    callers: usize,
    requests: usize,
    first_serial: i64,
    path_rows: usize,
) -> anyhow::Result<Duration> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (db, settings, next) = (db.clone(), settings.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests {
                        return anyhow::Ok(());
                    }
                    let outcome =
                        simulate(&db, &request(first_serial + i as i64), &settings).await?;
                    anyhow::ensure!(!outcome.cache_hit && outcome.stored.path.len() == path_rows);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

/// Row count and an order-sensitive md5 of every stored figure of a run's path.
async fn path_checksum(pool: &PgPool, run_id: i64) -> anyhow::Result<(i64, String)> {
    Ok(sqlx::query_as(
        "SELECT count(*), md5(string_agg(concat_ws('|', path_date, nav, daily_return,
                    cumulative_return, drawdown, high_water_mark), ',' ORDER BY path_date))
           FROM simulation_path WHERE run_id = $1",
    )
    .bind(run_id)
    .fetch_one(pool)
    .await?)
}
