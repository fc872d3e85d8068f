//! Spotting weekend forward fills: files that carry a row for every calendar day (because one of
//! their columns trades on weekends) repeat the other instruments' Friday values on Saturday and
//! Sunday. Those are not trading days for those instruments.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, Weekday};

use super::values::Bar;

/// The previous record of each instrument.
#[derive(Debug, Default)]
pub(crate) struct WeekendFill {
    last: HashMap<i64, (NaiveDate, Bar)>,
}

impl WeekendFill {
    /// Whether this record falls on a weekend and repeats every value of the instrument's
    /// previous (earlier-dated) record. Remembers the record either way.
    pub(crate) fn is_fill(&mut self, instrument_id: i64, date: NaiveDate, bar: &Bar) -> bool {
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        let previous = self.last.insert(instrument_id, (date, *bar));
        weekend && previous.is_some_and(|(d, b)| d < date && b == *bar)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    #[test]
    fn only_weekend_repeats_are_fills() {
        let day = |d| NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
        let bar = |p: i64| Bar::adjusted_close(Decimal::from(p));
        let mut fill = WeekendFill::default();
        assert!(!fill.is_fill(1, day(5), &bar(10))); // Friday
        assert!(fill.is_fill(1, day(6), &bar(10))); // Saturday, repeated
        assert!(fill.is_fill(1, day(7), &bar(10))); // Sunday, repeated
        assert!(!fill.is_fill(1, day(8), &bar(10))); // Monday, repeated: a real (flat) day
        assert!(!fill.is_fill(2, day(13), &bar(10))); // another instrument's first record
        assert!(!fill.is_fill(1, day(13), &bar(11))); // Saturday, changed: traded
        assert!(!fill.is_fill(3, day(14), &bar(5))); // Sunday, first record
        assert!(!fill.is_fill(3, day(13), &bar(5))); // Saturday, but before the previous one
    }
}
