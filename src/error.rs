//! The crate's error type: variants a caller can branch on, each with a message fit for one
//! line on a terminal.

use rust_decimal::Decimal;
use sea_orm::DbErr;

/// Result alias used by every service function.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a Foresto service function can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A row the caller named does not exist.
    #[error("{entity} not found: {key}")]
    NotFound { entity: &'static str, key: String },

    /// The caller's input breaks a rule; `field` says which input.
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: &'static str, reason: String },

    /// A portfolio's weights would add up to more than 1.0 (beyond the 0.0001 tolerance).
    #[error("Portfolio weight sum exceeds 1.0: {sum} (portfolio_id {portfolio_id:?})")]
    WeightSumExceeded {
        portfolio_id: Option<i64>,
        sum: Decimal,
    },

    /// The database could not be reached, or the connection was lost mid-operation.
    #[error("database connection failed: {0}")]
    Connection(String),

    /// Any other database error, with the statement's context.
    #[error("database error: {0}")]
    Database(DbErr),

    /// Managing the local PostgreSQL server failed.
    #[error(transparent)]
    LocalServer(#[from] crate::db::local_server::LocalServerError),

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    // --- returns & partitions ---
    /// No partition of `daily_price`, `daily_return` or `simulation_path` (in the parent's
    /// schema) has this name.
    #[error("no partition of daily_price, daily_return or simulation_path is named {name:?}")]
    UnknownPartition { name: String },

    /// Retention refused to drop this partition; `reason` says why.
    #[error("refusing to drop partition {partition}: {reason}")]
    DropRefused {
        partition: String,
        reason: crate::partitions::DropRefusal,
    },

    // --- scenarios & simulation ---
    /// No scenario has this id.
    #[error("scenario not found: {scenario_id}")]
    ScenarioNotFound { scenario_id: String },

    /// The scenario has no portfolio version in force on `date`.
    #[error("scenario {scenario_id} has no portfolio version in force on {date}")]
    NoPortfolioInForce {
        scenario_id: String,
        date: chrono::NaiveDate,
    },

    /// A weight outside 0..=1.
    #[error("weight {weight} of {instrument} is not within 0..=1")]
    WeightOutOfRange { instrument: String, weight: Decimal },

    /// A weight with more decimal places than `portfolio_allocation.weight` (4) holds.
    #[error("weight {weight} of {instrument} has more than 4 decimal places")]
    WeightTooPrecise { instrument: String, weight: Decimal },

    /// No instrument has this ticker or id.
    #[error("unknown instrument: {instrument}")]
    UnknownInstrument { instrument: String },

    /// A ticker names instruments on several exchanges; the caller must say which one.
    #[error(
        "ticker {ticker} is ambiguous ({candidates}): give its exchange, or name the instrument as id:<N>"
    )]
    AmbiguousTicker { ticker: String, candidates: String },

    /// The same instrument is given twice in one portfolio version.
    #[error("instrument {instrument} is given more than once")]
    DuplicateInstrument { instrument: String },

    /// A new portfolio version must take effect after the scenario's latest one.
    #[error(
        "effective date {effective_date} is not after {latest}, the latest version of scenario {scenario_id}"
    )]
    EffectiveDateNotAfter {
        scenario_id: String,
        effective_date: chrono::NaiveDate,
        latest: chrono::NaiveDate,
    },

    /// A simulation's end date is not after its start date.
    #[error("end date {end_date} is not after start date {start_date}")]
    InvalidDateRange {
        start_date: chrono::NaiveDate,
        end_date: chrono::NaiveDate,
    },

    /// An initial amount that is not positive or does not fit `numeric(18,2)` exactly.
    #[error("initial amount {amount} must be positive, with at most 2 decimals and 16 digits")]
    InvalidAmount { amount: Decimal },

    /// An annual risk-free rate (a fraction) outside -1..=1.
    #[error("risk-free rate {rate} is out of range: an annual fraction within -1..=1")]
    RiskFreeRateOutOfRange { rate: Decimal },

    /// A loss limit (percent) not in (0, 100] or with more than 2 decimals.
    #[error("loss limit {pct} % is out of range: more than 0, at most 100, 2 decimals")]
    LossLimitOutOfRange { pct: Decimal },

    /// The portfolio's instruments have no daily return inside the window.
    #[error("no daily returns for the portfolio's instruments between {start_date} and {end_date}")]
    NoReturnsInWindow {
        start_date: chrono::NaiveDate,
        end_date: chrono::NaiveDate,
    },

    /// The engine refused its input or produced a figure that cannot be stored.
    #[error("simulation failed: {0}")]
    Simulation(crate::engine::EngineError),

    /// Another process kept computing the same request for longer than the caller would wait.
    #[error(
        "request {request_hash} is still being computed elsewhere; gave up after {waited_secs} s"
    )]
    ComputeInProgress {
        request_hash: String,
        waited_secs: u64,
    },

    // --- ingestion ---
    /// A row of an all-or-nothing CSV import breaks a rule; nothing was imported.
    #[error("{path}, line {line}: {reason}")]
    InvalidRow {
        path: String,
        line: u64,
        reason: String,
    },

    /// A price file could not be read as a whole (missing, unreadable, no usable header); its
    /// load is recorded as FAILED.
    #[error("load {load_id}: cannot read {path}: {reason}")]
    UnreadableFile {
        load_id: i64,
        path: String,
        reason: String,
    },

    /// A load stopped part-way (e.g. the connection was lost). Batches committed before stay;
    /// the load is recorded as FAILED when the database can still be reached (else it stays
    /// STARTED until marked stale). Re-running the load completes it.
    #[error("load {load_id} failed: {source}")]
    LoadFailed { load_id: i64, source: Box<Error> },

    /// A load can be finished only once, from STARTED.
    #[error("load {load_id} is already finished ({status:?})")]
    LoadAlreadyFinished {
        load_id: i64,
        status: entity::enums::LoadStatus,
    },
}

