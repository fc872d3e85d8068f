//! Retention: dropping monthly partitions older than a cut-off, optionally archiving each to a
//! gzip'd CSV file first.
//!
//! A drop runs in three steps, so that the parent is locked only while the partition is
//! detached, which changes the catalog and reads no rows:
//!
//! 1. **Detach**, in one short transaction: `DETACH PARTITION`, rename the table to
//!    `<partition>_detached` and mark it with a comment, by both of which [`detached_partitions`]
//!    finds it. The parent's ACCESS EXCLUSIVE lock lasts only that long. (`DETACH … CONCURRENTLY`
//!    would take a weaker lock, but PostgreSQL refuses it on a parent with a DEFAULT partition,
//!    which all three parents have.)
//! 2. **Archive** the now standalone table: lock it against writes (SHARE: readers of it, and
//!    everything on the parent, go on), count it and copy it, ordered by its primary key, into
//!    a temporary file created exclusively next to the archive; sync the file, link it to
//!    `<partition>.csv.gz` (never over an existing file) and sync the directory.
//! 3. **Drop** the table, in the archive's transaction, once the archive is in place.
//!
//! What keeps the rows safe:
//! - A drop claims its partition for all three steps (a session advisory lock on a connection
//!   of its own): a second drop of it is refused ([`DropRefusal::InProgress`]), and a drop that
//!   dies releases its claim with its session.
//! - A file is removed only by the drop that created it and only before its `DROP` is sent: the
//!   temporary file of an archive that failed. An archive with its final name is never removed,
//!   since once the `DROP` may have reached the server it may hold the only copy of the rows.
//! - If archiving fails, the table is attached again as it was, with any rows of its month that
//!   reached the DEFAULT partition meanwhile. If that fails too, or the drop stops once the
//!   archive is in place (or its commit is not acknowledged), the table stays detached and the
//!   error says so ([`PartitionError::DropUnfinished`](crate::PartitionError::DropUnfinished)): [`drop_partition`] finishes it (an archive
//!   already in place must hold exactly its rows) and [`reattach_partition`] undoes it.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate};
use futures_util::TryStreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult};
use serde::Serialize;
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Postgres};
use tokio::sync::mpsc;

use super::catalog::catalog_rows;
use super::{Parent, PartitionInfo, PartitionKind, RowCounting, find_partition, list, month_start};
pub use crate::error::DropRefusal;
use crate::error::{Error, PartitionError, Result};

/// A retention rule: partitions whose whole month ends on or before [`Retention::cutoff`] may be
/// dropped. Built only by [`Retention::older_than`], so the cut-off is always at least one whole
/// month before the current month and no call can reach a current or future partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    cutoff: NaiveDate,
}

impl Retention {
    /// Partitions older than `months` whole months before `today`'s month: with `today` in
    /// 2026-05 and `months` 36, the cut-off is 2023-05-01, so 2023-04 and earlier go.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `months` is 0 (that would reach the current month) or beyond
    /// the calendar.
    pub fn older_than(today: NaiveDate, months: u32) -> Result<Self> {
        if months == 0 {
            return Err(Error::invalid(
                "retention",
                "keep at least 1 month (0 would drop up to the current month)",
            ));
        }
        let cutoff = month_start(today)
            .checked_sub_months(Months::new(months))
            .ok_or_else(|| Error::invalid("retention", format!("{months} months is too far")))?;
        Ok(Self { cutoff })
    }

    /// First day after the newest month that may be dropped.
    pub fn cutoff(&self) -> NaiveDate {
        self.cutoff
    }

    /// Whether `partition` is a monthly partition whose month ends on or before the cut-off.
    pub fn covers(&self, partition: &PartitionInfo) -> bool {
        partition
            .month()
            .is_some_and(|month| self.covers_month(month))
    }

    /// Whether the month starting on `month` ends on or before the cut-off.
    pub fn covers_month(&self, month: NaiveDate) -> bool {
        month + Months::new(1) <= self.cutoff
    }

    /// Whether the rule allows finishing the drop of `detached`: its month must be old enough,
    /// as for an attached partition.
    ///
    /// # Errors
    /// [`PartitionError::DropRefused`](crate::PartitionError::DropRefused) with [`DropRefusal::NotOlderThanCutoff`] when it is not.
    pub fn check_detached(&self, detached: &DetachedPartition) -> Result<()> {
        if self.covers_month(detached.month) {
            Ok(())
        } else {
            Err(Error::Partition(PartitionError::DropRefused {
                partition: detached.partition.clone(),
                reason: DropRefusal::NotOlderThanCutoff {
                    month: detached.month,
                    cutoff: self.cutoff,
                },
            }))
        }
    }

