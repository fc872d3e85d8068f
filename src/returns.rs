//! Daily returns computed from prices, in the database: one set-based statement (window
//! functions over `daily_price`, upsert into `daily_return`) per run, never row by row.
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
//! - Every row written carries `engine_version` ([`crate::config::engine_version`]).
//!
//! # Ranges and idempotence
//! A run over `[from, to]` (re)computes every return that depends on a price dated in the range:
//! the returns dated in the range — the first of them from the last price *before* `from`, so it
//! is a true return — and, per instrument, the first return after `to`, whose previous price is
//! in the range. Rows are upserted on `(instrument_id, trade_date)`; a row whose values and
//! engine version are unchanged is not rewritten.

use chrono::{Months, NaiveDate};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};
use serde::Serialize;

use crate::config;
use crate::error::{Error, Result};
use crate::partitions::{self, Parent};

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
    /// Per instrument with at least one return computed, by id.
    pub instruments: Vec<InstrumentReturns>,
}

impl ReturnsSummary {
    fn new(
        scope: &ReturnsScope,
        engine_version: String,
        partitions_created: u32,
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
            instruments,
        }
    }
}

// The price series a run reads, per instrument: the prices in the range, the last price before it
// and the first price after it. $1 instrument ids (NULL = all), $2 from, $3 to (NULL = open).
// `priced` is inlined into each use so that the range predicates reach the indexes.
const SERIES: &str = r#"
priced AS NOT MATERIALIZED (
    SELECT instrument_id, trade_date, coalesce(adj_close_price, close_price) AS price
      FROM daily_price
),
scope AS (
    SELECT * FROM priced
     WHERE ($1::bigint[] IS NULL OR instrument_id = ANY ($1::bigint[]))
       AND ($2::date IS NULL OR trade_date >= $2::date)
       AND ($3::date IS NULL OR trade_date <= $3::date)
),
instruments AS (SELECT DISTINCT instrument_id FROM scope),
series AS (
    SELECT * FROM scope
    UNION ALL
    SELECT before.* FROM instruments i CROSS JOIN LATERAL (
        SELECT * FROM priced p
         WHERE p.instrument_id = i.instrument_id AND p.trade_date < $2::date
         ORDER BY p.trade_date DESC LIMIT 1) before
    UNION ALL
    SELECT after.* FROM instruments i CROSS JOIN LATERAL (
        SELECT * FROM priced p
         WHERE p.instrument_id = i.instrument_id AND p.trade_date > $3::date
         ORDER BY p.trade_date LIMIT 1) after
)
"#;

// Months a run will write return rows in (the price before the range only feeds a return).
const MONTHS: &str = r#"
SELECT DISTINCT date_trunc('month', trade_date)::date AS month
  FROM series
 WHERE $2::date IS NULL OR trade_date >= $2::date
 ORDER BY 1
"#;

// The returns, graded, upserted, and summarised per instrument. $4 engine version.
const UPSERT: &str = r#"
, lagged AS (
    SELECT instrument_id, trade_date, price,
           lag(price) OVER w AS prev_price,
           lag(trade_date) OVER w AS prev_date
      FROM series
    WINDOW w AS (PARTITION BY instrument_id ORDER BY trade_date)
),
raw AS (
    SELECT instrument_id, trade_date,
           CASE WHEN prev_price > 0 AND price > 0
                THEN round((price - prev_price) / prev_price, 8) END AS simple,
           CASE WHEN prev_price > 0 AND price > 0
                THEN round(ln(price / prev_price), 8) END AS logr
      FROM lagged
     WHERE prev_date IS NOT NULL AND ($2::date IS NULL OR trade_date >= $2::date)
),
graded AS (
    SELECT instrument_id, trade_date, simple, logr,
           coalesce(abs(simple) < 10000, false) AS ok,
           coalesce(abs(simple) >= 10000, false) AS out_of_range
      FROM raw
),
written AS (
    INSERT INTO daily_return AS d
           (instrument_id, trade_date, daily_return, log_return, data_quality, engine_version)
    SELECT instrument_id, trade_date,
           CASE WHEN ok THEN simple ELSE 0 END,
           CASE WHEN ok THEN logr END,
           CASE WHEN ok THEN 'OK' ELSE 'MISSING' END,
           $4
      FROM graded
    ON CONFLICT (instrument_id, trade_date) DO UPDATE
       SET daily_return = EXCLUDED.daily_return,
           log_return = EXCLUDED.log_return,
           data_quality = EXCLUDED.data_quality,
           engine_version = EXCLUDED.engine_version
     WHERE (d.daily_return, d.log_return, d.data_quality, d.engine_version)
           IS DISTINCT FROM
           (EXCLUDED.daily_return, EXCLUDED.log_return, EXCLUDED.data_quality, EXCLUDED.engine_version)
    RETURNING d.instrument_id
),
written_counts AS (SELECT instrument_id, count(*) AS n FROM written GROUP BY instrument_id)
SELECT g.instrument_id,
       count(*) AS computed,
       coalesce(max(w.n), 0) AS written,
       count(*) FILTER (WHERE NOT g.ok) AS missing,
       min(g.trade_date) AS first_date,
       max(g.trade_date) AS last_date,
       coalesce(array_agg(g.trade_date ORDER BY g.trade_date) FILTER (WHERE g.out_of_range),
                '{}') AS out_of_range
  FROM graded g
  LEFT JOIN written_counts w USING (instrument_id)
 GROUP BY g.instrument_id
 ORDER BY g.instrument_id
