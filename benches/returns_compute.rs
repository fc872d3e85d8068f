//! `cargo bench --bench returns_compute`: `foresto::returns::compute_returns` against one
//! hand-written window-function `INSERT … SELECT`, same run, same data, on a database of its own
//! (`TestDatabase::migrated()`).
//!
//! It loads `FORESTO_BENCH_INSTRUMENTS` (default 500) × `FORESTO_BENCH_DAYS` (default 2 520)
//! weekdays of synthetic prices from 2016-01-04 with `INSERT … SELECT generate_series`, a month per
//! statement, into monthly partitions made by `foresto::partitions` (both parents get exactly the
//! months of the data and of the new days below, plus DEFAULT), then `VACUUM ANALYZE`. The prices
//! exercise every rule: about one in 53 has no adjusted close (the close is used), one in 997 is 0
//! (that day and the next are MISSING), one in 4 999 jumps 20 000-fold (a return out of
//! `NUMERIC(12,8)`'s range: MISSING too).
//!
//! Full run, `FORESTO_BENCH_ROUNDS` rounds (default 3), the order alternating each round, each
//! side starting from an emptied `daily_return` (`TRUNCATE`, `VACUUM ANALYZE`, `CHECKPOINT`):
//!
//! - **baseline**: one `INSERT INTO daily_return … SELECT … lag(…) OVER (PARTITION BY
//!   instrument_id ORDER BY trade_date)` applying the library's rules (price, rounding, MISSING,
//!   out of range, engine version);
//! - **ours**: `compute_returns` over everything (`ReturnsScope::default()`);
//! - and, for where the time goes: the baseline's `SELECT` alone (counted, nothing written), and
//!   `compute_returns` run again over the unchanged result (reads, computes, writes nothing).
//!
//! Then the daily run: `FORESTO_BENCH_NEW_DAYS` (default 5) new weekdays, each inserted for every
//! instrument, then computed `FORESTO_BENCH_DAY_REPS` times (default 3) by each side, alternating,
//! the day's returns deleted between: `compute_returns` over `from = to = day`, and a hand-written
//! `INSERT … SELECT` with `lag` over the last 14 calendar days' prices (every instrument here has a
//! price in them).
//!
//! Correctness first: after every write the stored returns (all of them, or the day's) are
//! compared with the baseline's — count, count per `data_quality`, sums of `daily_return` and
//! `log_return`, and a sum of a hash of every row's text — and it panics on a difference; the
//! DEFAULT partition must stay empty.
//!
//! Every connection runs with JIT off (`ALTER DATABASE … SET jit = off`) unless
//! `FORESTO_BENCH_JIT=on`: both sides then pay the same.

use std::time::{Duration, Instant};

use chrono::{Days, Months, NaiveDate};
use entity::enums::InstrumentType;
use foresto::instruments::{self, NewInstrument};
use foresto::partitions::{self, Parent, PartitionKind, RowCounting};
use foresto::returns::{ReturnsScope, compute_returns};
use foresto::settings::{PoolSettings, Settings};
use foresto::testing::TestDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use sqlx::{AssertSqlSafe, PgPool};

#[path = "support/calendar.rs"]
mod calendar;
mod support;
use calendar::weekdays;
use support::env_or;

const TARGET: f64 = 1.2;

fn main() -> anyhow::Result<()> {
    support::block_on(run())
}

