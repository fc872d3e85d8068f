//! What a quality report looks at, and the thresholds it flags by.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::error::{Error, Result};

/// Business days without a price, before the as-of date, that make an instrument stale.
pub const DEFAULT_STALE_DAYS: i64 = 5;

/// Consecutive price rows with the same close and adjusted close that count as a forward fill.
pub const DEFAULT_MIN_FILL_RUN: i64 = 5;

/// The simple return whose magnitude, exceeded, flags a jump: 25 %.
pub const DEFAULT_JUMP: Decimal = Decimal::from_parts(25, 0, 0, false, 2);

/// Options of [`report`](super::report). The default is every instrument over all its rows, as
/// of the latest price, with the default thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualityOptions {
    /// Instrument ids; `None` = every instrument of `instrument_master`.
    pub instruments: Option<Vec<i64>>,
    /// First date examined (inclusive); `None` = each instrument's first row.
    pub from: Option<NaiveDate>,
    /// Last date examined (inclusive) and the day staleness is measured to; `None` = the latest
    /// price date of any instrument, so that one instrument falling behind the others shows.
    pub as_of: Option<NaiveDate>,
    /// An instrument is stale when at least this many business days (Mon–Fri) after its last
    /// price, through the as-of date, have no price. At least 1.
    pub stale_days: i64,
    /// A run of at least this many consecutive price rows with identical close and adjusted
    /// close is flagged as forward-filled. At least 2.
    pub min_fill_run: i64,
    /// A stored return with `|daily_return|` above this is flagged as a jump. Not negative.
    pub jump: Decimal,
}

impl Default for QualityOptions {
    fn default() -> Self {
        Self {
            instruments: None,
            from: None,
            as_of: None,
            stale_days: DEFAULT_STALE_DAYS,
            min_fill_run: DEFAULT_MIN_FILL_RUN,
            jump: DEFAULT_JUMP,
        }
    }
}

impl QualityOptions {
    /// Checks the options that need no database.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first option out of range: an empty instrument list,
    /// `as_of` before `from`, `stale_days` below 1, `min_fill_run` below 2, a negative `jump`.
    pub fn validate(&self) -> Result<()> {
        if self.instruments.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::invalid(
                "instruments",
                "an empty list chooses nothing (use None for all instruments)",
            ));
        }
        if let (Some(from), Some(as_of)) = (self.from, self.as_of) {
            check_range(from, as_of, "")?;
        }
        if self.stale_days < 1 {
            return Err(Error::invalid(
                "stale days",
                format!(
                    "{} is not a positive number of business days",
                    self.stale_days
                ),
            ));
        }
        if self.min_fill_run < 2 {
            return Err(Error::invalid(
                "fill run",
                format!(
                    "{} rows cannot repeat a value (a run needs at least 2)",
                    self.min_fill_run
                ),
            ));
        }
        if self.jump.is_sign_negative() && !self.jump.is_zero() {
            return Err(Error::invalid(
                "jump threshold",
                format!("{} is negative (it bounds |return|)", self.jump),
            ));
        }
        Ok(())
    }
}

/// Refuses a window whose as-of date comes before its first date; `as_of_origin` says where the
/// as-of date came from, when the caller did not give it.
pub(super) fn check_range(from: NaiveDate, as_of: NaiveDate, as_of_origin: &str) -> Result<()> {
    if as_of < from {
        return Err(Error::invalid(
            "date range",
            format!("as-of {as_of}{as_of_origin} is before from {from}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(options: QualityOptions) -> String {
        options.validate().unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_valid_and_as_documented() {
        QualityOptions::default().validate().unwrap();
        assert_eq!(DEFAULT_JUMP.to_string(), "0.25");
    }

    #[test]
    fn out_of_range_options_are_refused_one_by_one() {
        let day = |d| NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
        let base = QualityOptions::default;
        assert_eq!(
            reason(QualityOptions {
                from: Some(day(10)),
                as_of: Some(day(9)),
                ..base()
            }),
            "invalid date range: as-of 2024-01-09 is before from 2024-01-10"
        );
        assert_eq!(
            reason(QualityOptions {
                stale_days: 0,
                ..base()
            }),
            "invalid stale days: 0 is not a positive number of business days"
        );
        assert_eq!(
            reason(QualityOptions {
                min_fill_run: 1,
                ..base()
            }),
            "invalid fill run: 1 rows cannot repeat a value (a run needs at least 2)"
        );
        assert_eq!(
            reason(QualityOptions {
                jump: Decimal::new(-1, 2),
                ..base()
            }),
            "invalid jump threshold: -0.01 is negative (it bounds |return|)"
        );
        assert_eq!(
            reason(QualityOptions {
                instruments: Some(vec![]),
                ..base()
            }),
            "invalid instruments: an empty list chooses nothing (use None for all instruments)"
        );
        // A zero threshold and a one-day window are allowed.
        QualityOptions {
            jump: Decimal::ZERO,
            from: Some(day(9)),
            as_of: Some(day(9)),
            ..base()
        }
        .validate()
        .unwrap();
    }
}
