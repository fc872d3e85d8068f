//! A run's read-only first pass: which instruments have prices in which of its ranges, the
//! months its returns will fall in, and the returns at its edges (the first return of the range,
//! from the last price before it; the first return after it, from the range's last price). All
//! of it is known before anything is written, so the partitions are made — or refused — first.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use super::ReturnsScope;
use super::chunks::{MONTHS_PER_STATEMENT, Range, prices_in, split};
use crate::error::Result;
use crate::partitions::{Parent, existing_months, month_start};

/// One instrument's prices in one range: the months they fall in, the first and the last.
#[derive(Debug, Clone, FromQueryResult)]
pub(super) struct Span {
    pub instrument_id: i64,
    pub months: Vec<NaiveDate>,
    pub first_date: NaiveDate,
    pub first_price: Decimal,
    pub last_date: NaiveDate,
    pub last_price: Decimal,
}

/// A return to write from two known prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pair {
    pub instrument_id: i64,
    pub trade_date: NaiveDate,
    pub price: Decimal,
    pub prev_price: Decimal,
}

#[derive(Debug, FromQueryResult)]
struct Price {
    instrument_id: i64,
    trade_date: NaiveDate,
    price: Decimal,
}

/// What a run will write.
#[derive(Debug)]
pub(super) struct Plan {
    /// The run's ranges in date order, each with the instruments priced in it.
    pub chunks: Vec<(Range, Vec<Span>)>,
    /// The returns at the run's edges.
    pub edges: Vec<Pair>,
}

impl Plan {
    /// The first days of the months the run's returns fall in, sorted.
    pub(super) fn months(&self) -> Vec<NaiveDate> {
        let spans = self.chunks.iter().flat_map(|(_, spans)| spans);
        let months: BTreeSet<NaiveDate> = spans
            .flat_map(|s| s.months.iter().copied())
            .chain(self.edges.iter().map(|p| month_start(p.trade_date)))
            .collect();
        months.into_iter().collect()
    }
}

/// Reads what a run over `scope` will write, a range of at most [`MONTHS_PER_STATEMENT`]
/// partitions per statement.
///
/// # Errors
/// When the database refuses.
pub(super) async fn plan<C: ConnectionTrait>(db: &C, scope: &ReturnsScope) -> Result<Plan> {
    let partitions: Vec<NaiveDate> = existing_months(db, Parent::DailyPrice)
        .await?
        .into_iter()
        .collect();
    let in_scope = Range {
        start: scope.from,
        end: scope.to.and_then(|to| to.succ_opt()),
    };
    let mut chunks = Vec::new();
    for range in split(&partitions, in_scope, MONTHS_PER_STATEMENT) {
        let spans = Span::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "WITH priced AS ({})
                 SELECT instrument_id,
                        array_agg(DISTINCT date_trunc('month', trade_date)::date) AS months,
                        min(trade_date) AS first_date,
                        (array_agg(price ORDER BY trade_date))[1] AS first_price,
                        max(trade_date) AS last_date,
                        (array_agg(price ORDER BY trade_date DESC))[1] AS last_price
                   FROM priced GROUP BY instrument_id ORDER BY instrument_id",
                prices_in(&range)
            ),
            [scope.instruments.clone().into()],
        ))
        .all(db)
        .await?;
        chunks.push((range, spans));
    }
    let edges = edges(db, scope, &partitions, &chunks).await?;
    Ok(Plan { chunks, edges })
}

/// The first return of the range per instrument (from its last price before `from`) and the
/// first one after the range (from its last price in the range).
async fn edges<C: ConnectionTrait>(
    db: &C,
    scope: &ReturnsScope,
    partitions: &[NaiveDate],
    chunks: &[(Range, Vec<Span>)],
) -> Result<Vec<Pair>> {
    let mut first = BTreeMap::new();
    let mut last = BTreeMap::new();
    for span in chunks.iter().flat_map(|(_, spans)| spans) {
        first
            .entry(span.instrument_id)
            .or_insert((span.first_date, span.first_price));
        last.insert(span.instrument_id, span.last_price);
    }
    let mut pairs = Vec::new();
    if let Some(from) = scope.from {
        let before = Range {
            start: None,
            end: Some(from),
        };
        let ranges = split(partitions, before, MONTHS_PER_STATEMENT);
        let ids: Vec<i64> = first.keys().copied().collect();
        for found in nearest(db, ranges.into_iter().rev(), ids, Side::Latest).await? {
            let (trade_date, price) = first[&found.instrument_id];
            pairs.push(Pair {
                instrument_id: found.instrument_id,
                trade_date,
                price,
                prev_price: found.price,
            });
        }
    }
    if let Some(after) = scope.to.and_then(|to| to.succ_opt()) {
        let beyond = Range {
            start: Some(after),
            end: None,
        };
        let ranges = split(partitions, beyond, MONTHS_PER_STATEMENT);
        let ids: Vec<i64> = last.keys().copied().collect();
        for found in nearest(db, ranges.into_iter(), ids, Side::Earliest).await? {
            pairs.push(Pair {
                instrument_id: found.instrument_id,
                trade_date: found.trade_date,
                price: found.price,
                prev_price: last[&found.instrument_id],
            });
        }
    }
    Ok(pairs)
}

/// Which price of a range [`nearest`] takes.
#[derive(Debug, Clone, Copy)]
enum Side {
    Latest,
    Earliest,
}

/// For each of `ids`, its latest or earliest price, looked for range by range in the order
/// given until every instrument has one (most runs stop at the first range).
async fn nearest<C: ConnectionTrait>(
    db: &C,
    ranges: impl Iterator<Item = Range>,
    mut ids: Vec<i64>,
    side: Side,
) -> Result<Vec<Price>> {
    let order = match side {
        Side::Latest => "DESC",
        Side::Earliest => "ASC",
    };
    let mut found = Vec::new();
    for range in ranges {
        if ids.is_empty() {
            break;
        }
        let prices = Price::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT i.instrument_id, p.trade_date, p.price
                   FROM unnest($1::bigint[]) AS i(instrument_id)
                  CROSS JOIN LATERAL (
                        SELECT trade_date, coalesce(adj_close_price, close_price) AS price
                          FROM daily_price d
                         WHERE d.instrument_id = i.instrument_id AND {}
                         ORDER BY trade_date {order} LIMIT 1) p",
                range.condition()
            ),
            [ids.clone().into()],
        ))
        .all(db)
        .await?;
        let priced: HashSet<i64> = prices.iter().map(|p| p.instrument_id).collect();
        ids.retain(|id| !priced.contains(id));
        found.extend(prices);
    }
    Ok(found)
}
