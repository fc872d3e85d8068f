//! The bounds on partition creation: the months that may get a partition (a plausible date
//! window) and how many partitions one operation may create.
//!
//! Both exist because a partition, once made, costs every later query of its parent: planning
//! looks at each partition, and a statement over all of them takes a lock per partition and
//! index. A file of a few rows with far-flung dates must not be able to leave thousands behind.

use std::fmt;

use chrono::{Months, NaiveDate, Utc};

use super::month_start;
use crate::error::{Error, Result};

/// The first date [`DateWindow::plausible`] accepts.
pub const PLAUSIBLE_FIRST_DATE: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();

/// How far after today [`DateWindow::plausible`] reaches, in years.
pub const PLAUSIBLE_YEARS_AHEAD: u32 = 10;

/// The partitions one operation may create unless told otherwise: fifty years of months, more
/// than the bundled sample's thirty years need in one load, far fewer than the window's
/// 1,600-odd months.
pub const DEFAULT_MAX_NEW_PARTITIONS: u32 = 600;

/// The dates, first and last inclusive, that input may carry and partitions may be made for.
/// Every window, however made, lies within [`DateWindow::EARLIEST`] through
/// [`DateWindow::LATEST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateWindow {
    first: NaiveDate,
    last: NaiveDate,
}

impl DateWindow {
    /// The earliest date any window may start on: 0001-01-01, the first day of the Common Era.
    /// Year 0 and before are BC to PostgreSQL, so their months would get partitions with BC
    /// bounds whose `_YYYYMM` names (`daily_price_000001`) say otherwise, which retention can
    /// neither name correctly nor ever drop.
    pub const EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(1, 1, 1).unwrap();

    /// The latest date any window may end on: 9999-12-31, the last day whose month has a
    /// six-digit `_YYYYMM` partition suffix (year 10000 would need seven, which the catalog
    /// reads and retention do not recognise as a monthly partition).
    pub const LATEST: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap();

    /// The window from `first` through `last`. Any window lies within [`DateWindow::EARLIEST`]
    /// and [`DateWindow::LATEST`], so that every month it admits gets an AD partition with a
    /// four-digit year in its name; tighter bounds would refuse real history (price series
    /// reaching back before 1900 are loaded under a wider window on purpose).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (field `date window`) when `first` is before
    /// [`DateWindow::EARLIEST`], `last` is after [`DateWindow::LATEST`], or `last` is before
    /// `first`.
    pub fn new(first: NaiveDate, last: NaiveDate) -> Result<Self> {
        if first < Self::EARLIEST {
            return Err(Error::invalid(
                "date window",
                format!(
                    "its first date {first} is before {}: PostgreSQL partitions cannot hold \
                     such dates under a monthly name",
                    Self::EARLIEST
                ),
            ));
        }
        if last > Self::LATEST {
            return Err(Error::invalid(
                "date window",
                format!(
                    "its last date {last} is after {}: PostgreSQL partitions cannot hold such \
                     dates under a monthly name",
                    Self::LATEST
                ),
            ));
        }
        if last < first {
            return Err(Error::invalid(
                "date window",
                format!("its last date {last} is before its first {first}"),
            ));
        }
        Ok(Self { first, last })
    }

    /// The default window as seen on `today`: [`PLAUSIBLE_FIRST_DATE`] through
    /// [`PLAUSIBLE_YEARS_AHEAD`] years after `today` (at most [`DateWindow::LATEST`]).
    pub fn plausible(today: NaiveDate) -> Self {
        let last = today
            .checked_add_months(Months::new(PLAUSIBLE_YEARS_AHEAD * 12))
            .unwrap_or(Self::LATEST)
            .min(Self::LATEST);
        Self {
            first: PLAUSIBLE_FIRST_DATE,
            last: last.max(PLAUSIBLE_FIRST_DATE),
        }
    }

