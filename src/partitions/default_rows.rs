//! Rows stranded in the DEFAULT partitions (written for a month that had no partition yet), and
//! moving them into their monthly partitions.

use chrono::{Months, NaiveDate};
use sea_orm::{
    ConnectionTrait, DbBackend, FromQueryResult, Statement, TransactionSession, TransactionTrait,
};
use serde::Serialize;

use super::{
    Parent, PartitionInfo, PartitionKind, RowCounting, ensure_range, find_partition, list,
};
use crate::error::{Error, PartitionError, Result};

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

/// Rows of one month that [`move_default_rows_report`] left in a DEFAULT partition, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftInDefault {
    /// The parent.
    pub parent: Parent,
    /// The DEFAULT partition's name.
    pub partition: String,
    /// First day of the month the rows belong to.
    pub month: NaiveDate,
    /// How many rows of the month are still in the DEFAULT partition.
    pub rows: i64,
    /// Why they did not move.
    pub reason: NotMoved,
}

/// Why rows of a month stayed in a DEFAULT partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotMoved {
    /// The parent has a partition with the month's name (`<parent>_YYYYMM`) whose bounds do not
    /// take these rows (made by hand); `create_monthly_partitions` skips a month whose name
    /// exists, so no partition can be made for them until that one is dealt with.
    NameTaken {
        /// The partition holding the name.
        existing: String,
        /// Its bound, as PostgreSQL prints it.
        bound: String,
    },
    /// Creating the month's partition failed, e.g. because a hand-made partition overlaps the
    /// month; nothing of that month moved.
    Refused {
        /// The database's error.
        error: String,
    },
}

impl std::fmt::Display for NotMoved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotMoved::NameTaken { existing, bound } => write!(
                f,
                "partition {existing} ({bound}) holds the month's name but not these rows"
            ),
            NotMoved::Refused { error } => write!(f, "the month's partition was refused: {error}"),
        }
    }
}

/// What [`move_default_rows_report`] did, from the database's own counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DefaultRowsMoved {
    /// Rows moved into their monthly partitions, by parent and month.
    pub moved: Vec<DefaultRows>,
    /// Rows still in a DEFAULT partition, by parent and month, with the reason.
    pub left: Vec<LeftInDefault>,
}

#[derive(Debug, FromQueryResult)]
struct MonthCount {
    month: NaiveDate,
    rows: i64,
}

/// Every DEFAULT partition with its rows counted by month.
async fn stranded<C: ConnectionTrait>(db: &C) -> Result<Vec<(PartitionInfo, Vec<MonthCount>)>> {
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
        found.push((default, months));
    }
    Ok(found)
}

/// The rows in every parent's DEFAULT partition, counted exactly per month, by parent and month.
/// Empty when nothing is stranded.
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip(db))]
pub async fn default_rows<C: ConnectionTrait>(db: &C) -> Result<Vec<DefaultRows>> {
    Ok(stranded(db)
        .await?
        .into_iter()
        .flat_map(|(default, months)| {
            months.into_iter().map(move |m| DefaultRows {
                parent: default.parent,
                partition: default.name.clone(),
                month: m.month,
                rows: m.rows,
            })
        })
        .collect())
}

/// Moves the rows found in DEFAULT partitions into the monthly partition of their month,
/// creating it (through `create_monthly_partitions`, which moves the month's rows in the same
/// statement), and returns the rows that did move, as the database counted them. Rows that could
/// not move stay in DEFAULT; [`move_default_rows_report`] says which and why.
///
/// # Errors
/// As [`move_default_rows_report`].
#[tracing::instrument(skip(db))]
pub async fn move_default_rows<C: ConnectionTrait + TransactionTrait>(
    db: &C,
) -> Result<Vec<DefaultRows>> {
    Ok(move_default_rows_report(db).await?.moved)
}

