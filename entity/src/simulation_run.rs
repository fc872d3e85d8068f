//! `simulation_run`: one simulation request and its outcome, cached by the request's SHA-256 hash.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{RebalanceFreq, RunStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "simulation_run")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub run_id: i64,
    /// SHA-256 hex of the canonical request.
    #[sea_orm(column_type = "String(StringLen::N(64))", unique)]
    pub request_hash: String,
    #[sea_orm(column_type = "String(StringLen::N(50))")]
    pub scenario_id: Option<String>,
    pub portfolio_id: Option<i64>,
    /// Users live elsewhere: no foreign key.
    pub user_id: Option<i64>,
    pub start_date: Date,
    /// Strictly after `start_date`.
    pub end_date: Date,
    #[sea_orm(column_type = "Decimal(Some((18, 2)))")]
    pub initial_amount: Decimal,
    pub rebalance_freq: Option<RebalanceFreq>,
    /// Loss limit in percent.
    #[sea_orm(column_type = "Decimal(Some((5, 2)))")]
    pub max_loss_limit_pct: Option<Decimal>,
    /// The whole request, for audit.
    #[sea_orm(column_type = "JsonBinary")]
    pub request_params: Option<Json>,
    #[sea_orm(column_type = "String(StringLen::N(20))")]
    pub engine_version: String,
    pub run_status: Option<RunStatus>,
    #[sea_orm(column_type = "Text")]
    pub error_message: Option<String>,
    pub created_at: Option<DateTimeWithTimeZone>,
    /// TTL; NULL = keep.
    pub expires_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::scenario_definition::Entity",
        from = "Column::ScenarioId",
        to = "super::scenario_definition::Column::ScenarioId"
    )]
    ScenarioDefinition,
    #[sea_orm(
        belongs_to = "super::portfolio_model::Entity",
        from = "Column::PortfolioId",
        to = "super::portfolio_model::Column::PortfolioId"
    )]
    PortfolioModel,
    #[sea_orm(has_many = "super::simulation_path::Entity")]
    SimulationPath,
    #[sea_orm(has_one = "super::simulation_summary::Entity")]
    SimulationSummary,
}

impl Related<super::scenario_definition::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ScenarioDefinition.def()
    }
}

impl Related<super::portfolio_model::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PortfolioModel.def()
    }
}

impl Related<super::simulation_path::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SimulationPath.def()
    }
}

impl Related<super::simulation_summary::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SimulationSummary.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
