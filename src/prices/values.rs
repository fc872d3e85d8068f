//! The value rules of a price record: what makes a date, a price or a volume acceptable, and
//! the reason given when one is not.
//!
//! Prices are rounded half away from zero to the 4 decimals of `NUMERIC(18,4)` (as PostgreSQL
//! would round them), so float noise such as `114.08000183105467` is not an error; a price must
//! stay positive after rounding and below 10^14.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::partitions::DateWindow;
use crate::printable::field;

/// One instrument's values on one day, validated and rounded to the column scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bar {
    pub open: Option<Decimal>,
    pub high: Option<Decimal>,
    pub low: Option<Decimal>,
    pub close: Decimal,
    pub adj_close: Option<Decimal>,
    pub volume: Option<i64>,
}

impl Bar {
    /// A bar of a wide file: one adjusted close, loaded as close and adjusted close.
    pub(crate) fn adjusted_close(price: Decimal) -> Self {
        Self {
            open: None,
            high: None,
            low: None,
            close: price,
            adj_close: Some(price),
            volume: None,
        }
    }

    /// Why the bar as a whole is inconsistent, if it is.
    pub(crate) fn problem(&self) -> Option<String> {
        match (self.high, self.low) {
            (Some(high), Some(low)) if high < low => {
                Some(format!("high {high} is below low {low}"))
            }
            _ => None,
        }
    }
}

/// 10^14: the first value `NUMERIC(18,4)` cannot hold.
const NUMERIC_18_4_LIMIT: Decimal = Decimal::from_parts(0x107A_4000, 0x5AF3, 0, false, 0);

/// The strict `YYYY-MM-DD` date `text` holds (surrounding blanks aside), if it holds one. Never
/// allocates: the first pass over a file reads every record's date with it.
fn date_of(text: &str) -> Option<NaiveDate> {
    let b = text.trim().as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    (b.len() == 10 && b[4] == b'-' && b[7] == b'-')
        .then(|| Some((digits(0..4)?, digits(5..7)?, digits(8..10)?)))
        .flatten()
        .and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y as i32, m, d))
}

/// Parses a strict `YYYY-MM-DD` date.
fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let text = text.trim();
    date_of(text).ok_or_else(|| {
        if text.is_empty() {
            "missing trade date".to_owned()
        } else {
            format!("date '{}' is not a date (YYYY-MM-DD)", field(text))
        }
    })
}

/// The date `text` holds when [`parse_date_in`] would accept it, else `None` (no reason is
/// written, nothing is allocated).
pub(crate) fn date_in(text: &str, window: &DateWindow) -> Option<NaiveDate> {
    date_of(text).filter(|date| window.contains(*date))
}

/// Parses a strict `YYYY-MM-DD` date that lies in `window`.
pub(crate) fn parse_date_in(text: &str, window: &DateWindow) -> Result<NaiveDate, String> {
    let date = parse_date(text)?;
    if window.contains(date) {
        Ok(date)
    } else {
        Err(format!("date {date} is outside the date window {window}"))
    }
}