/// The weekday prices of every instrument from `first` through `last`, date by date: a smooth
/// positive path per instrument, deterministic, with the rare bad rows described above.
async fn insert_prices(
    pool: &PgPool,
    ids: &[i64],
    first: NaiveDate,
    last: NaiveDate,
) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "INSERT INTO daily_price (instrument_id, trade_date, open_price, high_price, low_price,
                                  close_price, adj_close_price, volume)
         SELECT i.id, g.day::date,
                round((v.p * 0.999)::numeric, 4), round((v.p * 1.01)::numeric, 4),
                round((v.p * 0.99)::numeric, 4), round(v.p::numeric, 4),
                CASE WHEN k.k % 53 = 0 THEN NULL ELSE round((v.p * 0.98)::numeric, 4) END,
                1000 + k.k % 1000000
           FROM generate_series($2::date, $3::date, interval '1 day') AS g(day)
          CROSS JOIN unnest($1::bigint[]) AS i(id)
          CROSS JOIN LATERAL (SELECT g.day::date - DATE '1990-01-01' AS n) d
          CROSS JOIN LATERAL (SELECT i.id * 7919 + d.n * 104729 AS k) k
          CROSS JOIN LATERAL (SELECT 20 + (i.id % 97) + 5 * sin(d.n / 23.0 + i.id)
                                     + 3 * sin(d.n / 211.0 + 2 * i.id) + d.n * 0.002 AS p) q
          CROSS JOIN LATERAL (SELECT CASE WHEN k.k % 997 = 0 THEN 0
                                          WHEN k.k % 4999 = 0 THEN q.p * 20000
                                          ELSE q.p END AS p) v
          WHERE extract(isodow FROM g.day) < 6
          ORDER BY g.day, i.id",
    )
    .bind(ids)
    .bind(first)
    .bind(last)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The library's rules as one `SELECT` of return rows over `prices` (`instrument_id,
/// trade_date, price`, `prev_price`, where the first price of an instrument is filtered out by
/// `keep`). `$1` is the engine version.
fn graded(pairs: &str) -> String {
    format!(
        "SELECT instrument_id, trade_date,
                CASE WHEN ok THEN simple ELSE 0 END AS daily_return,
                CASE WHEN ok THEN logr END AS log_return,
                CASE WHEN ok THEN 'OK' ELSE 'MISSING' END AS data_quality,
                $1::varchar AS engine_version
           FROM (SELECT instrument_id, trade_date, simple, logr,
                        coalesce(abs(simple) < 10000, false) AS ok
                   FROM (SELECT instrument_id, trade_date,
                                CASE WHEN prev_price > 0 AND price > 0
                                     THEN round((price - prev_price) / prev_price, 8) END AS simple,
                                CASE WHEN prev_price > 0 AND price > 0
                                     THEN round(ln(price / prev_price), 8) END AS logr
                           FROM ({pairs}) pairs) r) g"
    )
}

/// Every price with the one before it (the first price of each instrument has none: no row).
const ALL_PAIRS: &str = "SELECT instrument_id, trade_date, price, prev_price
   FROM (SELECT instrument_id, trade_date, coalesce(adj_close_price, close_price) AS price,
                lag(coalesce(adj_close_price, close_price)) OVER w AS prev_price,
                row_number() OVER w AS n
           FROM daily_price
         WINDOW w AS (PARTITION BY instrument_id ORDER BY trade_date)) l
  WHERE n > 1";

/// The hand-written full run: one `INSERT … SELECT` with `lag`.
fn baseline_sql() -> String {
    format!(
        "INSERT INTO daily_return (instrument_id, trade_date, daily_return, log_return,
                                   data_quality, engine_version)
         {}",
        graded(ALL_PAIRS)
    )
}

/// The baseline's `SELECT` alone, every column aggregated (so every one is computed).
fn select_only_sql() -> String {
    format!(
        "SELECT count(*), sum(daily_return), sum(log_return), max(data_quality),
                max(engine_version)
           FROM ({}) s",
        graded(ALL_PAIRS)
    )
}

/// The hand-written daily run for `day`: `lag` over the prices of the 14 calendar days before.
fn day_sql(day: NaiveDate) -> String {
    let since = day - Days::new(14);
    let pairs = format!(
        "SELECT instrument_id, trade_date, price, prev_price
           FROM (SELECT instrument_id, trade_date, coalesce(adj_close_price, close_price) AS price,
                        lag(coalesce(adj_close_price, close_price)) OVER w AS prev_price,
                        lag(trade_date) OVER w AS prev_date
                   FROM daily_price
                  WHERE trade_date >= DATE '{since}' AND trade_date <= DATE '{day}'
                 WINDOW w AS (PARTITION BY instrument_id ORDER BY trade_date)) l
          WHERE trade_date = DATE '{day}' AND prev_date IS NOT NULL"
    );
    format!(
        "INSERT INTO daily_return (instrument_id, trade_date, daily_return, log_return,
                                   data_quality, engine_version)
         {}",
        graded(&pairs)
    )
}

