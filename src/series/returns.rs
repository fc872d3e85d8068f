//! Return series: the stored daily returns of one or many instruments over a date range, with
//! how each was obtained.

use chrono::NaiveDate;
use entity::enums::DataQuality;
use rust_decimal::Decimal;
use sea_orm::{
    ConnectionTrait, DbErr, FromQueryResult, QueryResult, StreamTrait, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::range::DateRange;
use super::read::{self, Cursor, SeriesStream};
use crate::error::Result;

/// One stored daily return (`daily_return`), as fractions (`NUMERIC(12,8)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromQueryResult)]
pub struct ReturnRow {
    pub instrument_id: i64,
    pub trade_date: NaiveDate,
    /// Simple return over the previous price row (see [`crate::returns`]); a placeholder 0 on a
    /// MISSING row.
    pub daily_return: Decimal,
    /// `None` on a MISSING row.
    pub log_return: Option<Decimal>,
    /// `OK`; `MISSING` (no honest return existed: readers must not use `daily_return`); or
    /// `IMPUTED`. `None` only where a row was written by hand with a NULL.
    pub data_quality: Option<DataQuality>,
    /// The engine version that computed it.
    pub engine_version: Option<String>,
}

/// The columns of a [`ReturnRow`].
const RETURN_COLUMNS: &str =
    "instrument_id, trade_date, daily_return, log_return, data_quality, engine_version";

/// Decimal places of the stored returns (`NUMERIC(12,8)`; `tests/it/schema_conformance.rs`
/// fails when the columns' scale differs).
pub(crate) const RETURN_SCALE: u32 = 8;

/// $1 instrument ids, $2 first date, $3 last date (see the `read` module); the returns as whole
/// multiples of 10^-[`RETURN_SCALE`] ([`read::scaled`]).
fn range_sql() -> String {
    format!(
        "SELECT instrument_id, trade_date, {}, {}, data_quality, engine_version
           FROM daily_return_range($1, $2, $3)",
        read::scaled("daily_return", RETURN_SCALE),
        read::scaled("log_return", RETURN_SCALE)
    )
}

/// A row of [`range_sql`], decoded by position.
struct ScaledReturnRow(ReturnRow);

impl From<ScaledReturnRow> for ReturnRow {
    fn from(ScaledReturnRow(row): ScaledReturnRow) -> Self {
        row
    }
}

impl FromQueryResult for ScaledReturnRow {
    fn from_query_result(row: &QueryResult, _pre: &str) -> std::result::Result<Self, DbErr> {
        let (instrument_id, trade_date, daily_return, log_return, data_quality, engine_version): (
            i64,
            NaiveDate,
            i64,
            Option<i64>,
            Option<DataQuality>,
            Option<String>,
        ) = row.try_get_many_by_index()?;
        let fraction = |units| Decimal::new(units, RETURN_SCALE);
        Ok(Self(ReturnRow {
            instrument_id,
            trade_date,
            daily_return: fraction(daily_return),
            log_return: log_return.map(fraction),
            data_quality,
            engine_version,
        }))
    }
}

/// The stored returns of `instrument_ids` from `range.from` through `range.to` (both included),
/// ordered by `(instrument_id, trade_date)`, each with its `data_quality`. An id without returns
/// in the range contributes no rows; an id given twice is read once; an empty `instrument_ids`
/// is an empty result, read from nowhere.
///
/// Only the monthly partitions of the range are scanned; the read is one statement (the
/// schema's `daily_return_range`), planned once per connection, as [`super::prices()`]
/// ([`return_stream`] for long ranges).
///
/// # Errors
/// [`crate::Error::InvalidInput`] (field `date range`) when `range.from` is after `range.to`;
/// database errors.
#[tracing::instrument(skip(db, instrument_ids), fields(instruments = instrument_ids.len()))]
pub async fn returns<C>(db: &C, instrument_ids: &[i64], range: DateRange) -> Result<Vec<ReturnRow>>
where
    C: ConnectionTrait + StreamTrait,
{
    range.check()?;
    if instrument_ids.is_empty() {
        return Ok(Vec::new());
    }
    read::range_rows::<_, ScaledReturnRow, ReturnRow>(
        db,
        &range_sql(),
        range.bind(instrument_ids),
        |row| (row.instrument_id, row.trade_date),
    )
    .await
}

/// The rows of [`returns()`], in the same order, as a stream read through a cursor
/// [`super::STREAM_BATCH`] rows per round trip, with the guarantees of
/// [`super::price_stream`] (bounded memory, one snapshot, its own transaction until it ends or
/// is dropped).
///
/// # Errors
/// As [`returns()`], before the stream is returned; a failure while reading is the stream's last
/// item.
#[tracing::instrument(skip(db, instrument_ids), fields(instruments = instrument_ids.len()))]
pub async fn return_stream<C>(
    db: &C,
    instrument_ids: &[i64],
    range: DateRange,
) -> Result<SeriesStream<ReturnRow>>
where
    C: ConnectionTrait + TransactionTrait,
    C::Transaction: 'static,
{
    range.check()?;
    if instrument_ids.is_empty() {
        return Ok(read::empty());
    }
    read::stream(
        db,
        Cursor::Returns,
        &read::ordered_scan("daily_return", RETURN_COLUMNS),
        range.bind(instrument_ids),
    )
    .await
}
