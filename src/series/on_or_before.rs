//! The price in force on a date: the last stored bar on or before it.

use chrono::{Days, NaiveDate};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use super::prices::{PRICE_COLUMNS, PriceRow};
use super::range::{EARLIEST_DATE, check_date};
use crate::error::Result;

/// How far back [`price_on_or_before`] looks in turn before it searches all earlier dates: a
/// month covers weekends, holidays and short halts; a year, a long suspension.
pub const LOOKBACK_DAYS: [u64; 2] = [31, 366];

/// $1 instrument id, $2 first date, $3 last date of one window, searched newest first. Both
/// bounds are parameters, so only the window's partitions are scanned.
fn window_sql() -> String {
    format!(
        "SELECT {PRICE_COLUMNS} FROM daily_price
          WHERE instrument_id = $1 AND trade_date >= $2 AND trade_date <= $3
          ORDER BY trade_date DESC LIMIT 1"
    )
}

/// The windows searched in turn, newest first: the last [`LOOKBACK_DAYS`]`[0]` days through
/// `date`, then back to [`LOOKBACK_DAYS`]`[1]` days, then everything earlier.
fn windows(date: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut windows = Vec::new();
    let mut to = date;
    for days in LOOKBACK_DAYS {
        let from = date
            .checked_sub_days(Days::new(days - 1))
            .map_or(EARLIEST_DATE, |from| from.max(EARLIEST_DATE));
        if from <= to {
            windows.push((from, to));
        }
        match from.pred_opt() {
            Some(before) if from > EARLIEST_DATE => to = before,
            _ => return windows,
        }
    }
    windows.push((EARLIEST_DATE, to));
    windows
}

/// The last stored price of `instrument_id` dated on or before `date` (`date` itself when it
/// has one), or `None` when it has none that early (or the id names no instrument).
///
/// It never scans all partitions for an instrument that traded recently: the last
/// [`LOOKBACK_DAYS`]`[0]` days through `date` are searched first (two or three monthly
/// partitions), then the year before, and only then every earlier partition — so an answer
/// found near `date` costs one short statement, and `None` costs three.
///
/// # Errors
/// [`crate::Error::InvalidInput`] (field `date`) when `date` is before
/// [`super::EARLIEST_DATE`]; database errors.
#[tracing::instrument(skip(db))]
pub async fn price_on_or_before<C: ConnectionTrait>(
    db: &C,
    instrument_id: i64,
    date: NaiveDate,
) -> Result<Option<PriceRow>> {
    check_date("date", date)?;
    let sql = window_sql();
    for (from, to) in windows(date) {
        let found = PriceRow::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            &sql,
            [instrument_id.into(), from.into(), to.into()],
        ))
        .one(db)
        .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_windows_cover_every_earlier_date_once_newest_first() {
        assert_eq!(
            windows(d(2024, 3, 15)),
            [
                (d(2024, 2, 14), d(2024, 3, 15)),
                (d(2023, 3, 16), d(2024, 2, 13)),
                (EARLIEST_DATE, d(2023, 3, 15)),
            ]
        );
        // Near the earliest date the windows shrink and stop there.
        let early = EARLIEST_DATE + Days::new(40);
        assert_eq!(
            windows(early),
            [
                (EARLIEST_DATE + Days::new(10), early),
                (EARLIEST_DATE, EARLIEST_DATE + Days::new(9)),
            ]
        );
        assert_eq!(windows(EARLIEST_DATE), [(EARLIEST_DATE, EARLIEST_DATE)]);
    }
}
