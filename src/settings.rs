//! The layer's settings as one value that the caller builds and passes.
//!
//! Nothing in the library reads the environment on its own: a service function that needs a
//! setting takes `&Settings`, so a server can use different settings per call or per tenant and
//! several can coexist in one process. [`Settings::from_env`] is a constructor for callers that
//! want the environment's values (the CLI calls it after loading `.env`).
//!
//! | variable read by [`Settings::from_env`] | field | default |
//! |---|---|---|
//! | `ENGINE_VERSION` | [`Settings::engine_version`] | `1.0.0` |
//! | `FORESTO_RESULT_TTL_DAYS` (`0` or `none`: forever) | [`CachePolicy::ttl`] | 30 days |
//! | `FORESTO_POOL_MAX_CONNECTIONS` | [`PoolSettings::max_connections`] | 10 |
//! | `FORESTO_POOL_ACQUIRE_TIMEOUT_SECS` | [`PoolSettings::acquire_timeout`] | 30 s |
//! | `FORESTO_CONNECT_TIMEOUT_SECS` | [`PoolSettings::connect_timeout`] | 10 s |
//! | `FORESTO_STATEMENT_TIMEOUT_SECS` (`0`: none) | [`PoolSettings::statement_timeout`] | none |
//! | `FORESTO_EARLIEST_DATE` (`YYYY-MM-DD`) | first date of [`PartitionLimits::window`] | 1900-01-01 |
//! | `FORESTO_LATEST_DATE` (`YYYY-MM-DD`) | last date of [`PartitionLimits::window`] | today + 10 years |
//! | `FORESTO_MAX_NEW_PARTITIONS` | [`PartitionLimits::max_new`] | 600 |

use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};

use crate::error::{Error, Result};
use crate::partitions::{DateWindow, PartitionLimits};

/// Engine version used when none is configured.
pub const DEFAULT_ENGINE_VERSION: &str = "1.0.0";

/// Days a stored simulation result stays valid when no TTL is configured.
pub const DEFAULT_RESULT_TTL_DAYS: i64 = 30;

/// Longest engine version the schema's `engine_version` columns hold.
const ENGINE_VERSION_MAX_CHARS: usize = 20;

/// Every variable [`Settings::from_env`] reads, so that a caller (a test harness, a supervisor)
/// can clear or forward exactly these.
pub const ENV_VARIABLES: [&str; 9] = [
    "ENGINE_VERSION",
    "FORESTO_RESULT_TTL_DAYS",
    "FORESTO_POOL_MAX_CONNECTIONS",
    "FORESTO_POOL_ACQUIRE_TIMEOUT_SECS",
    "FORESTO_CONNECT_TIMEOUT_SECS",
    "FORESTO_STATEMENT_TIMEOUT_SECS",
    "FORESTO_EARLIEST_DATE",
    "FORESTO_LATEST_DATE",
    "FORESTO_MAX_NEW_PARTITIONS",
];

/// How stored simulation results live and how long callers wait for each other
/// ([`crate::simulation::get_or_compute`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    /// Lifetime of a newly stored run; `None` keeps it until deleted.
    pub ttl: Option<TimeDelta>,
    /// A RUNNING row (written by another tool) older than this is taken to be abandoned.
    pub stale_after: TimeDelta,
    /// The first pause of a caller waiting for another's computation before it looks again;
    /// each further pause doubles, up to 8 times this.
    pub poll_interval: Duration,
    /// How long a caller waits for others (their computation of the same request, or a
    /// connection they all hold) before giving up.
    pub max_wait: Duration,
}

impl Default for CachePolicy {
    /// The default TTL ([`DEFAULT_RESULT_TTL_DAYS`]), RUNNING rows stale after 5 minutes,
    /// polling from every 50 ms (backing off to every 400 ms) for at most 6 minutes — longer than
    /// the stale timeout, so that one call outlasts an abandoned RUNNING row.
    fn default() -> Self {
        Self {
            ttl: Some(TimeDelta::days(DEFAULT_RESULT_TTL_DAYS)),
            stale_after: TimeDelta::minutes(5),
            poll_interval: Duration::from_millis(50),
            max_wait: Duration::from_secs(360),
        }
    }
}

