//! Retention: dropping monthly partitions older than a cut-off, optionally archiving each to a
//! gzip'd CSV file first.
//!
//! A drop is one transaction: detach the partition (which also stops new rows reaching it), count
//! and archive its rows, drop it, commit. The archive is complete and on disk (written to a
//! temporary name, synced, renamed, directory synced) before the `DROP`; if anything fails the
//! transaction rolls back and the partition is attached again as it was.

use std::path::{Path, PathBuf};

use chrono::{Months, NaiveDate};
use futures_util::TryStreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;
use sqlx::{AssertSqlSafe, PgConnection};

use super::{Parent, PartitionInfo, PartitionKind, RowCounting, find_partition, list, month_start};
use crate::error::{Error, Result};

/// Why [`drop_partition`] refused a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropRefusal {
    /// It is a parent's DEFAULT partition, which is never dropped.
    Default,
    /// Its name, schema or bounds are not those of one of our monthly partitions.
    NotMonthly,
    /// Its month does not end on or before the cut-off.
    NotOlderThanCutoff {
        /// The partition's month.
        month: NaiveDate,
        /// The cut-off it was held against.
        cutoff: NaiveDate,
    },
    /// The archive file exists already; an earlier archive is never overwritten.
    ArchiveExists {
        /// The existing file.
        path: PathBuf,
    },
}

impl std::fmt::Display for DropRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DropRefusal::Default => f.write_str("it is a DEFAULT partition"),
            DropRefusal::NotMonthly => f.write_str("it is not a monthly partition"),
            DropRefusal::NotOlderThanCutoff { month, cutoff } => write!(
                f,
                "its month {} does not end before the cut-off {cutoff}",
                month.format("%Y-%m")
            ),
            DropRefusal::ArchiveExists { path } => {
                write!(f, "archive file {} already exists", path.display())
            }
        }
    }
}

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
            .is_some_and(|month| month + Months::new(1) <= self.cutoff)
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

/// The archive file name of a partition: `<partition>.csv.gz`.
pub fn archive_file_name(partition: &str) -> String {
    format!("{partition}.csv.gz")
}

/// The monthly partitions of all three parents that `retention` allows dropping, oldest first
/// per parent, with row counts as `counting` says: what a dry run reports. Drops nothing.
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
/// - [`Error::UnknownPartition`] when `name` is not a partition of one of the three parents
///   (`name` is only compared with catalog names, so any text is safe to pass);
/// - [`Error::DropRefused`] for a DEFAULT partition, one that is not a monthly partition, or one
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
        Err(reason) => Err(Error::DropRefused {
            partition: partition.name,
            reason,
        }),
    }
}

/// Drops the partition called `name` if `retention` allows it, after writing its rows to
/// `archive_dir/<name>.csv.gz` (CSV with a header line, gzip'd) when `archive_dir` is given (the
/// directory is created if missing). Either the archive is complete on disk and the partition is
/// gone, or (on any error) the partition is still attached with all its rows and no archive file
/// is left behind.
///
/// Takes the connection pool itself because the archive streams `COPY … TO STDOUT` on a driver
/// connection, which `ConnectionTrait` does not expose.
///
/// # Errors
/// - as [`check_droppable`];
/// - [`Error::DropRefused`] with [`DropRefusal::ArchiveExists`] when the archive file exists
///   already;
/// - [`Error::Io`] when the archive cannot be written (nothing is dropped);
/// - otherwise when the database refuses.
#[tracing::instrument(skip(db))]
pub async fn drop_partition(
    db: &DatabaseConnection,
    name: &str,
    retention: &Retention,
    archive_dir: Option<&Path>,
) -> Result<DroppedPartition> {
    let (partition, month) = droppable(db, name, retention, RowCounting::Estimated).await?;
    let archive = match archive_dir {
        Some(dir) => {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Error::io(dir, e))?;
            let path = dir.join(archive_file_name(&partition.name));
            if tokio::fs::try_exists(&path)
                .await
                .map_err(|e| Error::io(&path, e))?
            {
                return Err(Error::DropRefused {
                    partition: partition.name,
                    reason: DropRefusal::ArchiveExists { path },
                });
            }
            Some(path)
        }
        None => None,
    };

    let mut tx = db.get_postgres_connection_pool().begin().await?;
    let outcome = match detach_archive_drop(&mut tx, &partition, archive.as_deref()).await {
        Ok(rows) => tx.commit().await.map(|()| rows).map_err(Error::from),
        Err(e) => {
            // Roll back now rather than when the pooled connection is next used: the detach
            // holds its locks until then.
            let _ = tx.rollback().await;
            Err(e)
        }
    };
    match outcome {
        Ok(rows) => Ok(DroppedPartition {
            parent: partition.parent,
            name: partition.name,
            month,
            rows,
            archive,
        }),
        Err(e) => {
            if let Some(path) = &archive {
                // The partition survives, so no archive may claim it was dropped.
                let _ = tokio::fs::remove_file(path).await;
            }
            Err(e)
        }
    }
}