    fn check(&self, partition: &PartitionInfo) -> std::result::Result<NaiveDate, DropRefusal> {
        match partition.kind {
            PartitionKind::Default => Err(DropRefusal::Default),
            PartitionKind::Other { .. } => Err(DropRefusal::NotMonthly),
            PartitionKind::Monthly { month } if self.covers(partition) => Ok(month),
            PartitionKind::Monthly { month } => Err(DropRefusal::NotOlderThanCutoff {
                month,
                cutoff: self.cutoff,
            }),
        }
    }
}

/// A partition [`drop_partition`] dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedPartition {
    /// Its parent.
    pub parent: Parent,
    /// Its name.
    pub name: String,
    /// First day of its month.
    pub month: NaiveDate,
    /// Rows it held when dropped (exact).
    pub rows: i64,
    /// The archive written before the drop, if one was asked for.
    pub archive: Option<PathBuf>,
}

/// A monthly partition that a drop detached and did not finish (its process died, or its
/// archive failed and it could not be attached again): a plain table holding the month's rows,
/// in the parent's schema, named `<partition>_detached` and marked by the drop's comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DetachedPartition {
    /// The parent it was detached from.
    pub parent: Parent,
    /// Its schema (the parent's).
    pub schema: String,
    /// Its name while attached (`<parent>_YYYYMM`), which its archive is named after.
    pub partition: String,
    /// Its table's name now: `<partition>_detached`.
    pub table: String,
    /// First day of its month.
    pub month: NaiveDate,
    /// Rows in it: exact or estimated as `rows_exact` says; `None` when an estimate is unknown.
    pub rows: Option<i64>,
    /// Whether `rows` is an exact `count(*)`.
    pub rows_exact: bool,
    /// The parent's `schema.name`, quoted by PostgreSQL's `format('%I.%I')`.
    #[serde(skip)]
    parent_qualified: String,
}

/// A detached partition [`reattach_partition`] attached again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReattachedPartition {
    /// Its parent.
    pub parent: Parent,
    /// Its name, attached again.
    pub name: String,
    /// First day of its month.
    pub month: NaiveDate,
    /// Rows of its month that had reached the DEFAULT partition while it was detached and were
    /// moved back into it.
    pub rows_from_default: u64,
}

/// The archive file name of a partition: `<partition>.csv.gz`.
pub fn archive_file_name(partition: &str) -> String {
    format!("{partition}.csv.gz")
}

/// The monthly partitions of all three parents that `retention` allows dropping, oldest first
/// per parent, with row counts as `counting` says: what a dry run reports. Drops nothing.
/// Partitions left detached by an unfinished drop are listed by [`detached_partitions`].
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip(db))]
pub async fn retention_candidates<C: ConnectionTrait>(
    db: &C,
    retention: &Retention,
    counting: RowCounting,
) -> Result<Vec<PartitionInfo>> {
    Ok(list(db, counting)
        .await?
        .into_iter()
        .filter(|p| retention.covers(p))
        .collect())
}

/// The partition called `name`, if `retention` allows dropping it: what [`drop_partition`]
/// checks before it drops, usable on its own for a dry run. Drops nothing.
///
/// # Errors
/// - [`PartitionError::UnknownPartition`](crate::PartitionError::UnknownPartition) when `name` is not a partition of one of the three parents
///   (`name` is only compared with catalog names, so any text is safe to pass);
/// - [`PartitionError::DropRefused`](crate::PartitionError::DropRefused) for a DEFAULT partition, one that is not a monthly partition, or one
///   not older than the cut-off;
/// - otherwise when the database refuses.
#[tracing::instrument(skip(db))]
pub async fn check_droppable<C: ConnectionTrait>(
    db: &C,
    name: &str,
    retention: &Retention,
    counting: RowCounting,
) -> Result<PartitionInfo> {
    Ok(droppable(db, name, retention, counting).await?.0)
}

/// [`check_droppable`], with the month the check vouched for.
async fn droppable<C: ConnectionTrait>(
    db: &C,
    name: &str,
    retention: &Retention,
    counting: RowCounting,
) -> Result<(PartitionInfo, NaiveDate)> {
    let partition = find_partition(db, name, counting).await?;
    match retention.check(&partition) {
        Ok(month) => Ok((partition, month)),
        Err(reason) => Err(Error::Partition(PartitionError::DropRefused {
            partition: partition.name,
            reason,
        })),
    }
}

