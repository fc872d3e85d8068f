//! Configuration from the environment (and a `.env` file in the working directory).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DATABASE_URL` | PostgreSQL to use | none: the CLI falls back to its managed local server |
//! | `ENGINE_VERSION` | engine version stamped on returns, portfolios and runs, and part of every request hash | `1.0.0` |
//! | `FORESTO_RESULT_TTL_DAYS` | days a stored simulation result stays valid; `0` or `none` keeps results forever | `30` |

use chrono::TimeDelta;

use crate::error::{Error, Result};

/// Engine version used when `ENGINE_VERSION` is not set.
pub const DEFAULT_ENGINE_VERSION: &str = "1.0.0";

/// Result TTL used when `FORESTO_RESULT_TTL_DAYS` is not set.
pub const DEFAULT_RESULT_TTL_DAYS: i64 = 30;

/// Loads `.env` from the working directory into the environment, once; variables already set
/// win. A missing file is not an error.
pub fn load_dotenv() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = dotenvy::dotenv();
    });
}

fn var(name: &str) -> Option<String> {
    load_dotenv();
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `DATABASE_URL`, if set (environment or `.env`).
pub fn database_url() -> Option<String> {
    var("DATABASE_URL")
}

/// `ENGINE_VERSION`, or [`DEFAULT_ENGINE_VERSION`].
///
/// # Errors
/// [`Error::InvalidInput`] when the value is longer than the 20 characters the schema's
/// `engine_version` columns hold.
pub fn engine_version() -> Result<String> {
    let version = var("ENGINE_VERSION").unwrap_or_else(|| DEFAULT_ENGINE_VERSION.to_owned());
    if version.chars().count() > 20 {
        return Err(Error::invalid(
            "ENGINE_VERSION",
            format!("'{version}' is longer than 20 characters"),
        ));
    }
    Ok(version)
}

/// The default lifetime of a stored simulation result: `FORESTO_RESULT_TTL_DAYS`, or
/// [`DEFAULT_RESULT_TTL_DAYS`]; `None` means results never expire.
///
/// # Errors
/// [`Error::InvalidInput`] when the value is neither a non-negative whole number nor `none`.
pub fn result_ttl() -> Result<Option<TimeDelta>> {
    match var("FORESTO_RESULT_TTL_DAYS") {
        None => Ok(Some(TimeDelta::days(DEFAULT_RESULT_TTL_DAYS))),
        Some(v) => parse_ttl_days(&v),
    }
}

/// Parses a TTL in days: `0` or `none` (any case) = keep forever.
///
/// # Errors
/// [`Error::InvalidInput`] for anything else that is not a non-negative whole number.
pub fn parse_ttl_days(value: &str) -> Result<Option<TimeDelta>> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    match value.parse::<i64>() {
        Ok(0) => Ok(None),
        Ok(days) if days > 0 => TimeDelta::try_days(days)
            .map(Some)
            .ok_or_else(|| Error::invalid("TTL", format!("{days} days is too long"))),
        _ => Err(Error::invalid(
            "TTL",
            format!("'{value}' is not a number of days (or 'none')"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_parses_days_zero_and_none() {
        assert_eq!(parse_ttl_days("7").unwrap(), Some(TimeDelta::days(7)));
        assert_eq!(parse_ttl_days("0").unwrap(), None);
        assert_eq!(parse_ttl_days("None").unwrap(), None);
        assert!(parse_ttl_days("-1").is_err());
        assert!(parse_ttl_days("week").is_err());
    }
}
