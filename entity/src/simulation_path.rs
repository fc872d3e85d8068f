//! `simulation_path` (partitioned by `path_date`, monthly): one run's NAV and returns on one day.
//!
//! The primary key is `(run_id, path_date)`. `path_id` is a plain `bigserial` column, not the key:
//! leave it `NotSet` on insert and the database fills it from its sequence.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "simulation_path")]
pub struct Model {
    pub path_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub run_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub path_date: Date,
    #[sea_orm(column_type = "Decimal(Some((18, 4)))")]
    pub nav: Decimal,
    /// Fraction.
    #[sea_orm(column_type = "Decimal(Some((12, 8)))")]
    pub daily_return: Option<Decimal>,
    /// Fraction.
    #[sea_orm(column_type = "Decimal(Some((12, 8)))")]
    pub cumulative_return: Option<Decimal>,
    /// Fraction, at most 0.
    #[sea_orm(column_type = "Decimal(Some((12, 8)))")]
    pub drawdown: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((18, 4)))")]
    pub high_water_mark: Option<Decimal>,
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