/// What is stored in `daily_return` (where `filter`): count, count per quality, the sums of
/// both returns, and a sum of a hash of each row's text, as one line.
async fn checksum(pool: &PgPool, filter: &str) -> anyhow::Result<String> {
    let sql = format!(
        "SELECT concat_ws(' ', count(*), count(*) FILTER (WHERE data_quality = 'OK'),
                          count(*) FILTER (WHERE data_quality = 'MISSING'),
                          coalesce(sum(daily_return), 0), coalesce(sum(log_return), 0),
                          coalesce(sum(hashtextextended(
                              concat_ws('|', instrument_id, trade_date, daily_return,
                                        coalesce(log_return::text, '-'), data_quality,
                                        engine_version), 0)::numeric), 0))
           FROM daily_return WHERE {filter}"
    );
    let (line,): (String,) = sqlx::query_as(AssertSqlSafe(sql))
        .persistent(false)
        .fetch_one(pool)
        .await?;
    let (in_default,): (i64,) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM daily_return_default) + (SELECT count(*) FROM daily_price_default)",
    )
    .fetch_one(pool)
    .await?;
    anyhow::ensure!(in_default == 0, "{in_default} rows in a DEFAULT partition");
    Ok(line)
}

async fn exec(pool: &PgPool, sql: &str) -> anyhow::Result<()> {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await?;
    Ok(())
}

/// Empties `daily_return` and leaves the server as the other side found it.
async fn reset(pool: &PgPool) -> anyhow::Result<()> {
    exec(pool, "TRUNCATE daily_return").await?;
    exec(pool, "VACUUM ANALYZE daily_return").await?;
    exec(pool, "CHECKPOINT").await
}

async fn timed_baseline(pool: &PgPool, sql: &str, version: &str) -> anyhow::Result<(f64, u64)> {
    let started = Instant::now();
    let done = sqlx::query(AssertSqlSafe(sql.to_owned()))
        .bind(version)
        .persistent(false)
        .execute(pool)
        .await?;
    Ok((secs(started.elapsed()), done.rows_affected()))
}

async fn timed_ours(
    db: &DatabaseConnection,
    scope: &ReturnsScope,
    settings: &Settings,
) -> anyhow::Result<(f64, i64, i64)> {
    let started = Instant::now();
    let summary = compute_returns(db, scope, settings).await?;
    Ok((secs(started.elapsed()), summary.computed, summary.written))
}

