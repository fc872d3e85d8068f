//! Every refusal the API answers with, and its HTTP status.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use foresto::engine::EngineError;
use foresto::{
    DatabaseError, Error, IngestError, InstrumentError, PartitionError, ScenarioError,
    SimulationError,
};
use serde::Serialize;

/// Why a request got no answer but an error. Its response is
/// `{"error": {"code": "…", "message": "…"}}` with a one-line message:
///
/// | status | when |
/// |---|---|
/// | 400 | the body is not JSON (`malformed_json`), or a path segment is not text (`invalid_path`) |
/// | 404 | the scenario, run or instrument named does not exist (in the path or in the body), or no such route |
/// | 405 | the route has no such method |
/// | 413, 415 | the body is too large, or not sent as `application/json` |
/// | 422 | the input breaks a rule: dates, amount, rate, loss limit, weights, rebalance value, unknown fields, an ambiguous ticker, a window without portfolio or returns |
/// | 503 | the database cannot be reached, or the same request is still being computed elsewhere (try again) |
/// | 500 | anything else: the server's fault, logged, with no detail in the answer |
#[derive(Debug)]
pub enum ApiError {
    /// A service function refused or failed.
    Service(Error),
    /// The body is not the JSON the route takes.
    Body(JsonRejection),
    /// The query string does not match what the route takes.
    Query(QueryRejection),
    /// A path segment could not be read.
    Path(PathRejection),
    /// No route has this path.
    NoRoute(Uri),
    /// The route exists, without this method.
    MethodNotAllowed(Method),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        Self::Service(err)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::Body(rejection)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::Query(rejection)
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::Path(rejection)
    }
}

#[derive(Serialize)]
struct Envelope {
    error: Body,
}

#[derive(Serialize)]
struct Body {
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            Self::Service(err) => {
                let (status, code) = service_status(err);
                let message = if status.is_server_error() {
                    tracing::error!(code, error = %err, "request failed");
                    server_message(status)
                } else {
                    tracing::debug!(code, error = %err, "request refused");
                    err.to_string()
                };
                (status, code, message)
            }
            Self::Body(rejection) => (
                rejection.status(),
                body_code(rejection),
                rejection.body_text(),
            ),
            // A query string that parses but says something wrong (a bad date, an unknown
            // parameter) is invalid input, not a malformed request.
            Self::Query(rejection) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_query",
                rejection.body_text(),
            ),
            Self::Path(rejection) => (rejection.status(), "invalid_path", rejection.body_text()),
            Self::NoRoute(uri) => (
                StatusCode::NOT_FOUND,
                "no_route",
                format!("no route {}", uri.path()),
            ),
            Self::MethodNotAllowed(method) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("this route does not take {method}"),
            ),
        };
        // Messages from parsers may span lines; the envelope promises one.
        let message = message.lines().collect::<Vec<_>>().join(" ");
        (
            status,
            Json(Envelope {
                error: Body { code, message },
            }),
        )
            .into_response()
    }
}