/// The comment a drop puts on the table it detached; with the `_detached` name it is what
/// [`DETACHED_SQL`] recognises (which builds the same text).
fn marker(parent: Parent, partition: &str) -> String {
    format!(
        "foresto retention: partition {partition} of {parent}, detached to be archived and dropped"
    )
}

const DETACHED_SUFFIX: &str = "_detached";

// Plain tables (not partitions) in a parent's schema named `<parent>_YYYYMM_detached` and
// carrying the comment of `marker()`: neither alone makes a table ours. `left(…, -9)` strips
// the `_detached` suffix. Exact counts run like the catalog's, via `query_to_xml`.
const DETACHED_SQL: &str = include_str!("detached.sql");

#[derive(Debug, FromQueryResult)]
struct DetachedRow {
    parent: String,
    schema: String,
    partition: String,
    detached_table: String,
    parent_qualified: String,
    month: NaiveDate,
    rows: Option<i64>,
}

async fn detached_query<C: ConnectionTrait>(
    db: &C,
    counting: RowCounting,
    name: Option<&str>,
) -> Result<Vec<DetachedPartition>> {
    let rows: Vec<DetachedRow> = catalog_rows(db, DETACHED_SQL, counting, name).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(DetachedPartition {
                parent: Parent::from_table(&row.parent)?,
                schema: row.schema,
                partition: row.partition,
                table: row.detached_table,
                month: row.month,
                rows: row.rows,
                rows_exact: counting == RowCounting::Exact,
                parent_qualified: row.parent_qualified,
            })
        })
        .collect())
}

/// Every partition left detached by a drop that did not finish, by parent and name, with row
/// counts as `counting` says. Empty when every drop finished.
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip(db))]
pub async fn detached_partitions<C: ConnectionTrait>(
    db: &C,
    counting: RowCounting,
) -> Result<Vec<DetachedPartition>> {
    detached_query(db, counting, None).await
}

/// The detached partition whose partition name or table name is `name`.
async fn find_detached<C: ConnectionTrait>(
    db: &C,
    name: &str,
) -> Result<Option<DetachedPartition>> {
    Ok(detached_query(db, RowCounting::Estimated, Some(name))
        .await?
        .into_iter()
        .next())
}

/// Drops the partition called `name` if `retention` allows it, after writing its rows to
/// `archive_dir/<name>.csv.gz` (CSV with a header line, ordered by primary key, gzip'd) when
/// `archive_dir` is given (the directory is created if missing). The parent is locked only
/// while the partition is detached, not while it is archived (see the module documentation).
/// `name` may also be a partition left detached by an unfinished drop ([`detached_partitions`]):
/// its drop is finished, and an archive already in place is kept if it holds exactly the
/// table's rows.
///
/// Either the archive is complete on disk and the partition is gone, or the partition is
/// attached again with all its rows and no archive file of this call is left behind, or (only
/// when [`PartitionError::DropUnfinished`](crate::PartitionError::DropUnfinished) says so) its rows wait in the detached table.
///
/// Takes the connection pool itself because the archive streams `COPY … TO STDOUT` on a driver
/// connection, which `ConnectionTrait` does not expose.
///
/// # Errors
/// - as [`check_droppable`], and [`PartitionError::UnknownPartition`](crate::PartitionError::UnknownPartition) also when the partition went
///   (dropped by someone else) between the check and the claim;
/// - [`PartitionError::DropRefused`](crate::PartitionError::DropRefused) with [`DropRefusal::InProgress`] when another drop of it is under
///   way, or [`DropRefusal::ArchiveExists`] when its archive file exists already (nothing is
///   dropped, the other file is untouched);
/// - [`Error::Io`] when the archive cannot be written (the partition is attached again);
/// - [`PartitionError::DropUnfinished`](crate::PartitionError::DropUnfinished) when the drop stopped with the partition detached;
/// - otherwise when the database refuses (before the detach: nothing changed).
#[tracing::instrument(skip(db))]
pub async fn drop_partition(
    db: &DatabaseConnection,
    name: &str,
    retention: &Retention,
    archive_dir: Option<&Path>,
) -> Result<DroppedPartition> {
    let (subject, attached) = resolve(db, name, retention).await?;
    let archive = match archive_dir {
        Some(dir) => {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Error::io(dir, e))?;
            Some(dir.join(archive_file_name(&subject.partition)))
        }
        None => None,
    };
    // An attached partition with an archive on disk is refused before anything changes; for a
    // detached one the archive may be its own, written before the drop stopped.
    if attached
        && let Some(path) = &archive
        && exists(path).await?
    {
        return Err(subject.refused(DropRefusal::ArchiveExists { path: path.clone() }));
    }
    let Some(mut claim) = Claim::take(db, &subject).await? else {
        return Err(subject.refused(DropRefusal::InProgress));
    };
    let dropped = drop_claimed(&mut claim.conn, &subject, archive.as_deref()).await;
    claim.release().await;
    Ok(DroppedPartition {
        parent: subject.parent,
        name: subject.partition,
        month: subject.month,
        rows: dropped?,
        archive,
    })
}

