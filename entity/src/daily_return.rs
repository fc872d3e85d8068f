//! `daily_return` (partitioned by `trade_date`, monthly): one instrument's simple/log return on one
//! trade date.
//!
//! The primary key is `(instrument_id, trade_date)`. `return_id` is a plain `bigserial` column, not
//! the key: leave it `NotSet` on insert and the database fills it from its sequence.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::DataQuality;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "daily_return")]
pub struct Model {
    pub return_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub instrument_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub trade_date: Date,
    /// Simple return as a fraction.
    #[sea_orm(column_type = "Decimal(Some((12, 8)))")]
    pub daily_return: Decimal,
    #[sea_orm(column_type = "Decimal(Some((12, 8)))")]
    pub log_return: Option<Decimal>,
    pub data_quality: Option<DataQuality>,
    #[sea_orm(column_type = "String(StringLen::N(20))")]
    pub engine_version: Option<String>,
    pub created_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::instrument_master::Entity",
        from = "Column::InstrumentId",
        to = "super::instrument_master::Column::InstrumentId"
    )]
    InstrumentMaster,
}

impl Related<super::instrument_master::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::InstrumentMaster.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
