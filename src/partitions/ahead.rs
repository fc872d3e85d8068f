//! Partitions ahead of time: every parent gets its monthly partitions for the current month and
//! the next N before any write needs them (the rolling horizon of `docs/schema.md`, "Beyond the original DDL").

use std::collections::HashSet;

use chrono::{Months, NaiveDate};
use sea_orm::ConnectionTrait;
use serde::Serialize;

use super::{
    DateWindow, Parent, PartitionLimits, RowCounting, ensure_range_within, list, month_start,
};
use crate::error::{Error, Result};

/// A monthly partition of one parent, by name and month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthlyPartition {
    /// The parent.
    pub parent: Parent,
    /// `<parent>_YYYYMM`.
    pub name: String,
    /// First day of its month.
    pub month: NaiveDate,
}

/// The months from `today`'s through `months_ahead` later, all inside `window`.
fn horizon(
    today: NaiveDate,
    months_ahead: u32,
    window: &DateWindow,
) -> Result<(NaiveDate, NaiveDate)> {
    let first = month_start(today);
    let last = first
        .checked_add_months(Months::new(months_ahead))
        .filter(|last| window.has_month(*last) && window.has_month(first))
        .ok_or_else(|| {
            Error::invalid(
                "months ahead",
                format!(
                    "{months_ahead} months after {} leaves the date window {window}",
                    first.format("%Y-%m")
                ),
            )
        })?;
    Ok((first, last))
}

/// The monthly partitions, for every parent, from `today`'s month through `months_ahead` months
/// later (inclusive), that do not exist yet: what [`ensure_ahead`] would create. Creates nothing.
///
/// A month counts as present when the parent has a partition of that name, which is the test
/// `create_monthly_partitions` applies.
///
/// # Errors
/// [`Error::InvalidInput`] when the horizon leaves the plausible date window
/// ([`DateWindow::default`]: at most ten years ahead); otherwise when the database refuses.
#[tracing::instrument(skip(db))]
pub async fn missing_ahead<C: ConnectionTrait>(
    db: &C,
    today: NaiveDate,
    months_ahead: u32,
) -> Result<Vec<MonthlyPartition>> {
    let (first, last) = horizon(today, months_ahead, &DateWindow::default())?;
    let existing: HashSet<(Parent, String)> = list(db, RowCounting::Estimated)
        .await?
        .into_iter()
        .map(|p| (p.parent, p.name))
        .collect();
    let mut missing = Vec::new();
    for parent in Parent::ALL {
        let mut month = first;
        while month <= last {
            let name = parent.partition_name(month);
            if !existing.contains(&(parent, name.clone())) {
                missing.push(MonthlyPartition {
                    parent,
                    name,
                    month,
                });
            }
            month = month + Months::new(1);
        }
    }
    Ok(missing)
}

/// Makes sure every parent has its monthly partitions from `today`'s month through
/// `months_ahead` months later (inclusive), and returns the ones that were missing (now
/// created). Rows of those months found in a DEFAULT partition move into the new partitions.
/// Concurrent callers are safe: `create_monthly_partitions` serialises creators per parent and
/// skips what exists.
///
/// # Errors
/// As [`missing_ahead`] (so the horizon never creates more than the window allows), and when a
/// partition cannot be created.
#[tracing::instrument(skip(db))]
pub async fn ensure_ahead<C: ConnectionTrait>(
    db: &C,
    today: NaiveDate,
    months_ahead: u32,
) -> Result<Vec<MonthlyPartition>> {
    let missing = missing_ahead(db, today, months_ahead).await?;
    let limits = PartitionLimits::default();
    let (first, last) = horizon(today, months_ahead, &limits.window)?;
    for parent in Parent::ALL {
        if missing.iter().any(|m| m.parent == parent) {
            ensure_range_within(db, parent, first, last, &limits).await?;
        }
    }
    Ok(missing)
}
