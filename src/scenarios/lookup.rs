//! Resolving the instruments a caller names (by ticker or id) to `instrument_master` rows.

use entity::instrument_master;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::InstrumentRef;
use crate::error::{Error, InstrumentError, Result, ScenarioError};

/// The instrument each reference names, in the order given.
///
/// # Errors
/// [`InstrumentError::UnknownInstrument`] for a ticker or id that matches nothing;
/// [`InstrumentError::AmbiguousTicker`] (see [`crate::instruments::pick_by_ticker`]) for a ticker listed
/// on several exchanges (name it by id instead).
#[tracing::instrument(skip(db))]
pub async fn resolve<C: ConnectionTrait>(
    db: &C,
    refs: &[InstrumentRef],
) -> Result<Vec<instrument_master::Model>> {
    let ids: Vec<i64> = refs
        .iter()
        .filter_map(|r| match r {
            InstrumentRef::Id(id) => Some(*id),
            InstrumentRef::Ticker(_) => None,
        })
        .collect();
    let tickers: Vec<&str> = refs
        .iter()
        .filter_map(|r| match r {
            InstrumentRef::Ticker(t) => Some(t.as_str()),
            InstrumentRef::Id(_) => None,
        })
        .collect();
    let candidates = instrument_master::Entity::find()
        .filter(
            instrument_master::Column::InstrumentId
                .is_in(ids)
                .or(instrument_master::Column::Ticker.is_in(tickers)),
        )
        .all(db)
        .await?;
    refs.iter().map(|r| pick(r, &candidates)).collect()
}

/// [`resolve`], refusing two references that name one instrument (say a ticker and its
/// `id:<N>`), which a set of weights may not do.
///
/// # Errors
/// Those of [`resolve`]; [`ScenarioError::DuplicateInstrument`] naming the second reference.
pub async fn resolve_distinct<C: ConnectionTrait>(
    db: &C,
    refs: &[InstrumentRef],
) -> Result<Vec<instrument_master::Model>> {
    let instruments = resolve(db, refs).await?;
    for (i, instrument) in instruments.iter().enumerate() {
        if instruments[..i]
            .iter()
            .any(|other| other.instrument_id == instrument.instrument_id)
        {
            return Err(Error::Scenario(ScenarioError::DuplicateInstrument {
                instrument: format!("{} (id:{})", refs[i], instrument.instrument_id),
            }));
        }
    }
    Ok(instruments)
}

fn pick(
    reference: &InstrumentRef,
    candidates: &[instrument_master::Model],
) -> Result<instrument_master::Model> {
    match reference {
        InstrumentRef::Ticker(ticker) => {
            crate::instruments::pick_by_ticker(ticker, None, candidates.iter().cloned())
        }
        InstrumentRef::Id(id) => candidates
            .iter()
            .find(|i| i.instrument_id == *id)
            .cloned()
            .ok_or_else(|| {
                Error::Instrument(InstrumentError::UnknownInstrument {
                    instrument: reference.to_string(),
                })
            }),
    }
}
