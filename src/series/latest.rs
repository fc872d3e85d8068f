//! The latest stored date of each instrument's prices and returns: what an incremental daily
//! loader asks first.

use chrono::{Days, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::read;
use crate::error::Result;

/// The days back from today that [`latest_dates`] looks in first.
pub const RECENT_DAYS: u64 = 31;

/// One instrument's latest stored trade dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromQueryResult)]
pub struct LatestDates {
    pub instrument_id: i64,
    /// The latest `daily_price` date; `None` when it has no price at all.
    pub price_date: Option<NaiveDate>,
    /// The latest `daily_return` date; `None` when it has no return at all.
    pub return_date: Option<NaiveDate>,
}

/// $1 instrument ids, $2 the start of the recent window.
///
/// Each instrument's latest date is first looked for in the recent window: a `max` over the
/// partitions from $2 on (the window's months, the months ahead, the DEFAULT partition). Only an
/// instrument with nothing there is looked up further back, per instrument, with
/// `ORDER BY trade_date DESC LIMIT 1` on the `(instrument_id, trade_date DESC)` index below $2
/// (`COALESCE` evaluates that subquery only when the window found nothing). With a DEFAULT
/// partition PostgreSQL cannot walk the partitions newest first and stop at the first hit: a
/// per-instrument `LIMIT 1` over all of them merges one index probe of every partition.
/// Measured on 1,000 instruments with 4 million prices (and as many returns) in 234 monthly
/// partitions: 30–45 ms this way for both tables, against 890 ms for the per-instrument
/// `LIMIT 1` over all partitions and 930 ms for one `max(trade_date)` grouped by instrument, each
/// on `daily_price` alone. The plan holds subqueries over every partition,
/// whose estimated cost makes PostgreSQL JIT-compile it (3.5 s of the same read): it runs with
/// JIT off, as the range reads do.
const SQL: &str = "
WITH ids AS (SELECT DISTINCT id FROM unnest($1::bigint[]) AS u(id)),
recent_prices AS (
    SELECT instrument_id, max(trade_date) AS trade_date FROM daily_price
     WHERE instrument_id = ANY($1) AND trade_date >= $2
     GROUP BY instrument_id),
recent_returns AS (
    SELECT instrument_id, max(trade_date) AS trade_date FROM daily_return
     WHERE instrument_id = ANY($1) AND trade_date >= $2
     GROUP BY instrument_id)
SELECT ids.id AS instrument_id,
       coalesce(rp.trade_date,
                (SELECT p.trade_date FROM daily_price p
                  WHERE p.instrument_id = ids.id AND p.trade_date < $2
                  ORDER BY p.trade_date DESC LIMIT 1)) AS price_date,
       coalesce(rr.trade_date,
                (SELECT r.trade_date FROM daily_return r
                  WHERE r.instrument_id = ids.id AND r.trade_date < $2
                  ORDER BY r.trade_date DESC LIMIT 1)) AS return_date
  FROM ids
  LEFT JOIN recent_prices rp ON rp.instrument_id = ids.id
  LEFT JOIN recent_returns rr ON rr.instrument_id = ids.id
 ORDER BY ids.id";

/// The latest stored price date and return date of each of `instrument_ids`: one row per
/// distinct id, in id order, `None` for a series with no row at all (an id that names no
/// instrument gets two `None`s). An empty `instrument_ids` is an empty result, read from
/// nowhere.
///
/// The answer does not depend on the clock; the speed does: the last [`RECENT_DAYS`] days
/// before today (UTC) and everything after them are searched first, which is where a daily
/// loader's instruments have their latest row, and only an instrument with no row there is
/// looked up in the older partitions. A date after today (a row stored ahead) is found too.
/// It runs in a transaction of its own with JIT compilation off.
///
/// # Errors
/// Database errors.
#[tracing::instrument(skip(db, instrument_ids), fields(instruments = instrument_ids.len()))]
pub async fn latest_dates<C>(db: &C, instrument_ids: &[i64]) -> Result<Vec<LatestDates>>
where
    C: ConnectionTrait + TransactionTrait,
{
    if instrument_ids.is_empty() {
        return Ok(Vec::new());
    }
    let today = Utc::now().date_naive();
    let recent_from = today
        .checked_sub_days(Days::new(RECENT_DAYS))
        .unwrap_or(today);
    read::all(
        db,
        SQL,
        vec![instrument_ids.to_vec().into(), recent_from.into()],
    )
    .await
}