/// Moves the rows found in DEFAULT partitions into the monthly partition of their month, one
/// month per transaction, and reports what moved and what stayed, both counted by the database
/// in that transaction (not taken from the count made before): a month whose partition cannot
/// be made (its name is held by a hand-made partition, or the database refuses it) stays in
/// DEFAULT and is reported with the reason, and the other months still move.
///
/// # Errors
/// [`DatabaseError::Connection`](crate::error::DatabaseError::Connection) when the database cannot be reached (months moved before stay moved);
/// otherwise when the database refuses a query of the report itself.
#[tracing::instrument(skip(db))]
pub async fn move_default_rows_report<C: ConnectionTrait + TransactionTrait>(
    db: &C,
) -> Result<DefaultRowsMoved> {
    let mut report = DefaultRowsMoved::default();
    for (default, months) in stranded(db).await? {
        for MonthCount { month, .. } in months {
            let (moved, left, reason) = match move_month(db, &default, month).await {
                Ok(outcome) => outcome,
                Err(e) if e.is_connection() => return Err(e),
                Err(e) => {
                    // The month's transaction rolled back: whatever it held is still in DEFAULT.
                    let left = count_month(db, &default, month).await?;
                    let reason = NotMoved::Refused {
                        error: e.to_string(),
                    };
                    (0, left, Some(reason))
                }
            };
            if moved > 0 {
                report.moved.push(DefaultRows {
                    parent: default.parent,
                    partition: default.name.clone(),
                    month,
                    rows: moved,
                });
            }
            if left > 0 {
                report.left.push(LeftInDefault {
                    parent: default.parent,
                    partition: default.name.clone(),
                    month,
                    rows: left,
                    reason: reason.unwrap_or_else(|| NotMoved::Refused {
                        error: "no partition was made for the month".to_owned(),
                    }),
                });
            }
        }
    }
    Ok(report)
}

/// Moves one month out of `default` in a transaction of its own; returns the rows moved, the
/// rows left, and why rows were left.
async fn move_month<C: TransactionTrait>(
    db: &C,
    default: &PartitionInfo,
    month: NaiveDate,
) -> Result<(i64, i64, Option<NotMoved>)> {
    let txn = db.begin().await?;
    let name = default.parent.partition_name(month);
    let outcome = async {
        let created = ensure_range(&txn, default.parent, month, month).await?;
        // A partition made in this transaction is seen by no one else until it commits, so
        // every row in it came out of DEFAULT: the database's own count of what moved.
        let moved = if created > 0 {
            find_partition(&txn, &name, RowCounting::Exact)
                .await?
                .rows
                .unwrap_or(0)
        } else {
            0
        };
        let left = count_month(&txn, default, month).await?;
        let reason = if left > 0 && created == 0 {
            // `create_monthly_partitions` made nothing although rows wait: a partition holds
            // the month's name (it skips a name it finds).
            match find_partition(&txn, &name, RowCounting::Estimated).await {
                Ok(existing) => Some(NotMoved::NameTaken {
                    bound: bound_of(&existing),
                    existing: existing.name,
                }),
                Err(Error::Partition(PartitionError::UnknownPartition { .. })) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        Ok((moved, left, reason))
    }
    .await;
    match outcome {
        Ok(outcome) => {
            txn.commit().await?;
            Ok(outcome)
        }
        Err(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

fn bound_of(partition: &PartitionInfo) -> String {
    match &partition.kind {
        PartitionKind::Other { bound } => bound.clone(),
        PartitionKind::Default => "DEFAULT".to_owned(),
        PartitionKind::Monthly { month } => format!(
            "FOR VALUES FROM ('{month}') TO ('{}')",
            *month + Months::new(1)
        ),
    }
}

/// Rows of `month` in `default`, counted now.
async fn count_month<C: ConnectionTrait>(
    db: &C,
    default: &PartitionInfo,
    month: NaiveDate,
) -> Result<i64> {
    // `qualified` is the catalog's own quoting of the DEFAULT partition, `key()` a constant.
    let sql = format!(
        "SELECT count(*) AS n FROM {table} WHERE {key} >= $1 AND {key} < $2",
        key = default.parent.key(),
        table = default.qualified,
    );
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [month.into(), (month + Months::new(1)).into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}