/// Attaches the partition called `name` (its partition or its table name), left detached by a
/// drop that did not finish, to its parent again, as it was: rows of its month that reached the
/// DEFAULT partition meanwhile move back into it first. The parent is not blocked (ATTACH takes
/// SHARE UPDATE EXCLUSIVE on it); the DEFAULT partition is locked while it is checked.
///
/// # Errors
/// - [`Error::NotFound`] when no detached partition has that name;
/// - [`Error::InvalidInput`] when a drop or re-attach of it is under way;
/// - otherwise when the database refuses, e.g. a new partition of that month was made meanwhile
///   (nothing changes then).
#[tracing::instrument(skip(db))]
pub async fn reattach_partition(
    db: &DatabaseConnection,
    name: &str,
) -> Result<ReattachedPartition> {
    let detached = find_detached(db, name)
        .await?
        .ok_or_else(|| Error::not_found("detached partition", name))?;
    let subject = Subject::detached(&detached);
    let Some(mut claim) = Claim::take(db, &subject).await? else {
        return Err(Error::invalid(
            "partition",
            format!(
                "{} is being dropped or attached by another session",
                subject.partition
            ),
        ));
    };
    let reattached = async {
        let names = state(&mut claim.conn, &subject).await?;
        let table = names
            .detached
            .clone()
            .ok_or_else(|| Error::not_found("detached partition", name))?;
        reattach(&mut claim.conn, &subject, &table, &names).await
    }
    .await;
    claim.release().await;
    Ok(ReattachedPartition {
        parent: subject.parent,
        name: subject.partition,
        month: subject.month,
        rows_from_default: reattached?,
    })
}

/// The partition a drop or re-attach works on, whether attached or detached, by the names the
/// catalog gave it.
#[derive(Debug)]
struct Subject {
    parent: Parent,
    schema: String,
    partition: String,
    month: NaiveDate,
    parent_qualified: String,
}

impl Subject {
    fn attached(p: &PartitionInfo, month: NaiveDate) -> Self {
        Self {
            parent: p.parent,
            schema: p.schema.clone(),
            partition: p.name.clone(),
            month,
            parent_qualified: p.parent_qualified.clone(),
        }
    }

    fn detached(d: &DetachedPartition) -> Self {
        Self {
            parent: d.parent,
            schema: d.schema.clone(),
            partition: d.partition.clone(),
            month: d.month,
            parent_qualified: d.parent_qualified.clone(),
        }
    }

    fn next_month(&self) -> NaiveDate {
        self.month + Months::new(1)
    }

    fn detached_name(&self) -> String {
        format!("{}{DETACHED_SUFFIX}", self.partition)
    }

    fn refused(&self, reason: DropRefusal) -> Error {
        Error::Partition(PartitionError::DropRefused {
            partition: self.partition.clone(),
            reason,
        })
    }

    fn unfinished(&self, cause: Error) -> Error {
        Error::Partition(PartitionError::DropUnfinished {
            partition: self.partition.clone(),
            table: self.detached_name(),
            source: Box::new(cause),
        })
    }
}

/// The partition called `name` that a drop may work on: attached and allowed by `retention`
/// (`true`), or else detached by an unfinished drop and of a month `retention` covers.
async fn resolve(
    db: &DatabaseConnection,
    name: &str,
    retention: &Retention,
) -> Result<(Subject, bool)> {
    match droppable(db, name, retention, RowCounting::Estimated).await {
        Ok((partition, month)) => Ok((Subject::attached(&partition, month), true)),
        Err(Error::Partition(PartitionError::UnknownPartition { name: unknown })) => {
            let Some(detached) = find_detached(db, name).await? else {
                return Err(Error::Partition(PartitionError::UnknownPartition {
                    name: unknown,
                }));
            };
            retention.check_detached(&detached)?;
            Ok((Subject::detached(&detached), false))
        }
        Err(e) => Err(e),
    }
}

/// Advisory-lock class of retention claims (the second key names parent and month).
const CLAIM_CLASS: i32 = 0x4452_4F50; // "DROP"

