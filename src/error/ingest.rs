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

    /// A load stopped part-way (e.g. the connection was lost, or a batch would have taken the
    /// load over its partition cap: `source` says which). Batches committed before stay; the load
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
