//! `simulation_run_instrument`: one instrument whose daily returns a simulation run read. A
//! correction of those returns inside the run's window expires the run.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "simulation_run_instrument")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub run_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub instrument_id: i64,
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
    #[sea_orm(
        belongs_to = "super::instrument_master::Entity",
        from = "Column::InstrumentId",
        to = "super::instrument_master::Column::InstrumentId"
    )]
    InstrumentMaster,
}

impl Related<super::simulation_run::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SimulationRun.def()
    }
}

impl Related<super::instrument_master::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::InstrumentMaster.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
