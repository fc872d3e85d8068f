//! Resolving a file's tickers to instruments, and registering unknown ones when the caller
//! asked for it. Each distinct ticker is resolved once per load.

use std::collections::HashMap;

use sea_orm::DatabaseConnection;

use super::TickerMatch;
use crate::error::{Error, Result};
use crate::instruments::{self, Choice, InstrumentKey, NewInstrument};
use crate::printable::{self, field};

/// What a ticker resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    Instrument(i64),
    /// The ticker's records are rejected, for this reason.
    Rejected(String),
}

/// Registers unknown tickers; it runs on a blocking thread, so it waits on the runtime.
pub(crate) struct Registrar {
    pub db: DatabaseConnection,
    pub runtime: tokio::runtime::Handle,
    /// Written to `instrument_master.data_source` (the load's source type).
    pub data_source: String,
}

/// `instrument_master.ticker` is `VARCHAR(20)`: no longer ticker can name an instrument.
const TICKER_MAX_CHARS: usize = 20;

/// Resolves tickers against a snapshot of the instrument master taken when the load started.
pub(crate) struct Resolver {
    known: HashMap<String, Vec<InstrumentKey>>,
    rule: TickerMatch,
    registrar: Registrar,
    cache: HashMap<String, Resolved>,
}

impl Resolver {
    pub(crate) fn new(
        known: HashMap<String, Vec<InstrumentKey>>,
        rule: TickerMatch,
        registrar: Registrar,
    ) -> Self {
        Self {
            known,
            rule,
            registrar,
            cache: HashMap::new(),
        }
    }

    /// The instrument `ticker` names under the load's rule, or why its records are rejected.
    ///
    /// # Errors
    /// Database errors while registering a ticker (they end the load, unlike a rejection).
    pub(crate) fn resolve(&mut self, ticker: &str) -> Result<Resolved> {
        if let Some(hit) = self.cache.get(ticker) {
            return Ok(hit.clone());
        }
        // Not cached, so that a file of endless garbage tickers cannot grow the cache.
        if ticker.chars().count() > TICKER_MAX_CHARS {
            return Ok(Resolved::Rejected(format!(
                "ticker '{}' is longer than {TICKER_MAX_CHARS} characters",
                field(ticker)
            )));
        }
        let resolved = self.lookup(ticker)?;
        self.cache.insert(ticker.to_owned(), resolved.clone());
        Ok(resolved)
    }

    fn lookup(&self, ticker: &str) -> Result<Resolved> {
        if ticker.is_empty() {
            return Ok(Resolved::Rejected("missing ticker".into()));
        }
        if printable::has_control(ticker) {
            return Ok(Resolved::Rejected(format!(
                "ticker '{}' holds control characters",
                field(ticker)
            )));
        }
        let candidates = self.known.get(ticker).map_or(&[][..], Vec::as_slice);
        let (exchange, kind) = match &self.rule {
            TickerMatch::Any => (None, None),
            TickerMatch::OnExchange(exchange) => (Some(exchange.as_str()), None),
            TickerMatch::Register {
                instrument_type,
                exchange,
                ..
            } => (Some(exchange.as_str()), Some(*instrument_type)),
        };
        Ok(match instruments::choose(candidates, exchange, kind) {
            Choice::One(key) => Resolved::Instrument(key.instrument_id),
            Choice::Ambiguous(keys) => Resolved::Rejected(format!(
                "ticker {ticker} is ambiguous ({}): name the exchange to load it",
                crate::error::Candidates(&keys)
            )),
            Choice::Unknown => match &self.rule {
                TickerMatch::Register {
                    instrument_type,
                    exchange,
                    currency,
                } => {
                    let new = NewInstrument {
                        currency: Some(currency.clone()),
                        data_source: Some(self.registrar.data_source.clone()),
                        ..NewInstrument::new(*instrument_type, ticker, exchange.as_str())
                    };
                    self.register(&new)?
                }
                TickerMatch::OnExchange(exchange) => Resolved::Rejected(format!(
                    "unknown ticker {} on {}",
                    field(ticker),
                    field(exchange)
                )),
                TickerMatch::Any => Resolved::Rejected(format!("unknown ticker {}", field(ticker))),
            },
        })
    }

    fn register(&self, new: &NewInstrument) -> Result<Resolved> {
        let Registrar { db, runtime, .. } = &self.registrar;
        match runtime.block_on(instruments::upsert(db, new)) {
            Ok((model, _)) => Ok(Resolved::Instrument(model.instrument_id)),
            Err(Error::InvalidInput { reason, .. }) => Ok(Resolved::Rejected(format!(
                "cannot register ticker {}: {reason}",
                new.ticker
            ))),
            Err(e) => Err(e),
        }
    }
}
