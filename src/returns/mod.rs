//! Daily returns computed from prices, in the database: set-based statements (window functions
//! over `daily_price`, upsert into `daily_return`), never row by row.
//!
//! # Rules
//! - The price of a day is `adj_close_price`, or `close_price` where the adjusted close is NULL.
//! - `daily_return = p_t / p_{t-1} − 1` and `log_return = ln(p_t / p_{t-1})`, where `p_{t-1}` is
//!   the instrument's previous price row (whatever its date: gaps in trading days are not
//!   detected). Both are rounded to 8 decimal places, half away from zero (PostgreSQL's
//!   `round(numeric, 8)`), which is what `NUMERIC(12,8)` holds.
//! - An instrument's first price has no return row.
//! - **MISSING**: when the previous or the current price is absent or not positive, no honest
//!   return exists. The day is still recorded — so the gap is visible (and indexed:
//!   `idx_daily_return_quality`) — with `data_quality = 'MISSING'`, `daily_return = 0` (the
//!   column is NOT NULL) and `log_return` NULL. Readers must filter on `data_quality`.
//! - **Out of range**: a simple return that does not fit `NUMERIC(12,8)` (|r| ≥ 10000 after
//!   rounding; only a price rising 10000-fold gets there, which is a data error) is recorded as
//!   MISSING the same way, so one bad price does not stop the run, and is listed by instrument
//!   and date in [`InstrumentReturns::out_of_range`].
//! - Every row written carries `engine_version` ([`Settings::engine_version`]).
//!
//! # Ranges and idempotence
//! A run over `[from, to]` (re)computes every return that depends on a price dated in the range:
//! the returns dated in the range — the first of them from the last price *before* `from`, so it
//! is a true return — and, per instrument, the first return after `to`, whose previous price is
//! in the range. Rows are upserted on `(instrument_id, trade_date)`; a row whose values and
//! engine version are unchanged is not rewritten.
//!
//! # Bounds
//! A run reads its prices a range of at most twelve `daily_price` partitions per statement
//! (`chunks`): first to learn which months and edge returns it will write (`plan`), then to
//! write (`write`). So no statement plans or locks more than a dozen partitions, however many
//! years the table holds — a single statement over thousands of partitions runs the server out
//! of lock memory. The `daily_return` partitions the run needs are created before any return is
//! written, within [`Settings::partitions`]: dates outside its window are refused, and so is a
//! run that would create more partitions than its cap.
//!
//! # Cached simulations
//! The rewritten rows are reported per instrument as spans of dates
//! ([`InstrumentReturns::changed`]), and every cached simulation run that read one of them —
//! its instrument, inside its window — is expired in the same transaction as the statement that
//! rewrote them ([`simulation::invalidate`](crate::simulation::invalidate)), so it is recomputed
//! on its next request. A run with no rewritten row is left alone.

mod chunks;
mod plan;
mod write;

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, TransactionTrait};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::partitions::{self, DateWindow, NewPartitions, Parent, PartitionLimits};
use crate::settings::Settings;
use plan::Plan;

/// Which returns to compute. The default is every instrument over all dates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnsScope {
    /// Instrument ids; `None` = every instrument with prices.
    pub instruments: Option<Vec<i64>>,
    /// First return date to compute (inclusive); `None` = from each instrument's first price.
    pub from: Option<NaiveDate>,
    /// Last price date to take into account (inclusive); `None` = through the latest price.
    pub to: Option<NaiveDate>,
}

/// What one instrument got in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromQueryResult)]
pub struct InstrumentReturns {
    /// The instrument.
    pub instrument_id: i64,
    /// Return rows computed (OK and MISSING).
    pub computed: i64,
    /// Rows inserted or changed; the rest were already stored with the same values.
    pub written: i64,
    /// Rows computed as MISSING.
    pub missing: i64,
    /// Date of the first return computed.
    pub first_date: NaiveDate,
    /// Date of the last return computed.
    pub last_date: NaiveDate,
    /// Dates whose simple return did not fit `NUMERIC(12,8)` and was recorded as MISSING.
    pub out_of_range: Vec<NaiveDate>,
    /// The rows written (inserted or changed), in date order, as spans of returns consecutive
    /// among the ones computed: every return inside a span was written.
    #[sea_orm(skip)]
    pub changed: Vec<ChangedSpan>,
}

/// Returns of one instrument written by [`compute_returns`], from `first` through `last`
/// (inclusive), with no return left unchanged between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChangedSpan {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// A row of the upsert's summary: the spans come as two arrays of the same length.
#[derive(Debug, FromQueryResult)]
struct InstrumentRow {
    #[sea_orm(nested)]
    returns: InstrumentReturns,
    changed_first: Vec<NaiveDate>,
    changed_last: Vec<NaiveDate>,
}

impl InstrumentRow {
    fn into_returns(self) -> InstrumentReturns {
        let changed = self
            .changed_first
            .into_iter()
            .zip(self.changed_last)
            .map(|(first, last)| ChangedSpan { first, last })
            .collect();
        InstrumentReturns {
            changed,
            ..self.returns
        }
    }
}

