//! Rows stranded in the DEFAULT partitions (written for a month that had no partition yet), and
//! moving them into their monthly partitions.

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use serde::Serialize;

use super::{Parent, PartitionKind, RowCounting, ensure_range, list};
use crate::error::Result;

/// Rows of one month sitting in one parent's DEFAULT partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefaultRows {
    /// The parent.
    pub parent: Parent,
    /// The DEFAULT partition's name.
    pub partition: String,
    /// First day of the month the rows belong to.
    pub month: NaiveDate,
    /// How many rows.
    pub rows: i64,
}

#[derive(Debug, FromQueryResult)]
struct MonthCount {
    month: NaiveDate,
    rows: i64,
}

/// The rows in every parent's DEFAULT partition, counted exactly per month, by parent and month.
/// Empty when nothing is stranded.
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip(db))]
pub async fn default_rows<C: ConnectionTrait>(db: &C) -> Result<Vec<DefaultRows>> {
    let mut found = Vec::new();
    for default in list(db, RowCounting::Estimated)
        .await?
        .into_iter()
        .filter(|p| p.kind == PartitionKind::Default)
    {
        // `qualified` is the catalog's own quoting of the DEFAULT partition, `key()` a constant.
        let sql = format!(
            "SELECT date_trunc('month', {key})::date AS month, count(*) AS rows \
               FROM {table} GROUP BY 1 ORDER BY 1",
            key = default.parent.key(),
            table = default.qualified,
        );
        let months =
            MonthCount::find_by_statement(Statement::from_string(DbBackend::Postgres, sql))
                .all(db)
                .await?;
        found.extend(months.into_iter().map(|m| DefaultRows {
            parent: default.parent,
            partition: default.name.clone(),
            month: m.month,
            rows: m.rows,
        }));
    }
    Ok(found)
}

/// Moves every row found in a DEFAULT partition into the monthly partition of its month, creating
/// that partition (through `create_monthly_partitions`, which moves the month's rows in the same
/// statement). Returns what it found and moved; afterwards the DEFAULT partitions hold none of
/// those months' rows.
///
/// # Errors
/// When the database refuses (e.g. a hand-made partition overlaps the month); months moved before
/// the failure stay moved.
#[tracing::instrument(skip(db))]
pub async fn move_default_rows<C: ConnectionTrait>(db: &C) -> Result<Vec<DefaultRows>> {
    let found = default_rows(db).await?;
    for stranded in &found {
        ensure_range(db, stranded.parent, stranded.month, stranded.month).await?;
    }
    Ok(found)
}
