//! The simulation service: a scenario request in, a stored run out (from the cache when it has
//! one).

use chrono::NaiveDate;
use entity::enums::{DataQuality, RebalanceFreq};
use entity::{daily_return, portfolio_allocation, portfolio_model};
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect,
};

use super::cache::{CachePolicy, get_or_compute};
use super::request::{SimulationRequest, Subject};
use super::store::{ComputedRun, StoredRun};
use crate::engine::{
    self, EngineError, PathPoint, PortfolioVersion, ReturnRow, SimulationInput, StoredPathPoint,
    Weight,
};
use crate::error::{Error, Result};
use crate::scenarios;

/// A simulation's stored run and what it says about the request's loss limit.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationOutcome {
    pub stored: StoredRun,
    /// Served from the store without computing.
    pub cache_hit: bool,
    /// Whether the path's loss from its high-water mark exceeded the request's
    /// `max_loss_limit_pct`; `None` when the request has no limit.
    pub loss_limit_breached: Option<bool>,
    /// The first date it did.
    pub first_breach_date: Option<NaiveDate>,
    /// Missing (date, held instrument) returns taken as 0 — known only when computed now
    /// (`None` on a cache hit: the schema has no column for it).
    pub filled_returns: Option<u32>,
}

/// Simulates `request` — a scenario with its portfolio versions — or serves the stored run of
/// an identical request (see [`get_or_compute`]). On a miss: loads the version in force on the
/// start date and those taking effect inside the window, their allocations and the daily
/// returns of their instruments in the window, runs [`engine::simulate`], and stores the run
/// (with `portfolio_id` = the version in force at the start, `rebalance_freq` = the request's or
/// else that version's, the request JSON as `request_params`) for `policy.ttl`.
///
/// The loss-limit verdict is taken on the stored path (drawdown at 8 decimals) by
/// [`engine::first_loss_breach`], so a hit and the miss that stored it agree.
///
/// # Errors
/// Bad requests store nothing and fail with [`Error::InvalidDateRange`],
/// [`Error::InvalidAmount`], [`Error::RiskFreeRateOutOfRange`], [`Error::LossLimitOutOfRange`],
/// [`Error::InvalidInput`] (an engine version other than this engine's, a portfolio request),
/// [`Error::ScenarioNotFound`], [`Error::NoPortfolioInForce`], [`Error::NoReturnsInWindow`];
/// also [`Error::Simulation`] for figures the engine cannot produce or store, and the errors of
/// [`get_or_compute`].
#[tracing::instrument(skip(db, policy))]
pub async fn simulate(
    db: &DatabaseConnection,
    request: &SimulationRequest,
    policy: &CachePolicy,
) -> Result<SimulationOutcome> {
    validate(request)?;
    let Subject::Scenario { scenario_id } = &request.subject else {
        return Err(Error::invalid(
            "request_type",
            "only scenario requests can be simulated",
        ));
    };
    let cached = get_or_compute(db, request, policy, || compute(db, scenario_id, request)).await?;
    let first_breach_date = request.max_loss_limit_pct.and_then(|limit| {
        let path: Vec<PathPoint> = cached.stored.path.iter().map(engine_point).collect();
        engine::first_loss_breach(&path, to_f64(limit))
    });
    Ok(SimulationOutcome {
        cache_hit: cached.cache_hit(),
        loss_limit_breached: request
            .max_loss_limit_pct
            .map(|_| first_breach_date.is_some()),
        first_breach_date,
        filled_returns: cached.computed,
        stored: cached.stored,
    })
}

/// Largest `initial_amount` `numeric(18,2)` holds, exclusive: 10^16.
fn amount_limit() -> Decimal {
    Decimal::from(10_i64.pow(16))
}

