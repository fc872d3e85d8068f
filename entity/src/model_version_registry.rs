//! `model_version_registry`: one row per engine/model version (e.g. `1.0.0`) that results can cite.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "model_version_registry")]
pub struct Model {
    #[sea_orm(
        primary_key,
        auto_increment = false,
        column_type = "String(StringLen::N(20))"
    )]
    pub version_id: String,
    #[sea_orm(column_type = "String(StringLen::N(100))")]
    pub version_name: String,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub release_date: Date,
    pub is_active: Option<bool>,
    pub created_at: Option<DateTimeWithTimeZone>,
    pub updated_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

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
