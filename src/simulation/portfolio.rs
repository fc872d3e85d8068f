//! Portfolios given directly in a request ([`Subject::Portfolio`](super::Subject::Portfolio)):
//! checked by the rules of portfolio versions, resolved to instruments, and simulated as one
//! version in force from the start date.

use chrono::NaiveDate;
use sea_orm::ConnectionTrait;

use super::request::InstrumentWeight;
use super::service::to_f64;
use crate::engine::{PortfolioVersion, Weight};
use crate::error::Result;
use crate::scenarios::{self, InstrumentRef, NewAllocation};

/// The engine's `portfolio_id` of a directly given portfolio, which has no row; the engine uses
/// it only in messages about weights, which [`allocations`] has checked already.
const UNSTORED_PORTFOLIO_ID: i64 = 0;

/// `weights` as allocations, checked as a portfolio version's are.
///
/// # Errors
/// [`crate::Error::InvalidInput`] for an instrument that is neither a ticker nor `id:<N>`, and
/// the errors of [`scenarios::validate_weights`] (no weights, a weight out of range or with more
/// than 4 decimals, an instrument named twice, a sum above 1.0001).
pub(super) fn allocations(weights: &[InstrumentWeight]) -> Result<Vec<NewAllocation>> {
    let allocations = weights
        .iter()
        .map(|w| {
            Ok(NewAllocation {
                instrument: w.instrument.parse()?,
                weight: w.weight,
                asset_class: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    scenarios::validate_weights(&allocations)?;
    Ok(allocations)
}

/// The portfolio `weights` name, as one engine version in force from `start`.
///
/// # Errors
/// Those of [`allocations`] and of [`scenarios::resolve_distinct`] (an unknown or ambiguous
/// ticker, two references to one instrument).
pub(super) async fn version<C: ConnectionTrait>(
    db: &C,
    weights: &[InstrumentWeight],
    start: NaiveDate,
) -> Result<PortfolioVersion> {
    let allocations = allocations(weights)?;
    let refs: Vec<InstrumentRef> = allocations.iter().map(|a| a.instrument.clone()).collect();
    let instruments = scenarios::resolve_distinct(db, &refs).await?;
    Ok(PortfolioVersion {
        portfolio_id: UNSTORED_PORTFOLIO_ID,
        effective_date: start,
        weights: instruments
            .iter()
            .zip(&allocations)
            .map(|(instrument, a)| Weight {
                instrument_id: instrument.instrument_id,
                weight: to_f64(a.weight),
            })
            .collect(),
    })
}