/// Everything the service functions take from their caller rather than from the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Engine version stamped on returns, portfolio versions and runs, and part of every
    /// request hash. Set it through [`Settings::with_engine_version`], which checks its length.
    engine_version: String,
    /// How simulation results are cached: TTL, staleness of abandoned computations, waiting.
    pub cache: CachePolicy,
    /// The connection pool `db::connect` opens.
    pub pool: PoolSettings,
    /// The date window and the cap on new partitions of a returns run
    /// ([`crate::returns::compute_returns`]) and of the `simulation_path` partitions a computed
    /// run needs ([`crate::simulation::simulate`]); price loads take theirs in
    /// [`crate::prices::LoadOptions`].
    pub partitions: PartitionLimits,
}

/// The connection pool's size and timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a caller waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// How long opening one connection may take.
    pub connect_timeout: Duration,
    /// Server-side limit on each statement (`statement_timeout`); `None` leaves the server's.
    /// Bulk loads and retention run long statements: set it with them in mind.
    pub statement_timeout: Option<Duration>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            statement_timeout: None,
        }
    }
}

impl Default for Settings {
    /// Engine [`DEFAULT_ENGINE_VERSION`], [`CachePolicy::default`], [`PoolSettings::default`],
    /// [`PartitionLimits::default`].
    fn default() -> Self {
        Self {
            engine_version: DEFAULT_ENGINE_VERSION.to_owned(),
            cache: CachePolicy::default(),
            pool: PoolSettings::default(),
            partitions: PartitionLimits::default(),
        }
    }
}

impl Settings {
    /// The engine version these settings stamp and accept.
    pub fn engine_version(&self) -> &str {
        &self.engine_version
    }

    /// These settings with another engine version.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `version` is empty or longer than the 20 characters the
    /// schema's `engine_version` columns hold.
    pub fn with_engine_version(self, version: impl Into<String>) -> Result<Self> {
        self.engine_version_named("engine version", version.into())
    }

    fn engine_version_named(mut self, field: &'static str, version: String) -> Result<Self> {
        if version.trim().is_empty() {
            return Err(Error::invalid(field, "is empty"));
        }
        if version.chars().count() > ENGINE_VERSION_MAX_CHARS {
            return Err(Error::invalid(
                field,
                format!("'{version}' is longer than {ENGINE_VERSION_MAX_CHARS} characters"),
            ));
        }
        self.engine_version = version;
        Ok(self)
    }

    /// These settings with results kept for `ttl` (`None`: until deleted).
    pub fn with_result_ttl(mut self, ttl: Option<TimeDelta>) -> Self {
        self.cache.ttl = ttl;
        self
    }

