//! Monthly partitions of the three range-partitioned parents: making sure the partitions a
//! write needs exist before it writes, and the operator's upkeep — partitions ahead of time
//! ([`ensure_ahead`]), the catalog view ([`list`]), rows stranded in DEFAULT partitions
//! ([`default_rows`], [`move_default_rows`]) and retention ([`retention_candidates`],
//! [`drop_partition`]).
//!
//! No identifier in partition SQL comes from user text: parents are the three names of
//! [`Parent`], and partitions are named only as read back from the catalog (`pg_inherits` of that
//! parent, in the parent's schema) and quoted there by `format('%I.%I')`.

mod ahead;
mod catalog;
mod default_rows;
mod retention;

use chrono::{Datelike, Months, NaiveDate};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::error::Result;

pub use ahead::{MonthlyPartition, ensure_ahead, missing_ahead};
pub use catalog::{PartitionInfo, PartitionKind, RowCounting, find_partition, list};
pub use default_rows::{DefaultRows, default_rows, move_default_rows};
pub use retention::{
    DropRefusal, DroppedPartition, Retention, archive_file_name, check_droppable, drop_partition,
    retention_candidates,
};

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

/// The first day of `date`'s month.
pub fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).expect("day 1 exists in every month")
}

/// Makes sure `parent` has a monthly partition for every month from `first`'s through `last`'s
/// (inclusive), creating the missing ones through `create_monthly_partitions` (which also moves
/// rows of those months out of the DEFAULT partition). Returns how many were created.
///
/// # Errors
/// When `last` is before `first`, or the database refuses.
#[tracing::instrument(skip(db))]
pub async fn ensure_range<C: ConnectionTrait>(
    db: &C,
    parent: Parent,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<u32> {
    if last < first {
        return Err(crate::Error::invalid(
            "date range",
            format!("{last} is before {first}"),
        ));
    }
    let end = month_start(last) + Months::new(1);
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT create_monthly_partitions($1, $2::date, $3::date) AS created",
            [parent.table().into(), first.into(), end.into()],
        ))
        .await?;
    let created: i32 = row
        .map(|r| r.try_get("", "created"))
        .transpose()?
        .unwrap_or(0);
    Ok(created.max(0) as u32)
}
