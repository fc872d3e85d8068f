//! Adding a portfolio version to a scenario.

use chrono::NaiveDate;
use entity::enums::RebalanceFreq;
use entity::{portfolio_allocation, portfolio_model, scenario_definition, simulation_run};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
};
use serde::Serialize;

use super::{InstrumentRef, NewAllocation, resolve_distinct, scenario_not_found, validate_weights};
use crate::error::{Error, Result, ScenarioError};
use crate::settings::Settings;

/// A portfolio version to add to a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVersion {
    pub scenario_id: String,
    /// First day the version applies; must be after the scenario's latest version's.
    pub effective_date: NaiveDate,
    pub allocations: Vec<NewAllocation>,
    /// `None`: the previous version's frequency, or `NONE` for a scenario's first version.
    pub rebalance_freq: Option<RebalanceFreq>,
    /// `None`: `<SCENARIO_ID>_v<N>`, N counting this version.
    pub portfolio_name: Option<String>,
}

/// What [`set_portfolio_version`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedVersion {
    pub portfolio: portfolio_model::Model,
    pub allocations: Vec<portfolio_allocation::Model>,
    /// The previous version, as closed the day before the new one (if it had to be closed).
    pub closed: Option<portfolio_model::Model>,
    /// Cached simulation runs of the scenario whose window reaches the new effective date: they
    /// were computed with the old weights, so they are expired now and recomputed on request.
    pub expired_runs: u64,
}

/// Adds a portfolio version to a scenario, in one transaction: inserts the version and its
/// allocations, sets the previous version's `expiry_date` to the day before `effective_date`
/// (unless it already ends earlier), and expires the scenario's cached runs that the change
/// makes stale.
///
/// Every rule is checked before anything is written; the database's deferred weight-sum trigger
/// stays the last line and surfaces as the same [`ScenarioError::WeightSumExceeded`]. Given a
/// transaction, the work happens in a savepoint and the trigger fires at the caller's commit.
///
/// # Errors
/// The weight errors of [`validate_weights`]; [`ScenarioError::ScenarioNotFound`];
/// [`ScenarioError::EffectiveDateNotAfter`]; [`InstrumentError::UnknownInstrument`](crate::InstrumentError::UnknownInstrument) / [`InstrumentError::AmbiguousTicker`](crate::InstrumentError::AmbiguousTicker);
/// [`ScenarioError::DuplicateInstrument`] when two references name one instrument; database errors.
#[tracing::instrument(skip(db, settings))]
pub async fn set_portfolio_version<C>(
    db: &C,
    version: &NewVersion,
    settings: &Settings,
) -> Result<CreatedVersion>
where
    C: ConnectionTrait + TransactionTrait,
{
    validate_weights(&version.allocations)?;
    let txn = db.begin().await?;
    let created = insert_version(&txn, version, settings.engine_version()).await?;
    txn.commit().await?;
    Ok(created)
}

async fn insert_version<C: ConnectionTrait>(
    txn: &C,
    version: &NewVersion,
    engine_version: &str,
) -> Result<CreatedVersion> {
    let scenario_id = version.scenario_id.as_str();
    // Writers of one scenario's versions queue on its row, so each checks the date order
    // against the other's committed version.
    scenario_definition::Entity::find_by_id(scenario_id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| scenario_not_found(scenario_id))?;
    let existing = portfolio_model::Entity::find()
        .filter(portfolio_model::Column::ScenarioId.eq(scenario_id))
        .order_by_desc(portfolio_model::Column::EffectiveDate)
        .all(txn)
        .await?;
    let latest = existing.first();
    if let Some(latest) = latest
        && version.effective_date <= latest.effective_date
    {
        return Err(Error::Scenario(ScenarioError::EffectiveDateNotAfter {
            scenario_id: scenario_id.to_owned(),
            effective_date: version.effective_date,
            latest: latest.effective_date,
        }));
    }
    let refs: Vec<InstrumentRef> = version
        .allocations
        .iter()
        .map(|a| a.instrument.clone())
        .collect();
    let instruments = resolve_distinct(txn, &refs).await?;

    let closed = match latest {
        Some(previous)
            if previous
                .expiry_date
                .is_none_or(|expiry| expiry >= version.effective_date) =>
        {
            let mut active: portfolio_model::ActiveModel = previous.clone().into();
            active.expiry_date = Set(version.effective_date.pred_opt());
            Some(active.update(txn).await?)
        }
        _ => None,
    };
    let rebalance = version
        .rebalance_freq
        .or_else(|| latest.and_then(|l| l.rebalance_freq))
        .unwrap_or(RebalanceFreq::None);
    let name = version
        .portfolio_name
        .clone()
        .unwrap_or_else(|| format!("{scenario_id}_v{}", existing.len() + 1));
    let portfolio = portfolio_model::ActiveModel {
        scenario_id: Set(scenario_id.to_owned()),
        portfolio_name: Set(name),
        effective_date: Set(version.effective_date),
        expiry_date: Set(None),
        rebalance_freq: Set(Some(rebalance)),
        engine_version: Set(Some(engine_version.to_owned())),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let allocations = portfolio_allocation::Entity::insert_many(
        version
            .allocations
            .iter()
            .zip(&instruments)
            .map(|(a, instrument)| portfolio_allocation::ActiveModel {
                portfolio_id: Set(portfolio.portfolio_id),
                instrument_id: Set(instrument.instrument_id),
                weight: Set(a.weight),
                asset_class: Set(a.asset_class),
                ..Default::default()
            }),
    )
    .exec_with_returning(txn)
    .await?;
    let expired_runs = expire_runs_reaching(txn, scenario_id, version.effective_date).await?;
    Ok(CreatedVersion {
        portfolio,
        allocations,
        closed,
        expired_runs,
    })
}

/// Expires the unexpired runs of `scenario_id` whose window ends on or after `date`.
async fn expire_runs_reaching<C: ConnectionTrait>(
    txn: &C,
    scenario_id: &str,
    date: NaiveDate,
) -> Result<u64> {
    let now = Expr::current_timestamp();
    let result = simulation_run::Entity::update_many()
        .col_expr(simulation_run::Column::ExpiresAt, now.clone())
        .filter(simulation_run::Column::ScenarioId.eq(scenario_id))
        .filter(simulation_run::Column::EndDate.gte(date))
        .filter(
            Condition::any()
                .add(simulation_run::Column::ExpiresAt.is_null())
                .add(Expr::col(simulation_run::Column::ExpiresAt).gt(now)),
        )
        .exec(txn)
        .await?;
    Ok(result.rows_affected)
}
