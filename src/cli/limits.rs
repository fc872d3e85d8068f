//! The flags that bound what a command accepts and creates: the date window and the cap on new
//! partitions (`prices load`, `returns compute`, `simulate`). Each flag given overrides its
//! variable (`FORESTO_EARLIEST_DATE`, `FORESTO_LATEST_DATE`, `FORESTO_MAX_NEW_PARTITIONS`).

use chrono::NaiveDate;
use foresto::partitions::{DateWindow, PartitionLimits};

#[derive(Debug, clap::Args)]
pub struct LimitArgs {
    /// Earliest date accepted (YYYY-MM-DD, 0001-01-01 at the earliest); earlier records are
    /// rejected [default: $FORESTO_EARLIEST_DATE, else 1900-01-01].
    #[arg(long, value_name = "DATE")]
    earliest_date: Option<NaiveDate>,
    /// Latest date accepted (YYYY-MM-DD, 9999-12-31 at the latest); later records are rejected
    /// [default: $FORESTO_LATEST_DATE, else ten years from today].
    #[arg(long, value_name = "DATE")]
    latest_date: Option<NaiveDate>,
    /// Most partitions the command may create; one that needs more fails before creating any
    /// [default: $FORESTO_MAX_NEW_PARTITIONS, else 600].
    #[arg(long, value_name = "N")]
    max_new_partitions: Option<u32>,
}

impl LimitArgs {
    /// `base` with the flags given.
    ///
    /// # Errors
    /// As [`DateWindow::new`]: a window outside 0001-01-01..9999-12-31 or ending before it
    /// starts.
    pub fn apply(&self, base: &PartitionLimits) -> foresto::Result<PartitionLimits> {
        let window = DateWindow::new(
            self.earliest_date.unwrap_or(base.window.first()),
            self.latest_date.unwrap_or(base.window.last()),
        )?;
        Ok(PartitionLimits {
            window,
            max_new: self.max_new_partitions.unwrap_or(base.max_new),
        })
    }
}
