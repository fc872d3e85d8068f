//! The product's HTTP API, as an application built on the Foresto library alone (no CLI): the
//! worked example of wiring it — settings as a value, one connection pool sized by them, the
//! schema migrated on start (`main.rs`), and every typed [`foresto::Error`] mapped to an HTTP
//! status in one place ([`ApiError`]).
//!
//! | route | handler | library call |
//! |---|---|---|
//! | `GET /api/v1/scenarios` | [`scenarios::list`] | `foresto::scenarios::list_active` |
//! | `GET /api/v1/scenarios/{id}[?as_of=DATE]` | [`scenarios::detail`] | `foresto::scenarios::detail` |
//! | `POST /api/v1/backtest/scenario` | [`backtest::scenario`] | `foresto::simulation::simulate` |
//! | `POST /api/v1/backtest/portfolio` | [`backtest::portfolio`] | `foresto::simulation::simulate` |
//! | `GET /api/v1/backtest/scenario/{run_id}/path` | [`backtest::path`] | `foresto::simulation::runs` |
//! | `GET /api/v1/instruments/{ticker}/prices?from=DATE&to=DATE[&exchange=X]` | [`prices::prices`] | `foresto::instruments`, `foresto::series` |
//!
//! Bodies and answers are JSON, decimals as exact strings. A refused request gets
//! `{"error": {"code", "message"}}` with a one-line message; see [`ApiError`] for the statuses.
//!
//! The API has no authentication of its own: it binds to the address it is given (loopback by
//! default) and belongs behind the product's gateway.

pub mod backtest;
mod error;
mod input;
pub mod prices;
pub mod scenarios;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use foresto::Settings;
use sea_orm::DatabaseConnection;

pub use error::ApiError;

/// What every handler shares: the pool and the settings the service functions take.
#[derive(Clone)]
pub struct AppState {
    db: DatabaseConnection,
    settings: Arc<Settings>,
}

impl AppState {
    /// A state serving `db` with `settings` (engine version and result cache; the pool's own
    /// settings were used when `db` was opened).
    pub fn new(db: DatabaseConnection, settings: Settings) -> Self {
        Self {
            db,
            settings: Arc::new(settings),
        }
    }
}

/// The API's routes on `state`. Unknown routes and methods get the error envelope too (404,
/// 405), so a client never has to parse anything but JSON.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/scenarios", get(scenarios::list))
        .route("/api/v1/scenarios/{id}", get(scenarios::detail))
        .route("/api/v1/backtest/scenario", post(backtest::scenario))
        .route("/api/v1/backtest/portfolio", post(backtest::portfolio))
        .route(
            "/api/v1/backtest/scenario/{run_id}/path",
            get(backtest::path),
        )
        .route("/api/v1/instruments/{ticker}/prices", get(prices::prices))
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
}
