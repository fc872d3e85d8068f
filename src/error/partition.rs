//! Errors of partition upkeep and retention.

use std::fmt;
use std::path::PathBuf;

use chrono::NaiveDate;

use super::Error;
use crate::tables::Parent;

/// Why partition upkeep refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// No partition of `daily_price`, `daily_return` or `simulation_path` (in the parent's
    /// schema) has this name.
    #[error("no partition of daily_price, daily_return or simulation_path is named {name:?}")]
    UnknownPartition { name: String },

    /// Retention refused to drop this partition; `reason` says why.
    #[error("refusing to drop partition {partition}: {reason}")]
    DropRefused {
        partition: String,
        reason: DropRefusal,
    },

    /// An operation would create more partitions than its cap allows; the call that would
    /// have gone over created none.
    #[error(
        "refusing to create {count} partitions of {parent} ({} through {}): one operation may create at most {cap}",
        first.format("%Y-%m"),
        last.format("%Y-%m")
    )]
    TooManyPartitions {
        parent: Parent,
        /// The first month the operation has created or would create a partition for.
        first: NaiveDate,
        /// The last such month.
        last: NaiveDate,
        /// The partitions the operation would have created in all.
        count: u32,
        /// The most it may create.
        cap: u32,
    },

    /// A partition was asked for a month outside the plausible date window; none was created.
    #[error(
        "refusing to create partition {}: {} is outside the date window {earliest} to {latest}",
        parent.partition_name(*month),
        month.format("%Y-%m")
    )]
    OutsideWindow {
        parent: Parent,
        /// First day of the month refused.
        month: NaiveDate,
        /// The window's first and last date.
        earliest: NaiveDate,
        latest: NaiveDate,
    },

    /// A drop stopped after detaching the partition, and the table was not attached again. Its
    /// rows are still in `table` (unless the drop did commit before the connection was lost);
    /// `partitions drop` finishes the drop and `partitions reattach` undoes it.
    #[error(
        "drop of partition {partition} stopped part-way, its rows are kept in table {table} (`partitions drop` finishes, `partitions reattach {partition}` undoes): {source}"
    )]
    DropUnfinished {
        partition: String,
        table: String,
        #[source]
        source: Box<Error>,
    },
}

/// Why retention refuses to drop a partition.
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
    /// The archive file exists already (and, for a drop being finished, does not hold exactly
    /// the partition's rows); an existing archive is never overwritten.
    ArchiveExists {
        /// The existing file.
        path: PathBuf,
    },
    /// Another drop (or re-attach) of this partition is under way.
    InProgress,
}

impl fmt::Display for DropRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
            DropRefusal::InProgress => {
                f.write_str("another session is dropping or re-attaching it right now")
            }
        }
    }
}