/// Whether `text` is written as a decimal number: sign, digits with at most one point, and an
/// optional exponent (what `rust_decimal` would also take, minus its `_` separators).
fn is_number(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    fn unsigned(s: &str) -> &str {
        s.strip_prefix(['+', '-']).unwrap_or(s)
    }
    let mantissa = unsigned(mantissa);
    let mut parts = mantissa.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next().unwrap_or("");
    let all_digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    let mantissa_ok =
        !(whole.is_empty() && fraction.is_empty()) && all_digits(whole) && all_digits(fraction);
    let exponent_ok = exponent.is_none_or(|e| {
        let e = unsigned(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

fn too_large(column: &str, text: &str) -> String {
    format!(
        "{} {} does not fit NUMERIC(18,4)",
        field(column),
        field(text)
    )
}

fn parse_decimal(column: &str, text: &str) -> Result<Decimal, String> {
    if !is_number(text) {
        return Err(format!(
            "{} '{}' is not a number",
            field(column),
            field(text)
        ));
    }
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        text.parse::<Decimal>()
    };
    parsed.map_err(|_| too_large(column, text))
}

/// Parses an optional price of `column`: empty is `None`; otherwise a positive number that fits
/// `NUMERIC(18,4)`, rounded to 4 decimals.
pub(crate) fn parse_price(column: &str, text: &str) -> Result<Option<Decimal>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let value = parse_decimal(column, text)?;
    let rounded = value.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero);
    if rounded.abs() >= NUMERIC_18_4_LIMIT {
        return Err(too_large(column, text));
    }
    if rounded <= Decimal::ZERO {
        return Err(if value <= Decimal::ZERO {
            format!("{} {} is not positive", field(column), field(text))
        } else {
            format!(
                "{} {} rounds to 0 at 4 decimals",
                field(column),
                field(text)
            )
        });
    }
    Ok(Some(rounded))
}

/// Parses an optional volume: empty is `None`; otherwise a whole number (`1200.0` is accepted,
/// as written by tools that store volumes as floats) from 0 to `i64::MAX`.
pub(crate) fn parse_volume(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let value = parse_decimal("volume", text)?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(format!("volume {} is negative", field(text)));
    }
    if !value.fract().is_zero() {
        return Err(format!("volume {} is not a whole number", field(text)));
    }
    i64::try_from(value)
        .map(Some)
        .map_err(|_| format!("volume {} does not fit BIGINT", field(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn the_limit_is_ten_to_the_fourteenth() {
        assert_eq!(NUMERIC_18_4_LIMIT, d("100000000000000"));
    }

    #[test]
    fn dates_are_strict_iso() {
        assert_eq!(
            parse_date("1993-01-29"),
            Ok(NaiveDate::from_ymd_opt(1993, 1, 29).unwrap())
        );
        assert_eq!(
            parse_date(" 2031-12-31 "),
            Ok(NaiveDate::from_ymd_opt(2031, 12, 31).unwrap())
        );
        for bad in [
            "2024-02-30",
            "2024-13-01",
            "01/02/2024",
            "2024-1-2",
            "20240102",
            "x",
        ] {
            assert!(
                parse_date(bad).unwrap_err().contains("is not a date"),
                "{bad}"
            );
        }
        assert_eq!(parse_date(""), Err("missing trade date".into()));
        assert_eq!(
            parse_date(&"9".repeat(500)).unwrap_err(),
            format!(
                "date '{}… (420 more characters)' is not a date (YYYY-MM-DD)",
                "9".repeat(80)
            )
        );
    }

    #[test]
    fn dates_outside_the_window_are_refused_year_zero_too() {
        let window = DateWindow::plausible(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert!(parse_date_in("1900-01-01", &window).is_ok());
        assert!(parse_date_in("2036-12-01", &window).is_ok());
        for (text, shown) in [
            ("0000-01-06", "0000-01-06"),
            ("1899-12-31", "1899-12-31"),
            ("2036-12-02", "2036-12-02"),
        ] {
            assert_eq!(
                parse_date_in(text, &window).unwrap_err(),
                format!("date {shown} is outside the date window 1900-01-01 to 2036-12-01")
            );
            assert_eq!(date_in(text, &window), None, "{text}");
        }
        for text in ["1900-01-01", " 2036-12-01 ", "2024-02-29"] {
            assert_eq!(date_in(text, &window), parse_date_in(text, &window).ok());
        }
        for bad in ["2024-02-30", "", "2024-1-2", "x"] {
            assert_eq!(date_in(bad, &window), None, "{bad}");
        }
    }

    #[test]
    fn prices_round_to_four_decimals_and_must_stay_positive() {
        assert_eq!(
            parse_price("close", "114.08000183105467"),
            Ok(Some(d("114.0800")))
        );
        assert_eq!(parse_price("close", "1.00005"), Ok(Some(d("1.0001"))));
        assert_eq!(parse_price("close", "1.5e2"), Ok(Some(d("150"))));
        assert_eq!(parse_price("close", "  "), Ok(None));
        assert_eq!(
            parse_price("close", "99999999999999.9999"),
            Ok(Some(d("99999999999999.9999")))
        );
        let err = |s: &str| parse_price("close", s).unwrap_err();
        assert_eq!(err("0"), "close 0 is not positive");
        assert_eq!(err("-1.5"), "close -1.5 is not positive");
        assert_eq!(err("0.00004"), "close 0.00004 rounds to 0 at 4 decimals");
        assert_eq!(
            err("100000000000000"),
            "close 100000000000000 does not fit NUMERIC(18,4)"
        );
        assert_eq!(
            err("99999999999999.99995"),
            "close 99999999999999.99995 does not fit NUMERIC(18,4)"
        );
        assert_eq!(err("1e40"), "close 1e40 does not fit NUMERIC(18,4)");
        for nan in ["abc", "NaN", "inf", "1_000", "1.2.3", ".", "1e", "--1"] {
            assert!(err(nan).ends_with("is not a number"), "{nan}");
        }
    }

    #[test]
    fn volumes_are_whole_and_not_negative() {
        assert_eq!(parse_volume("1200"), Ok(Some(1200)));
        assert_eq!(parse_volume("1200.0"), Ok(Some(1200)));
        assert_eq!(parse_volume("0"), Ok(Some(0)));
        assert_eq!(parse_volume(""), Ok(None));
        assert_eq!(parse_volume("-5").unwrap_err(), "volume -5 is negative");
        assert_eq!(
            parse_volume("1.5").unwrap_err(),
            "volume 1.5 is not a whole number"
        );
        assert_eq!(
            parse_volume("9223372036854775808").unwrap_err(),
            "volume 9223372036854775808 does not fit BIGINT"
        );
        assert_eq!(
            parse_volume("lots").unwrap_err(),
            "volume 'lots' is not a number"
        );
    }

    #[test]
    fn high_below_low_is_a_problem() {
        let bar = Bar {
            high: Some(d("9")),
            low: Some(d("10")),
            ..Bar::adjusted_close(d("9.5"))
        };
        assert_eq!(bar.problem(), Some("high 9 is below low 10".into()));
        assert_eq!(Bar::adjusted_close(d("1")).problem(), None);
    }
}
