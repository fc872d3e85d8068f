//! How much of a series is stored: the span of each instrument's prices, and whether a load
//! wrote any.

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use serde::Serialize;

use crate::error::Result;

/// The span of one instrument's stored prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromQueryResult)]
pub struct Coverage {
    pub instrument_id: i64,
    /// Its first and last price date.
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    /// How many price rows it has.
    pub days: i64,
}

/// The span of stored prices of each of `instrument_ids` that has any, in id order; an
/// instrument without prices is not listed.
///
/// # Errors
/// Database errors.
#[tracing::instrument(skip(db))]
pub async fn price_coverage<C: ConnectionTrait>(
    db: &C,
    instrument_ids: &[i64],
) -> Result<Vec<Coverage>> {
    Ok(Coverage::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT instrument_id, min(trade_date) AS first_date, max(trade_date) AS last_date,
                count(*) AS days
           FROM daily_price WHERE instrument_id = ANY($1)
          GROUP BY instrument_id ORDER BY instrument_id",
        [instrument_ids.to_vec().into()],
    ))
    .all(db)
    .await?)
}

/// Whether any stored price row was written by load `load_id`.
///
/// # Errors
/// Database errors.
#[tracing::instrument(skip(db))]
pub async fn load_has_prices<C: ConnectionTrait>(db: &C, load_id: i64) -> Result<bool> {
    #[derive(FromQueryResult)]
    struct Present {
        present: bool,
    }
    let row = Present::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT EXISTS (SELECT 1 FROM daily_price WHERE load_id = $1) AS present",
        [load_id.into()],
    ))
    .one(db)
    .await?;
    Ok(row.is_some_and(|r| r.present))
}
