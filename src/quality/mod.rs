//! The data-quality report: what to check before trusting the stored prices and returns, per
//! instrument, over a window `[from, as_of]` (by default all rows up to the latest price).
//!
//! # Findings
//! - **Span**: first and last price date, and the price rows in the window.
//! - **Gaps**: business days (Monday to Friday; exchange holidays are not known, so they count)
//!   between the first and last price that have no price, and the gaps they form (each from its
//!   first to its last missing business day). Weekend rows are allowed, never required.
//! - **Stale**: the business days after the last price through the as-of date; the instrument is
//!   stale when they reach [`QualityOptions::stale_days`], or when it has no price in the window.
//! - **Forward-fill runs**: runs of consecutive price rows (whatever their dates) whose close and
//!   adjusted close both equal the row before's, at least [`QualityOptions::min_fill_run`] rows
//!   long counting the first. Examples are the runs.
//! - **MISSING / IMPUTED returns**: `daily_return` rows with that `data_quality`.
//! - **Jumps**: `daily_return` rows, other than MISSING ones (whose 0 is a placeholder), with
//!   `|daily_return|` strictly above [`QualityOptions::jump`].
//! - **Impossible prices**, which the loader refuses but SQL written by hand can store: a price
//!   (open, high, low, close or adjusted close) at or below zero; a high below the low; a close
//!   outside `[low, high]` on a row that has both and whose range is not already inverted.
//!
//! Each finding has a count and its first [`EXAMPLES`] occurrences in date order.
//!
//! # Cost
//! One statement reads each of `daily_price` and `daily_return` once, restricted to the window
//! (so only the monthly partitions it covers are scanned) and to the chosen instruments. Prices
//! are read once in instrument and date order for the window functions that find gaps and runs;
//! of the returns, only the flagged rows go on past the scan. Business days are counted with
//! date arithmetic, not a generated calendar.

mod findings;
mod options;

use chrono::NaiveDate;
use sea_orm::{
    ConnectionTrait, DbBackend, FromQueryResult, Statement, TransactionSession, TransactionTrait,
};

pub use findings::{Finding, Flag, InstrumentQuality, QualityReport, QualitySummary, Span};
pub use options::{DEFAULT_JUMP, DEFAULT_MIN_FILL_RUN, DEFAULT_STALE_DAYS, QualityOptions};

use crate::error::{Error, InstrumentError, Result};
use crate::scenarios::InstrumentRef;

/// Examples kept per finding.
pub const EXAMPLES: usize = 5;

/// The report itself; see the parameters at its top.
const REPORT: &str = include_str!("report.sql");

/// The report's plan costs enough for PostgreSQL to JIT-compile its expressions, once per
/// partition scanned: on 1.3 million prices in 120 monthly partitions that made the statement
/// take four times the CPU.
const NO_JIT: &str = "SELECT set_config('jit', 'off', true)";

/// The chosen ids that name no instrument, and the as-of date: the one given, else the latest
/// price date (found from the date indexes, not a scan). $1 ids (NULL = all), $2 as-of.
const SCOPE: &str = "
SELECT ARRAY(SELECT id FROM unnest($1::bigint[]) AS id
              WHERE NOT EXISTS (SELECT 1 FROM instrument_master m WHERE m.instrument_id = id)
              ORDER BY id) AS unknown,
       coalesce($2::date, (SELECT max(trade_date) FROM daily_price)) AS as_of";

#[derive(FromQueryResult)]
struct Scope {
    unknown: Vec<i64>,
    as_of: Option<NaiveDate>,
}

#[derive(FromQueryResult)]
struct Row {
    instrument_id: i64,
    ticker: String,
    exchange: String,
    first_price: Option<NaiveDate>,
    last_price: Option<NaiveDate>,
    price_rows: i64,
    missing_days: i64,
    gaps: i64,
    gap_examples: Vec<Span>,
    business_days_since_last: Option<i64>,
    fill_runs: i64,
    fill_run_examples: Vec<Span>,
    missing_returns: i64,
    missing_return_examples: Vec<NaiveDate>,
    imputed_returns: i64,
    imputed_return_examples: Vec<NaiveDate>,
    jumps: i64,
    jump_examples: Vec<NaiveDate>,
    non_positive_prices: i64,
    non_positive_price_examples: Vec<NaiveDate>,
    high_below_low: i64,
    high_below_low_examples: Vec<NaiveDate>,
    close_outside_range: i64,
    close_outside_range_examples: Vec<NaiveDate>,
}

