//! `instrument_master`: one row per tradable or reference instrument (stock, ETF, bond, index, FX).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::InstrumentType;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "instrument_master")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub instrument_id: i64,
    #[sea_orm(unique_key = "uq_instrument_ticker_exchange")]
    pub instrument_type: InstrumentType,
    #[sea_orm(
        column_type = "String(StringLen::N(20))",
        unique_key = "uq_instrument_ticker_exchange"
    )]
    pub ticker: String,
    #[sea_orm(
        column_type = "String(StringLen::N(20))",
        unique_key = "uq_instrument_ticker_exchange"
    )]
    pub exchange: String,
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub name_ko: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub name_en: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(3))")]
    pub currency: String,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub sector: Option<String>,
    pub is_active: Option<bool>,
    #[sea_orm(column_type = "String(StringLen::N(50))")]
    pub data_source: Option<String>,
    pub created_at: Option<DateTimeWithTimeZone>,
    pub updated_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::daily_price::Entity")]
    DailyPrice,
    #[sea_orm(has_many = "super::daily_return::Entity")]
    DailyReturn,
    #[sea_orm(has_many = "super::portfolio_allocation::Entity")]
    PortfolioAllocation,
}

impl Related<super::daily_price::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::DailyPrice.def()
    }
}

impl Related<super::daily_return::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::DailyReturn.def()
    }
}

impl Related<super::portfolio_allocation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PortfolioAllocation.def()
    }
}

/// The portfolios holding this instrument, through `portfolio_allocation`.
impl Related<super::portfolio_model::Entity> for Entity {
    fn to() -> RelationDef {
        super::portfolio_allocation::Relation::PortfolioModel.def()
    }

    fn via() -> Option<RelationDef> {
        Some(
            super::portfolio_allocation::Relation::InstrumentMaster
                .def()
                .rev(),
        )
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
