//! Monthly partitions of the three range-partitioned parents: making sure the partitions a
//! write needs exist before it writes ([`ensure_range`], within [`PartitionLimits`]: a plausible
//! [`DateWindow`] and a cap per operation), and the operator's upkeep — partitions ahead of
//! time ([`ensure_ahead`]), the catalog view ([`list`]), rows stranded in DEFAULT partitions
//! ([`default_rows`], [`move_default_rows`]) and retention ([`retention_candidates`],
//! [`drop_partition`], and for drops that stopped part-way [`detached_partitions`],
//! [`reattach_partition`]).
//!
//! No identifier in partition SQL comes from user text: parents are the three names of
//! [`Parent`], and partitions are named only as read back from the catalog (`pg_inherits` of that
//! parent, in the parent's schema) and quoted there by `format('%I.%I')`.

mod ahead;
mod catalog;
mod create;
mod default_rows;
mod limits;
mod months;
mod retention;

use chrono::{Datelike, NaiveDate};

pub use crate::tables::Parent;
pub use ahead::{MonthlyPartition, ensure_ahead, missing_ahead};
pub use catalog::{PartitionInfo, PartitionKind, RowCounting, find_partition, list};
pub(crate) use create::{NewPartitions, ensure_months};
pub use create::{ensure_months_for, ensure_range, ensure_range_within};
pub use default_rows::{
    DefaultRows, DefaultRowsMoved, LeftInDefault, NotMoved, default_rows, move_default_rows,
    move_default_rows_report,
};
pub use limits::{
    DEFAULT_MAX_NEW_PARTITIONS, DateWindow, PLAUSIBLE_FIRST_DATE, PLAUSIBLE_YEARS_AHEAD,
    PartitionLimits,
};
pub(crate) use months::existing_months;
pub use retention::{
    DetachedPartition, DropRefusal, DroppedPartition, ReattachedPartition, Retention,
    archive_file_name, check_droppable, detached_partitions, drop_partition, reattach_partition,
    retention_candidates,
};

/// The first day of `date`'s month.
pub fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).expect("day 1 exists in every month")
}