/// The second advisory-lock key of a partition: parent number and month, never 0 (so never the
/// key `create_monthly_partitions` uses with a parent's oid).
fn claim_key(parent: Parent, month: NaiveDate) -> i32 {
    let parent_no = match parent {
        Parent::DailyPrice => 1,
        Parent::DailyReturn => 2,
        Parent::SimulationPath => 3,
    };
    // Partition names hold four-digit years, so year * 100 + month stays below 1 000 000.
    parent_no * 1_000_000 + month.year() * 100 + month.month() as i32
}

/// A drop's hold on one partition: a session-level advisory lock on a pool connection that is
/// closed instead of reused, so that a drop abandoned half-way (its future dropped, its process
/// killed) releases the claim with its session rather than leaving it on a pooled connection.
struct Claim {
    conn: PoolConnection<Postgres>,
    key: i32,
}

impl Claim {
    /// The claim on `subject`, or `None` when another session holds it.
    async fn take(db: &DatabaseConnection, subject: &Subject) -> Result<Option<Self>> {
        let mut conn = db.get_postgres_connection_pool().acquire().await?;
        conn.close_on_drop();
        let key = claim_key(subject.parent, subject.month);
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(CLAIM_CLASS)
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        Ok(taken.then_some(Self { conn, key }))
    }

    async fn release(mut self) {
        // Closing the connection releases the lock too, but only once the close is through;
        // unlocking first frees the partition at once for whoever asks next.
        let _ = sqlx::query("SELECT pg_advisory_unlock($1, $2)")
            .bind(CLAIM_CLASS)
            .bind(self.key)
            .execute(&mut *self.conn)
            .await;
    }
}

/// What the catalog holds of a subject, read under its claim, with every name the steps splice
/// into SQL quoted by the server (`format('%I…')`, `quote_literal`).
struct Names {
    /// The partition, if it is attached to its parent with its month's bounds.
    attached: Option<String>,
    /// Its detached table, if a drop left one (with the marker).
    detached: Option<String>,
    /// `schema.partition`, for the table once attached again.
    attached_as: String,
    /// `schema.partition_detached`, for the table once detached.
    detached_as: String,
    /// `partition`, to rename to.
    partition_ident: String,
    /// `partition_detached`, to rename to.
    detached_ident: String,
    /// The marker comment as an SQL literal.
    marker_literal: String,
}

// The fields of [`Names`]. $1 schema, $2 partition, $3 parent (qualified), $4 the month's bound
// as `pg_get_expr` prints it, $5 the detached table's name, $6 the marker.
const STATE_SQL: &str = include_str!("drop_state.sql");

type StateRow = (
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
);

async fn state(conn: &mut PgConnection, s: &Subject) -> Result<Names> {
    let bound = format!("FOR VALUES FROM ('{}') TO ('{}')", s.month, s.next_month());
    let row: StateRow = sqlx::query_as(STATE_SQL)
        .bind(&s.schema)
        .bind(&s.partition)
        .bind(&s.parent_qualified)
        .bind(bound)
        .bind(s.detached_name())
        .bind(marker(s.parent, &s.partition))
        .fetch_one(conn)
        .await?;
    let (attached, detached, attached_as, detached_as, partition_ident, detached_ident, marker) =
        row;
    Ok(Names {
        attached,
        detached,
        attached_as,
        detached_as,
        partition_ident,
        detached_ident,
        marker_literal: marker,
    })
}

/// How a drop that got past the detach stopped.
enum Stop {
    /// Before any archive of the table was in place: attach the table again.
    Undo(Error),
    /// With the archive in place, or with the outcome of the `DROP` unknown: the table stays
    /// detached (or is gone, its rows in the archive) and is never attached again from here.
    Keep(Error),
}

/// The drop's three steps under its claim; returns the rows dropped.
async fn drop_claimed(
    conn: &mut PgConnection,
    subject: &Subject,
    archive: Option<&Path>,
) -> Result<i64> {
    let names = state(conn, subject).await?;
    let table = match (&names.detached, &names.attached) {
        // An earlier drop stopped after its detach: finish that first.
        (Some(detached), _) => detached.clone(),
        (None, Some(attached)) => {
            detach(conn, subject, attached, &names).await?;
            names.detached_as.clone()
        }
        // Dropped by someone else between the check and the claim.
        (None, None) => {
            return Err(Error::Partition(PartitionError::UnknownPartition {
                name: subject.partition.clone(),
            }));
        }
    };
    match archive_and_drop(conn, subject, &table, archive).await {
        Ok(rows) => Ok(rows),
        Err(Stop::Undo(cause)) => match reattach(conn, subject, &table, &names).await {
            Ok(_) => Err(cause),
            Err(undo) => {
                tracing::error!(partition = %subject.partition, error = %undo, "attaching again failed");
                Err(subject.unfinished(cause))
            }
        },
        Err(Stop::Keep(cause)) => Err(subject.unfinished(cause)),
    }
}

