//! Creating monthly partitions before a write needs them, within [`PartitionLimits`]: months
//! outside the date window are refused, and an operation that would create more partitions than
//! its cap is refused before it creates any.

use chrono::{Months, NaiveDate};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::months::existing_months;
use super::{DateWindow, Parent, PartitionLimits, month_start};
use crate::error::{Error, PartitionError, Result};

/// Months of partitions created per statement: each `create_monthly_partitions` call is one
/// transaction (outside a caller's), so its locks stay few.
const MONTHS_PER_STATEMENT: usize = 12;

/// What one operation has created so far, which its cap is held against.
#[derive(Debug, Default)]
pub(crate) struct NewPartitions {
    count: u32,
    span: Option<(NaiveDate, NaiveDate)>,
}

impl NewPartitions {
    /// The span and count the operation would reach by also creating `missing` (sorted).
    fn with(&self, missing: &[NaiveDate]) -> (u32, Option<(NaiveDate, NaiveDate)>) {
        let count = self
            .count
            .saturating_add(u32::try_from(missing.len()).unwrap_or(u32::MAX));
        let span = match (missing.first(), missing.last()) {
            (Some(&first), Some(&last)) => Some(match self.span {
                Some((f, l)) => (f.min(first), l.max(last)),
                None => (first, last),
            }),
            _ => self.span,
        };
        (count, span)
    }

    /// The months of `months` (first days, sorted) that `parent` has no partition for yet,
    /// checked against `limits` as [`ensure_months`] checks them (counting what this operation
    /// created before), creating nothing: for an operation that knows every month it will write
    /// before its first write, so that it can refuse before writing anything.
    ///
    /// # Errors
    /// As [`ensure_range_within`].
    pub(crate) async fn check<C: ConnectionTrait>(
        &self,
        db: &C,
        parent: Parent,
        months: &[NaiveDate],
        limits: &PartitionLimits,
    ) -> Result<Vec<NaiveDate>> {
        check_window(parent, months, &limits.window)?;
        if months.is_empty() {
            return Ok(Vec::new());
        }
        let existing = existing_months(db, parent).await?;
        let missing: Vec<NaiveDate> = months
            .iter()
            .copied()
            .filter(|m| !existing.contains(m))
            .collect();
        let (count, span) = self.with(&missing);
        if let Some((first, last)) = span.filter(|_| count > limits.max_new) {
            return Err(Error::Partition(PartitionError::TooManyPartitions {
                parent,
                first,
                last,
                count,
                cap: limits.max_new,
            }));
        }
        Ok(missing)
    }
}

