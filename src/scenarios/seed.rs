//! The three scenario portfolios of `data/seed/scenario_weights.csv` (`docs/seed-data.md`),
//! placed onto an instrument per asset class.

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::enums::{AssetClass, RebalanceFreq};
use entity::portfolio_model;
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
};
use serde::Serialize;

use super::{CreatedVersion, InstrumentRef, NewAllocation, NewVersion, holdings, resolve};
use crate::error::{Error, Result};
use crate::seed_data::{self, SeedPortfolio};
use crate::settings::Settings;

/// The instrument standing for each asset class.
pub type SeedMapping = HashMap<AssetClass, InstrumentRef>;

/// What seeding did to one scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SeedStatus {
    /// The scenario had no portfolio: version 1 was created.
    Created { version: Box<CreatedVersion> },
    /// The scenario's first version already is this seed: nothing changed.
    AlreadySeeded { portfolio_id: i64 },
    /// The scenario already has portfolio versions that differ from this seed; they were left
    /// alone (seeding never rewrites a scenario's history).
    Kept { portfolio_id: i64 },
}

/// Seeds the scenario weights of `data/seed/` ([`seed_data::scenario_weights`]) onto `mapping`, effective `effective_date`, with `rebalance`, as
/// version 1 (`<SCENARIO_ID>_v1`) of each scenario that has no portfolio yet. Scenarios that
/// already have one are reported, not changed, so running it again changes nothing. All three
/// are written in one transaction.
///
/// # Errors
/// [`Error::InvalidInput`] when `mapping` lacks an asset class; the errors of
/// [`super::set_portfolio_version`] (unknown or duplicate instruments, a missing scenario).
#[tracing::instrument(skip(db, settings))]
pub async fn seed_scenario_portfolios<C>(
    db: &C,
    mapping: &SeedMapping,
    effective_date: NaiveDate,
    rebalance: RebalanceFreq,
    settings: &Settings,
) -> Result<Vec<(String, SeedStatus)>>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db.begin().await?;
    let portfolios = seed_data::scenario_weights();
    let mut outcomes = Vec::with_capacity(portfolios.len());
    for SeedPortfolio {
        scenario_id,
        weights,
    } in portfolios
    {
        let allocations = weights
            .iter()
            .map(|&(class, weight)| {
                let instrument = mapping.get(&class).cloned().ok_or_else(|| {
                    Error::invalid("map", format!("no instrument given for {class:?}"))
                })?;
                Ok(NewAllocation {
                    instrument,
                    weight,
                    asset_class: Some(class),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let status = seed_one(
            &txn,
            &scenario_id,
            allocations,
            effective_date,
            rebalance,
            settings,
        )
        .await?;
        outcomes.push((scenario_id, status));
    }
    txn.commit().await?;
    Ok(outcomes)
}

async fn seed_one<C>(
    txn: &C,
    scenario_id: &str,
    allocations: Vec<NewAllocation>,
    effective_date: NaiveDate,
    rebalance: RebalanceFreq,
    settings: &Settings,
) -> Result<SeedStatus>
where
    C: ConnectionTrait + TransactionTrait,
{
    let first = portfolio_model::Entity::find()
        .filter(portfolio_model::Column::ScenarioId.eq(scenario_id))
        .order_by_asc(portfolio_model::Column::EffectiveDate)
        .one(txn)
        .await?;
    let Some(first) = first else {
        let version = NewVersion {
            scenario_id: scenario_id.to_owned(),
            effective_date,
            allocations,
            rebalance_freq: Some(rebalance),
            portfolio_name: None,
        };
        let created = super::set_portfolio_version(txn, &version, settings).await?;
        return Ok(SeedStatus::Created {
            version: Box::new(created),
        });
    };
    let refs: Vec<InstrumentRef> = allocations.iter().map(|a| a.instrument.clone()).collect();
    let mut wanted: Vec<(i64, Decimal)> = resolve(txn, &refs)
        .await?
        .iter()
        .zip(&allocations)
        .map(|(instrument, a)| (instrument.instrument_id, a.weight.normalize()))
        .collect();
    let mut stored: Vec<(i64, Decimal)> = holdings(txn, first.portfolio_id)
        .await?
        .iter()
        .map(|h| (h.allocation.instrument_id, h.allocation.weight.normalize()))
        .collect();
    wanted.sort_unstable();
    stored.sort_unstable();
    let portfolio_id = first.portfolio_id;
    Ok(
        if wanted == stored
            && first.effective_date == effective_date
            && first.rebalance_freq == Some(rebalance)
        {
            SeedStatus::AlreadySeeded { portfolio_id }
        } else {
            SeedStatus::Kept { portfolio_id }
        },
    )
}