async fn execute(conn: &mut PgConnection, sql: String) -> Result<u64> {
    Ok(sqlx::query(AssertSqlSafe(sql))
        .execute(conn)
        .await?
        .rows_affected())
}

/// Step 1: detaches the partition, renames it and marks it, in one short transaction: the only
/// time the parent is locked (ACCESS EXCLUSIVE, for catalog changes only).
async fn detach(conn: &mut PgConnection, s: &Subject, attached: &str, names: &Names) -> Result<()> {
    let mut tx = conn.begin().await?;
    let changed: Result<()> = async {
        execute(
            &mut tx,
            format!(
                "ALTER TABLE {} DETACH PARTITION {attached}",
                s.parent_qualified
            ),
        )
        .await?;
        // The new name frees the month's name, so `create_monthly_partitions` can make the
        // month again for rows written meanwhile (they are in DEFAULT until then).
        execute(
            &mut tx,
            format!("ALTER TABLE {attached} RENAME TO {}", names.detached_ident),
        )
        .await?;
        execute(
            &mut tx,
            format!(
                "COMMENT ON TABLE {} IS {}",
                names.detached_as, names.marker_literal
            ),
        )
        .await?;
        Ok(())
    }
    .await;
    match changed {
        Ok(()) => Ok(tx.commit().await?),
        Err(e) => {
            // Roll back now rather than when the connection is next used: the detach holds the
            // parent's lock until then.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Steps 2 and 3 in one transaction on the detached `table`; returns its row count.
async fn archive_and_drop(
    conn: &mut PgConnection,
    s: &Subject,
    table: &str,
    archive: Option<&Path>,
) -> std::result::Result<i64, Stop> {
    let mut tx = conn.begin().await.map_err(|e| Stop::Undo(e.into()))?;
    match archive_then_drop(&mut tx, s, table, archive).await {
        Ok(rows) => match tx.commit().await {
            Ok(()) => Ok(rows),
            // The server may have committed and only the reply been lost: then the table is
            // gone and its rows live in the archive alone, so nothing here may touch either.
            Err(e) => Err(Stop::Keep(e.into())),
        },
        Err(stop) => {
            let _ = tx.rollback().await;
            Err(stop)
        }
    }
}

async fn archive_then_drop(
    conn: &mut PgConnection,
    s: &Subject,
    table: &str,
    archive: Option<&Path>,
) -> std::result::Result<i64, Stop> {
    // SHARE keeps writers out, so the count and the archive see the same rows; readers go on.
    execute(conn, format!("LOCK TABLE {table} IN SHARE MODE"))
        .await
        .map_err(Stop::Undo)?;
    let rows: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| Stop::Undo(e.into()))?;
    let mut archived = false;
    if let Some(path) = archive {
        let copy = copy_statement(conn, table).await.map_err(Stop::Undo)?;
        if exists(path).await.map_err(Stop::Undo)? {
            // Only a drop being finished gets here with an archive on disk (or one that another
            // process wrote since the check): it is kept only if it holds exactly these rows.
            if !archive_matches(conn, &copy, path)
                .await
                .map_err(Stop::Undo)?
            {
                return Err(Stop::Undo(s.refused(DropRefusal::ArchiveExists {
                    path: path.to_owned(),
                })));
            }
            sync_dir(path).await.map_err(Stop::Keep)?;
        } else {
            write_archive(conn, s, &copy, path).await?;
        }
        archived = true;
    }
    execute(conn, format!("DROP TABLE {table}"))
        .await
        .map_err(|e| {
            if archived {
                Stop::Keep(e)
            } else {
                Stop::Undo(e)
            }
        })?;
    Ok(rows)
}

/// `COPY` of the whole table as CSV with a header, ordered by its primary key: the same rows
/// always give the same bytes, so an archive written before can be checked against the table.
async fn copy_statement(conn: &mut PgConnection, table: &str) -> Result<String> {
    let order: Option<String> = sqlx::query_scalar(
        "SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord)
           FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k (attnum, ord)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = to_regclass($1) AND i.indisprimary",
    )
    .bind(table)
    .fetch_one(conn)
    .await?;
    let order = order.map(|o| format!(" ORDER BY {o}")).unwrap_or_default();
    Ok(format!(
        "COPY (SELECT * FROM {table}{order}) TO STDOUT WITH (FORMAT csv, HEADER)"
    ))
}

/// Runs `copy` (a `COPY … TO STDOUT`) on `conn`, handing each chunk to `chunks`. Reads to the
/// end even when the receiver has gone (it reports its own failure), so that the connection
/// leaves COPY mode cleanly.
async fn copy_out(
    conn: &mut PgConnection,
    copy: &str,
    chunks: mpsc::Sender<Vec<u8>>,
) -> Result<()> {
    let mut stream = conn.copy_out_raw(copy).await?;
    while let Some(chunk) = stream.try_next().await? {
        let _ = chunks.send(chunk.to_vec()).await;
    }
    Ok(())
}

/// The temporary file an archive is written to before it gets its name: next to it, so that the
/// link stays within one file system.
fn partial_path(path: &Path) -> PathBuf {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{file_name}.partial"))
}

/// Whether something (a dangling symlink included) has the name `path`.
async fn exists(path: &Path) -> Result<bool> {
    match tokio::fs::symlink_metadata(path).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Writes the archive of `copy` to `path`, complete and synced under its name or not at all.
async fn write_archive(
    conn: &mut PgConnection,
    s: &Subject,
    copy: &str,
    path: &Path,
) -> std::result::Result<(), Stop> {
    let partial = partial_path(path);
    // Created exclusively and never through a symlink: what is there already (a file being
    // written by another process, or left by one that died) is neither shared nor overwritten.
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&partial)
        .await
        .map_err(|e| {
            Stop::Undo(if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::io(
                    &partial,
                    std::io::Error::new(
                        e.kind(),
                        "exists already (an interrupted drop left it, or another process \
                         writes it): remove it once no drop of this partition runs",
                    ),
                )
            } else {
                Error::io(&partial, e)
            })
        })?
        .into_std()
        .await;
    let written: Result<()> = async {
        let (chunks, received) = mpsc::channel(16);
        // Compression and file writes block; they run on a blocking thread fed by the COPY.
        let writer = {
            let partial = partial.clone();
            tokio::task::spawn_blocking(move || write_gzip(file, &partial, received))
        };
        let copied = copy_out(conn, copy, chunks).await;
        let written = writer
            .await
            .map_err(|e| Error::io(&partial, std::io::Error::other(e)))
            .and_then(|r| r);
        copied.and(written)?;
        // A link, unlike a rename, never replaces what has the name meanwhile.
        tokio::fs::hard_link(&partial, path).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                s.refused(DropRefusal::ArchiveExists {
                    path: path.to_owned(),
                })
            } else {
                Error::io(path, e)
            }
        })
    }
    .await;
    if let Err(e) = written {
        // This drop created the temporary file and nothing has the archive's name: the table
        // still holds every row (no `DROP` was sent), so the incomplete file goes.
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(Stop::Undo(e));
    }
    // From here the archive has its name: it is never removed. The temporary name is a second
    // link to it.
    if let Err(e) = tokio::fs::remove_file(&partial).await {
        tracing::warn!(path = %partial.display(), error = %e, "removing the temporary name failed");
    }
    sync_dir(path).await.map_err(Stop::Keep)
}

