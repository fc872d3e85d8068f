//! The flags that bound what a command accepts and creates: the date window and the cap on new
//! partitions (`prices load`, `returns compute`).

use chrono::NaiveDate;
use foresto::partitions::{DateWindow, PartitionLimits};

#[derive(Debug, clap::Args)]
pub struct LimitArgs {
    /// Earliest date accepted (YYYY-MM-DD); earlier records are rejected [default: 1900-01-01].
    #[arg(long, value_name = "DATE")]
    earliest_date: Option<NaiveDate>,
    /// Latest date accepted (YYYY-MM-DD); later records are rejected [default: ten years from
    /// today].
    #[arg(long, value_name = "DATE")]
    latest_date: Option<NaiveDate>,
    /// Most partitions the command may create; one that needs more fails before creating any
    /// [default: 600].
    #[arg(long, value_name = "N")]
    max_new_partitions: Option<u32>,
}

impl LimitArgs {
    /// `base` with the flags given.
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
