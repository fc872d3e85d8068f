//! The simulation service: a request (a scenario, or a portfolio given directly) in, a stored
//! run out (from the cache when it has one).

use chrono::NaiveDate;
use entity::enums::RebalanceFreq;
use entity::{portfolio_allocation, portfolio_model};
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryResult, QuerySelect,
};

use super::cache::get_or_compute;
use super::portfolio;
use super::request::{SimulationRequest, Subject};
use super::store::{ComputedRun, StoredRun};
use crate::engine::{
    self, EngineError, PathPoint, PortfolioVersion, ReturnRow, SimulationInput, StoredPathPoint,
    Weight,
};
use crate::error::{Error, Result, ScenarioError, SimulationError};
use crate::scenarios;
use crate::series::{RETURN_SCALE, read};
use crate::settings::Settings;

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

/// Simulates `request` or serves the stored run of an identical request (see
/// [`get_or_compute`]: concurrent calls on one pool queue, each miss on one connection). On a
/// miss: loads the portfolio versions — for a scenario, the version in force on the start date
/// and those taking effect inside the window; for a portfolio given directly, its weights
/// resolved to instruments, in force from the start date — and the daily returns of their
/// instruments in the window, runs [`engine::simulate`], makes the `simulation_path` partitions
/// of the path's months within `settings.partitions` (a month that has one already is used
/// whatever the window), and stores the run for `settings.cache.ttl` with the request JSON as
/// `request_params`. A scenario run records `portfolio_id` = the version in force at the start
/// and `rebalance_freq` = the request's or else that version's; a portfolio run has no
/// `scenario_id` or `portfolio_id`, and is rebalanced at the request's frequency (none when it
/// names none).
///
/// The loss-limit verdict is taken on the stored path (drawdown at 8 decimals) by
/// [`engine::first_loss_breach`], so a hit and the miss that stored it agree.
///
/// # Errors
/// Bad requests store nothing and fail with [`SimulationError::InvalidDateRange`],
/// [`SimulationError::InvalidAmount`], [`SimulationError::RiskFreeRateOutOfRange`],
/// [`SimulationError::LossLimitOutOfRange`], [`Error::InvalidInput`] (an engine version other
/// than this engine's), [`ScenarioError::ScenarioNotFound`],
/// [`ScenarioError::NoPortfolioInForce`], [`SimulationError::NoReturnsInWindow`]; a portfolio's
/// weights with the errors of [`scenarios::validate_weights`] and
/// [`scenarios::resolve_distinct`] (weight out of range or too precise, sum above 1.0001,
/// unknown or ambiguous ticker, one instrument named twice); a path needing partitions outside
/// `settings.partitions.window` or more than its `max_new` with
/// [`PartitionError::OutsideWindow`](crate::PartitionError::OutsideWindow) or
/// [`PartitionError::TooManyPartitions`](crate::PartitionError::TooManyPartitions), storing
/// nothing and creating no partition; also [`Error::Simulation`] for figures the engine cannot
/// produce or store, and the errors of [`get_or_compute`].
#[tracing::instrument(skip(db, settings))]
pub async fn simulate(
    db: &DatabaseConnection,
    request: &SimulationRequest,
    settings: &Settings,
) -> Result<SimulationOutcome> {
    validate(request, settings)?;
    let cached = get_or_compute(
        db,
        request,
        &settings.cache,
        &settings.partitions,
        async |conn| compute(conn, request).await,
    )
    .await?;
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
fn validate(request: &SimulationRequest, settings: &Settings) -> Result<()> {
    if request.end_date <= request.start_date {
        return Err(Error::Simulation(SimulationError::InvalidDateRange {
            start_date: request.start_date,
            end_date: request.end_date,
        }));
    }
    let amount = request.initial_amount;
    if amount <= Decimal::ZERO || amount >= amount_limit() || amount.normalize().scale() > 2 {
        return Err(Error::Simulation(SimulationError::InvalidAmount { amount }));
    }
    let rate = request.risk_free_rate;
    if rate.abs() > Decimal::ONE {
        return Err(Error::Simulation(SimulationError::RiskFreeRateOutOfRange {
            rate,
        }));
    }
    if let Some(pct) = request.max_loss_limit_pct
        && (pct <= Decimal::ZERO || pct > Decimal::ONE_HUNDRED || pct.normalize().scale() > 2)
    {
        return Err(Error::Simulation(SimulationError::LossLimitOutOfRange {
            pct,
        }));
    }
    let running = settings.engine_version();
    if request.engine_version != running {
        return Err(Error::invalid(
            "engine_version",
            format!(
                "the request is for engine {}, this is engine {running}",
                request.engine_version
            ),
        ));
    }
    if let Subject::Portfolio { weights } = &request.subject {
        portfolio::allocations(weights)?;
    }
    Ok(())
}

/// What a request simulates, as the engine and the run row take it.
struct Holdings {
    versions: Vec<PortfolioVersion>,
    /// The stored version in force on the start date (none for a portfolio given directly).
    portfolio_id: Option<i64>,
    /// The frequency used when the request names none.
    own_rebalance: Option<RebalanceFreq>,
}

/// The versions of `scenario_id` that a simulation of the request's window uses.
async fn scenario_holdings<C: ConnectionTrait>(
    db: &C,
    scenario_id: &str,
    request: &SimulationRequest,
) -> Result<Holdings> {
    scenarios::find(db, scenario_id).await?;
    let models =
        scenarios::versions_for_window(db, scenario_id, request.start_date, request.end_date)
            .await?;
    let in_force = &models[0];
    Ok(Holdings {
        versions: load_versions(db, &models).await?,
        portfolio_id: Some(in_force.portfolio_id),
        own_rebalance: in_force.rebalance_freq,
    })
}

/// Loads the inputs of a request, runs the engine and converts to column scale; the extra value
/// is the engine's count of filled returns. Every read goes to `db`, the cache's transaction.
async fn compute<C: ConnectionTrait>(
    db: &C,
    request: &SimulationRequest,
) -> Result<(ComputedRun, u32)> {
    let mut holdings = match &request.subject {
        Subject::Scenario { scenario_id } => scenario_holdings(db, scenario_id, request).await?,
        Subject::Portfolio { weights } => Holdings {
            versions: vec![portfolio::version(db, weights, request.start_date).await?],
            portfolio_id: None,
            own_rebalance: None,
        },
    };
    // The engine adds holdings up in weight order, and a float sum depends on its order: in
    // instrument order, weights written in any order (which hash alike) give the same figures,
    // and a portfolio the same as a scenario holding its weights.
    for version in &mut holdings.versions {
        version.weights.sort_by_key(|w| w.instrument_id);
    }
    let instruments = engine::instruments_of(&holdings.versions);
    let returns = load_returns(db, &instruments, request.start_date, request.end_date).await?;
    let no_returns = || {
        Error::Simulation(SimulationError::NoReturnsInWindow {
            start_date: request.start_date,
            end_date: request.end_date,
        })
    };
    if returns.is_empty() {
        return Err(no_returns());
    }
    let rebalance = request
        .rebalance_freq
        .or(holdings.own_rebalance)
        .unwrap_or(RebalanceFreq::None);
    let output = engine::simulate(&SimulationInput {
        versions: &holdings.versions,
        returns: &returns,
        start_date: request.start_date,
        end_date: request.end_date,
        initial_amount: to_f64(request.initial_amount),
        rebalance,
        risk_free_rate: to_f64(request.risk_free_rate),
    })
    .map_err(|e| match (e, &request.subject) {
        (EngineError::NoReturns | EngineError::NoTradingDays { .. }, _) => no_returns(),
        (EngineError::NoVersionInForce { start_date, .. }, Subject::Scenario { scenario_id }) => {
            Error::Scenario(ScenarioError::NoPortfolioInForce {
                scenario_id: scenario_id.clone(),
                date: start_date,
            })
        }
        (other, _) => other.into(),
    })?;
    let summary = output.summary.to_stored().map_err(Error::from)?;
    let path = output
        .path
        .iter()
        .map(PathPoint::to_stored)
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::from)?;
    let computed = ComputedRun {
        portfolio_id: holdings.portfolio_id,
        rebalance_freq: Some(rebalance),
        // The instruments read, so that a correction of their returns expires the run.
        instrument_ids: instruments,
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

/// The returns a simulation reads: $1 distinct instrument ids, $2 first date, $3 last date;
/// each return as its count of units of 10^-[`RETURN_SCALE`] ([`read::scaled`]).
///
/// Through the schema's `daily_return_range` (see `crate::series::read`): one statement for
/// every window, planned once per connection, the partitions outside the window pruned when it
/// runs.
fn returns_sql() -> String {
    format!(
        "SELECT instrument_id, trade_date, {}
           FROM daily_return_range($1, $2, $3)
          -- A MISSING row holds a placeholder 0, not a return: left out, the engine fills and
          -- counts it like any other gap.
          WHERE data_quality IS DISTINCT FROM 'MISSING'",
        read::scaled("daily_return", RETURN_SCALE)
    )
}

/// A row of [`returns_sql`], the return as the f64 nearest to the stored decimal: the units and
/// 10^scale are exact doubles (|units| < 10^12 < 2^53), and a division rounds correctly, as
/// [`to_f64`] and PostgreSQL's own `float8` conversion do. PostgreSQL converts a `NUMERIC` to
/// `float8` through its decimal text, which cost the read a third of its time.
struct StoredReturn(ReturnRow);

impl FromQueryResult for StoredReturn {
    // By position: the statement is ours, and a read of thousands of rows should not look each
    // column up by name in every row.
    fn from_query_result(row: &QueryResult, _pre: &str) -> std::result::Result<Self, DbErr> {
        let (instrument_id, date, units): (i64, NaiveDate, i64) = row.try_get_many_by_index()?;
        #[allow(clippy::cast_precision_loss)] // |units| < 2^53: exact
        let daily_return = units as f64 / 10_f64.powi(RETURN_SCALE as i32);
        Ok(Self(ReturnRow {
            instrument_id,
            date,
            daily_return,
        }))
    }
}

/// The `daily_return` rows of `instruments` from `start` through `end` (both included) that a
/// simulation reads, as the engine's rows: every return except MISSING ones (their stored 0 is
/// a placeholder; the engine fills and counts them like any other gap), in no particular order.
/// An id given twice is read once. One statement on `db`: given a transaction, it reads that
/// transaction's snapshot and leaves it as it was.
///
/// # Errors
/// Database errors.
pub async fn load_returns<C: ConnectionTrait>(
    db: &C,
    instruments: &[i64],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<ReturnRow>> {
    let values = vec![
        read::distinct_ids(instruments).into(),
        start.into(),
        end.into(),
    ];
    let rows: Vec<StoredReturn> = read::rows(db, &returns_sql(), values).await?;
    Ok(rows.into_iter().map(|StoredReturn(row)| row).collect())
}

/// The f64 nearest to `value`. (Going through the text form rounds correctly;
/// `Decimal::to_f64` can be an ulp off.)
pub(super) fn to_f64(value: Decimal) -> f64 {
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
            crate::settings::DEFAULT_ENGINE_VERSION,
        }))
        .unwrap()
    }

    #[test]
    fn every_bad_scalar_has_its_own_error() {
        validate(&request(), &Settings::default()).unwrap();
        let check = |f: &dyn Fn(&mut SimulationRequest)| {
            let mut r = request();
            f(&mut r);
            validate(&r, &Settings::default()).unwrap_err()
        };
        assert!(matches!(
            check(&|r| r.end_date = r.start_date),
            Error::Simulation(SimulationError::InvalidDateRange { .. })
        ));
        for amount in ["0", "-1", "0.001", "10000000000000000"] {
            assert!(
                matches!(
                    check(&|r| r.initial_amount = amount.parse().unwrap()),
                    Error::Simulation(SimulationError::InvalidAmount { .. })
                ),
                "{amount}"
            );
        }
        assert!(matches!(
            check(&|r| r.risk_free_rate = Decimal::new(11, 1)),
            Error::Simulation(SimulationError::RiskFreeRateOutOfRange { .. })
        ));
        for pct in ["0", "100.01", "5.125"] {
            assert!(
                matches!(
                    check(&|r| r.max_loss_limit_pct = Some(pct.parse().unwrap())),
                    Error::Simulation(SimulationError::LossLimitOutOfRange { .. })
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