/// Syncs the directory holding `path`, and the directory above it (which holds the archive
/// directory's own name, perhaps just created): the archive must survive a crash that follows
/// the drop.
async fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let dir = tokio::fs::canonicalize(dir)
        .await
        .map_err(|e| Error::io(dir, e))?;
    for dir in std::iter::once(dir.as_path()).chain(dir.parent()) {
        let handle = tokio::fs::File::open(dir)
            .await
            .map_err(|e| Error::io(dir, e))?;
        handle.sync_all().await.map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

fn write_gzip(file: std::fs::File, path: &Path, mut chunks: mpsc::Receiver<Vec<u8>>) -> Result<()> {
    crate::gzip_file::write_synced_to(file, path, |gz| {
        while let Some(chunk) = chunks.blocking_recv() {
            gz.write_all(&chunk)?;
        }
        Ok(())
    })
}

/// Whether the archive at `path` holds exactly what `copy` gives now (compared uncompressed, so
/// that a different compressor build does not matter). A damaged archive does not match.
async fn archive_matches(conn: &mut PgConnection, copy: &str, path: &Path) -> Result<bool> {
    let (chunks, mut received) = mpsc::channel::<Vec<u8>>(16);
    let checker = {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || -> Result<bool> {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            let mut archived = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
            let mut expected = Vec::new();
            while let Some(chunk) = received.blocking_recv() {
                expected.resize(chunk.len(), 0);
                if archived.read_exact(&mut expected).is_err() || expected != chunk {
                    return Ok(false);
                }
            }
            // …and must end where the table does.
            Ok(matches!(archived.read(&mut [0; 1]), Ok(0)))
        })
    };
    let copied = copy_out(conn, copy, chunks).await;
    let same = checker
        .await
        .map_err(|e| Error::io(path, std::io::Error::other(e)))??;
    copied?;
    Ok(same)
}