    /// The widest window, [`DateWindow::EARLIEST`] through [`DateWindow::LATEST`]: for callers
    /// whose dates are already stored (moving rows out of a DEFAULT partition), where refusing a
    /// month would strand its rows. Only months that no monthly partition can name are refused;
    /// their rows stay where they are rather than getting a partition retention cannot drop.
    pub fn unbounded() -> Self {
        Self {
            first: Self::EARLIEST,
            last: Self::LATEST,
        }
    }

    /// The first date in the window.
    pub fn first(&self) -> NaiveDate {
        self.first
    }

    /// The last date in the window.
    pub fn last(&self) -> NaiveDate {
        self.last
    }

    /// Whether `date` is in the window.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.first <= date && date <= self.last
    }

    /// Whether the month starting `month` has a day in the window (so may get a partition).
    pub fn has_month(&self, month: NaiveDate) -> bool {
        month_start(self.first) <= month && month <= month_start(self.last)
    }
}

impl Default for DateWindow {
    /// [`DateWindow::plausible`] as of today (UTC), fixed when the value is made.
    fn default() -> Self {
        Self::plausible(Utc::now().date_naive())
    }
}

impl fmt::Display for DateWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to {}", self.first, self.last)
    }
}

/// What partition creation may do in one operation (a load, a returns run, a call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLimits {
    /// Months outside this window never get a partition; loaders reject records dated
    /// outside it.
    pub window: DateWindow,
    /// The most partitions one operation may create; asking for more fails before any is made.
    pub max_new: u32,
}

impl Default for PartitionLimits {
    /// The plausible window as of today and [`DEFAULT_MAX_NEW_PARTITIONS`].
    fn default() -> Self {
        Self {
            window: DateWindow::default(),
            max_new: DEFAULT_MAX_NEW_PARTITIONS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_plausible_window_runs_from_1900_to_ten_years_ahead() {
        let window = DateWindow::plausible(day(2026, 12, 1));
        assert_eq!(
            (window.first(), window.last()),
            (day(1900, 1, 1), day(2036, 12, 1))
        );
        assert!(window.contains(day(1900, 1, 1)) && window.contains(day(2036, 12, 1)));
        assert!(!window.contains(day(1899, 12, 31)) && !window.contains(day(2036, 12, 2)));
        assert!(!window.contains(day(0, 1, 6)));
        assert_eq!(window.to_string(), "1900-01-01 to 2036-12-01");
    }

    #[test]
    fn a_month_is_in_the_window_when_one_of_its_days_is() {
        let window = DateWindow::new(day(2000, 1, 15), day(2000, 3, 10)).unwrap();
        assert!(window.has_month(day(2000, 1, 1)));
        assert!(window.has_month(day(2000, 3, 1)));
        assert!(!window.has_month(day(1999, 12, 1)));
        assert!(!window.has_month(day(2000, 4, 1)));
    }

    #[test]
    fn a_window_lies_within_years_1_to_9999() {
        let widest = DateWindow::new(day(1, 1, 1), day(9999, 12, 31)).unwrap();
        assert!(widest.has_month(day(1, 1, 1)) && widest.has_month(day(9999, 12, 1)));
        for (first, last, said) in [
            (
                day(0, 1, 1),
                day(2000, 1, 1),
                "first date 0000-01-01 is before 0001-01-01",
            ),
            (
                day(-44, 3, 15),
                day(2000, 1, 1),
                "first date -0044-03-15 is before",
            ),
            (
                day(2000, 1, 1),
                day(10000, 1, 1),
                "last date +10000-01-01 is after 9999-12-31",
            ),
        ] {
            let err = DateWindow::new(first, last).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        field: "date window",
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains(said), "{err}");
        }
        assert_eq!(
            DateWindow::plausible(day(9995, 6, 1)).last(),
            DateWindow::LATEST
        );
        assert_eq!(DateWindow::unbounded(), widest);
    }

    #[test]
    fn a_window_ending_before_it_starts_is_refused() {
        let err = DateWindow::new(day(2000, 1, 2), day(2000, 1, 1)).unwrap_err();
        assert!(err.to_string().contains("before its first"), "{err}");
    }
}
