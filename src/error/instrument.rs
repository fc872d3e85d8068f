//! Errors of naming instruments by ticker or id.

use std::fmt;

use entity::enums::InstrumentType;
use entity::instrument_master::Model;

/// Why an instrument reference names no instrument, or more than one.
#[derive(Debug, thiserror::Error)]
pub enum InstrumentError {
    /// No instrument has this ticker (on this exchange) or id.
    #[error("unknown instrument: {instrument}")]
    UnknownInstrument { instrument: String },

    /// A ticker names instruments on several exchanges (or of several types); the caller must
    /// say which one.
    #[error(
        "ticker {ticker} is ambiguous ({}): give its exchange, or name the instrument as id:<N>",
        Candidates(candidates)
    )]
    AmbiguousTicker {
        ticker: String,
        /// Every instrument the ticker could mean, in id order.
        candidates: Vec<InstrumentKey>,
    },
}

/// What names an instrument: its id and its `(instrument_type, ticker, exchange)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentKey {
    pub instrument_id: i64,
    pub instrument_type: InstrumentType,
    pub ticker: String,
    pub exchange: String,
}

impl fmt::Display for InstrumentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use sea_orm::ActiveEnum as _;
        write!(
            f,
            "{} {} on {} (id {})",
            self.instrument_type.to_value(),
            self.ticker,
            self.exchange,
            self.instrument_id
        )
    }
}

impl From<&Model> for InstrumentKey {
    fn from(m: &Model) -> Self {
        Self {
            instrument_id: m.instrument_id,
            instrument_type: m.instrument_type,
            ticker: m.ticker.clone(),
            exchange: m.exchange.clone(),
        }
    }
}

/// Instrument keys shown as one comma-separated list.
pub struct Candidates<'a, K>(pub &'a [K]);

impl<K: fmt::Display> fmt::Display for Candidates<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, key) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            key.fmt(f)?;
        }
        Ok(())
    }
}
