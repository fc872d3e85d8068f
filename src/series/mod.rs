//! Typed reads of the stored time series (`daily_price`, `daily_return`).
//!
//! | read | answer | statement |
//! |---|---|---|
//! | [`prices()`], [`price_stream`] | [`PriceRow`]s of many instruments in a [`DateRange`], by `(instrument_id, trade_date)` | one, the schema's `daily_price_range` over the range's partitions, planned once per connection; the stream through a cursor, [`STREAM_BATCH`] rows per round trip |
//! | [`returns()`], [`return_stream`] | [`ReturnRow`]s (with `data_quality`), the same way | the same, through `daily_return_range` |
//! | [`latest_dates`] | [`LatestDates`]: each instrument's latest price and return date | one: the last [`RECENT_DAYS`] days first, older partitions only for an instrument not found there |
//! | [`price_on_or_before`] | the last [`PriceRow`] on or before a date | up to three, over widening windows ([`LOOKBACK_DAYS`]) |
//! | [`price_coverage`] | [`Coverage`]: first and last price date and the number of rows | one, over all partitions |
//! | [`load_has_prices`] | whether a load wrote any price | one |
//!
//! # Partitions
//! `daily_price` and `daily_return` are partitioned by month of `trade_date`. Every read except
//! [`price_coverage`] and [`load_has_prices`] bounds `trade_date` by parameters, so PostgreSQL
//! scans only the partitions those bounds reach: it prunes the others when it plans the
//! statement, or when the executor starts for a cached generic plan. The DEFAULT partition is
//! scanned only when a bound reaches a month without a partition of its own.
//!
//! # Input
//! A reversed [`DateRange`] (or a date before [`EARLIEST_DATE`]) is
//! [`crate::Error::InvalidInput`]; an empty list of instrument ids is an empty answer, read
//! from nowhere. Ids that name no instrument are no error: they have no rows.
//!
//! # Where to read
//! All of these tolerate lag: [`crate::db::Connections`] runs them on a read replica (see the
//! module docs of [`crate::db::replicas`] for what lag can do). An incremental loader that must
//! see its own last load asks [`latest_dates`] on the primary.

mod coverage;
mod latest;
mod on_or_before;
mod prices;
mod range;
pub(crate) mod read;
mod returns;

pub use coverage::{Coverage, load_has_prices, price_coverage};
pub use latest::{LatestDates, RECENT_DAYS, latest_dates};
pub use on_or_before::{LOOKBACK_DAYS, price_on_or_before};
pub use prices::{PriceRow, price_stream, prices};
pub use range::{DateRange, EARLIEST_DATE};
pub use read::{STREAM_BATCH, SeriesStream};
pub(crate) use returns::RETURN_SCALE;
pub use returns::{ReturnRow, return_stream, returns};
