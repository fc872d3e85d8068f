//! Archiving a run before it is deleted: one gzip-compressed JSON file per run with every column
//! of its run, summary and path rows. Decimals are written as exact strings at their column scale
//! (`"1000.0000"`), ids and counts as JSON integers, timestamps as RFC 3339.

use std::path::{Path, PathBuf};

use entity::{simulation_path, simulation_run, simulation_summary};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::runs;
use crate::error::{Error, Result};

/// The `format` tag of an archive file.
pub const FORMAT: &str = "foresto.simulation_run.v1";

/// Everything stored for one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunArchive {
    pub format: String,
    pub run: simulation_run::Model,
    pub summary: Option<simulation_summary::Model>,
    pub path: Vec<simulation_path::Model>,
}

/// Reads `run`'s summary and full path rows into an archive.
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip(db, run), fields(run_id = run.run_id))]
pub async fn collect<C: ConnectionTrait>(db: &C, run: simulation_run::Model) -> Result<RunArchive> {
    let summary = runs::summary(db, run.run_id).await?;
    let path = simulation_path::Entity::find()
        .filter(simulation_path::Column::RunId.eq(run.run_id))
        .order_by_asc(simulation_path::Column::PathDate)
        .all(db)
        .await?;
    Ok(RunArchive {
        format: FORMAT.to_owned(),
        run,
        summary,
        path,
    })
}

/// The archive file name of a run: `run-<run_id>-<request_hash>.json.gz`.
pub fn file_name(run: &simulation_run::Model) -> String {
    format!("run-{}-{}.json.gz", run.run_id, run.request_hash)
}

/// Writes `archive` into `dir` (created if missing) and returns the file's path. The file is
/// written under a temporary name, synced and then renamed, so a file with the final name is
/// always complete. Blocking: call it off the async runtime's worker threads.
///
/// # Errors
/// [`Error::Io`] when the directory or file cannot be written.
pub fn write(dir: &Path, archive: &RunArchive) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let target = dir.join(file_name(&archive.run));
    let partial = target.with_extension("gz.partial");
    crate::gzip_file::write_synced(&partial, |gz| {
        serde_json::to_writer(&mut *gz, archive)?;
        Ok(())
    })?;
    std::fs::rename(&partial, &target).map_err(|e| Error::io(&target, e))?;
    Ok(target)
}
