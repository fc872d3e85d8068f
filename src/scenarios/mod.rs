//! Scenarios, portfolio versions and their allocations.
//!
//! A scenario's portfolio is versioned by date: the version *in force* on a date `d` is the one
//! with `effective_date ≤ d` and (`expiry_date` NULL or `d ≤ expiry_date`). New versions are
//! added with [`set_portfolio_version`], which closes the previous one the day before.

mod lookup;
mod seed;
mod versions;
mod weights;

use chrono::NaiveDate;
use entity::{instrument_master, portfolio_allocation, portfolio_model, scenario_definition};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use crate::error::{Error, Result, ScenarioError};

pub use lookup::{resolve, resolve_distinct};
pub use seed::{SeedMapping, SeedStatus, seed_scenario_portfolios};
pub use versions::{CreatedVersion, NewVersion, set_portfolio_version};
pub use weights::{InstrumentRef, NewAllocation, WEIGHT_SCALE, max_weight_sum, validate_weights};

/// One allocation of a portfolio version with its instrument.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Holding {
    pub allocation: portfolio_allocation::Model,
    pub instrument: instrument_master::Model,
}

/// A portfolio version and its holdings, largest weight first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionDetail {
    pub portfolio: portfolio_model::Model,
    pub holdings: Vec<Holding>,
}

/// A scenario and the portfolio version in force on `as_of` (if any).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioDetail {
    pub scenario: scenario_definition::Model,
    pub as_of: NaiveDate,
    pub portfolio: Option<VersionDetail>,
}

/// The active scenarios in `display_order` (then id, so that ties list stably).
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip(db))]
pub async fn list_active<C: ConnectionTrait>(db: &C) -> Result<Vec<scenario_definition::Model>> {
    Ok(scenario_definition::Entity::find()
        .filter(scenario_definition::Column::IsActive.eq(true))
        .order_by_asc(scenario_definition::Column::DisplayOrder)
        .order_by_asc(scenario_definition::Column::ScenarioId)
        .all(db)
        .await?)
}

/// The scenario `scenario_id`, active or not.
///
/// # Errors
/// [`ScenarioError::ScenarioNotFound`] when there is none.
#[tracing::instrument(skip(db))]
pub async fn find<C: ConnectionTrait>(
    db: &C,
    scenario_id: &str,
) -> Result<scenario_definition::Model> {
    scenario_definition::Entity::find_by_id(scenario_id)
        .one(db)
        .await?
        .ok_or_else(|| scenario_not_found(scenario_id))
}

fn scenario_not_found(scenario_id: &str) -> Error {
    Error::Scenario(ScenarioError::ScenarioNotFound {
        scenario_id: scenario_id.to_owned(),
    })
}

/// The scenario with the portfolio version in force on `as_of` and its holdings.
///
/// # Errors
/// [`ScenarioError::ScenarioNotFound`]; database errors.
#[tracing::instrument(skip(db))]
pub async fn detail<C: ConnectionTrait>(
    db: &C,
    scenario_id: &str,
    as_of: NaiveDate,
) -> Result<ScenarioDetail> {
    let scenario = find(db, scenario_id).await?;
    let portfolio = match version_in_force(db, scenario_id, as_of).await? {
        Some(portfolio) => {
            let holdings = holdings(db, portfolio.portfolio_id).await?;
            Some(VersionDetail {
                portfolio,
                holdings,
            })
        }
        None => None,
    };
    Ok(ScenarioDetail {
        scenario,
        as_of,
        portfolio,
    })
}

fn in_force_on(date: NaiveDate) -> Condition {
    Condition::all()
        .add(portfolio_model::Column::EffectiveDate.lte(date))
        .add(
            Condition::any()
                .add(portfolio_model::Column::ExpiryDate.is_null())
                .add(portfolio_model::Column::ExpiryDate.gte(date)),
        )
}

/// The version of `scenario_id` in force on `date`. Should versions overlap (rows written by
/// other tools), the latest effective one wins, as it would in the engine.
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip(db))]
pub async fn version_in_force<C: ConnectionTrait>(
    db: &C,
    scenario_id: &str,
    date: NaiveDate,
) -> Result<Option<portfolio_model::Model>> {
    Ok(portfolio_model::Entity::find()
        .filter(portfolio_model::Column::ScenarioId.eq(scenario_id))
        .filter(in_force_on(date))
        .order_by_desc(portfolio_model::Column::EffectiveDate)
        .limit(1)
        .one(db)
        .await?)
}

/// The versions a simulation of `[start, end]` uses, in effective-date order: the one in force
/// on `start`, then every one that takes effect after `start` and on or before `end`.
///
/// # Errors
/// [`ScenarioError::NoPortfolioInForce`] when no version is in force on `start`; database errors.
#[tracing::instrument(skip(db))]
pub async fn versions_for_window<C: ConnectionTrait>(
    db: &C,
    scenario_id: &str,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<portfolio_model::Model>> {
    let first = version_in_force(db, scenario_id, start)
        .await?
        .ok_or_else(|| {
            Error::Scenario(ScenarioError::NoPortfolioInForce {
                scenario_id: scenario_id.to_owned(),
                date: start,
            })
        })?;
    let later = portfolio_model::Entity::find()
        .filter(portfolio_model::Column::ScenarioId.eq(scenario_id))
        .filter(portfolio_model::Column::EffectiveDate.gt(start))
        .filter(portfolio_model::Column::EffectiveDate.lte(end))
        .order_by_asc(portfolio_model::Column::EffectiveDate)
        .all(db)
        .await?;
    Ok(std::iter::once(first).chain(later).collect())
}

/// The allocations of `portfolio_id` with their instruments, largest weight first (then by
/// ticker).
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip(db))]
pub async fn holdings<C: ConnectionTrait>(db: &C, portfolio_id: i64) -> Result<Vec<Holding>> {
    let rows = portfolio_allocation::Entity::find()
        .filter(portfolio_allocation::Column::PortfolioId.eq(portfolio_id))
        .find_also_related(instrument_master::Entity)
        .order_by_desc(portfolio_allocation::Column::Weight)
        .order_by_asc(instrument_master::Column::Ticker)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(allocation, instrument)| {
            // The foreign key makes a missing instrument impossible short of a broken schema.
            let instrument = instrument
                .ok_or_else(|| Error::not_found("instrument", allocation.instrument_id))?;
            Ok(Holding {
                allocation,
                instrument,
            })
        })
        .collect()
}
