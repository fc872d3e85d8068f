//! `cargo bench --bench bulk_load`: bulk price loading against raw `psql \copy`, same run, same
//! data, on a database of its own (`TestDatabase::migrated()`).
//!
//! It generates a long-format CSV (500 instruments × 2 520 trading days ≈ 1.26 M rows of
//! realistic random-walk bars, or `FORESTO_BENCH_INSTRUMENTS` × `FORESTO_BENCH_DAYS`), registers
//! the instruments and creates the partitions, then measures into an emptied `daily_price`:
//!
//! 1. raw `psql \copy daily_price(…) FROM file CSV` (the baseline; no `load_id`);
//! 2. our fresh load, foreign keys checked per batch (the default where permitted);
//! 3. our fresh load, foreign keys checked per row (what a role without the privilege gets);
//! 4. our re-load of the same, unchanged file;
//! 5. our re-load of a file in which every tenth close changed.
//!
//! and prints rows/s and the ratio to (1). `FORESTO_BENCH_ROUNDS` (default 1) repeats the
//! whole sequence and reports each scenario's median.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::NaiveDate;
use entity::enums::InstrumentType;
use foresto::instruments::{self, NewInstrument};
use foresto::partitions::{self, Parent};
use foresto::prices::{self, KeyChecks, LoadOptions, LoadReport};
use foresto::testing::TestDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection};

#[path = "support/calendar.rs"]
mod calendar;
mod support;
use calendar::weekdays;
use support::env_or;

fn main() -> anyhow::Result<()> {
    support::block_on(run())
}

/// A small deterministic generator (xorshift64*), so every run loads the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal (Irwin–Hall of 4), mean 0, deviation `sd`.
    fn normal(&mut self, sd: f64) -> f64 {
        let sum: f64 = (0..4).map(|_| self.unit()).sum();
        (sum - 2.0) * sd * 3f64.sqrt()
    }
}

/// Writes the same bars three ways: long CSV with tickers (ours), CSV with instrument ids
/// (psql's), and long CSV with every tenth close changed.
fn generate(dir: &Path, ids: &[(i64, String)], days: &[NaiveDate]) -> anyhow::Result<()> {
    let open = |name: &str| -> anyhow::Result<BufWriter<std::fs::File>> {
        Ok(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(dir.join(name))?,
        ))
    };
    let (mut long, mut by_id, mut changed) =
        (open("long.csv")?, open("ids.csv")?, open("changed.csv")?);
    let header = "ticker,trade_date,open,high,low,close,adj_close,volume";
    writeln!(long, "{header}")?;
    writeln!(changed, "{header}")?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut row = 0u64;
    for (id, ticker) in ids {
        let mut price = 10.0 + rng.unit() * 490.0;
        for day in days {
            price *= 1.0 + 0.0003 + rng.normal(0.015);
            let close = price;
            let open = close * (1.0 + rng.normal(0.005));
            let high = open.max(close) * (1.0 + rng.normal(0.005).abs());
            let low = open.min(close) * (1.0 - rng.normal(0.005).abs());
            let volume = 1_000 + rng.next() % 10_000_000;
            let values = format!("{open:.4},{high:.4},{low:.4},{close:.4},{close:.4},{volume}");
            writeln!(long, "{ticker},{day},{values}")?;
            writeln!(by_id, "{id},{day},{values}")?;
            row += 1;
            if row.is_multiple_of(10) {
                let moved = close + 0.01;
                let high = high.max(moved);
                writeln!(
                    changed,
                    "{ticker},{day},{open:.4},{high:.4},{low:.4},{moved:.4},{moved:.4},{volume}"
                )?;
            } else {
                writeln!(changed, "{ticker},{day},{values}")?;
            }
        }
    }
    for mut file in [long, by_id, changed] {
        file.flush()?;
    }
    Ok(())
}

async fn reset(db: &DatabaseConnection) -> anyhow::Result<()> {
    db.execute_unprepared("TRUNCATE daily_price").await?;
    db.execute_unprepared("CHECKPOINT").await?;
    Ok(())
}

async fn timed_load(
    db: &DatabaseConnection,
    path: &Path,
    key_checks: KeyChecks,
) -> anyhow::Result<(Duration, LoadReport)> {
    let options = LoadOptions {
        key_checks,
        ..LoadOptions::default()
    };
    let started = Instant::now();
    let report = prices::load_file(db, path, &options).await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(
        report.records_failed == 0,
        "{} records rejected: {:?}",
        report.records_failed,
        report.rejects.first()
    );
    Ok((elapsed, report))
}

