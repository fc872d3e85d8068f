//! Checks of what a caller sends that PostgreSQL would otherwise refuse with an error of its own
//! (a 500 for the caller's mistake): text with control characters (a NUL byte is not valid text
//! for PostgreSQL) and dates outside the years PostgreSQL stores.

use chrono::{Datelike, NaiveDate};
use foresto::Error;

/// Years a date may have: ISO 8601's four digits, well inside PostgreSQL's `date` range (which
/// ends at 4713 BC on the early side; chrono goes further).
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// `value` as an identifier (scenario id, ticker, exchange): not empty, no control characters.
///
/// # Errors
/// [`Error::InvalidInput`] naming `field`.
pub(crate) fn identifier<'a>(field: &'static str, value: &'a str) -> Result<&'a str, Error> {
    if value.is_empty() {
        return Err(Error::invalid(field, "is empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "contains a control character"));
    }
    Ok(value)
}

/// `date`, if its year is within 1..=9999.
///
/// # Errors
/// [`Error::InvalidInput`] naming `field`.
pub(crate) fn date(field: &'static str, date: NaiveDate) -> Result<NaiveDate, Error> {
    if YEARS.contains(&date.year()) {
        Ok(date)
    } else {
        Err(Error::invalid(
            field,
            format!("{date} is outside the years 0001 to 9999"),
        ))
    }
}
