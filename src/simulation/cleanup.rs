//! Deleting expired runs (their path and summary go with them through the cascades), in
//! batches, optionally archiving each run first.

use std::path::PathBuf;

use chrono::NaiveDate;
use entity::simulation_run;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession, TransactionTrait,
};
use serde::Serialize;

use super::archive;
use crate::error::{Error, Result};

/// What [`cleanup_expired`] deletes and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupOptions {
    /// Count what would be deleted; delete and write nothing.
    pub dry_run: bool,
    /// Only runs that expired before this date (midnight UTC) — and, as always, by now.
    pub before: Option<NaiveDate>,
    /// Runs deleted per transaction: 1 to `i64::MAX` (PostgreSQL's `LIMIT` takes a `bigint`).
    pub batch_size: u64,
    /// Write one archive file per run into this directory before deleting it.
    pub archive_dir: Option<PathBuf>,
}

impl Default for CleanupOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            before: None,
            batch_size: 500,
            archive_dir: None,
        }
    }
}

/// What [`cleanup_expired`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// Expired runs found (in a dry run: that would be deleted).
    pub expired: u64,
    pub deleted: u64,
    pub batches: u64,
    pub archived: Vec<PathBuf>,
}

fn expired(before: Option<NaiveDate>) -> Condition {
    use simulation_run::Column as R;
    let mut condition = Condition::all()
        .add(R::ExpiresAt.is_not_null())
        .add(Expr::col(R::ExpiresAt).lte(Expr::current_timestamp()));
    if let Some(date) = before {
        let midnight = date
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .fixed_offset();
        condition = condition.add(R::ExpiresAt.lt(midnight));
    }
    condition
}

/// Checks a batch size before it becomes a `LIMIT`: the query builder converts it to `i64` and
/// panics on a larger value, so such a value must be refused here with a message instead.
///
/// # Errors
/// [`Error::InvalidInput`] (field `batch size`) for zero or a value beyond `i64::MAX`.
fn check_batch_size(batch_size: u64) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::invalid("batch size", "must be at least 1"));
    }
    if i64::try_from(batch_size).is_err() {
        return Err(Error::invalid(
            "batch size",
            format!("{batch_size} is more than {}", i64::MAX),
        ));
    }
    Ok(())
}

/// Deletes the runs whose `expires_at` has passed (and is before `before`, if given), oldest
/// expiry first, `batch_size` per transaction. With an archive directory, each batch's runs are
/// written to files before the batch is deleted, and a failed write deletes nothing of that
/// batch. Runs locked by a concurrent writer (e.g. being replaced by a new computation) are
/// skipped, not waited for.
///
/// # Errors
/// [`Error::InvalidInput`] for a batch size of zero or beyond `i64::MAX`, before anything is
/// read or deleted; [`Error::Io`] when an archive cannot be written; database errors. Batches
/// committed before the error stay deleted.
#[tracing::instrument(skip(db))]
pub async fn cleanup_expired<C>(db: &C, options: &CleanupOptions) -> Result<CleanupReport>
where
    C: ConnectionTrait + TransactionTrait,
{
    check_batch_size(options.batch_size)?;
    let mut report = CleanupReport {
        expired: simulation_run::Entity::find()
            .filter(expired(options.before))
            .count(db)
            .await?,
        ..CleanupReport::default()
    };
    if options.dry_run {
        return Ok(report);
    }
    loop {
        let txn = db.begin().await?;
        let batch = simulation_run::Entity::find()
            .filter(expired(options.before))
            .order_by_asc(simulation_run::Column::ExpiresAt)
            .order_by_asc(simulation_run::Column::RunId)
            .limit(options.batch_size)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&txn)
            .await?;
        if batch.is_empty() {
            break;
        }
        let ids: Vec<i64> = batch.iter().map(|r| r.run_id).collect();
        if let Some(dir) = &options.archive_dir {
            let mut archives = Vec::with_capacity(batch.len());
            for run in batch {
                archives.push(archive::collect(&txn, run).await?);
            }
            let dir = dir.clone();
            let written = tokio::task::spawn_blocking(move || {
                archives
                    .iter()
                    .map(|a| archive::write(&dir, a))
                    .collect::<Result<Vec<_>>>()
            })
            .await
            .map_err(|e| Error::io("archive", std::io::Error::other(e)))??;
            report.archived.extend(written);
        }
        let deleted = simulation_run::Entity::delete_many()
            .filter(simulation_run::Column::RunId.is_in(ids))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        report.deleted += deleted;
        report.batches += 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sizes_outside_one_to_bigint_max_are_refused() {
        assert!(check_batch_size(1).is_ok());
        assert!(check_batch_size(i64::MAX as u64).is_ok());
        for (size, reason) in [
            (0, "invalid batch size: must be at least 1".to_owned()),
            (
                i64::MAX as u64 + 1,
                format!(
                    "invalid batch size: {} is more than {}",
                    i64::MAX as u64 + 1,
                    i64::MAX
                ),
            ),
            (
                u64::MAX,
                format!("invalid batch size: {} is more than {}", u64::MAX, i64::MAX),
            ),
        ] {
            let err = check_batch_size(size).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        field: "batch size",
                        ..
                    }
                ),
                "{err:?}"
            );
            assert_eq!(err.to_string(), reason);
        }
    }
}