impl Row {
    fn into_quality(self, stale_days: i64) -> InstrumentQuality {
        fn finding<T>(count: i64, examples: Vec<T>) -> Finding<T> {
            Finding { count, examples }
        }
        let mut quality = InstrumentQuality {
            instrument_id: self.instrument_id,
            ticker: self.ticker,
            exchange: self.exchange,
            first_price: self.first_price,
            last_price: self.last_price,
            price_rows: self.price_rows,
            missing_business_days: self.missing_days,
            gaps: finding(self.gaps, self.gap_examples),
            business_days_since_last: self.business_days_since_last,
            stale: self
                .business_days_since_last
                .is_none_or(|days| days >= stale_days),
            fill_runs: finding(self.fill_runs, self.fill_run_examples),
            missing_returns: finding(self.missing_returns, self.missing_return_examples),
            imputed_returns: finding(self.imputed_returns, self.imputed_return_examples),
            jumps: finding(self.jumps, self.jump_examples),
            non_positive_prices: finding(
                self.non_positive_prices,
                self.non_positive_price_examples,
            ),
            high_below_low: finding(self.high_below_low, self.high_below_low_examples),
            close_outside_range: finding(
                self.close_outside_range,
                self.close_outside_range_examples,
            ),
            flags: Vec::new(),
        };
        quality.flags = quality.raised_flags();
        quality
    }
}

/// Reports the data quality of the chosen instruments over `[from, as_of]` (see the module
/// documentation for what is found and how). Reads only; every chosen instrument is listed, one
/// without prices in the window as stale, in ticker, exchange, id order.
///
/// Runs in a transaction of its own (a savepoint when `db` is a transaction) with JIT
/// compilation off for it; the as-of date is read just before the report, so pass a
/// repeatable-read transaction to have both in one snapshot.
///
/// # Errors
/// - [`Error::InvalidInput`] for options out of range (see [`QualityOptions::validate`]), and
///   when `from` is after the latest price while `as_of` is not given;
/// - [`InstrumentError::UnknownInstrument`] naming every chosen id that is no instrument;
/// - database errors.
#[tracing::instrument(skip(db))]
pub async fn report<C>(db: &C, options: &QualityOptions) -> Result<QualityReport>
where
    C: ConnectionTrait + TransactionTrait,
{
    options.validate()?;
    let tx = db.begin().await?;
    tx.execute_unprepared(NO_JIT).await?;
    let scope = Scope::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        SCOPE,
        [options.instruments.clone().into(), options.as_of.into()],
    ))
    .one(&tx)
    .await?
    .expect("a SELECT without FROM returns one row");
    if !scope.unknown.is_empty() {
        let ids: Vec<String> = scope
            .unknown
            .iter()
            .map(|id| InstrumentRef::Id(*id).to_string())
            .collect();
        return Err(Error::Instrument(InstrumentError::UnknownInstrument {
            instrument: ids.join(", "),
        }));
    }
    if let (Some(from), Some(latest), None) = (options.from, scope.as_of, options.as_of) {
        options::check_range(from, latest, " (the latest price)")?;
    }
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        REPORT,
        [
            options.instruments.clone().into(),
            options.from.into(),
            scope.as_of.into(),
            options.min_fill_run.into(),
            options.jump.into(),
            (EXAMPLES as i32).into(),
        ],
    ))
    .all(&tx)
    .await?;
    tx.commit().await?;
    let instruments: Vec<InstrumentQuality> = rows
        .into_iter()
        .map(|row| row.into_quality(options.stale_days))
        .collect();
    Ok(QualityReport {
        from: options.from,
        as_of: scope.as_of,
        stale_days: options.stale_days,
        min_fill_run: options.min_fill_run,
        jump: options.jump,
        summary: QualitySummary::of(&instruments),
        instruments,
    })
}
