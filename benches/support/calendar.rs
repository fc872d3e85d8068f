//! The trading calendar of the synthetic benchmark data (`bulk_load`, `returns_compute`).

use chrono::{Datelike, NaiveDate, Weekday};

/// `count` weekdays from 2016-01-04.
pub fn weekdays(count: usize) -> Vec<NaiveDate> {
    let mut day = NaiveDate::from_ymd_opt(2016, 1, 4).expect("a date");
    let mut days = Vec::with_capacity(count);
    while days.len() < count {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            days.push(day);
        }
        day = day.succ_opt().expect("a next day");
    }
    days
}