"#;

#[derive(Debug, FromQueryResult)]
struct Month {
    month: NaiveDate,
}

#[derive(Debug, FromQueryResult)]
struct UnknownId {
    id: i64,
}

fn scope_values(scope: &ReturnsScope) -> Vec<Value> {
    vec![
        scope.instruments.clone().into(),
        scope.from.into(),
        scope.to.into(),
    ]
}

fn validate(scope: &ReturnsScope) -> Result<()> {
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

/// Groups sorted month starts into runs of consecutive months, as `(first, last)`.
fn consecutive_runs(months: &[NaiveDate]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut runs: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &month in months {
        match runs.last_mut() {
            Some((_, last)) if *last + Months::new(1) == month => *last = month,
            _ => runs.push((month, month)),
        }
    }
    runs
}

/// Makes sure `daily_return` has a partition for every month the run will write in (and only
/// those: a run over 1995 and 2031 does not create the 35 years between), so no return lands in
/// the DEFAULT partition.
async fn ensure_partitions<C: ConnectionTrait>(db: &C, scope: &ReturnsScope) -> Result<u32> {
    let months: Vec<NaiveDate> = Month::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("WITH {SERIES} {MONTHS}"),
        scope_values(scope),
    ))
    .all(db)
    .await?
    .into_iter()
    .map(|m| m.month)
    .collect();
    let mut created = 0;
    for (first, last) in consecutive_runs(&months) {
        created += partitions::ensure_range(db, Parent::DailyReturn, first, last).await?;
    }
    Ok(created)
}

/// Computes and upserts the daily returns of `scope` (see the module documentation for the
/// rules), creating the `daily_return` partitions they need first. Idempotent: a second run over
/// the same prices writes nothing; a changed price rewrites its own return and the next one.
///
/// Not one transaction: the partitions are committed first, then the returns are written by a
/// single statement, which is atomic on its own. Pass a transaction to make both one unit.
///
/// # Errors
/// - [`Error::InvalidInput`] when `to` is before `from`, the instrument list is empty, or
///   `ENGINE_VERSION` is invalid;
/// - [`Error::NotFound`] naming every chosen instrument id that does not exist;
/// - otherwise when the database refuses (nothing is written by the failed statement).
#[tracing::instrument(skip(db))]
pub async fn compute_returns<C: ConnectionTrait>(
    db: &C,
    scope: &ReturnsScope,
) -> Result<ReturnsSummary> {
    validate(scope)?;
    let engine_version = config::engine_version()?;
    if let Some(ids) = &scope.instruments {
        check_instruments_exist(db, ids).await?;
    }
    let partitions_created = ensure_partitions(db, scope).await?;
    let mut values = scope_values(scope);
    values.push(engine_version.clone().into());
    let instruments = InstrumentReturns::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("WITH {SERIES} {UPSERT}"),
        values,
    ))
    .all(db)
    .await?;
    Ok(ReturnsSummary::new(
        scope,
        engine_version,
        partitions_created,
        instruments,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, 1).unwrap()
    }

    #[test]
    fn months_group_into_consecutive_runs() {
        assert_eq!(
            consecutive_runs(&[d(1995, 11), d(1995, 12), d(1996, 1), d(2031, 3), d(2031, 5)]),
            [
                (d(1995, 11), d(1996, 1)),
                (d(2031, 3), d(2031, 3)),
                (d(2031, 5), d(2031, 5))
            ]
        );
        assert!(consecutive_runs(&[]).is_empty());
    }
}
