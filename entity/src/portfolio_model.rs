//! `portfolio_model`: one version of a scenario's portfolio, in force from `effective_date` until
//! `expiry_date` (NULL = still in force).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::RebalanceFreq;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "portfolio_model")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub portfolio_id: i64,
    #[sea_orm(
        column_type = "String(StringLen::N(50))",
        unique_key = "uq_portfolio_scenario_date"
    )]
    pub scenario_id: String,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub portfolio_name: String,
    /// First day this version applies.
    #[sea_orm(unique_key = "uq_portfolio_scenario_date")]
    pub effective_date: Date,
    /// NULL = still in force.
    pub expiry_date: Option<Date>,
    pub rebalance_freq: Option<RebalanceFreq>,
    #[sea_orm(column_type = "String(StringLen::N(20))")]
    pub engine_version: Option<String>,
    pub created_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::scenario_definition::Entity",
        from = "Column::ScenarioId",
        to = "super::scenario_definition::Column::ScenarioId"
    )]
    ScenarioDefinition,
    #[sea_orm(has_many = "super::portfolio_allocation::Entity")]
    PortfolioAllocation,
    #[sea_orm(has_many = "super::simulation_run::Entity")]
    SimulationRun,
}

impl Related<super::scenario_definition::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ScenarioDefinition.def()
    }
}

impl Related<super::portfolio_allocation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PortfolioAllocation.def()
    }
}

impl Related<super::simulation_run::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SimulationRun.def()
    }
}

/// The instruments this portfolio holds, through `portfolio_allocation`.
impl Related<super::instrument_master::Entity> for Entity {
    fn to() -> RelationDef {
        super::portfolio_allocation::Relation::InstrumentMaster.def()
    }

    fn via() -> Option<RelationDef> {
        Some(
            super::portfolio_allocation::Relation::PortfolioModel
                .def()
                .rev(),
        )
    }
}

impl ActiveModelBehavior for ActiveModel {}