/// The checks that need no database.
fn validate(request: &SimulationRequest) -> Result<()> {
    if request.end_date <= request.start_date {
        return Err(Error::InvalidDateRange {
            start_date: request.start_date,
            end_date: request.end_date,
        });
    }
    let amount = request.initial_amount;
    if amount <= Decimal::ZERO || amount >= amount_limit() || amount.normalize().scale() > 2 {
        return Err(Error::InvalidAmount { amount });
    }
    let rate = request.risk_free_rate;
    if rate.abs() > Decimal::ONE {
        return Err(Error::RiskFreeRateOutOfRange { rate });
    }
    if let Some(pct) = request.max_loss_limit_pct
        && (pct <= Decimal::ZERO || pct > Decimal::ONE_HUNDRED || pct.normalize().scale() > 2)
    {
        return Err(Error::LossLimitOutOfRange { pct });
    }
    let running = crate::config::engine_version()?;
    if request.engine_version != running {
        return Err(Error::invalid(
            "engine_version",
            format!(
                "the request is for engine {}, this is engine {running}",
                request.engine_version
            ),
        ));
    }
    Ok(())
}

/// Loads the inputs of a scenario request, runs the engine and converts to column scale; the
/// extra value is the engine's count of filled returns.
async fn compute(
    db: &DatabaseConnection,
    scenario_id: &str,
    request: &SimulationRequest,
) -> Result<(ComputedRun, u32)> {
    scenarios::find(db, scenario_id).await?;
    let models =
        scenarios::versions_for_window(db, scenario_id, request.start_date, request.end_date)
            .await?;
    let versions = load_versions(db, &models).await?;
    let instruments = engine::instruments_of(&versions);
    let returns = load_returns(db, &instruments, request.start_date, request.end_date).await?;
    let no_returns = || Error::NoReturnsInWindow {
        start_date: request.start_date,
        end_date: request.end_date,
    };
    if returns.is_empty() {
        return Err(no_returns());
    }
    let in_force = &models[0];
    let rebalance = request
        .rebalance_freq
        .or(in_force.rebalance_freq)
        .unwrap_or(RebalanceFreq::None);
    let output = engine::simulate(&SimulationInput {
        versions: &versions,
        returns: &returns,
        start_date: request.start_date,
        end_date: request.end_date,
        initial_amount: to_f64(request.initial_amount),
        rebalance,
        risk_free_rate: to_f64(request.risk_free_rate),
    })
    .map_err(|e| match e {
        EngineError::NoReturns | EngineError::NoTradingDays { .. } => no_returns(),
        EngineError::NoVersionInForce { start_date, .. } => Error::NoPortfolioInForce {
            scenario_id: scenario_id.to_owned(),
            date: start_date,
        },
        other => Error::Simulation(other),
    })?;
    let summary = output.summary.to_stored().map_err(Error::Simulation)?;
    let path = output
        .path
        .iter()
        .map(PathPoint::to_stored)
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::Simulation)?;
    let computed = ComputedRun {
        portfolio_id: Some(in_force.portfolio_id),
        rebalance_freq: Some(rebalance),
        summary,
        path,
    };
    Ok((computed, output.filled_returns))
}

