//! `daily_price` (partitioned by `trade_date`, monthly): one instrument's daily bar on one trade date.
//!
//! The primary key is `(instrument_id, trade_date)`. `price_id` is a plain `bigserial` column, not
//! the key: leave it `NotSet` on insert and the database fills it from its sequence.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "daily_price")]
pub struct Model {
    pub price_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub instrument_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub trade_date: Date,
    #[sea_orm(column_type = "Decimal(Some((18, 4)))")]
    pub open_price: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((18, 4)))")]
    pub high_price: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((18, 4)))")]
    pub low_price: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((18, 4)))")]
    pub close_price: Decimal,
    /// Dividend/split adjusted close.
    #[sea_orm(column_type = "Decimal(Some((18, 4)))")]
    pub adj_close_price: Option<Decimal>,
    pub volume: Option<i64>,
    /// The `source_load_history` row that wrote this bar.
    pub load_id: Option<i64>,
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
    #[sea_orm(
        belongs_to = "super::source_load_history::Entity",
        from = "Column::LoadId",
        to = "super::source_load_history::Column::LoadId",
        on_delete = "SetNull"
    )]
    SourceLoadHistory,
}

impl Related<super::instrument_master::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::InstrumentMaster.def()
    }
}

impl Related<super::source_load_history::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SourceLoadHistory.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
