//! Errors of scenarios and their portfolio versions.

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Why a scenario could not be read or a portfolio version not stored.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// No scenario has this id.
    #[error("scenario not found: {scenario_id}")]
    ScenarioNotFound { scenario_id: String },

    /// The scenario has no portfolio version in force on `date`.
    #[error("scenario {scenario_id} has no portfolio version in force on {date}")]
    NoPortfolioInForce {
        scenario_id: String,
        date: NaiveDate,
    },

    /// A weight outside 0..=1.
    #[error("weight {weight} of {instrument} is not within 0..=1")]
    WeightOutOfRange { instrument: String, weight: Decimal },

    /// A weight with more decimal places than `portfolio_allocation.weight` (4) holds.
    #[error("weight {weight} of {instrument} has more than 4 decimal places")]
    WeightTooPrecise { instrument: String, weight: Decimal },

    /// A portfolio's weights would add up to more than 1.0 (beyond the 0.0001 tolerance); raised
    /// by the service's own check or, as the last line, by the database's weight-sum trigger.
    #[error("Portfolio weight sum exceeds 1.0: {sum} (portfolio_id {portfolio_id:?})")]
    WeightSumExceeded {
        portfolio_id: Option<i64>,
        sum: Decimal,
    },

    /// The same instrument is given twice in one portfolio.
    #[error("instrument {instrument} is given more than once")]
    DuplicateInstrument { instrument: String },

    /// A new portfolio version must take effect after the scenario's latest one.
    #[error(
        "effective date {effective_date} is not after {latest}, the latest version of scenario {scenario_id}"
    )]
    EffectiveDateNotAfter {
        scenario_id: String,
        effective_date: NaiveDate,
        latest: NaiveDate,
    },
}
