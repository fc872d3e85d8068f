//! Backtests: simulating a scenario or a portfolio of weights (served from the result cache when
//! an identical request is stored), and reading a stored run's path.

use std::fmt;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use chrono::NaiveDate;
use entity::enums::RebalanceFreq;
use entity::simulation_summary;
use foresto::engine::StoredPathPoint;
use foresto::simulation::request::InstrumentWeight;
use foresto::simulation::{RunKey, SimulationOutcome, SimulationRequest, Subject, runs};
use foresto::{Error, Settings};
use rust_decimal::Decimal;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState, input};

/// The body of both backtest routes: the subject (`scenario_id` for the scenario route,
/// `weights` for the portfolio route) and the window. Decimals may be strings or numbers;
/// unknown fields are refused, not ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BacktestBody {
    #[serde(default)]
    scenario_id: Option<String>,
    #[serde(default)]
    weights: Option<Weights>,
    start_date: NaiveDate,
    end_date: NaiveDate,
    initial_amount: Decimal,
    /// `NONE`, `MONTHLY`, `QUARTERLY` or `ANNUAL`; default: the scenario portfolio's own (none
    /// for weights).
    #[serde(default)]
    rebalance_freq: Option<RebalanceFreq>,
    /// Annual, as a fraction; default 0.
    #[serde(default)]
    risk_free_rate: Option<Decimal>,
    /// Percent of the high-water mark; default: no limit.
    #[serde(default)]
    max_loss_limit_pct: Option<Decimal>,
}

/// `{"SPY": "0.6", "TLT": "0.4"}`, kept as written: every pair in order, a repeated instrument
/// included, so that the library refuses it rather than one weight silently replacing another.
#[derive(Debug)]
struct Weights(Vec<InstrumentWeight>);

impl<'de> Deserialize<'de> for Weights {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Weights;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"an object of instrument to weight, e.g. {"SPY": "0.6"}"#)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Weights, A::Error> {
                let mut weights = Vec::with_capacity(map.size_hint().unwrap_or_default());
                while let Some((instrument, weight)) = map.next_entry()? {
                    weights.push(InstrumentWeight { instrument, weight });
                }
                Ok(Weights(weights))
            }
        }
        deserializer.deserialize_map(Pairs)
    }
}

/// Which backtest route a body came to.
#[derive(Debug, Clone, Copy)]
enum Route {
    Scenario,
    Portfolio,
}

impl BacktestBody {
    /// The simulation request this body asks `route` for, on the running engine's version.
    fn into_request(self, route: Route, settings: &Settings) -> Result<SimulationRequest, Error> {
        let subject = match (route, self.scenario_id, self.weights) {
            (Route::Scenario, Some(scenario_id), None) => Subject::Scenario {
                scenario_id: input::identifier("scenario_id", &scenario_id)?.to_owned(),
            },
            (Route::Portfolio, None, Some(Weights(weights))) => {
                for w in &weights {
                    input::identifier("weights", &w.instrument)?;
                }
                Subject::Portfolio { weights }
            }
            (Route::Scenario, _, Some(_)) => {
                return Err(Error::invalid(
                    "weights",
                    "not taken here; POST /api/v1/backtest/portfolio simulates weights",
                ));
            }
            (Route::Portfolio, Some(_), _) => {
                return Err(Error::invalid(
                    "scenario_id",
                    "not taken here; POST /api/v1/backtest/scenario simulates a scenario",
                ));
            }
            (Route::Scenario, None, None) => {
                return Err(Error::invalid("scenario_id", "is required"));
            }
            (Route::Portfolio, None, None) => return Err(Error::invalid("weights", "is required")),
        };
        Ok(SimulationRequest {
            subject,
            start_date: input::date("start_date", self.start_date)?,
            end_date: input::date("end_date", self.end_date)?,
            initial_amount: self.initial_amount,
            rebalance_freq: self.rebalance_freq,
            risk_free_rate: self.risk_free_rate.unwrap_or_default(),
            max_loss_limit_pct: self.max_loss_limit_pct,
            engine_version: settings.engine_version().to_owned(),
            user_id: None,
        })
    }
}