impl Error {
    /// Builds an [`Error::InvalidInput`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::NotFound`].
    pub fn not_found(entity: &'static str, key: impl ToString) -> Self {
        Self::NotFound {
            entity,
            key: key.to_string(),
        }
    }

    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// The PostgreSQL error behind a SeaORM error, when there is one.
pub fn pg_error(err: &DbErr) -> Option<&sqlx::postgres::PgDatabaseError> {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => sqlx_pg_error(e),
        _ => None,
    }
}

fn sqlx_pg_error(err: &sqlx::Error) -> Option<&sqlx::postgres::PgDatabaseError> {
    match err {
        sqlx::Error::Database(db) => db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>(),
        _ => None,
    }
}

/// Reads the portfolio id and sum out of the weight-sum trigger's error, so that the database's
/// last line of defence surfaces as the same typed error as the service's own validation.
fn weight_sum_violation(pg: &sqlx::postgres::PgDatabaseError) -> Option<Error> {
    if !pg.message().starts_with("Portfolio weight sum exceeds 1.0") {
        return None;
    }
    let detail = pg.detail().unwrap_or_default();
    let field = |name: &str| {
        detail
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
    };
    Some(Error::WeightSumExceeded {
        portfolio_id: field("portfolio_id").and_then(|v| v.parse().ok()),
        sum: field("sum")
            .and_then(|v| v.parse().ok())
            .unwrap_or_default(),
    })
}

/// SQLSTATE class 08 (connection exception) and 57P (operator intervention: the server is
/// shutting down or the backend was terminated) mean the connection, not the statement, failed.
fn is_connection_state(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P")
}

fn from_sqlx_ref(err: &sqlx::Error) -> Option<Error> {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => Some(Error::Connection(err.to_string())),
        sqlx::Error::Database(_) => {
            let pg = sqlx_pg_error(err)?;
            if is_connection_state(pg.code()) {
                return Some(Error::Connection(pg.message().to_owned()));
            }
            weight_sum_violation(pg)
        }
        _ => None,
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        use sea_orm::RuntimeErr;
        match &err {
            DbErr::ConnectionAcquire(_) => Error::Connection(err.to_string()),
            DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e))
            | DbErr::Conn(RuntimeErr::SqlxError(e)) => {
                from_sqlx_ref(e).unwrap_or(Error::Database(err))
            }
            DbErr::Conn(_) => Error::Connection(err.to_string()),
            _ => Error::Database(err),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        from_sqlx_ref(&err).unwrap_or_else(|| {
            Error::Database(DbErr::Exec(sea_orm::RuntimeErr::SqlxError(
                std::sync::Arc::new(err),
            )))
        })
    }
}
