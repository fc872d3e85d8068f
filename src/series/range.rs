//! The date range of a series read.

use std::fmt;

use chrono::NaiveDate;
use sea_orm::Value;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The earliest date PostgreSQL's `date` holds: 24 November 4714 BC (Julian day 0), year -4713
/// in chrono's proleptic Gregorian numbering. chrono goes further back; PostgreSQL refuses such
/// a date with an error of its own, so the reads refuse it first, as invalid input.
pub const EARLIEST_DATE: NaiveDate = NaiveDate::from_ymd_opt(-4713, 11, 24).unwrap();

/// The trade dates from `from` through `to`, both included.
///
/// The fields are public, so a range may be built reversed; every read checks it
/// ([`DateRange::check`]) before it asks the database. [`DateRange::new`] checks at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    /// The parameters of a range read: `$1` the distinct instrument ids (in order), `$2` and `$3`
    /// the range's ends.
    pub(super) fn bind(self, instrument_ids: &[i64]) -> Vec<Value> {
        vec![
            super::read::distinct_ids(instrument_ids).into(),
            self.from.into(),
            self.to.into(),
        ]
    }

    /// The range from `from` through `to`.
    ///
    /// # Errors
    /// As [`DateRange::check`].
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self> {
        let range = Self { from, to };
        range.check()?;
        Ok(range)
    }

    /// The range of the one day `date`.
    ///
    /// # Errors
    /// As [`DateRange::check`].
    pub fn day(date: NaiveDate) -> Result<Self> {
        Self::new(date, date)
    }

    /// Whether the range is one the reads accept.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] (field `date range`) when `from` is after `to`, or `from` is
    /// before [`EARLIEST_DATE`].
    pub fn check(&self) -> Result<()> {
        if self.from > self.to {
            return Err(Error::invalid(
                "date range",
                format!("from {} is after to {}", self.from, self.to),
            ));
        }
        check_date("date range", self.from)
    }

    /// Whether `date` lies within the range (both ends included).
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.from, self.to)
    }
}

/// `date` as one PostgreSQL can compare with, or [`Error::InvalidInput`] naming `field`.
pub(super) fn check_date(field: &'static str, date: NaiveDate) -> Result<()> {
    if date < EARLIEST_DATE {
        return Err(Error::invalid(
            field,
            format!("{date} is before {EARLIEST_DATE}, the earliest date PostgreSQL stores"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_range_is_checked_for_order_and_the_earliest_date() {
        let range = DateRange::new(d(2024, 1, 2), d(2024, 1, 31)).unwrap();
        assert!(range.contains(d(2024, 1, 2)) && range.contains(d(2024, 1, 31)));
        assert!(!range.contains(d(2024, 1, 1)) && !range.contains(d(2024, 2, 1)));
        assert_eq!(range.to_string(), "2024-01-02..=2024-01-31");
        assert!(DateRange::day(d(2024, 1, 2)).is_ok());
        assert!(DateRange::new(EARLIEST_DATE, d(2024, 1, 1)).is_ok());

        let reversed = DateRange::new(d(2024, 2, 1), d(2024, 1, 1)).unwrap_err();
        assert!(
            matches!(
                reversed,
                Error::InvalidInput {
                    field: "date range",
                    ..
                }
            ),
            "{reversed:?}"
        );
        assert_eq!(
            reversed.to_string(),
            "invalid date range: from 2024-02-01 is after to 2024-01-01"
        );
        let ancient = DateRange::new(d(-5000, 1, 1), d(2024, 1, 1)).unwrap_err();
        assert!(ancient.to_string().contains("earliest date"), "{ancient}");
        // Built by hand, a reversed range is still refused by `check`.
        let by_hand = DateRange {
            from: d(2024, 2, 1),
            to: d(2024, 1, 1),
        };
        assert!(by_hand.check().is_err());
    }
}