/// The engine's view of portfolio versions: their weights as fractions.
async fn load_versions<C: ConnectionTrait>(
    db: &C,
    models: &[portfolio_model::Model],
) -> Result<Vec<PortfolioVersion>> {
    let ids: Vec<i64> = models.iter().map(|m| m.portfolio_id).collect();
    let rows: Vec<(i64, i64, Decimal)> = portfolio_allocation::Entity::find()
        .select_only()
        .columns([
            portfolio_allocation::Column::PortfolioId,
            portfolio_allocation::Column::InstrumentId,
            portfolio_allocation::Column::Weight,
        ])
        .filter(portfolio_allocation::Column::PortfolioId.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(models
        .iter()
        .map(|m| PortfolioVersion {
            portfolio_id: m.portfolio_id,
            effective_date: m.effective_date,
            weights: rows
                .iter()
                .filter(|(portfolio_id, ..)| *portfolio_id == m.portfolio_id)
                .map(|&(_, instrument_id, weight)| Weight {
                    instrument_id,
                    weight: to_f64(weight),
                })
                .collect(),
        })
        .collect())
}

/// The `daily_return` rows of `instruments` from `start` through `end`, except MISSING ones.
async fn load_returns<C: ConnectionTrait>(
    db: &C,
    instruments: &[i64],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<ReturnRow>> {
    let rows: Vec<(i64, NaiveDate, Decimal)> = daily_return::Entity::find()
        .select_only()
        .columns([
            daily_return::Column::InstrumentId,
            daily_return::Column::TradeDate,
            daily_return::Column::DailyReturn,
        ])
        .filter(daily_return::Column::InstrumentId.is_in(instruments.iter().copied()))
        .filter(daily_return::Column::TradeDate.between(start, end))
        // A MISSING row holds a placeholder 0, not a return: leaving it out makes the engine
        // fill and count it like any other gap.
        .filter(
            Condition::any()
                .add(daily_return::Column::DataQuality.is_null())
                .add(daily_return::Column::DataQuality.ne(DataQuality::Missing)),
        )
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(instrument_id, date, value)| ReturnRow {
            instrument_id,
            date,
            daily_return: to_f64(value),
        })
        .collect())
}

/// The f64 nearest to `value`. (Going through the text form rounds correctly;
/// `Decimal::to_f64` can be an ulp off.)
fn to_f64(value: Decimal) -> f64 {
    value
        .to_string()
        .parse()
        .expect("a decimal's text is a valid float")
}

/// A stored path point as the engine's [`PathPoint`]; a NULL figure becomes NaN, which no
/// comparison matches.
fn engine_point(point: &StoredPathPoint) -> PathPoint {
    let figure = |value: Option<Decimal>| value.map_or(f64::NAN, to_f64);
    PathPoint {
        date: point.date,
        nav: to_f64(point.nav),
        daily_return: figure(point.daily_return),
        cumulative_return: figure(point.cumulative_return),
        drawdown: figure(point.drawdown),
        high_water_mark: figure(point.high_water_mark),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SimulationRequest {
        serde_json::from_value(serde_json::json!({
            "request_type": "scenario", "scenario_id": "GROWTH", "start_date": "2024-01-01",
            "end_date": "2024-12-31", "initial_amount": "1000", "engine_version":
            crate::config::engine_version().unwrap(),
        }))
        .unwrap()
    }

    #[test]
    fn every_bad_scalar_has_its_own_error() {
        validate(&request()).unwrap();
        let check = |f: &dyn Fn(&mut SimulationRequest)| {
            let mut r = request();
            f(&mut r);
            validate(&r).unwrap_err()
        };
        assert!(matches!(
            check(&|r| r.end_date = r.start_date),
            Error::InvalidDateRange { .. }
        ));
        for amount in ["0", "-1", "0.001", "10000000000000000"] {
            assert!(
                matches!(
                    check(&|r| r.initial_amount = amount.parse().unwrap()),
                    Error::InvalidAmount { .. }
                ),
                "{amount}"
            );
        }
        assert!(matches!(
            check(&|r| r.risk_free_rate = Decimal::new(11, 1)),
            Error::RiskFreeRateOutOfRange { .. }
        ));
        for pct in ["0", "100.01", "5.125"] {
            assert!(
                matches!(
                    check(&|r| r.max_loss_limit_pct = Some(pct.parse().unwrap())),
                    Error::LossLimitOutOfRange { .. }
                ),
                "{pct}"
            );
        }
        assert!(matches!(
            check(&|r| r.engine_version = "0.0.1".into()),
            Error::InvalidInput {
                field: "engine_version",
                ..
            }
        ));
    }

    #[test]
    fn decimals_convert_to_the_nearest_float() {
        assert_eq!(to_f64(Decimal::new(1, 1)), 0.1);
        assert_eq!(to_f64(Decimal::new(-12_345_678, 8)), -0.12345678);
    }
}
