//! Errors of loading files: load history, price files, instrument files.

use super::Error;

/// Why a load or an import did not complete.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A row of an all-or-nothing CSV import breaks a rule; nothing was imported.
    #[error("{path}, line {line}: {reason}")]
    InvalidRow {
        path: String,
        line: u64,
        reason: String,
    },

    /// A price file could not be read as a whole (missing, unreadable, no usable header); its
    /// load is recorded as FAILED.
    #[error("load {load_id}: cannot read {path}: {reason}")]
    UnreadableFile {
        load_id: i64,
        path: String,
        reason: String,
    },

    /// A load stopped (e.g. the connection was lost, or the file needs more new partitions than
    /// its cap: `source` says which). A file is checked against the cap before anything is
    /// written; a pipe, read once, batch by batch. Batches committed before a failure stay; the load
    /// is recorded as FAILED when the database can still be reached (else it stays STARTED until
    /// marked stale). Re-running the load completes it (a cap refusal only once the cap allows
    /// what is left).
    #[error("load {load_id} failed: {source}")]
    LoadFailed {
        load_id: i64,
        #[source]
        source: Box<Error>,
    },

    /// A load can be finished only once, from STARTED.
    #[error("load {load_id} is already finished ({status:?})")]
    LoadAlreadyFinished {
        load_id: i64,
        status: entity::enums::LoadStatus,
    },
}
