//! An instrument's stored daily prices over a date range.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use chrono::NaiveDate;
use entity::instrument_master;
use foresto::series::{self, DateRange, PriceRow};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState, input};

/// The query of the prices route; an unknown parameter is refused, not ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceQuery {
    from: NaiveDate,
    to: NaiveDate,
    /// Needed only for a ticker listed on several exchanges.
    exchange: Option<String>,
}

/// `GET /api/v1/instruments/{ticker}/prices`.
#[derive(Debug, Serialize)]
pub struct PriceSeries {
    /// Every column of the instrument.
    pub instrument: instrument_master::Model,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One bar per stored trade date within `from..=to`, in date order.
    pub prices: Vec<Bar>,
}

/// One stored daily bar; prices as strings.
#[derive(Debug, Serialize)]
pub struct Bar {
    pub trade_date: NaiveDate,
    pub open_price: Option<Decimal>,
    pub high_price: Option<Decimal>,
    pub low_price: Option<Decimal>,
    pub close_price: Decimal,
    pub adj_close_price: Option<Decimal>,
    pub volume: Option<i64>,
}

impl From<PriceRow> for Bar {
    /// The row without its instrument id, which the answer gives once.
    fn from(row: PriceRow) -> Self {
        Self {
            trade_date: row.trade_date,
            open_price: row.open_price,
            high_price: row.high_price,
            low_price: row.low_price,
            close_price: row.close_price,
            adj_close_price: row.adj_close_price,
            volume: row.volume,
        }
    }
}

/// `GET /api/v1/instruments/{ticker}/prices?from=DATE&to=DATE[&exchange=X]`: the instrument and
/// its stored bars from `from` through `to`, in date order (`foresto::series::prices`, which
/// scans only the monthly partitions of the range).
///
/// # Errors
/// 404 for an unknown ticker (on that exchange); 422 for a missing or bad date, `from` after
/// `to`, an unknown parameter, or a ticker listed on several exchanges without `exchange`; 503
/// when the database cannot be reached.
pub async fn prices(
    State(state): State<AppState>,
    ticker: Result<Path<String>, PathRejection>,
    query: Result<Query<PriceQuery>, QueryRejection>,
) -> Result<Json<PriceSeries>, ApiError> {
    let Path(ticker) = ticker?;
    let Query(query) = query?;
    let ticker = input::identifier("ticker", &ticker)?;
    let exchange = query
        .exchange
        .as_deref()
        .map(|e| input::identifier("exchange", e))
        .transpose()?;
    let range = DateRange::new(
        input::date("from", query.from)?,
        input::date("to", query.to)?,
    )?;
    let instrument = foresto::instruments::find_by_ticker(&state.db, ticker, exchange).await?;
    let prices = series::prices(&state.db, &[instrument.instrument_id], range)
        .await?
        .into_iter()
        .map(Bar::from)
        .collect();
    Ok(Json(PriceSeries {
        instrument,
        from: range.from,
        to: range.to,
        prices,
    }))
}
