//! The schema's range-partitioned parent tables, named by a type so that no identifier in
//! partition SQL comes from user text. A leaf module: `partitions` works on them, and the
//! errors name them.

use chrono::NaiveDate;

/// The range-partitioned parent tables. Partition DDL only ever names one of these, so no
/// identifier in a partition statement comes from user text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Parent {
    /// `daily_price`, by `trade_date`.
    DailyPrice,
    /// `daily_return`, by `trade_date`.
    DailyReturn,
    /// `simulation_path`, by `path_date`.
    SimulationPath,
}

impl Parent {
    /// All three parents.
    pub const ALL: [Parent; 3] = [
        Parent::DailyPrice,
        Parent::DailyReturn,
        Parent::SimulationPath,
    ];

    /// The parent's table name.
    pub fn table(self) -> &'static str {
        match self {
            Parent::DailyPrice => "daily_price",
            Parent::DailyReturn => "daily_return",
            Parent::SimulationPath => "simulation_path",
        }
    }

    /// The partition key column.
    pub fn key(self) -> &'static str {
        match self {
            Parent::DailyPrice | Parent::DailyReturn => "trade_date",
            Parent::SimulationPath => "path_date",
        }
    }

    /// The name `create_monthly_partitions` gives this parent's partition for `month`:
    /// `<table>_YYYYMM`.
    pub fn partition_name(self, month: NaiveDate) -> String {
        format!("{}_{}", self.table(), month.format("%Y%m"))
    }

    /// The parent named `table`, if it is one of the three.
    pub fn from_table(table: &str) -> Option<Parent> {
        Parent::ALL.into_iter().find(|p| p.table() == table)
    }
}

impl std::fmt::Display for Parent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.table())
    }
}
