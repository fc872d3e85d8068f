//! `simulation_summary`: the risk/return metrics of one simulation run (at most one row per run).
//!
//! Percent columns hold percentages (e.g. `12.3456` = 12.3456 %); `max_drawdown` is positive.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "simulation_summary")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub summary_id: i64,
    #[sea_orm(unique)]
    pub run_id: i64,
    /// Maximum drawdown in percent, positive.
    #[sea_orm(column_type = "Decimal(Some((8, 4)))")]
    pub max_drawdown: Decimal,
    pub max_recovery_days: Option<i32>,
    #[sea_orm(column_type = "Decimal(Some((8, 4)))")]
    pub worst_1m_return: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((8, 4)))")]
    pub worst_3m_return: Option<Decimal>,
    /// Annualised, percent.
    #[sea_orm(column_type = "Decimal(Some((8, 4)))")]
    pub volatility: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((10, 4)))")]
    pub total_return: Decimal,
    #[sea_orm(column_type = "Decimal(Some((8, 4)))")]
    pub cagr: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((8, 4)))")]
    pub sharpe_ratio: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((8, 4)))")]
    pub sortino_ratio: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((18, 2)))")]
    pub final_value: Option<Decimal>,
    pub trading_days: Option<i32>,
    pub rebalance_count: Option<i32>,
    pub created_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::simulation_run::Entity",
        from = "Column::RunId",
        to = "super::simulation_run::Column::RunId",
        on_delete = "Cascade"
    )]
    SimulationRun,
}

impl Related<super::simulation_run::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SimulationRun.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
