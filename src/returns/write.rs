//! A run's writing pass: one statement per range of the plan, each reading that range's prices
//! plus the price each instrument carries in from the ranges before, then one statement for the
//! returns at the edges. Every statement upserts through `upsert.sql`.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{
    ConnectionTrait, DbBackend, FromQueryResult, Statement, TransactionSession, TransactionTrait,
    Value,
};

use super::chunks::prices_in;
use super::plan::Plan;
use super::{InstrumentReturns, InstrumentRow, ReturnsScope};
use crate::error::Result;
use crate::simulation::invalidate;

// The returns, graded, upserted, and summarised per instrument. $5 engine version.
const UPSERT: &str = include_str!("upsert.sql");

// The pairs of one range, up to `UPSERT`, with [`PRICES`] where the range's prices go: they are
// spliced in, not bound, because PostgreSQL prunes partitions only against literal dates (see
// `chunks`), and `prices_in` writes nothing but dates into them.
const RANGE_PAIRS: &str = include_str!("range_pairs.sql");

/// The placeholder in [`RANGE_PAIRS`] for the range's prices.
const PRICES: &str = "{prices}";

/// Writes the returns `plan` holds; returns what each instrument got, by id, and how many cached
/// runs the rewritten returns expired.
///
/// # Errors
/// When the database refuses: the statements before stay written (each is atomic on its own,
/// with the expiry of the runs it made stale).
pub(super) async fn write<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    scope: &ReturnsScope,
    plan: &Plan,
    engine_version: &str,
) -> Result<(Vec<InstrumentReturns>, u64)> {
    let mut expired = 0;
    let mut got: BTreeMap<i64, InstrumentReturns> = BTreeMap::new();
    let mut carried: HashMap<i64, (NaiveDate, Decimal)> = HashMap::new();
    for (range, spans) in &plan.chunks {
        if spans.is_empty() {
            continue;
        }
        let (mut ids, mut dates, mut prices) = (Vec::new(), Vec::new(), Vec::new());
        for (id, (date, price)) in spans
            .iter()
            .filter_map(|s| carried.get(&s.instrument_id).map(|c| (s.instrument_id, c)))
        {
            ids.push(id);
            dates.push(*date);
            prices.push(*price);
        }
        let sql = RANGE_PAIRS.replace(PRICES, &prices_in(range)) + UPSERT;
        let values = [
            scope.instruments.clone().into(),
            ids.into(),
            dates.into(),
            prices.into(),
            engine_version.into(),
        ];
        absorb(&mut got, upsert(db, sql, values, &mut expired).await?);
        for span in spans {
            carried.insert(span.instrument_id, (span.last_date, span.last_price));
        }
    }
    if !plan.edges.is_empty() {
        let sql = format!(
            "WITH pairs AS (SELECT * FROM unnest($1::bigint[], $2::date[], $3::numeric[], $4::numeric[])
                                        AS p(instrument_id, trade_date, price, prev_price)),
             {UPSERT}"
        );
        let (mut ids, mut dates, mut prices, mut prev_prices) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for pair in &plan.edges {
            ids.push(pair.instrument_id);
            dates.push(pair.trade_date);
            prices.push(pair.price);
            prev_prices.push(pair.prev_price);
        }
        let values = [
            ids.into(),
            dates.into(),
            prices.into(),
            prev_prices.into(),
            engine_version.into(),
        ];
        absorb(&mut got, upsert(db, sql, values, &mut expired).await?);
    }
    Ok((got.into_values().collect(), expired))
}

/// Runs one writing statement and, in the same transaction, expires the cached runs that read a
/// return it rewrote: no committed return leaves a stale run behind, and no transaction's locks
/// span more than one range.
async fn upsert<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    sql: String,
    values: [Value; 5],
    expired: &mut u64,
) -> Result<Vec<InstrumentReturns>> {
    let txn = db.begin().await?;
    let rows: Vec<InstrumentReturns> = InstrumentRow::find_by_statement(
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values),
    )
    .all(&txn)
    .await?
    .into_iter()
    .map(InstrumentRow::into_returns)
    .collect();
    let changed: Vec<(i64, NaiveDate, NaiveDate)> = rows
        .iter()
        .flat_map(|i| i.changed.iter().map(|s| (i.instrument_id, s.first, s.last)))
        .collect();
    *expired += invalidate::expire_runs_touching(&txn, &changed).await?;
    txn.commit().await?;
    Ok(rows)
}

/// Adds one statement's per-instrument results to the run's.
fn absorb(got: &mut BTreeMap<i64, InstrumentReturns>, rows: Vec<InstrumentReturns>) {
    for row in rows {
        match got.get_mut(&row.instrument_id) {
            None => {
                got.insert(row.instrument_id, row);
            }
            Some(total) => {
                total.computed += row.computed;
                total.written += row.written;
                total.missing += row.missing;
                total.first_date = total.first_date.min(row.first_date);
                total.last_date = total.last_date.max(row.last_date);
                total.out_of_range.extend(row.out_of_range);
                total.out_of_range.sort_unstable();
                total.changed.extend(row.changed);
                total.changed.sort_unstable_by_key(|span| span.first);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, m, d).unwrap()
    }

    use super::super::ChangedSpan;

    fn got(
        id: i64,
        computed: i64,
        first: NaiveDate,
        last: NaiveDate,
        out: &[NaiveDate],
    ) -> InstrumentReturns {
        InstrumentReturns {
            instrument_id: id,
            computed,
            written: computed - 1,
            missing: out.len() as i64,
            first_date: first,
            last_date: last,
            out_of_range: out.to_vec(),
            changed: vec![ChangedSpan { first, last: first }],
        }
    }

    #[test]
    fn the_range_template_takes_the_prices_once_and_ends_where_upsert_begins() {
        assert_eq!(RANGE_PAIRS.matches(PRICES).count(), 1);
        assert!(RANGE_PAIRS.trim_end().ends_with("),"));
        assert!(!UPSERT.contains(PRICES));
    }

    #[test]
    fn statements_add_up_per_instrument() {
        let mut total = BTreeMap::new();
        absorb(
            &mut total,
            vec![got(1, 3, day(2, 1), day(2, 28), &[day(2, 5)])],
        );
        absorb(
            &mut total,
            vec![
                got(2, 1, day(3, 1), day(3, 1), &[]),
                got(1, 2, day(1, 31), day(3, 4), &[day(1, 31)]),
            ],
        );
        let one = &total[&1];
        assert_eq!((one.computed, one.written, one.missing), (5, 3, 2));
        assert_eq!((one.first_date, one.last_date), (day(1, 31), day(3, 4)));
        assert_eq!(one.out_of_range, [day(1, 31), day(2, 5)]);
        let firsts: Vec<NaiveDate> = one.changed.iter().map(|s| s.first).collect();
        assert_eq!(
            firsts,
            [day(1, 31), day(2, 1)],
            "spans of both statements, in date order"
        );
        assert_eq!(total[&2].computed, 1);
    }
}
