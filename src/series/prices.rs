//! Price series: the stored daily bars of one or many instruments over a date range.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{
    ConnectionTrait, DbErr, FromQueryResult, QueryResult, StreamTrait, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::range::DateRange;
use super::read::{self, Cursor, SeriesStream};
use crate::error::Result;

/// One stored daily bar (`daily_price`), prices as stored (`NUMERIC(18,4)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromQueryResult)]
pub struct PriceRow {
    pub instrument_id: i64,
    pub trade_date: NaiveDate,
    pub open_price: Option<Decimal>,
    pub high_price: Option<Decimal>,
    pub low_price: Option<Decimal>,
    pub close_price: Decimal,
    /// Dividend/split adjusted close.
    pub adj_close_price: Option<Decimal>,
    pub volume: Option<i64>,
}

/// The columns of a [`PriceRow`], for every statement that reads one.
pub(super) const PRICE_COLUMNS: &str = "instrument_id, trade_date, open_price, high_price, \
     low_price, close_price, adj_close_price, volume";

/// Decimal places of the stored prices (`NUMERIC(18,4)`; `tests/it/schema_conformance.rs`
/// fails when the column's scale differs).
const PRICE_SCALE: u32 = 4;

/// $1 instrument ids, $2 first date, $3 last date (see the `read` module); the prices as whole
/// multiples of 10^-[`PRICE_SCALE`] ([`read::scaled`]).
fn range_sql() -> String {
    let prices: Vec<String> = [
        "open_price",
        "high_price",
        "low_price",
        "close_price",
        "adj_close_price",
    ]
    .iter()
    .map(|column| read::scaled(column, PRICE_SCALE))
    .collect();
    format!(
        "SELECT instrument_id, trade_date, {}, volume FROM daily_price_range($1, $2, $3)",
        prices.join(", ")
    )
}

/// A row of [`range_sql`], decoded by position.
struct ScaledPriceRow(PriceRow);

impl From<ScaledPriceRow> for PriceRow {
    fn from(ScaledPriceRow(row): ScaledPriceRow) -> Self {
        row
    }
}

/// The columns of [`range_sql`]: id, date, open, high, low, close, adjusted close (each in units
/// of 10^-[`PRICE_SCALE`]), volume.
type PriceUnits = (
    i64,
    NaiveDate,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
);

impl FromQueryResult for ScaledPriceRow {
    fn from_query_result(row: &QueryResult, _pre: &str) -> std::result::Result<Self, DbErr> {
        let (instrument_id, trade_date, open, high, low, close, adj_close, volume): PriceUnits =
            row.try_get_many_by_index()?;
        let price = |units| Decimal::new(units, PRICE_SCALE);
        Ok(Self(PriceRow {
            instrument_id,
            trade_date,
            open_price: open.map(price),
            high_price: high.map(price),
            low_price: low.map(price),
            close_price: price(close),
            adj_close_price: adj_close.map(price),
            volume,
        }))
    }
}

/// The stored prices of `instrument_ids` from `range.from` through `range.to` (both included),
/// ordered by `(instrument_id, trade_date)`: one row per stored bar, nothing for days without
/// one. An id that has no prices in the range (or names no instrument) contributes no rows; an
/// id given twice is read once. An empty `instrument_ids` is an empty result, read from nowhere.
///
/// Only the monthly partitions of the range are scanned (and the DEFAULT partition when the
/// range reaches a month without a partition of its own). The read is one statement on `db`
/// (the schema's `daily_price_range`), planned once per connection, with JIT compilation off
/// for that statement alone; given a transaction it reads that transaction's snapshot and
/// leaves it as it was. See [`price_stream`] for long ranges, which holds one batch in memory
/// instead of all rows.
///
/// # Errors
/// [`crate::Error::InvalidInput`] (field `date range`) when `range.from` is after `range.to`
/// (see [`DateRange::check`]); database errors.
#[tracing::instrument(skip(db, instrument_ids), fields(instruments = instrument_ids.len()))]
pub async fn prices<C>(db: &C, instrument_ids: &[i64], range: DateRange) -> Result<Vec<PriceRow>>
where
    C: ConnectionTrait + StreamTrait,
{
    range.check()?;
    if instrument_ids.is_empty() {
        return Ok(Vec::new());
    }
    read::range_rows::<_, ScaledPriceRow, PriceRow>(
        db,
        &range_sql(),
        range.bind(instrument_ids),
        |row| (row.instrument_id, row.trade_date),
    )
    .await
}

/// The rows of [`prices()`], in the same order, as a stream read [`super::STREAM_BATCH`] rows per
/// round trip through a cursor: memory stays bounded however long the range is, and the first
/// rows arrive before the last are read (the cursor's plan merges the partitions' index scans
/// instead of sorting the whole result).
///
/// The stream owns a transaction of its own (one pooled connection) until it ends or is
/// dropped; all its rows come from one snapshot. Given a transaction as `db`, it reads in a
/// savepoint of it: finish or drop the stream before using that transaction again.
///
/// # Errors
/// As [`prices()`], before the stream is returned, and for a bad statement; a failure while
/// reading (a lost connection) is the stream's last item.
#[tracing::instrument(skip(db, instrument_ids), fields(instruments = instrument_ids.len()))]
pub async fn price_stream<C>(
    db: &C,
    instrument_ids: &[i64],
    range: DateRange,
) -> Result<SeriesStream<PriceRow>>
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
        Cursor::Prices,
        &read::ordered_scan("daily_price", PRICE_COLUMNS),
        range.bind(instrument_ids),
    )
    .await
}
