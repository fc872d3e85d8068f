//! `source_load_history`: one row per data load (a CSV file, an API pull, a seed), with its outcome.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::LoadStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "source_load_history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub load_id: i64,
    #[sea_orm(column_type = "String(StringLen::N(50))")]
    pub source_type: String,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub source_name: String,
    pub load_status: LoadStatus,
    pub records_loaded: Option<i32>,
    pub records_failed: Option<i32>,
    #[sea_orm(column_type = "Text")]
    pub error_message: Option<String>,
    pub started_at: Option<DateTimeWithTimeZone>,
    pub completed_at: Option<DateTimeWithTimeZone>,
    #[sea_orm(column_type = "String(StringLen::N(50))")]
    pub loaded_by: Option<String>,
    pub created_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::daily_price::Entity")]
    DailyPrice,
}

impl Related<super::daily_price::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::DailyPrice.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