/// The status and code of a service error, decided by its type alone.
fn service_status(err: &Error) -> (StatusCode, &'static str) {
    use StatusCode as S;
    if err.is_connection() {
        return (S::SERVICE_UNAVAILABLE, "database_unavailable");
    }
    let invalid = |code| (S::UNPROCESSABLE_ENTITY, code);
    match err {
        Error::Database(DatabaseError::Connection { .. }) => {
            (S::SERVICE_UNAVAILABLE, "database_unavailable")
        }
        Error::Database(DatabaseError::Query { .. }) => {
            (S::INTERNAL_SERVER_ERROR, "database_error")
        }
        Error::Ingest(ingest) => match ingest {
            IngestError::InvalidRow { .. } | IngestError::UnreadableFile { .. } => {
                invalid("invalid_file")
            }
            IngestError::LoadFailed { source, .. } => service_status(source),
            IngestError::LoadAlreadyFinished { .. } => (S::CONFLICT, "load_finished"),
        },
        Error::Instrument(InstrumentError::UnknownInstrument { .. }) => {
            (S::NOT_FOUND, "instrument_not_found")
        }
        Error::Instrument(InstrumentError::AmbiguousTicker { .. }) => invalid("ambiguous_ticker"),
        Error::Partition(partition) => match partition {
            PartitionError::UnknownPartition { .. } => (S::NOT_FOUND, "partition_not_found"),
            PartitionError::DropRefused { .. } => (S::CONFLICT, "drop_refused"),
            PartitionError::DropUnfinished { source, .. } => service_status(source),
            // A date outside the plausible window, or a span needing more partitions than one
            // call may create: the request's dates are what is wrong.
            PartitionError::OutsideWindow { .. } => invalid("date_outside_window"),
            PartitionError::TooManyPartitions { .. } => invalid("date_span_too_long"),
        },
        Error::Scenario(scenario) => match scenario {
            ScenarioError::ScenarioNotFound { .. } => (S::NOT_FOUND, "scenario_not_found"),
            ScenarioError::NoPortfolioInForce { .. } => invalid("no_portfolio_in_force"),
            ScenarioError::WeightOutOfRange { .. }
            | ScenarioError::WeightTooPrecise { .. }
            | ScenarioError::WeightSumExceeded { .. }
            | ScenarioError::DuplicateInstrument { .. } => invalid("invalid_weights"),
            ScenarioError::EffectiveDateNotAfter { .. } => (S::CONFLICT, "version_conflict"),
        },
        Error::Simulation(simulation) => match simulation {
            SimulationError::InvalidDateRange { .. } => invalid("invalid_date_range"),
            SimulationError::InvalidAmount { .. } => invalid("invalid_amount"),
            SimulationError::RiskFreeRateOutOfRange { .. } => invalid("invalid_risk_free_rate"),
            SimulationError::LossLimitOutOfRange { .. } => invalid("invalid_loss_limit"),
            SimulationError::NoReturnsInWindow { .. } => invalid("no_returns_in_window"),
            // The request's figures are checked before the engine runs; a result too large for
            // its column is the one engine refusal the request itself causes.
            SimulationError::Engine {
                source: EngineError::FigureOutOfRange { .. },
            } => invalid("result_out_of_range"),
            SimulationError::Engine { .. } => (S::INTERNAL_SERVER_ERROR, "simulation_failed"),
            SimulationError::ComputeInProgress { .. } => (S::SERVICE_UNAVAILABLE, "busy"),
        },
        Error::NotFound { .. } => (S::NOT_FOUND, "not_found"),
        Error::InvalidInput { .. } => invalid("invalid_input"),
        Error::Io { .. } => (S::INTERNAL_SERVER_ERROR, "io_error"),
        // `Error::LocalServer` exists only when some crate of the build enables the library's
        // `local-server` feature (the tests' `testing` does; this application does not), so
        // this arm is unreachable in the application's own build.
        #[allow(unreachable_patterns)]
        _ => (S::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// What a 5xx answer says: no internals (SQL, hosts, paths) leave the server.
fn server_message(status: StatusCode) -> String {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => {
            "the service is temporarily unavailable; try again later".to_owned()
        }
        _ => "internal error; the server has logged it".to_owned(),
    }
}

fn body_code(rejection: &JsonRejection) -> &'static str {
    match rejection {
        JsonRejection::JsonSyntaxError(_) => "malformed_json",
        JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            "payload_too_large"
        }
        JsonRejection::BytesRejection(_) => "unreadable_body",
        // Well-formed JSON of the wrong shape (a missing or unknown field, a bad date, decimal
        // or rebalance value), and whatever axum adds to its non-exhaustive rejection later.
        _ => "invalid_body",
    }
}

/// The answer to a path no route has.
pub(crate) async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri)
}

/// The answer to a method a route does not take.
pub(crate) async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method)
}
