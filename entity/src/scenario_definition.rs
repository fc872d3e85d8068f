//! `scenario_definition`: one managed (educational) investment scenario, e.g. `MIN_VOL`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::RiskLevel;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "scenario_definition")]
pub struct Model {
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(50))"
    )]
    pub scenario_id: String,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub name_ko: String,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub name_en: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub objective: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub target_investor: Option<String>,
    pub risk_level: Option<RiskLevel>,
    /// Mandatory disclaimer shown with the scenario.
    #[sea_orm(column_type = "Text")]
    pub disclaimer: String,
    pub is_active: Option<bool>,
    pub display_order: Option<i32>,
    pub created_at: Option<DateTimeWithTimeZone>,
    pub updated_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::portfolio_model::Entity")]
    PortfolioModel,
    #[sea_orm(has_many = "super::simulation_run::Entity")]
    SimulationRun,
}

impl Related<super::portfolio_model::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PortfolioModel.def()
    }
}

impl Related<super::simulation_run::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SimulationRun.def()
    }
}

#[async_trait::async_trait]
impl ActiveModelBehavior for ActiveModel {
    async fn before_save<C>(mut self, _db: &C, insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        crate::touch_updated_at(&mut self.updated_at, insert);
        Ok(self)
    }
}
