//! Errors of simulation requests, the engine and the result cache.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::engine::EngineError;

/// Why a simulation request was refused or its result not produced.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    /// A simulation's end date is not after its start date.
    #[error("end date {end_date} is not after start date {start_date}")]
    InvalidDateRange {
        start_date: NaiveDate,
        end_date: NaiveDate,
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
        start_date: NaiveDate,
        end_date: NaiveDate,
    },

    /// The engine refused its input or produced a figure that cannot be stored.
    #[error("simulation failed: {source}")]
    Engine {
        #[from]
        source: EngineError,
    },

    /// Another caller kept computing the same request for longer than this one would wait.
    #[error(
        "request {request_hash} is still being computed elsewhere; gave up after {waited_secs} s"
    )]
    ComputeInProgress {
        request_hash: String,
        waited_secs: u64,
    },
}