/// What the baseline's `SELECT` alone returns.
type SelectAlone = (
    i64,
    Option<rust_decimal::Decimal>,
    Option<rust_decimal::Decimal>,
    Option<String>,
    Option<String>,
);

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn run() -> anyhow::Result<()> {
    let instruments = env_or("FORESTO_BENCH_INSTRUMENTS", 500)?;
    let day_count = env_or("FORESTO_BENCH_DAYS", 2520)?;
    let rounds = env_or("FORESTO_BENCH_ROUNDS", 3)?.max(1);
    let new_days = env_or("FORESTO_BENCH_NEW_DAYS", 5)?.max(1);
    let reps = env_or("FORESTO_BENCH_DAY_REPS", 3)?.max(1);
    let jit = std::env::var("FORESTO_BENCH_JIT").is_ok_and(|v| v == "on");
    anyhow::ensure!(
        instruments >= 1 && day_count >= 2,
        "need an instrument and two days"
    );

    let all_days = weekdays(day_count + new_days);
    let (days, extra) = all_days.split_at(day_count);
    let (first, last) = (days[0], days[day_count - 1]);
    let first_month = partitions::month_start(first);
    let last_month = partitions::month_start(*extra.last().expect("new days"));

    let t = TestDatabase::migrated().await;
    let setup = t.conn();
    if !jit {
        setup
            .execute_unprepared(&format!(r#"ALTER DATABASE "{}" SET jit = off"#, t.name()))
            .await?;
    }
    for info in partitions::list(setup, RowCounting::Estimated).await? {
        if !matches!(info.parent, Parent::DailyPrice | Parent::DailyReturn) {
            continue;
        }
        if let PartitionKind::Monthly { month } = info.kind
            && (month < first_month || month > last_month)
        {
            setup
                .execute_unprepared(&format!(r#"DROP TABLE "{}"."{}""#, info.schema, info.name))
                .await?;
        }
    }
    for parent in [Parent::DailyPrice, Parent::DailyReturn] {
        partitions::ensure_range(setup, parent, first_month, last_month).await?;
    }
    let mut ids = Vec::with_capacity(instruments);
    for n in 0..instruments {
        let new = NewInstrument {
            currency: Some("USD".into()),
            ..NewInstrument::new(InstrumentType::Etf, format!("R{n:05}"), "NYSE")
        };
        ids.push(instruments::upsert(setup, &new).await?.0.instrument_id);
    }

    // A pool of its own, opened after `jit = off` was set for the database.
    let db = foresto::db::connect(t.url(), &PoolSettings::default()).await?;
    let pool = db.get_postgres_connection_pool();
    let started = Instant::now();
    let mut prices = 0;
    let mut month = first_month;
    while month <= last {
        let next = month + Months::new(1);
        let until = (next - Days::new(1)).min(last);
        prices += insert_prices(pool, &ids, month.max(first), until).await?;
        month = next;
    }
    exec(pool, "VACUUM ANALYZE daily_price").await?;
    let partition_count = partitions::list(&db, RowCounting::Estimated)
        .await?
        .iter()
        .filter(|p| p.parent == Parent::DailyPrice && p.month().is_some())
        .count();
    eprintln!(
        "{prices} prices ({instruments} instruments × {day_count} weekdays, {first}..={last}, \
         {partition_count} monthly partitions per table) inserted and vacuumed in {:.1}s; JIT {}",
        secs(started.elapsed()),
        if jit { "on" } else { "off" }
    );

    let settings = Settings::default();
    let version = settings.engine_version().to_owned();
    let full = ReturnsScope::default();
    let insert_all = baseline_sql();
    let select_all = select_only_sql();

    // Full run.
    let mut expected: Option<String> = None;
    let mut check = |label: &str, got: String| {
        match &expected {
            None => expected = Some(got),
            Some(want) => assert_eq!(
                &got, want,
                "{label}: the stored returns differ from the baseline's"
            ),
        }
        anyhow::Ok(())
    };
    let (mut base_t, mut ours_t, mut select_t, mut rerun_t) = (vec![], vec![], vec![], vec![]);
    let mut rows = 0;
    for round in 0..rounds {
        for side in 0..2 {
            reset(pool).await?;
            if (side + round) % 2 == 0 {
                let (took, n) = timed_baseline(pool, &insert_all, &version).await?;
                eprintln!(
                    "  round {}: baseline INSERT … SELECT {took:.2}s ({n} rows)",
                    round + 1
                );
                base_t.push(took);
                rows = n;
                check("baseline", checksum(pool, "TRUE").await?)?;
            } else {
                let (took, computed, written) = timed_ours(&db, &full, &settings).await?;
                eprintln!(
                    "  round {}: compute_returns {took:.2}s ({computed} computed, {written} written)",
                    round + 1
                );
                anyhow::ensure!(
                    computed == written,
                    "a fresh run wrote {written} of {computed}"
                );
                ours_t.push(took);
                check("compute_returns", checksum(pool, "TRUE").await?)?;
                let (took, computed, written) = timed_ours(&db, &full, &settings).await?;
                anyhow::ensure!(written == 0, "a re-run wrote {written} of {computed}");
                rerun_t.push(took);
                check("compute_returns re-run", checksum(pool, "TRUE").await?)?;
            }
        }
        let started = Instant::now();
        let (n, _, _, _, _): SelectAlone = sqlx::query_as(AssertSqlSafe(select_all.clone()))
            .bind(&version)
            .persistent(false)
            .fetch_one(pool)
            .await?;
        select_t.push(secs(started.elapsed()));
        anyhow::ensure!(
            n as u64 == rows,
            "SELECT alone counted {n}, INSERT wrote {rows}"
        );
    }
    let expected_full = expected.clone().expect("a baseline run");

    // The daily run: one new weekday at a time; `daily_return` holds the full run's result.
    let mut day_base = vec![];
    let mut day_ours = vec![];
    let mut day_rerun = vec![];
    for (k, day) in extra.iter().enumerate() {
        let inserted = insert_prices(pool, &ids, *day, *day).await?;
        exec(
            pool,
            &format!("SELECT count(*) FROM daily_price WHERE trade_date = DATE '{day}'"),
        )
        .await?;
        let scope = ReturnsScope {
            from: Some(*day),
            to: Some(*day),
            ..ReturnsScope::default()
        };
        let sql = day_sql(*day);
        let filter = format!("trade_date = DATE '{day}'");
        let mut want: Option<String> = None;
        for rep in 0..reps {
            for side in 0..2 {
                exec(pool, &format!("DELETE FROM daily_return WHERE {filter}")).await?;
                let label = if (side + rep + k) % 2 == 0 {
                    let (took, n) = timed_baseline(pool, &sql, &version).await?;
                    anyhow::ensure!(n == inserted, "{day}: baseline wrote {n} of {inserted}");
                    day_base.push(took * 1000.0);
                    "baseline"
                } else {
                    let (took, computed, written) = timed_ours(&db, &scope, &settings).await?;
                    anyhow::ensure!(
                        computed == written && written as u64 == inserted,
                        "{day}: compute_returns wrote {written} of {computed} ({inserted} prices)"
                    );
                    day_ours.push(took * 1000.0);
                    let (took, _, written) = timed_ours(&db, &scope, &settings).await?;
                    anyhow::ensure!(written == 0, "{day}: a re-run wrote {written}");
                    day_rerun.push(took * 1000.0);
                    "compute_returns"
                };
                let got = checksum(pool, &filter).await?;
                match &want {
                    None => want = Some(got),
                    Some(w) => assert_eq!(&got, w, "{day} ({label}): the day's returns differ"),
                }
            }
        }
    }
    let before = checksum(pool, &format!("trade_date <= DATE '{last}'")).await?;
    assert_eq!(
        before, expected_full,
        "the daily runs changed returns before the new days"
    );

    let (base, ours) = (median(base_t), median(ours_t));
    let (select, rerun) = (median(select_t), median(rerun_t));
    let (dbase, dours) = (median(day_base.clone()), median(day_ours.clone()));
    println!(
        "\nreturns_compute: {prices} prices ({instruments} instruments × {day_count} weekdays, \
         {partition_count} monthly partitions), {rows} returns; JIT {}",
        if jit { "on" } else { "off" }
    );
    println!("checksum (count, OK, MISSING, Σ daily, Σ log, Σ row hash): {expected_full}");
    println!("\nfull run, median of {rounds} interleaved rounds:");
    println!("{:<58} {:>9} {:>9}", "", "seconds", "× base");
    let line = |name: &str, s: f64| println!("{name:<58} {s:>9.2} {:>8.2}x", s / base);
    line("hand-written INSERT … SELECT with lag (baseline)", base);
    line("compute_returns, fresh", ours);
    line("baseline's SELECT alone (nothing written)", select);
    line(
        "compute_returns again, nothing changed (writes nothing)",
        rerun,
    );
    println!(
        "target: compute_returns ≤ {TARGET}× baseline: {:.2}x ({})",
        ours / base,
        if ours / base <= TARGET {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "\ndaily run: one new weekday × {instruments} instruments, {new_days} days × {reps} \
         interleaved repetitions, median ms (min–max):"
    );
    let range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        format!("{lo:.1}–{hi:.1}")
    };
    println!(
        "  hand-written INSERT … SELECT (lag over 14 days): {dbase:.1} ms ({})",
        range(&day_base)
    );
    println!(
        "  compute_returns from = to = day:                {dours:.1} ms ({}), {:.2}x",
        range(&day_ours),
        dours / dbase
    );
    println!(
        "  compute_returns again, nothing changed:         {:.1} ms ({})",
        median(day_rerun.clone()),
        range(&day_rerun)
    );
    db.close().await?;
    Ok(())
}
