//! The monthly partitions a load writes into: held against the load's [`PartitionLimits`] and
//! created before a batch that needs them is handed to a writing session.
//!
//! Before the first batch, the months the whole file needs are held against the cap
//! ([`LoadMonths::check`]): a load that would create more partitions than its cap is refused
//! before it writes anything. The partitions a batch needs are then created before it is written
//! (only for months that hold records), so no record lands in the DEFAULT partition; the
//! partitions the whole load creates count against the same cap, so a batch that would still go
//! over it (a file that changed since it was checked, or one read only once) is refused before
//! any of its partitions is made.

use std::collections::{BTreeSet, HashSet};

use chrono::NaiveDate;
use sea_orm::DatabaseConnection;

use super::batch::Batch;
use crate::error::Result;
use crate::partitions::{self, NewPartitions, Parent, PartitionLimits};

/// The partitions one load has made sure of.
pub(crate) struct LoadMonths<'a> {
    db: &'a DatabaseConnection,
    limits: PartitionLimits,
    ensured: HashSet<NaiveDate>,
    /// What this load created, held against `limits.max_new`.
    created: NewPartitions,
}

impl<'a> LoadMonths<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection, limits: &PartitionLimits) -> Self {
        Self {
            db,
            limits: limits.clone(),
            ensured: HashSet::new(),
            created: NewPartitions::default(),
        }
    }

    /// Holds the months the whole load will write (first days) against its partition cap,
    /// creating nothing: returns how many of them have no partition yet.
    ///
    /// # Errors
    /// [`PartitionError::TooManyPartitions`](crate::PartitionError::TooManyPartitions), naming
    /// the span of the months that need a partition, when they are more than the cap; otherwise
    /// when the database refuses.
    pub(crate) async fn check(&self, months: &BTreeSet<NaiveDate>) -> Result<usize> {
        let months: Vec<NaiveDate> = months.iter().copied().collect();
        let missing = self
            .created
            .check(self.db, Parent::DailyPrice, &months, &self.limits)
            .await?;
        Ok(missing.len())
    }

    /// Creates the partitions of the batch's months not yet made sure of in this load.
    ///
    /// # Errors
    /// As [`LoadMonths::check`], for the months this load has created so far plus the batch's.
    pub(crate) async fn ensure(&mut self, batch: &Batch) -> Result<()> {
        let missing: Vec<NaiveDate> = batch
            .months()
            .filter(|m| !self.ensured.contains(m))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        partitions::ensure_months(
            self.db,
            Parent::DailyPrice,
            &missing,
            &self.limits,
            &mut self.created,
        )
        .await?;
        self.ensured.extend(missing);
        Ok(())
    }
}
