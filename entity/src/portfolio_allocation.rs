//! `portfolio_allocation`: one instrument's weight (0–1) in one portfolio version.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::AssetClass;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "portfolio_allocation")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub allocation_id: i64,
    #[sea_orm(unique_key = "uq_allocation_portfolio_instrument")]
    pub portfolio_id: i64,
    #[sea_orm(unique_key = "uq_allocation_portfolio_instrument")]
    pub instrument_id: i64,
    /// Fraction of the portfolio, 0.0000–1.0000; a portfolio's weights sum to at most 1.
    #[sea_orm(column_type = "Decimal(Some((5, 4)))")]
    pub weight: Decimal,
    pub asset_class: Option<AssetClass>,
    pub created_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::portfolio_model::Entity",
        from = "Column::PortfolioId",
        to = "super::portfolio_model::Column::PortfolioId",
        on_delete = "Cascade"
    )]
    PortfolioModel,
    #[sea_orm(
        belongs_to = "super::instrument_master::Entity",
        from = "Column::InstrumentId",
        to = "super::instrument_master::Column::InstrumentId"
    )]
    InstrumentMaster,
}

impl Related<super::portfolio_model::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PortfolioModel.def()
    }
}

impl Related<super::instrument_master::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::InstrumentMaster.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