/// Makes sure `parent` has a monthly partition for every month from `first`'s through `last`'s
/// (inclusive), creating the missing ones through `create_monthly_partitions` (which also moves
/// rows of those months out of the DEFAULT partition). Returns how many were created.
///
/// Any month may be asked for (rows already stored in a DEFAULT partition must be able to move
/// to their month); at most [`DEFAULT_MAX_NEW_PARTITIONS`](super::DEFAULT_MAX_NEW_PARTITIONS)
/// are created per call. [`ensure_range_within`] takes other limits.
///
/// # Errors
/// As [`ensure_range_within`].
pub async fn ensure_range<C: ConnectionTrait>(
    db: &C,
    parent: Parent,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<u32> {
    let limits = PartitionLimits {
        window: DateWindow::unbounded(),
        ..PartitionLimits::default()
    };
    ensure_range_within(db, parent, first, last, &limits).await
}

/// As [`ensure_range`], within `limits`: every month of the range must lie in the window, and
/// at most `limits.max_new` partitions are created. Partitions are created twelve months per
/// statement, so that on a connection (not a transaction) no statement holds many locks.
///
/// # Errors
/// - [`Error::InvalidInput`] when `last` is before `first`;
/// - [`PartitionError::OutsideWindow`] when the range leaves the window, and
///   [`PartitionError::TooManyPartitions`] when more than `limits.max_new` partitions are
///   missing: in both cases before anything is created;
/// - otherwise when the database refuses.
#[tracing::instrument(skip(db))]
pub async fn ensure_range_within<C: ConnectionTrait>(
    db: &C,
    parent: Parent,
    first: NaiveDate,
    last: NaiveDate,
    limits: &PartitionLimits,
) -> Result<u32> {
    if last < first {
        return Err(Error::invalid(
            "date range",
            format!("{last} is before {first}"),
        ));
    }
    // Checked before the months are listed, so that an absurd range costs nothing.
    check_window(
        parent,
        &[month_start(first), month_start(last)],
        &limits.window,
    )?;
    let mut months = Vec::new();
    let mut month = Some(month_start(first));
    while let Some(m) = month.filter(|m| *m <= last) {
        months.push(m);
        month = m.checked_add_months(Months::new(1));
    }
    ensure_months(db, parent, &months, limits, &mut NewPartitions::default()).await
}

/// Makes sure `parent` has a monthly partition for every month one of `dates` falls in, and only
/// those (dates in 2024 and 2090 do not create the 66 years between), within `limits`. Returns
/// how many partitions were created.
///
/// # Errors
/// As [`ensure_range_within`]: a refused call creates nothing.
#[tracing::instrument(skip(db, dates))]
pub async fn ensure_months_for<C: ConnectionTrait>(
    db: &C,
    parent: Parent,
    dates: impl IntoIterator<Item = NaiveDate>,
    limits: &PartitionLimits,
) -> Result<u32> {
    let months: std::collections::BTreeSet<NaiveDate> =
        dates.into_iter().map(month_start).collect();
    let months: Vec<NaiveDate> = months.into_iter().collect();
    ensure_months(db, parent, &months, limits, &mut NewPartitions::default()).await
}

/// Makes sure `parent` has a partition for each month of `months` (first days, sorted), within
/// `limits`, counting against what the same operation created before (`created`, which is
/// updated). Creates runs of consecutive missing months only: months between them that hold
/// nothing get no partition.
///
/// # Errors
/// As [`ensure_range_within`]: a refused call creates nothing.
pub(crate) async fn ensure_months<C: ConnectionTrait>(
    db: &C,
    parent: Parent,
    months: &[NaiveDate],
    limits: &PartitionLimits,
    created: &mut NewPartitions,
) -> Result<u32> {
    let missing = created.check(db, parent, months, limits).await?;
    let (_, span) = created.with(&missing);
    let mut made = 0;
    for (first, last) in month_runs(&missing, MONTHS_PER_STATEMENT) {
        made += create(db, parent, first, last).await?;
    }
    created.count = created.count.saturating_add(made);
    created.span = span;
    Ok(made)
}

fn check_window(parent: Parent, months: &[NaiveDate], window: &DateWindow) -> Result<()> {
    match months.iter().find(|m| !window.has_month(**m)) {
        Some(&month) => Err(Error::Partition(PartitionError::OutsideWindow {
            parent,
            month,
            earliest: window.first(),
            latest: window.last(),
        })),
        None => Ok(()),
    }
}

/// One `create_monthly_partitions` call for the months of `first` through `last`.
async fn create<C: ConnectionTrait>(
    db: &C,
    parent: Parent,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<u32> {
    let end = last.checked_add_months(Months::new(1)).ok_or_else(|| {
        Error::invalid(
            "date range",
            format!("{last} is in the calendar's last month"),
        )
    })?;
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT create_monthly_partitions($1, $2::date, $3::date) AS created",
            [parent.table().into(), first.into(), end.into()],
        ))
        .await?;
    let created: i32 = row
        .map(|r| r.try_get("", "created"))
        .transpose()?
        .unwrap_or(0);
    Ok(created.max(0) as u32)
}

/// `months` (sorted first days of months) as runs of consecutive months, at most `max` long,
/// each as (first month, last month).
fn month_runs(months: &[NaiveDate], max: usize) -> Vec<(NaiveDate, NaiveDate)> {
    let mut runs: Vec<(NaiveDate, NaiveDate, usize)> = Vec::new();
    for &month in months {
        match runs.last_mut() {
            Some((_, last, len)) if *len < max && *last + Months::new(1) == month => {
                *last = month;
                *len += 1;
            }
            _ => runs.push((month, month, 1)),
        }
    }
    runs.into_iter()
        .map(|(first, last, _)| (first, last))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(y: i32, m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, 1).unwrap()
    }

    #[test]
    fn months_group_into_bounded_consecutive_runs() {
        let months = [
            month(1995, 11),
            month(1995, 12),
            month(1996, 1),
            month(2031, 3),
            month(2031, 5),
        ];
        assert_eq!(
            month_runs(&months, 12),
            [
                (month(1995, 11), month(1996, 1)),
                (month(2031, 3), month(2031, 3)),
                (month(2031, 5), month(2031, 5))
            ]
        );
        let year: Vec<_> = (1..=12)
            .map(|m| month(2020, m))
            .chain([month(2021, 1)])
            .collect();
        assert_eq!(
            month_runs(&year, 12),
            [
                (month(2020, 1), month(2020, 12)),
                (month(2021, 1), month(2021, 1))
            ]
        );
        assert!(month_runs(&[], 12).is_empty());
    }

    #[test]
    fn the_cap_counts_what_the_operation_created_before() {
        let mut created = NewPartitions::default();
        assert_eq!(created.with(&[]), (0, None));
        created.count = 3;
        created.span = Some((month(2000, 5), month(2000, 7)));
        assert_eq!(
            created.with(&[month(1999, 1), month(2000, 6)]),
            (5, Some((month(1999, 1), month(2000, 7))))
        );
    }

    #[test]
    fn the_first_month_outside_the_window_is_named() {
        let window = DateWindow::new(month(1900, 1), month(2036, 12)).unwrap();
        assert!(
            check_window(
                Parent::DailyPrice,
                &[month(1900, 1), month(2036, 12)],
                &window
            )
            .is_ok()
        );
        let err =
            check_window(Parent::DailyPrice, &[month(2000, 1), month(0, 1)], &window).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing to create partition daily_price_000001: 0000-01 is outside the date window \
             1900-01-01 to 2036-12-01"
        );
    }
}
