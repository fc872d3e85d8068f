//! `cargo bench --bench bulk_load`: bulk price loading against raw `psql \copy`, same run, same
//! data, same server, on two databases of its own.
//!
//! It generates a long-format CSV (500 instruments × 2 520 trading days from 2016-01-04 ≈
//! 1.26 M rows of realistic random-walk bars, or `FORESTO_BENCH_INSTRUMENTS` ×
//! `FORESTO_BENCH_DAYS`), the same bars keyed by instrument id for `psql`, and both again with
//! every tenth close moved by 0.01. Two databases hold the same instruments under the same ids,
//! with monthly partitions covering the calendar:
//!
//! - **original**: `TestDatabase::empty()` with the original Phase 1 DDL
//!   (`tests/fixtures/reference_phase1.sql`: no foreign keys on `daily_price`, no DEFAULT
//!   partition), its partitions made by the fixture's own `create_monthly_partitions`;
//! - **migrated**: `TestDatabase::migrated()`, the schema our loader writes to (foreign keys to
//!   `instrument_master` and `source_load_history`).
//!
//! Each round runs, in this order, `daily_price` emptied (`TRUNCATE` + `CHECKPOINT`) before each
//! fresh load:
//!
//! 1. baseline A: single-stream `psql \copy daily_price(…) FROM file CSV` into **original** —
//!    the hardest honest baseline (nothing but partition routing and the table's primary key and
//!    two indexes, the same as in **migrated**);
//! 2. baseline B: the same `\copy` into **migrated** (one foreign-key trigger per row; no
//!    `load_id`);
//! 3. our fresh load into **migrated**, foreign keys checked per batch (the default where
//!    permitted);
//! 4. our fresh load, foreign keys checked per row (what a role without the privilege gets);
//! 5. our re-load of the same, unchanged file;
//! 6. our re-load of the file in which every tenth close changed.
//!
//! Every scenario's stored rows are checked, outside the timed sections, by count and
//! checksum (`sum(hashtextextended(concat_ws('|', <the eight data columns>), 0))`) against
//! baseline A's: equal after 2 to 5; after 6, unequal to A's and equal to the changed file
//! `\copy`-ed into **original** (once, untimed, at the end of the first round).
//!
//! `FORESTO_BENCH_ROUNDS` (default 1) repeats the rounds; each scenario's median is reported,
//! with its seconds and rows/s, and the targets as ratios (baseline seconds / our seconds,
//! higher is better): fresh load ≥ 1.0 × A (aim 1.3), per-row fresh load ≥ 0.9 × B, unchanged
//! re-load ≥ 2.5 × A, 10 %-changed re-load ≥ 1.5 × A.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{Datelike, Months, NaiveDate};
use entity::enums::InstrumentType;
use foresto::instruments::{self, NewInstrument};
use foresto::partitions::{self, Parent};
use foresto::prices::{self, KeyChecks, LoadOptions, LoadReport};
use foresto::testing::TestDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

#[path = "support/calendar.rs"]
mod calendar;
mod support;
use calendar::weekdays;
use support::env_or;

/// The original Phase 1 DDL, as its setup guide applies it (no foreign keys on `daily_price`).
const ORIGINAL_DDL: &str = include_str!("../tests/fixtures/reference_phase1.sql");

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

/// Writes the same bars four ways: long CSV with tickers (ours) and CSV with instrument ids
/// (psql's), each as generated (`long.csv`, `ids.csv`) and with every tenth close changed
/// (`changed.csv`, `changed_ids.csv`).
fn generate(dir: &Path, ids: &[(i64, String)], days: &[NaiveDate]) -> anyhow::Result<()> {
    let open = |name: &str| -> anyhow::Result<BufWriter<std::fs::File>> {
        Ok(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(dir.join(name))?,
        ))
    };
    let (mut long, mut by_id, mut changed, mut changed_by_id) = (
        open("long.csv")?,
        open("ids.csv")?,
        open("changed.csv")?,
        open("changed_ids.csv")?,
    );
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
            row += 1;
            let changed_values = if row.is_multiple_of(10) {
                let moved = close + 0.01;
                let high = high.max(moved);
                format!("{open:.4},{high:.4},{low:.4},{moved:.4},{moved:.4},{volume}")
            } else {
                values.clone()
            };
            writeln!(long, "{ticker},{day},{values}")?;
            writeln!(by_id, "{id},{day},{values}")?;
            writeln!(changed, "{ticker},{day},{changed_values}")?;
            writeln!(changed_by_id, "{id},{day},{changed_values}")?;
        }
    }
    for mut file in [long, by_id, changed, changed_by_id] {
        file.flush()?;
    }
    Ok(())
}