/// The answer of both backtest routes.
#[derive(Debug, Serialize)]
pub struct BacktestResult {
    pub run_id: i64,
    pub request_hash: String,
    /// Served from the result store without computing.
    pub cache_hit: bool,
    /// Every column of `simulation_summary`; figures in percent as strings.
    pub summary: simulation_summary::Model,
    /// `null` when the request set no `max_loss_limit_pct`.
    pub loss_limit_breached: Option<bool>,
    pub first_breach_date: Option<NaiveDate>,
}

impl From<SimulationOutcome> for BacktestResult {
    fn from(outcome: SimulationOutcome) -> Self {
        Self {
            run_id: outcome.stored.run.run_id,
            request_hash: outcome.stored.run.request_hash,
            cache_hit: outcome.cache_hit,
            summary: outcome.stored.summary,
            loss_limit_breached: outcome.loss_limit_breached,
            first_breach_date: outcome.first_breach_date,
        }
    }
}

/// `POST /api/v1/backtest/scenario`: simulates `scenario_id` with its portfolio versions over
/// the window, or serves the stored run of an identical request. A refused request stores
/// nothing.
///
/// # Errors
/// 400 for a body that is not JSON; 404 for an unknown scenario; 422 for a body of the wrong
/// shape (missing or unknown field, bad date, decimal or rebalance value, `weights` given),
/// reversed dates, an amount not positive, a rate or loss limit out of range, a window without
/// a portfolio in force or without returns; 503 when the database cannot be reached or the same
/// request stays busy elsewhere.
pub async fn scenario(
    State(state): State<AppState>,
    body: Result<Json<BacktestBody>, JsonRejection>,
) -> Result<Json<BacktestResult>, ApiError> {
    backtest(&state, body?.0, Route::Scenario).await
}

/// `POST /api/v1/backtest/portfolio`: simulates the portfolio `weights` (instrument — a ticker
/// or `id:<N>` — to weight; the rest of 1 is cash) over the window, as the scenario route does.
///
/// # Errors
/// As [`scenario`], with 404 for an unknown instrument and 422 for bad weights (a weight out of
/// 0..=1 or with more than 4 decimals, a sum above 1, an instrument twice, an ambiguous ticker,
/// `scenario_id` given).
pub async fn portfolio(
    State(state): State<AppState>,
    body: Result<Json<BacktestBody>, JsonRejection>,
) -> Result<Json<BacktestResult>, ApiError> {
    backtest(&state, body?.0, Route::Portfolio).await
}

async fn backtest(
    state: &AppState,
    body: BacktestBody,
    route: Route,
) -> Result<Json<BacktestResult>, ApiError> {
    let request = body.into_request(route, &state.settings)?;
    let outcome = foresto::simulation::simulate(&state.db, &request, &state.settings).await?;
    Ok(Json(outcome.into()))
}

/// `GET /api/v1/backtest/scenario/{run_id}/path`.
#[derive(Debug, Serialize)]
pub struct RunPath {
    pub run_id: i64,
    /// One point per trading date, in date order; empty for a run that never completed.
    pub path: Vec<StoredPathPoint>,
}

/// `GET /api/v1/backtest/scenario/{run_id}/path`: the stored path of a run, named by its id or
/// its 64-digit request hash (any run: a portfolio run's path is read here too).
///
/// # Errors
/// 404 for an unknown run; 422 for a key that is neither an id nor a hash; 503 when the
/// database cannot be reached.
pub async fn path(
    State(state): State<AppState>,
    run: Result<Path<String>, PathRejection>,
) -> Result<Json<RunPath>, ApiError> {
    let Path(run) = run?;
    let key: RunKey = run.parse()?;
    let run = runs::find(&state.db, &key).await?;
    let path = runs::path(&state.db, run.run_id).await?;
    Ok(Json(RunPath {
        run_id: run.run_id,
        path,
    }))
}
