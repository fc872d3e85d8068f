//! Database errors, and how a driver error becomes a typed [`Error`](super::Error).

use sea_orm::{DbErr, RuntimeErr};
use sqlx::postgres::PgDatabaseError;

use super::{Error, ScenarioError};

/// The weight-sum trigger raises `check_violation` naming its trigger as the constraint.
const WEIGHT_SUM_CONSTRAINT: &str = "trg_check_portfolio_weight";
const CHECK_VIOLATION: &str = "23514";

/// Why a statement did not run.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The database could not be reached, refused the login, or the connection was lost
    /// mid-operation (also: the pool had no free connection in time).
    #[error("database connection failed: {source}")]
    Connection {
        #[source]
        source: DbErr,
    },

    /// The database refused a statement.
    #[error("database error: {source}")]
    Query {
        #[source]
        source: DbErr,
    },
}

impl DatabaseError {
    /// The driver's error.
    pub fn db_err(&self) -> &DbErr {
        match self {
            DatabaseError::Connection { source } | DatabaseError::Query { source } => source,
        }
    }

    /// The PostgreSQL error behind it (SQLSTATE, constraint, detail), when the server sent one.
    pub fn pg_error(&self) -> Option<&PgDatabaseError> {
        pg_error(self.db_err())
    }
}

/// The PostgreSQL error behind a SeaORM error, when there is one.
pub fn pg_error(err: &DbErr) -> Option<&PgDatabaseError> {
    sqlx_error(err).and_then(sqlx_pg_error)
}

fn sqlx_error(err: &DbErr) -> Option<&sqlx::Error> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => Some(e),
        _ => None,
    }
}

fn sqlx_pg_error(err: &sqlx::Error) -> Option<&PgDatabaseError> {
    match err {
        sqlx::Error::Database(db) => db.try_downcast_ref::<PgDatabaseError>(),
        _ => None,
    }
}

/// A sqlx error (from the raw COPY paths) in SeaORM's type, so both classify alike.
pub(super) fn db_err(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(err)))
}

/// SQLSTATE class 08 (connection exception) and 57P (operator intervention: the server is
/// shutting down or the backend was terminated) mean the connection, not the statement, failed.
/// So do class 28 (the login was refused) and 3D000 (the database does not exist, e.g. dropped
/// under a running service): a raw sqlx pool acquire reports a refused login as a database
/// error, where SeaORM's connection path already says `Conn`.
fn is_connection_state(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P") || code.starts_with("28") || code == "3D000"
}

/// A failure to connect (whatever the server said) or of an established connection.
fn is_connection_failure(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        _ => match sqlx_error(err) {
            Some(
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Protocol(_),
            ) => true,
            Some(e) => sqlx_pg_error(e).is_some_and(|pg| is_connection_state(pg.code())),
            None => false,
        },
    }
}

/// Reads the portfolio id and sum out of the weight-sum trigger's error (recognised by SQLSTATE
/// and constraint name), so that the database's last line of defence surfaces as the same typed
/// error as the service's own validation.
fn weight_sum_violation(pg: &PgDatabaseError) -> Option<ScenarioError> {
    if pg.code() != CHECK_VIOLATION || pg.constraint() != Some(WEIGHT_SUM_CONSTRAINT) {
        return None;
    }
    let detail = pg.detail().unwrap_or_default();
    let field = |name: &str| {
        detail
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
    };
    Some(ScenarioError::WeightSumExceeded {
        portfolio_id: field("portfolio_id").and_then(|v| v.parse().ok()),
        sum: field("sum")
            .and_then(|v| v.parse().ok())
            .unwrap_or_default(),
    })
}

pub(super) fn classify(err: DbErr) -> Error {
    if is_connection_failure(&err) {
        return DatabaseError::Connection { source: err }.into();
    }
    if let Some(violation) = pg_error(&err).and_then(weight_sum_violation) {
        return violation.into();
    }
    DatabaseError::Query { source: err }.into()
}
