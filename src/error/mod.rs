//! The crate's errors: [`Error`] wraps one error type per area, each with variants a caller can
//! branch on and a message fit for one line on a terminal. Every wrapped cause (database,
//! file-system, engine) stays reachable through [`std::error::Error::source`].
//!
//! | area | type |
//! |---|---|
//! | connecting, statements | [`DatabaseError`] |
//! | load history, price and instrument files | [`IngestError`] |
//! | instrument lookups by ticker or id | [`InstrumentError`] |
//! | partition upkeep and retention | [`PartitionError`] |
//! | scenarios and portfolio versions | [`ScenarioError`] |
//! | simulation requests, the engine, the result cache | [`SimulationError`] |
//! | the managed local server (feature `local-server`) | `LocalServerError` |

mod database;
mod ingest;
mod instrument;
#[cfg(feature = "local-server")]
mod local_server;
mod partition;
mod scenario;
mod simulation;

pub use database::{DatabaseError, pg_error};
pub use ingest::IngestError;
pub use instrument::{Candidates, InstrumentError, InstrumentKey};
#[cfg(feature = "local-server")]
pub use local_server::LocalServerError;
pub use partition::{DropRefusal, PartitionError};
pub use scenario::ScenarioError;
pub use simulation::SimulationError;

/// Result alias used by every service function.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a Foresto service function can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be reached, or refused a statement.
    #[error(transparent)]
    Database(#[from] DatabaseError),

    /// Loading a file or recording its load failed.
    #[error(transparent)]
    Ingest(#[from] IngestError),

    /// An instrument reference matches no instrument, or several.
    #[error(transparent)]
    Instrument(#[from] InstrumentError),

    /// Partition upkeep refused or failed.
    #[error(transparent)]
    Partition(#[from] PartitionError),

    /// A scenario or portfolio-version rule was broken.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),

    /// A simulation request was refused, or its result could not be computed or stored.
    #[error(transparent)]
    Simulation(#[from] SimulationError),

    /// Managing the local PostgreSQL server failed.
    #[cfg(feature = "local-server")]
    #[error(transparent)]
    LocalServer(#[from] LocalServerError),

    /// A row the caller named does not exist.
    #[error("{entity} not found: {key}")]
    NotFound { entity: &'static str, key: String },

    /// The caller's input breaks a rule; `field` says which input.
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: &'static str, reason: String },

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
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

    /// Checks a caller's row limit: PostgreSQL's `LIMIT` takes a `bigint`, and a larger value
    /// would fail in the driver instead of saying what is wrong.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `limit` is beyond `i64::MAX`.
    pub fn check_limit(limit: Option<u64>) -> Result<()> {
        match limit.filter(|&l| i64::try_from(l).is_err()) {
            Some(limit) => Err(Error::invalid(
                "limit",
                format!("{limit} is more than {}", i64::MAX),
            )),
            None => Ok(()),
        }
    }

    /// Whether the connection, not the request, failed: the same call may succeed once the
    /// database is back. Looks through a failed load to its cause.
    pub fn is_connection(&self) -> bool {
        match self {
            Error::Database(DatabaseError::Connection { .. }) => true,
            Error::Ingest(IngestError::LoadFailed { source, .. }) => source.is_connection(),
            _ => false,
        }
    }
}

impl From<sea_orm::DbErr> for Error {
    /// Sorts a database error into its typed meaning: a lost or refused connection, the
    /// weight-sum trigger (by its constraint name), or any other statement error.
    fn from(err: sea_orm::DbErr) -> Self {
        database::classify(err)
    }
}

impl From<crate::engine::EngineError> for Error {
    fn from(err: crate::engine::EngineError) -> Self {
        SimulationError::from(err).into()
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        database::classify(database::db_err(err))
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::engine::EngineError;

    /// Every error in `err`'s chain below it.
    fn causes(err: &Error) -> Vec<&(dyn std::error::Error + 'static)> {
        let mut chain = Vec::new();
        let mut next = err.source();
        while let Some(cause) = next {
            chain.push(cause);
            next = cause.source();
        }
        chain
    }

    #[test]
    fn wrapped_causes_are_reachable_through_source() {
        let io = Error::io("prices.csv", std::io::Error::other("disk full"));
        let failed = Error::from(IngestError::LoadFailed {
            load_id: 7,
            source: Box::new(io),
        });
        let chain = causes(&failed);
        // The failed load's own cause (boxed, as the variant holds it), then that cause's.
        assert!(
            chain
                .iter()
                .any(|e| e.downcast_ref::<Box<Error>>().is_some())
        );
        assert!(
            chain
                .iter()
                .any(|e| e.downcast_ref::<std::io::Error>().is_some())
        );

        let engine = Error::from(EngineError::NoVersions);
        assert!(matches!(
            engine,
            Error::Simulation(SimulationError::Engine { .. })
        ));
        assert!(
            causes(&engine)
                .iter()
                .any(|e| e.downcast_ref::<EngineError>() == Some(&EngineError::NoVersions))
        );
    }

    #[test]
    fn messages_are_one_line_and_name_their_cause() {
        let failed = Error::from(IngestError::LoadFailed {
            load_id: 7,
            source: Box::new(Error::io("prices.csv", std::io::Error::other("disk full"))),
        });
        let text = failed.to_string();
        assert_eq!(text, "load 7 failed: prices.csv: disk full");
        let ambiguous = Error::from(InstrumentError::AmbiguousTicker {
            ticker: "SPY".into(),
            candidates: vec![
                InstrumentKey {
                    instrument_id: 3,
                    instrument_type: entity::enums::InstrumentType::Etf,
                    ticker: "SPY".into(),
                    exchange: "NYSE".into(),
                },
                InstrumentKey {
                    instrument_id: 9,
                    instrument_type: entity::enums::InstrumentType::Etf,
                    ticker: "SPY".into(),
                    exchange: "KRX".into(),
                },
            ],
        });
        assert_eq!(
            ambiguous.to_string(),
            "ticker SPY is ambiguous (ETF SPY on NYSE (id 3), ETF SPY on KRX (id 9)): give its \
             exchange, or name the instrument as id:<N>"
        );
        assert!(!text.contains('\n') && !ambiguous.to_string().contains('\n'));
    }
}
