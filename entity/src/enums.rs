//! String enums for the coded `VARCHAR` columns of the Foresto schema.
//!
//! Each enum round-trips exactly the strings the schema documents, so rows written by SQL
//! dashboards or the original Python code read back as typed values (and an unknown string is a
//! decode error rather than a silent default).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// `source_load_history.load_status`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
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

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use sea_orm::Iterable;
    use serde::de::{DeserializeOwned, IntoDeserializer, value::Error as SerdeError};

    use super::*;

    /// Every variant of `E` appears in `table` exactly once, maps to its string and back (through
    /// both `ActiveEnum` and serde), and strings outside the table (or in the wrong case) are
    /// rejected.
    fn assert_round_trips<E>(table: &[(E, &str)])
    where
        E: ActiveEnum<Value = String> + Iterable + DeserializeOwned + PartialEq + Debug,
    {
        let name = std::any::type_name::<E>();
        assert_eq!(
            E::iter().count(),
            table.len(),
            "{name}: table misses variants"
        );
        for variant in E::iter() {
            let hits = table.iter().filter(|(v, _)| *v == variant).count();
            assert_eq!(hits, 1, "{name}: {variant:?} listed {hits} times");
        }
        for (variant, s) in table {
            assert_eq!(variant.to_value(), *s, "{name}: {variant:?}");
            assert_eq!(
                E::try_from_value(&(*s).to_owned()).as_ref(),
                Ok(variant),
                "{name}: {s}"
            );
            let from_serde = E::deserialize(IntoDeserializer::<SerdeError>::into_deserializer(*s));
            assert_eq!(from_serde.as_ref(), Ok(variant), "{name}: serde {s}");
            assert!(
                E::try_from_value(&s.to_lowercase()).is_err(),
                "{name}: lowercase {s}"
            );
        }
        for unknown in ["", "UNKNOWN", "OK "] {
            assert!(
                E::try_from_value(&unknown.to_owned()).is_err(),
                "{name}: {unknown:?}"
            );
        }
    }

    #[test]
    fn every_enum_round_trips_exactly_its_schema_strings() {
        use AssetClass as A;
        use DataQuality as Q;
        use InstrumentType as I;
        use LoadStatus as L;
        use RebalanceFreq as F;
        use RiskLevel as R;
        use RunStatus as S;

        assert_round_trips(&[
            (L::Started, "STARTED"),
            (L::Success, "SUCCESS"),
            (L::Failed, "FAILED"),
            (L::Partial, "PARTIAL"),
        ]);
        assert_round_trips(&[
            (I::Stock, "STOCK"),
            (I::Etf, "ETF"),
            (I::Bond, "BOND"),
            (I::Index, "INDEX"),
            (I::Fx, "FX"),
        ]);
        assert_round_trips(&[(R::Low, "LOW"), (R::Medium, "MEDIUM"), (R::High, "HIGH")]);
        assert_round_trips(&[
            (F::None, "NONE"),
            (F::Monthly, "MONTHLY"),
            (F::Quarterly, "QUARTERLY"),
            (F::Annual, "ANNUAL"),
        ]);
        assert_round_trips(&[
            (A::Equity, "EQUITY"),
            (A::Bond, "BOND"),
            (A::Cash, "CASH"),
            (A::Commodity, "COMMODITY"),
            (A::Other, "OTHER"),
        ]);
        assert_round_trips(&[
            (S::Running, "RUNNING"),
            (S::Completed, "COMPLETED"),
            (S::Failed, "FAILED"),
        ]);
        assert_round_trips(&[
            (Q::Ok, "OK"),
            (Q::Missing, "MISSING"),
            (Q::Imputed, "IMPUTED"),
        ]);
    }
}