/// A database built from the original DDL, holding `ids` under the same instrument ids and a
/// monthly partition for every month of `days`.
async fn original_schema(
    ids: &[(i64, String)],
    days: &[NaiveDate],
) -> anyhow::Result<TestDatabase> {
    let t = TestDatabase::empty().await;
    let db = t.conn();
    db.execute_unprepared(ORIGINAL_DDL)
        .await
        .context("applying the original DDL")?;
    let (instrument_ids, tickers): (Vec<i64>, Vec<String>) = ids.iter().cloned().unzip();
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO instrument_master (instrument_id, instrument_type, ticker, exchange, currency)
         SELECT id, 'ETF', ticker, 'NYSE', 'USD' FROM unnest($1::bigint[], $2::text[]) AS i(id, ticker)",
        [instrument_ids.into(), tickers.into()],
    ))
    .await?;
    db.execute_unprepared(
        "SELECT setval(pg_get_serial_sequence('instrument_master', 'instrument_id'), \
         max(instrument_id)) FROM instrument_master",
    )
    .await?;
    let (first, last) = (days[0], days[days.len() - 1]);
    let end = last
        .with_day(1)
        .and_then(|month| month.checked_add_months(Months::new(1)))
        .context("the month after the calendar")?;
    db.execute_unprepared(&format!(
        "SELECT create_monthly_partitions('daily_price', '{first}', '{end}')"
    ))
    .await?;
    Ok(t)
}

async fn reset(db: &DatabaseConnection) -> anyhow::Result<()> {
    db.execute_unprepared("TRUNCATE daily_price").await?;
    db.execute_unprepared("CHECKPOINT").await?;
    Ok(())
}

/// What a database's `daily_price` holds: its row count and the sum of its rows' hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Checksum {
    rows: i64,
    sum: Option<String>,
}

/// The [`Checksum`] of `daily_price` in `db` (numeric(18,4) columns print with four decimals in
/// both schemas, so equal rows hash equal).
async fn checksum(db: &DatabaseConnection) -> anyhow::Result<Checksum> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*), sum(hashtextextended(concat_ws('|', instrument_id, trade_date, \
             open_price, high_price, low_price, close_price, adj_close_price, volume), 0))::text \
             FROM daily_price",
        ))
        .await?
        .context("no checksum row")?;
    Ok(Checksum {
        rows: row.try_get_by_index(0)?,
        sum: row.try_get_by_index(1)?,
    })
}