    /// The defaults, overridden by the variables in the module table that are set (and not
    /// blank) in the process environment. Reads no `.env` file: a caller that wants one loads it
    /// first.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the variable whose value is not valid.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`Settings::from_env`], with the variables looked up by `lookup` (e.g. a tenant's
    /// configuration map).
    ///
    /// # Errors
    /// As [`Settings::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut settings = Self::default();
        if let Some(version) = var("ENGINE_VERSION") {
            settings =
                settings.engine_version_named("ENGINE_VERSION", version.trim().to_owned())?;
        }
        if let Some(days) = var("FORESTO_RESULT_TTL_DAYS") {
            settings.cache.ttl = parse_ttl_days(&days)?;
        }
        let secs = |name: &'static str| -> Result<Option<u64>> {
            var(name)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| {
                        Error::invalid(name, format!("'{v}' is not a whole number of seconds"))
                    })
                })
                .transpose()
        };
        if let Some(max) = secs("FORESTO_POOL_MAX_CONNECTIONS")? {
            settings.pool.max_connections =
                u32::try_from(max).ok().filter(|&m| m > 0).ok_or_else(|| {
                    Error::invalid(
                        "FORESTO_POOL_MAX_CONNECTIONS",
                        format!("{max} is not a pool size (1 to {})", u32::MAX),
                    )
                })?;
        }
        if let Some(s) = secs("FORESTO_POOL_ACQUIRE_TIMEOUT_SECS")? {
            settings.pool.acquire_timeout = Duration::from_secs(s);
        }
        if let Some(s) = secs("FORESTO_CONNECT_TIMEOUT_SECS")? {
            settings.pool.connect_timeout = Duration::from_secs(s);
        }
        if let Some(s) = secs("FORESTO_STATEMENT_TIMEOUT_SECS")? {
            settings.pool.statement_timeout = (s > 0).then(|| Duration::from_secs(s));
        }
        let date = |name: &'static str| -> Result<Option<NaiveDate>> {
            var(name)
                .map(|v| {
                    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| {
                        Error::invalid(name, format!("'{v}' is not a date (YYYY-MM-DD)"))
                    })
                })
                .transpose()
        };
        let (earliest, latest) = (date("FORESTO_EARLIEST_DATE")?, date("FORESTO_LATEST_DATE")?);
        if earliest.is_some() || latest.is_some() {
            let window = &settings.partitions.window;
            settings.partitions.window = DateWindow::new(
                earliest.unwrap_or(window.first()),
                latest.unwrap_or(window.last()),
            )?;
        }
        if let Some(max) = var("FORESTO_MAX_NEW_PARTITIONS") {
            settings.partitions.max_new = max.trim().parse().map_err(|_| {
                Error::invalid(
                    "FORESTO_MAX_NEW_PARTITIONS",
                    format!("'{max}' is not a number of partitions (0 to {})", u32::MAX),
                )
            })?;
        }
        Ok(settings)
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
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn env_variables_lists_exactly_what_from_lookup_reads() {
        let asked = std::sync::Mutex::new(Vec::new());
        Settings::from_lookup(|name| {
            asked.lock().unwrap().push(name.to_owned());
            None
        })
        .unwrap();
        let mut asked = asked.into_inner().unwrap();
        asked.sort();
        let mut listed = ENV_VARIABLES.map(str::to_owned).to_vec();
        listed.sort();
        assert_eq!(asked, listed);
    }

    #[test]
    fn ttl_parses_days_zero_and_none() {
        assert_eq!(parse_ttl_days("7").unwrap(), Some(TimeDelta::days(7)));
        assert_eq!(parse_ttl_days("0").unwrap(), None);
        assert_eq!(parse_ttl_days("None").unwrap(), None);
        assert!(parse_ttl_days("-1").is_err());
        assert!(parse_ttl_days("week").is_err());
    }

    #[test]
    fn lookup_overrides_defaults_and_rejects_bad_values() {
        let vars: HashMap<&str, &str> = [
            ("ENGINE_VERSION", "2.1.0"),
            ("FORESTO_RESULT_TTL_DAYS", "none"),
            ("FORESTO_POOL_MAX_CONNECTIONS", "3"),
            ("FORESTO_STATEMENT_TIMEOUT_SECS", "15"),
            ("FORESTO_CONNECT_TIMEOUT_SECS", " "),
        ]
        .into();
        let settings = Settings::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(settings.engine_version(), "2.1.0");
        assert_eq!(settings.cache.ttl, None);
        assert_eq!(settings.pool.max_connections, 3);
        assert_eq!(
            settings.pool.statement_timeout,
            Some(Duration::from_secs(15))
        );
        assert_eq!(settings.pool.connect_timeout, Duration::from_secs(10));

        let bad = |k: &'static str, v: &'static str| {
            Settings::from_lookup(|name| (name == k).then(|| v.to_owned())).unwrap_err()
        };
        assert!(
            bad("ENGINE_VERSION", "v".repeat(21).leak())
                .to_string()
                .contains("20")
        );
        assert!(
            bad("FORESTO_POOL_MAX_CONNECTIONS", "0")
                .to_string()
                .contains("pool size")
        );
        assert!(
            bad("FORESTO_POOL_ACQUIRE_TIMEOUT_SECS", "soon")
                .to_string()
                .contains("FORESTO_POOL_ACQUIRE_TIMEOUT_SECS")
        );
    }

    #[test]
    fn partition_limits_come_from_their_variables_and_stay_in_range() {
        let vars: HashMap<&str, &str> = [
            ("FORESTO_EARLIEST_DATE", " 1850-01-01 "),
            ("FORESTO_MAX_NEW_PARTITIONS", "1200"),
        ]
        .into();
        let settings = Settings::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        let limits = &settings.partitions;
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(limits.window.first(), day(1850, 1, 1));
        assert_eq!(
            limits.window.last(),
            PartitionLimits::default().window.last()
        );
        assert_eq!(limits.max_new, 1200);

        let bad = |k: &'static str, v: &'static str| {
            Settings::from_lookup(|name| (name == k).then(|| v.to_owned()))
                .unwrap_err()
                .to_string()
        };
        assert!(bad("FORESTO_EARLIEST_DATE", "1850").contains("FORESTO_EARLIEST_DATE"));
        assert!(bad("FORESTO_EARLIEST_DATE", "0000-01-01").contains("before 0001-01-01"));
        assert!(bad("FORESTO_LATEST_DATE", "1800-01-01").contains("before its first"));
        assert!(bad("FORESTO_MAX_NEW_PARTITIONS", "-1").contains("FORESTO_MAX_NEW_PARTITIONS"));
    }
}