fn psql_copy(url: &str, file: &Path) -> anyhow::Result<Duration> {
    let copy = format!(
        "\\copy daily_price(instrument_id,trade_date,open_price,high_price,low_price,close_price,\
         adj_close_price,volume) FROM '{}' CSV",
        file.display()
    );
    let started = Instant::now();
    let status = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", &copy])
        .status()
        .context("running psql (is it on PATH?)")?;
    let elapsed = started.elapsed();
    anyhow::ensure!(status.success(), "psql \\copy failed: {status}");
    Ok(elapsed)
}

const SCENARIOS: [&str; 5] = [
    "psql \\copy (baseline)",
    "fresh load, batched key checks",
    "fresh load, per-row key checks",
    "re-load, unchanged",
    "re-load, 10% changed",
];

async fn run() -> anyhow::Result<()> {
    let instruments = env_or("FORESTO_BENCH_INSTRUMENTS", 500)?;
    let day_count = env_or("FORESTO_BENCH_DAYS", 2520)?;
    let rounds = env_or("FORESTO_BENCH_ROUNDS", 1)?.max(1);
    let rows = (instruments * day_count) as f64;

    let t = TestDatabase::migrated().await;
    let db = t.conn();
    let mut ids = Vec::with_capacity(instruments);
    for n in 0..instruments {
        let ticker = format!("B{n:04}");
        let new = NewInstrument {
            currency: Some("USD".into()),
            ..NewInstrument::new(InstrumentType::Etf, ticker.as_str(), "NYSE")
        };
        ids.push((instruments::upsert(db, &new).await?.0.instrument_id, ticker));
    }
    let days = weekdays(day_count);
    let dir = tempfile::tempdir()?;
    eprintln!("generating {rows} rows ({instruments} instruments × {day_count} days)…");
    generate(dir.path(), &ids, &days)?;
    partitions::ensure_range(db, Parent::DailyPrice, days[0], days[days.len() - 1]).await?;
    let (long, changed) = (dir.path().join("long.csv"), dir.path().join("changed.csv"));

    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); SCENARIOS.len()];
    for round in 1..=rounds {
        eprintln!("round {round}/{rounds}");
        reset(db).await?;
        seconds[0].push(psql_copy(t.url(), &dir.path().join("ids.csv"))?.as_secs_f64());

        reset(db).await?;
        let (took, report) = timed_load(db, &long, KeyChecks::Auto).await?;
        anyhow::ensure!(
            report.batched_key_checks,
            "key checks could not be batched here"
        );
        seconds[1].push(took.as_secs_f64());

        reset(db).await?;
        let (took, report) = timed_load(db, &long, KeyChecks::PerRow).await?;
        anyhow::ensure!(report.records_inserted as f64 == rows, "{report:?}");
        seconds[2].push(took.as_secs_f64());

        let (took, report) = timed_load(db, &long, KeyChecks::Auto).await?;
        anyhow::ensure!(report.records_unchanged as f64 == rows, "{report:?}");
        seconds[3].push(took.as_secs_f64());

        let (took, report) = timed_load(db, &changed, KeyChecks::Auto).await?;
        anyhow::ensure!(
            report.records_updated as f64 == (rows / 10.0).floor(),
            "{report:?}"
        );
        seconds[4].push(took.as_secs_f64());
    }

    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = seconds.iter_mut().map(median).collect();
    let baseline = rows / medians[0];
    println!(
        "\nbulk_load: {rows} rows ({instruments} instruments × {day_count} trading days), \
         median of {rounds} round(s)\n"
    );
    println!(
        "{:<34} {:>9} {:>11} {:>9}",
        "scenario", "seconds", "rows/s", "× psql"
    );
    for (name, secs) in SCENARIOS.iter().zip(&medians) {
        let speed = rows / secs;
        println!(
            "{name:<34} {secs:>9.2} {speed:>11.0} {:>9.2}",
            speed / baseline
        );
    }
    let ratio = |i: usize| medians[0] / medians[i];
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "\ntargets: fresh load ≥ 0.90 × psql: {:.2} ({}); unchanged re-load ≥ 0.70 × psql: {:.2} ({})",
        ratio(1),
        verdict(ratio(1) >= 0.9),
        ratio(3),
        verdict(ratio(3) >= 0.7)
    );
    Ok(())
}
