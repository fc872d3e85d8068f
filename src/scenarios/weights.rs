//! The weights of a new portfolio version, and the rules they must meet before the database sees
//! them.

use std::fmt;
use std::str::FromStr;

use entity::enums::AssetClass;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::error::{Error, Result, ScenarioError};

/// Decimal places of `portfolio_allocation.weight` (`numeric(5,4)`).
pub const WEIGHT_SCALE: u32 = 4;

/// The largest weight sum accepted: 1 plus the trigger's rounding tolerance of 0.0001.
pub fn max_weight_sum() -> Decimal {
    Decimal::new(10_001, WEIGHT_SCALE)
}

/// An instrument as a caller names it: by `instrument_master.instrument_id`, or by ticker.
///
/// As text, `id:<N>` is an id and anything else a ticker: KRX tickers are all digits
/// (`069500`), so a bare number cannot mean an id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentRef {
    Id(i64),
    Ticker(String),
}

impl fmt::Display for InstrumentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "id:{id}"),
            Self::Ticker(ticker) => f.write_str(ticker),
        }
    }
}

impl FromStr for InstrumentRef {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        if let Some(id) = text.strip_prefix("id:") {
            return id
                .trim()
                .parse()
                .map(Self::Id)
                .map_err(|_| Error::invalid("instrument", format!("'{text}' is not id:<N>")));
        }
        if text.is_empty() {
            return Err(Error::invalid("instrument", "empty ticker"));
        }
        Ok(Self::Ticker(text.to_owned()))
    }
}

/// One weight of a new portfolio version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAllocation {
    pub instrument: InstrumentRef,
    /// Fraction of the portfolio, 0..=1, at most 4 decimal places.
    pub weight: Decimal,
    pub asset_class: Option<AssetClass>,
}

/// Checks the rules that need no database: at least one weight, each within 0..=1 with at most
/// 4 decimal places (more precision is refused rather than rounded away), no instrument named
/// twice, and a sum of at most 1.0001.
///
/// # Errors
/// [`Error::InvalidInput`] (no weights), [`ScenarioError::WeightOutOfRange`],
/// [`ScenarioError::WeightTooPrecise`], [`ScenarioError::DuplicateInstrument`], or
/// [`ScenarioError::WeightSumExceeded`] with no `portfolio_id`.
pub fn validate_weights(allocations: &[NewAllocation]) -> Result<()> {
    if allocations.is_empty() {
        return Err(Error::invalid("weights", "no weights given"));
    }
    for (i, a) in allocations.iter().enumerate() {
        let instrument = || a.instrument.to_string();
        if a.weight < Decimal::ZERO || a.weight > Decimal::ONE {
            return Err(Error::Scenario(ScenarioError::WeightOutOfRange {
                instrument: instrument(),
                weight: a.weight,
            }));
        }
        if a.weight.normalize().scale() > WEIGHT_SCALE {
            return Err(Error::Scenario(ScenarioError::WeightTooPrecise {
                instrument: instrument(),
                weight: a.weight,
            }));
        }
        if allocations[..i]
            .iter()
            .any(|b| b.instrument == a.instrument)
        {
            return Err(Error::Scenario(ScenarioError::DuplicateInstrument {
                instrument: instrument(),
            }));
        }
    }
    let sum: Decimal = allocations.iter().map(|a| a.weight).sum();
    if sum > max_weight_sum() {
        return Err(Error::Scenario(ScenarioError::WeightSumExceeded {
            portfolio_id: None,
            sum,
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(instrument: &str, weight: &str) -> NewAllocation {
        NewAllocation {
            instrument: instrument.parse().unwrap(),
            weight: weight.parse().unwrap(),
            asset_class: None,
        }
    }

    #[test]
    fn instrument_refs_parse_ids_only_with_the_prefix() {
        assert_eq!(
            "id:12".parse::<InstrumentRef>().unwrap(),
            InstrumentRef::Id(12)
        );
        assert_eq!(
            "069500".parse::<InstrumentRef>().unwrap(),
            InstrumentRef::Ticker("069500".into())
        );
        assert!("id:x".parse::<InstrumentRef>().is_err());
        assert!(" ".parse::<InstrumentRef>().is_err());
        assert_eq!(InstrumentRef::Id(3).to_string(), "id:3");
    }

    #[test]
    fn accepts_a_full_portfolio_and_the_rounding_tolerance() {
        validate_weights(&[alloc("SPY", "0.6"), alloc("TLT", "0.4000")]).unwrap();
        validate_weights(&[alloc("SPY", "0.6001"), alloc("TLT", "0.4")]).unwrap();
        validate_weights(&[alloc("SPY", "0")]).unwrap();
    }

    #[test]
    fn each_rule_has_its_own_error() {
        assert!(matches!(
            validate_weights(&[]),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            validate_weights(&[alloc("SPY", "-0.1")]),
            Err(Error::Scenario(ScenarioError::WeightOutOfRange { .. }))
        ));
        assert!(matches!(
            validate_weights(&[alloc("SPY", "1.01")]),
            Err(Error::Scenario(ScenarioError::WeightOutOfRange { .. }))
        ));
        assert!(matches!(
            validate_weights(&[alloc("SPY", "0.12345")]),
            Err(Error::Scenario(ScenarioError::WeightTooPrecise { .. }))
        ));
        assert!(matches!(
            validate_weights(&[alloc("SPY", "0.5"), alloc("SPY", "0.2")]),
            Err(Error::Scenario(ScenarioError::DuplicateInstrument { .. }))
        ));
        let Err(Error::Scenario(ScenarioError::WeightSumExceeded { portfolio_id, sum })) =
            validate_weights(&[alloc("SPY", "0.6"), alloc("TLT", "0.4002")])
        else {
            panic!("expected WeightSumExceeded");
        };
        assert_eq!((portfolio_id, sum.to_string()), (None, "1.0002".to_owned()));
    }
}
