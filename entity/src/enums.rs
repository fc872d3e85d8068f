//! String enums for the coded `VARCHAR` columns of the Foresto schema.
//!
//! Each enum round-trips exactly the strings the schema documents, so rows written by SQL
//! dashboards or the original Python code read back as typed values (and an unknown string is a
//! decode error rather than a silent default).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// `source_load_history.load_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LoadStatus {
    #[sea_orm(string_value = "STARTED")]
    Started,
    #[sea_orm(string_value = "SUCCESS")]
    Success,
    #[sea_orm(string_value = "FAILED")]
    Failed,
    #[sea_orm(string_value = "PARTIAL")]
    Partial,
}

/// `instrument_master.instrument_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstrumentType {
    #[sea_orm(string_value = "STOCK")]
    Stock,
    #[sea_orm(string_value = "ETF")]
    Etf,
    #[sea_orm(string_value = "BOND")]
    Bond,
    #[sea_orm(string_value = "INDEX")]
    Index,
    #[sea_orm(string_value = "FX")]
    Fx,
}

/// `scenario_definition.risk_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RiskLevel {
    #[sea_orm(string_value = "LOW")]
    Low,
    #[sea_orm(string_value = "MEDIUM")]
    Medium,
    #[sea_orm(string_value = "HIGH")]
    High,
}

/// `portfolio_model.rebalance_freq` and `simulation_run.rebalance_freq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RebalanceFreq {
    #[sea_orm(string_value = "NONE")]
    None,
    #[sea_orm(string_value = "MONTHLY")]
    Monthly,
    #[sea_orm(string_value = "QUARTERLY")]
    Quarterly,
    #[sea_orm(string_value = "ANNUAL")]
    Annual,
}

/// `portfolio_allocation.asset_class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(50))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssetClass {
    #[sea_orm(string_value = "EQUITY")]
    Equity,
    #[sea_orm(string_value = "BOND")]
    Bond,
    #[sea_orm(string_value = "CASH")]
    Cash,
    #[sea_orm(string_value = "COMMODITY")]
    Commodity,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// `simulation_run.run_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    #[sea_orm(string_value = "RUNNING")]
    Running,
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    #[sea_orm(string_value = "FAILED")]
    Failed,
}

/// `daily_return.data_quality`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DataQuality {
    #[sea_orm(string_value = "OK")]
    Ok,
    #[sea_orm(string_value = "MISSING")]
    Missing,
    #[sea_orm(string_value = "IMPUTED")]
    Imputed,
}