/// The outcome of [`compute_returns`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReturnsSummary {
    /// The requested range, as given.
    pub from: Option<NaiveDate>,
    /// The requested range, as given.
    pub to: Option<NaiveDate>,
    /// Engine version stamped on the rows written.
    pub engine_version: String,
    /// `daily_return` partitions created for the run.
    pub partitions_created: u32,
    /// Return rows computed, over all instruments.
    pub computed: i64,
    /// Rows inserted or changed.
    pub written: i64,
    /// Rows already stored with the same values (not rewritten).
    pub unchanged: i64,
    /// Rows computed as MISSING (out-of-range ones included).
    pub missing: i64,
    /// First return date computed, if any.
    pub first_date: Option<NaiveDate>,
    /// Last return date computed, if any.
    pub last_date: Option<NaiveDate>,
    /// Cached simulation runs expired because they read a return this run rewrote.
    pub runs_expired: u64,
    /// Per instrument with at least one return computed, by id.
    pub instruments: Vec<InstrumentReturns>,
}

impl ReturnsSummary {
    fn new(
        scope: &ReturnsScope,
        engine_version: String,
        partitions_created: u32,
        runs_expired: u64,
        instruments: Vec<InstrumentReturns>,
    ) -> Self {
        let sum = |f: fn(&InstrumentReturns) -> i64| instruments.iter().map(f).sum::<i64>();
        let (computed, written) = (sum(|i| i.computed), sum(|i| i.written));
        Self {
            from: scope.from,
            to: scope.to,
            engine_version,
            partitions_created,
            computed,
            written,
            unchanged: computed - written,
            missing: sum(|i| i.missing),
            first_date: instruments.iter().map(|i| i.first_date).min(),
            last_date: instruments.iter().map(|i| i.last_date).max(),
            runs_expired,
            instruments,
        }
    }
}

#[derive(Debug, FromQueryResult)]
struct UnknownId {
    id: i64,
}

fn validate(scope: &ReturnsScope, window: &DateWindow) -> Result<()> {
    for (field, date) in [("from", scope.from), ("to", scope.to)] {
        if let Some(date) = date.filter(|d| !window.contains(*d)) {
            return Err(Error::invalid(
                field,
                format!("{date} is outside the date window {window}"),
            ));
        }
    }
    if let (Some(from), Some(to)) = (scope.from, scope.to)
        && to < from
    {
        return Err(Error::invalid(
            "date range",
            format!("{to} is before {from}"),
        ));
    }
    if scope.instruments.as_ref().is_some_and(Vec::is_empty) {
        return Err(Error::invalid(
            "instruments",
            "an empty list chooses nothing (use None for all instruments)",
        ));
    }
    Ok(())
}

async fn check_instruments_exist<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<()> {
    let unknown = UnknownId::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT id FROM unnest($1::bigint[]) AS id
          WHERE NOT EXISTS (SELECT 1 FROM instrument_master m WHERE m.instrument_id = id)
          ORDER BY id",
        [ids.to_vec().into()],
    ))
    .all(db)
    .await?;
    if unknown.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = unknown.iter().map(|u| u.id.to_string()).collect();
    Err(Error::not_found(
        "instrument",
        format!("id {}", ids.join(", ")),
    ))
}

/// Makes sure `daily_return` has a partition for every month the run will write in (and only
/// those: a run over 1995 and 2031 does not create the 35 years between), so no return lands in
/// the DEFAULT partition; within `limits`, refused before any is created.
async fn ensure_partitions<C: ConnectionTrait>(
    db: &C,
    plan: &Plan,
    limits: &PartitionLimits,
) -> Result<u32> {
    let mut created = NewPartitions::default();
    partitions::ensure_months(
        db,
        Parent::DailyReturn,
        &plan.months(),
        limits,
        &mut created,
    )
    .await
}

/// Computes and upserts the daily returns of `scope` (see the module documentation for the
/// rules), creating the `daily_return` partitions they need first, and expires the cached
/// simulation runs that read a rewritten return. Idempotent: a second run over the same prices
/// writes and expires nothing; a changed price rewrites its own return and the next one.
///
/// Not one transaction: the partitions are committed first, then the returns are written by one
/// statement per range of dates (see "Bounds" in the module documentation), each committed
/// together with the expiry of the runs it makes stale; a run that stops part-way is completed
/// by running it again. The expiry waits for simulations computing at that moment (see
/// [`crate::simulation::invalidate::expire_runs_touching`]). Given a transaction, the statements
/// run in savepoints of it (its locks then add up over the statements).
///
/// # Errors
/// - [`Error::InvalidInput`] when `from` or `to` is outside the window of
///   [`Settings::partitions`], `to` is before `from`, or the instrument list is empty;
/// - [`Error::NotFound`] naming every chosen instrument id that does not exist;
/// - [`PartitionError::OutsideWindow`](crate::PartitionError::OutsideWindow) when a price in
///   scope lies outside that window, and
///   [`PartitionError::TooManyPartitions`](crate::PartitionError::TooManyPartitions) when the run
///   would create more `daily_return` partitions than its cap: in both cases nothing is written;
/// - otherwise when the database refuses (the failed statement writes no return and expires no
///   run).
#[tracing::instrument(skip(db, settings))]
pub async fn compute_returns<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    scope: &ReturnsScope,
    settings: &Settings,
) -> Result<ReturnsSummary> {
    validate(scope, &settings.partitions.window)?;
    let engine_version = settings.engine_version().to_owned();
    if let Some(ids) = &scope.instruments {
        check_instruments_exist(db, ids).await?;
    }
    let plan = plan::plan(db, scope).await?;
    let partitions_created = ensure_partitions(db, &plan, &settings.partitions).await?;
    let (instruments, runs_expired) = write::write(db, scope, &plan, &engine_version).await?;
    Ok(ReturnsSummary::new(
        scope,
        engine_version,
        partitions_created,
        runs_expired,
        instruments,
    ))
}
