//! The managed scenarios: the list, and one scenario with the portfolio in force on a date.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use chrono::NaiveDate;
use entity::enums::{AssetClass, RebalanceFreq};
use entity::scenario_definition;
use foresto::scenarios::{Holding, ScenarioDetail, VersionDetail};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState, input};

/// `GET /api/v1/scenarios`.
#[derive(Debug, Serialize)]
pub struct ScenarioList {
    /// Every column of each active scenario, in display order.
    pub scenarios: Vec<scenario_definition::Model>,
}

/// `GET /api/v1/scenarios/{id}`.
#[derive(Debug, Serialize)]
pub struct ScenarioView {
    /// Every column of the scenario, its disclaimer among them.
    pub scenario: scenario_definition::Model,
    pub as_of: NaiveDate,
    /// The version in force on `as_of`; `null` when none is.
    pub portfolio: Option<PortfolioView>,
}

/// A portfolio version and its holdings, largest weight first.
#[derive(Debug, Serialize)]
pub struct PortfolioView {
    pub portfolio_id: i64,
    pub portfolio_name: String,
    pub effective_date: NaiveDate,
    /// `null` while the version is the scenario's latest.
    pub expiry_date: Option<NaiveDate>,
    pub rebalance_freq: Option<RebalanceFreq>,
    pub holdings: Vec<HoldingView>,
}

/// One instrument of a portfolio version and its weight (a fraction, as a string).
#[derive(Debug, Serialize)]
pub struct HoldingView {
    pub instrument_id: i64,
    pub ticker: String,
    pub exchange: String,
    pub name_en: Option<String>,
    pub asset_class: Option<AssetClass>,
    pub weight: Decimal,
}

/// The query of `GET /api/v1/scenarios/{id}`; an unknown parameter is refused, not ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailQuery {
    /// Default: today (UTC).
    as_of: Option<NaiveDate>,
}

/// `GET /api/v1/scenarios`: the active scenarios in display order.
///
/// # Errors
/// 503 when the database cannot be reached.
pub async fn list(State(state): State<AppState>) -> Result<Json<ScenarioList>, ApiError> {
    let scenarios = foresto::scenarios::list_active(&state.db).await?;
    Ok(Json(ScenarioList { scenarios }))
}

/// `GET /api/v1/scenarios/{id}[?as_of=DATE]`: the scenario (active or not) with the portfolio
/// version in force on `as_of` and its holdings.
///
/// # Errors
/// 404 for an unknown scenario; 422 for a bad `as_of`, an unknown parameter or an id with
/// control characters; 503 when the database cannot be reached.
pub async fn detail(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<DetailQuery>, QueryRejection>,
) -> Result<Json<ScenarioView>, ApiError> {
    let Path(id) = id?;
    let Query(query) = query?;
    let id = input::identifier("scenario_id", &id)?;
    let as_of = match query.as_of {
        Some(date) => input::date("as_of", date)?,
        None => chrono::Utc::now().date_naive(),
    };
    let detail = foresto::scenarios::detail(&state.db, id, as_of).await?;
    Ok(Json(ScenarioView::from(detail)))
}

impl From<ScenarioDetail> for ScenarioView {
    fn from(detail: ScenarioDetail) -> Self {
        Self {
            scenario: detail.scenario,
            as_of: detail.as_of,
            portfolio: detail.portfolio.map(PortfolioView::from),
        }
    }
}

impl From<VersionDetail> for PortfolioView {
    fn from(
        VersionDetail {
            portfolio,
            holdings,
        }: VersionDetail,
    ) -> Self {
        Self {
            portfolio_id: portfolio.portfolio_id,
            portfolio_name: portfolio.portfolio_name,
            effective_date: portfolio.effective_date,
            expiry_date: portfolio.expiry_date,
            rebalance_freq: portfolio.rebalance_freq,
            holdings: holdings.into_iter().map(HoldingView::from).collect(),
        }
    }
}

impl From<Holding> for HoldingView {
    fn from(
        Holding {
            allocation,
            instrument,
        }: Holding,
    ) -> Self {
        Self {
            instrument_id: instrument.instrument_id,
            ticker: instrument.ticker,
            exchange: instrument.exchange,
            name_en: instrument.name_en,
            asset_class: allocation.asset_class,
            weight: allocation.weight,
        }
    }
}