/// Undoes a detach: the table gets its partition name back and is attached with its month's
/// bounds, taking along the month's rows that reached the DEFAULT partition meanwhile. Returns
/// how many those were. One transaction: on any error nothing changes.
async fn reattach(conn: &mut PgConnection, s: &Subject, table: &str, names: &Names) -> Result<u64> {
    let mut tx = conn.begin().await?;
    let (from, to, key) = (s.month, s.next_month(), s.parent.key());
    let attached = &names.attached_as;
    let moved: Result<u64> = async {
        // A valid CHECK implying the bounds lets ATTACH skip scanning the table while it holds
        // the DEFAULT partition's lock; this scan locks only the detached table.
        execute(
            &mut tx,
            format!(
                "ALTER TABLE {table} ADD CONSTRAINT {REATTACH_CHECK} \
                 CHECK ({key} IS NOT NULL AND {key} >= '{from}' AND {key} < '{to}')"
            ),
        )
        .await?;
        let (default, columns): (Option<String>, String) = sqlx::query_as(
            "SELECT NULLIF(pt.partdefid, 0::oid)::regclass::text,
                    (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                       FROM pg_attribute a
                      WHERE a.attrelid = pt.partrelid AND a.attnum > 0 AND NOT a.attisdropped)
               FROM pg_partitioned_table pt WHERE pt.partrelid = to_regclass($1)",
        )
        .bind(&s.parent_qualified)
        .fetch_one(&mut *tx)
        .await?;
        let mut moved = 0;
        if let Some(default) = default {
            // Rows of the month written while it was detached went to DEFAULT, where they would
            // make the ATTACH fail: they come back with their partition.
            moved = execute(
                &mut tx,
                format!(
                    "WITH moved AS (DELETE FROM {default} WHERE {key} >= '{from}' AND {key} < '{to}' \
                     RETURNING {columns}) INSERT INTO {table} ({columns}) SELECT {columns} FROM moved"
                ),
            )
            .await?;
        }
        for sql in [
            format!("ALTER TABLE {table} RENAME TO {}", names.partition_ident),
            format!(
                "ALTER TABLE {} ATTACH PARTITION {attached} FOR VALUES FROM ('{from}') TO ('{to}')",
                s.parent_qualified
            ),
            format!("ALTER TABLE {attached} DROP CONSTRAINT {REATTACH_CHECK}"),
            format!("COMMENT ON TABLE {attached} IS NULL"),
        ] {
            execute(&mut tx, sql).await?;
        }
        Ok(moved)
    }
    .await;
    match moved {
        Ok(moved) => {
            tx.commit().await?;
            Ok(moved)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// The temporary CHECK constraint [`reattach`] adds and removes.
const REATTACH_CHECK: &str = "foresto_reattach_bounds";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_keys_differ_by_parent_and_month_and_are_never_zero() {
        let jan = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        let feb = NaiveDate::from_ymd_opt(2020, 2, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(9999, 12, 1).unwrap();
        let keys = [
            claim_key(Parent::DailyPrice, jan),
            claim_key(Parent::DailyPrice, feb),
            claim_key(Parent::DailyReturn, jan),
            claim_key(Parent::SimulationPath, jan),
            claim_key(Parent::SimulationPath, last),
        ];
        for (i, a) in keys.iter().enumerate() {
            assert_ne!(*a, 0);
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(claim_key(Parent::DailyPrice, last) < claim_key(Parent::DailyReturn, jan));
    }

    #[test]
    fn the_marker_matches_the_sql_that_finds_it() {
        // DETACHED_SQL rebuilds the marker with format(); the two texts must stay the same.
        let text = marker(Parent::DailyPrice, "daily_price_202001");
        assert_eq!(
            text,
            "foresto retention: partition daily_price_202001 of daily_price, detached to be archived and dropped"
        );
        assert!(DETACHED_SQL.contains(
            "'foresto retention: partition %s of %s, detached to be archived and dropped'"
        ));
        assert_eq!(DETACHED_SUFFIX.len(), 9, "DETACHED_SQL strips 9 characters");
    }
}