/// Fails unless `db` holds what `expected` describes.
async fn ensure_stored(
    db: &DatabaseConnection,
    expected: &Checksum,
    scenario: &str,
) -> anyhow::Result<Checksum> {
    let stored = checksum(db).await?;
    anyhow::ensure!(
        &stored == expected,
        "{scenario}: stored {stored:?}, baseline {expected:?}"
    );
    Ok(stored)
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

/// One single-stream `psql \copy` of `file` (instrument ids, no header) into `daily_price`.
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

const SCENARIOS: [&str; 6] = [
    "A: psql \\copy, original DDL, no FKs",
    "B: psql \\copy, migrated schema",
    "fresh load, batched key checks",
    "fresh load, per-row key checks",
    "re-load, unchanged",
    "re-load, 10% changed",
];
const BASELINE_A: usize = 0;
const BASELINE_B: usize = 1;

/// The targets: (our scenario, its baseline, the least ratio met, the ratio aimed at).
const TARGETS: [(usize, usize, f64, Option<f64>); 4] = [
    (2, BASELINE_A, 1.0, Some(1.3)),
    (3, BASELINE_B, 0.9, None),
    (4, BASELINE_A, 2.5, None),
    (5, BASELINE_A, 1.5, None),
];

async fn run() -> anyhow::Result<()> {
    let instruments = env_or("FORESTO_BENCH_INSTRUMENTS", 500)?;
    let day_count = env_or("FORESTO_BENCH_DAYS", 2520)?;
    let rounds = env_or("FORESTO_BENCH_ROUNDS", 1)?.max(1);
    let rows = (instruments * day_count) as f64;

    let migrated = TestDatabase::migrated().await;
    let db = migrated.conn();
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
    eprintln!(
        "generating {rows} rows ({instruments} instruments × {day_count} days, {} to {})…",
        days[0],
        days[days.len() - 1]
    );
    generate(dir.path(), &ids, &days)?;
    partitions::ensure_range(db, Parent::DailyPrice, days[0], days[days.len() - 1]).await?;
    let original = original_schema(&ids, &days).await?;
    let file = |name: &str| dir.path().join(name);
    let (long, changed) = (file("long.csv"), file("changed.csv"));

    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); SCENARIOS.len()];
    let mut changed_in_a: Option<Checksum> = None;
    for round in 1..=rounds {
        eprintln!("round {round}/{rounds}");
        reset(original.conn()).await?;
        seconds[BASELINE_A].push(psql_copy(original.url(), &file("ids.csv"))?.as_secs_f64());
        let baseline = checksum(original.conn()).await?;
        anyhow::ensure!(baseline.rows as f64 == rows, "baseline A: {baseline:?}");

        reset(db).await?;
        seconds[BASELINE_B].push(psql_copy(migrated.url(), &file("ids.csv"))?.as_secs_f64());
        ensure_stored(db, &baseline, SCENARIOS[BASELINE_B]).await?;

        reset(db).await?;
        let (took, report) = timed_load(db, &long, KeyChecks::Auto).await?;
        anyhow::ensure!(
            report.batched_key_checks,
            "key checks could not be batched here"
        );
        seconds[2].push(took.as_secs_f64());
        ensure_stored(db, &baseline, SCENARIOS[2]).await?;

        reset(db).await?;
        let (took, report) = timed_load(db, &long, KeyChecks::PerRow).await?;
        anyhow::ensure!(report.records_inserted as f64 == rows, "{report:?}");
        seconds[3].push(took.as_secs_f64());
        ensure_stored(db, &baseline, SCENARIOS[3]).await?;

        let (took, report) = timed_load(db, &long, KeyChecks::Auto).await?;
        anyhow::ensure!(report.records_unchanged as f64 == rows, "{report:?}");
        seconds[4].push(took.as_secs_f64());
        ensure_stored(db, &baseline, SCENARIOS[4]).await?;

        let (took, report) = timed_load(db, &changed, KeyChecks::Auto).await?;
        anyhow::ensure!(
            report.records_updated as f64 == (rows / 10.0).floor(),
            "{report:?}"
        );
        seconds[5].push(took.as_secs_f64());
        let stored = checksum(db).await?;
        anyhow::ensure!(
            stored.rows == baseline.rows && stored.sum != baseline.sum,
            "{}: stored {stored:?}, unchanged {baseline:?}",
            SCENARIOS[5]
        );
        // The changed file as baseline A stores it: the same on every round, so made once.
        let expected = match &changed_in_a {
            Some(expected) => expected,
            None => {
                reset(original.conn()).await?;
                psql_copy(original.url(), &file("changed_ids.csv"))?;
                changed_in_a.insert(checksum(original.conn()).await?)
            }
        };
        ensure_stored(db, expected, SCENARIOS[5]).await?;
    }

    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = seconds.iter_mut().map(median).collect();
    let ratio = |ours: usize, baseline: usize| medians[baseline] / medians[ours];
    println!(
        "\nbulk_load: {rows} rows ({instruments} instruments × {day_count} trading days), \
         median of {rounds} round(s); rows checked by count and checksum against A's\n"
    );
    println!(
        "{:<38} {:>9} {:>11} {:>7} {:>7}",
        "scenario", "seconds", "rows/s", "× A", "× B"
    );
    for (i, (name, secs)) in SCENARIOS.iter().zip(&medians).enumerate() {
        println!(
            "{name:<38} {secs:>9.2} {:>11.0} {:>7.2} {:>7.2}",
            rows / secs,
            ratio(i, BASELINE_A),
            ratio(i, BASELINE_B)
        );
    }
    println!("\ntargets (baseline seconds / our seconds, higher is better):");
    for (ours, baseline, min, aim) in TARGETS {
        let got = ratio(ours, baseline);
        let aim = aim.map_or(String::new(), |a| format!(" (aim {a:.1})"));
        let baseline = if baseline == BASELINE_A { "A" } else { "B" };
        println!(
            "  {:<32} {got:.2} × {baseline}  ≥ {min:.1}{aim}: {}",
            SCENARIOS[ours],
            if got >= min { "met" } else { "MISSED" }
        );
    }
    Ok(())
}