/// Detaches `partition`, counts its rows, archives them to `archive` if given, and drops it, all
/// in `conn`'s transaction; returns the row count. Detaching first takes the parent's lock
/// before the partition's, the order writers take them in, and stops new rows reaching the
/// partition while it is archived.
async fn detach_archive_drop(
    conn: &mut PgConnection,
    partition: &PartitionInfo,
    archive: Option<&Path>,
) -> Result<i64> {
    // Both names were quoted by the catalog (see `catalog`), never taken from user text.
    sqlx::query(AssertSqlSafe(format!(
        "ALTER TABLE {} DETACH PARTITION {}",
        partition.parent_qualified, partition.qualified
    )))
    .execute(&mut *conn)
    .await?;
    let rows: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM {}",
        partition.qualified
    )))
    .fetch_one(&mut *conn)
    .await?;
    if let Some(path) = archive {
        archive_table(conn, &partition.qualified, path).await?;
    }
    sqlx::query(AssertSqlSafe(format!("DROP TABLE {}", partition.qualified)))
        .execute(&mut *conn)
        .await?;
    Ok(rows)
}

/// Writes `table` as gzip'd CSV (with header) to `path`, complete and synced or not at all: the
/// data goes to a temporary file in the same directory that is renamed into place at the end.
async fn archive_table(conn: &mut PgConnection, table: &str, path: &Path) -> Result<()> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{file_name}.partial"));
    let (chunks, received) = tokio::sync::mpsc::channel(16);
    // Compression and file writes block; they run on a blocking thread fed by the COPY stream.
    let writer = {
        let partial = partial.clone();
        tokio::task::spawn_blocking(move || write_gzip(&partial, received))
    };
    let copied: Result<()> = async {
        let mut stream = conn
            .copy_out_raw(&format!("COPY {table} TO STDOUT WITH (FORMAT csv, HEADER)"))
            .await?;
        while let Some(chunk) = stream.try_next().await? {
            // A writer that failed has its own error to report; keep reading so that the
            // connection leaves COPY mode cleanly.
            let _ = chunks.send(chunk).await;
        }
        Ok(())
    }
    .await;
    drop(chunks);
    let written = writer
        .await
        .map_err(|e| Error::io(&partial, std::io::Error::other(e)))
        .and_then(|r| r);
    let finished = match copied.and(written) {
        Ok(()) => publish(&partial, path).await,
        Err(e) => Err(e),
    };
    if finished.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
        let _ = tokio::fs::remove_file(path).await;
    }
    finished
}

/// Renames the finished archive into place and syncs its directory: the archive must survive a
/// crash that follows the drop.
async fn publish(partial: &Path, path: &Path) -> Result<()> {
    tokio::fs::rename(partial, path)
        .await
        .map_err(|e| Error::io(path, e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir_handle = tokio::fs::File::open(dir)
        .await
        .map_err(|e| Error::io(dir, e))?;
    dir_handle.sync_all().await.map_err(|e| Error::io(dir, e))
}

fn write_gzip<B: AsRef<[u8]>>(
    path: &Path,
    mut chunks: tokio::sync::mpsc::Receiver<B>,
) -> Result<()> {
    crate::gzip_file::write_synced(path, |gz| {
        while let Some(chunk) = chunks.blocking_recv() {
            gz.write_all(chunk.as_ref())?;
        }
        Ok(())
    })
}
