//! `foresto::series`: typed reads of prices and returns (ranges, streams, latest dates, the price
//! on or before a date) — their values, order and bounds, the partitions their statements scan
//! (from `EXPLAIN ANALYZE` of exactly what the library sends), on the bundled real prices, and
//! through a read replica.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Days, NaiveDate, Utc};
use entity::enums::{DataQuality, LoadStatus};
use foresto::db::Connections;
use foresto::prices::{LoadOptions, load_file};
use foresto::returns::{ReturnsScope, compute_returns};
use foresto::series::{
    self, DateRange, EARLIEST_DATE, LatestDates, PriceRow, RECENT_DAYS, ReturnRow, STREAM_BATCH,
};
use foresto::settings::PoolSettings;
use foresto::simulation::service::load_returns;
use foresto::testing::{TestServer, TestServerOptions};
use foresto::{Error, Settings, instruments};
use futures_util::{StreamExt, TryStreamExt};
use rust_decimal::Decimal;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, IsolationLevel, QueryResult, Statement, StreamTrait, TransactionError,
    TransactionOptions, TransactionSession, TransactionTrait,
};

use crate::support::{
    Capture, Notices, TestDatabase, capture, count, date, exec, instrument_id, invalid_input,
    strings,
};

/// AAA: a full bar and bars with a close only, from 31 January to 1 March 2024 with a gap of
/// three weeks in February; BBB: 30 June 2023, then 1–2 February 2024; OLD: one price on
/// 1 March 2021; CCC: nothing. Returns of AAA in each `data_quality` (and one without), one of
/// BBB. Ids in this order: AAA < BBB < CCC < OLD.
const FIXTURE: &str = "
INSERT INTO instrument_master (instrument_type, ticker, exchange, currency) VALUES
    ('ETF', 'AAA', 'NYSE', 'USD'), ('ETF', 'BBB', 'NYSE', 'USD'),
    ('ETF', 'CCC', 'NASDAQ', 'USD'), ('STOCK', 'OLD', 'NYSE', 'USD');
INSERT INTO daily_price (instrument_id, trade_date, open_price, high_price, low_price,
                         close_price, adj_close_price, volume)
SELECT i.instrument_id, v.d::date, v.o::numeric, v.h::numeric, v.l::numeric, v.c::numeric,
       v.a::numeric, v.vol::bigint
  FROM instrument_master i
  JOIN (VALUES ('AAA', '2024-01-31', 99.5, 101, 99, 100.25, 100.2, 1000),
               ('AAA', '2024-02-01', NULL, NULL, NULL, 101.5, NULL, NULL),
               ('AAA', '2024-02-02', 101, 103, 100.5, 102.75, 102.7, 2500),
               ('AAA', '2024-02-05', NULL, NULL, NULL, 103, NULL, NULL),
               ('AAA', '2024-02-29', NULL, NULL, NULL, 104.1234, NULL, NULL),
               ('AAA', '2024-03-01', NULL, NULL, NULL, 105, NULL, NULL),
               ('BBB', '2023-06-30', NULL, NULL, NULL, 50, NULL, NULL),
               ('BBB', '2024-02-01', NULL, NULL, NULL, 51.5, NULL, NULL),
               ('BBB', '2024-02-02', NULL, NULL, NULL, 52, NULL, NULL),
               ('OLD', '2021-03-01', NULL, NULL, NULL, 10, NULL, NULL))
       AS v(ticker, d, o, h, l, c, a, vol) ON v.ticker = i.ticker;
INSERT INTO daily_return (instrument_id, trade_date, daily_return, log_return, data_quality,
                          engine_version)
SELECT i.instrument_id, v.d::date, v.r::numeric, v.lr::numeric, v.q, v.e
  FROM instrument_master i
  JOIN (VALUES ('AAA', '2024-02-01', 0.01246883, 0.01239178, 'OK', '1.0.0'),
               ('AAA', '2024-02-02', 0, NULL, 'MISSING', '1.0.0'),
               ('AAA', '2024-02-05', 0.00243309, 0.00243013, 'IMPUTED', '1.0.0'),
               ('AAA', '2024-02-29', 0.01090563, NULL, NULL, NULL),
               ('BBB', '2024-02-02', 0.00970874, 0.00966190, 'OK', '1.0.0'))
       AS v(ticker, d, r, lr, q, e) ON v.ticker = i.ticker;
";

/// The ids of AAA, BBB, CCC and OLD.
struct Ids {
    aaa: i64,
    bbb: i64,
    ccc: i64,
    old: i64,
}

async fn fixture(t: &TestDatabase) -> Ids {
    exec(t.conn(), FIXTURE).await;
    Ids {
        aaa: instrument_id(t, "AAA").await,
        bbb: instrument_id(t, "BBB").await,
        ccc: instrument_id(t, "CCC").await,
        old: instrument_id(t, "OLD").await,
    }
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn range(from: NaiveDate, to: NaiveDate) -> DateRange {
    DateRange::new(from, to).unwrap()
}

fn february() -> DateRange {
    range(date(2024, 2, 1), date(2024, 2, 29))
}

/// AAA's full bar of 2 February 2024.
fn aaa_0202(aaa: i64) -> PriceRow {
    PriceRow {
        instrument_id: aaa,
        trade_date: date(2024, 2, 2),
        open_price: Some(dec("101")),
        high_price: Some(dec("103")),
        low_price: Some(dec("100.5")),
        close_price: dec("102.75"),
        adj_close_price: Some(dec("102.7")),
        volume: Some(2500),
    }
}

/// `(instrument, date, close as stored)` of each row.
fn closes(rows: &[PriceRow]) -> Vec<(i64, NaiveDate, String)> {
    rows.iter()
        .map(|r| (r.instrument_id, r.trade_date, r.close_price.to_string()))
        .collect()
}

#[tokio::test]
async fn prices_of_many_instruments_come_ordered_with_both_ends_of_the_range() {
    let t = TestDatabase::migrated().await;
    let ids = fixture(&t).await;
    let db = t.conn();

    // BBB asked first and twice, an id that names nothing: rows by instrument, then date.
    let rows = series::prices(db, &[ids.bbb, ids.aaa, ids.bbb, 999_999], february())
        .await
        .unwrap();
    assert_eq!(
        closes(&rows),
        [
            (ids.aaa, date(2024, 2, 1), "101.5000".to_owned()),
            (ids.aaa, date(2024, 2, 2), "102.7500".to_owned()),
            (ids.aaa, date(2024, 2, 5), "103.0000".to_owned()),
            (ids.aaa, date(2024, 2, 29), "104.1234".to_owned()),
            (ids.bbb, date(2024, 2, 1), "51.5000".to_owned()),
            (ids.bbb, date(2024, 2, 2), "52.0000".to_owned()),
        ]
    );
    assert_eq!(rows[1], aaa_0202(ids.aaa));
    assert_eq!(
        (rows[0].open_price, rows[0].adj_close_price, rows[0].volume),
        (None, None, None)
    );

    // Both ends are included: a range of one day is that day's bar.
    let day = series::prices(db, &[ids.aaa], DateRange::day(date(2024, 1, 31)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        day,
        [PriceRow {
            instrument_id: ids.aaa,
            trade_date: date(2024, 1, 31),
            open_price: Some(dec("99.5")),
            high_price: Some(dec("101")),
            low_price: Some(dec("99")),
            close_price: dec("100.25"),
            adj_close_price: Some(dec("100.2")),
            volume: Some(1000),
        }]
    );
    let edges = series::prices(db, &[ids.aaa], range(date(2024, 1, 31), date(2024, 3, 1)))
        .await
        .unwrap();
    assert_eq!(
        (edges.len(), edges[0].trade_date, edges[5].trade_date),
        (6, date(2024, 1, 31), date(2024, 3, 1))
    );

    // Nothing stored in the range, no prices at all, no ids: empty.
    let april = range(date(2024, 4, 1), date(2024, 4, 30));
    assert!(
        series::prices(db, &[ids.aaa], april)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        series::prices(db, &[ids.ccc], february())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        series::prices(db, &[], february())
            .await
            .unwrap()
            .is_empty()
    );
    // A range reaching past every monthly partition reads the DEFAULT partition too.
    exec(
        db,
        &format!(
            "INSERT INTO daily_price (instrument_id, trade_date, close_price)
             VALUES ({}, '2099-06-01', 1.5)",
            ids.ccc
        ),
    )
    .await;
    let far = series::prices(db, &[ids.ccc], range(date(2099, 1, 1), date(2099, 12, 31)))
        .await
        .unwrap();
    assert_eq!(
        closes(&far),
        [(ids.ccc, date(2099, 6, 1), "1.5000".to_owned())]
    );
}

#[tokio::test]
async fn returns_come_with_their_data_quality() {
    let t = TestDatabase::migrated().await;
    let ids = fixture(&t).await;
    let rows = series::returns(t.conn(), &[ids.bbb, ids.aaa], february())
        .await
        .unwrap();
    let v1 = Some("1.0.0".to_owned());
    assert_eq!(
        rows,
        [
            ReturnRow {
                instrument_id: ids.aaa,
                trade_date: date(2024, 2, 1),
                daily_return: dec("0.01246883"),
                log_return: Some(dec("0.01239178")),
                data_quality: Some(DataQuality::Ok),
                engine_version: v1.clone(),
            },
            ReturnRow {
                instrument_id: ids.aaa,
                trade_date: date(2024, 2, 2),
                daily_return: Decimal::ZERO,
                log_return: None,
                data_quality: Some(DataQuality::Missing),
                engine_version: v1.clone(),
            },
            ReturnRow {
                instrument_id: ids.aaa,
                trade_date: date(2024, 2, 5),
                daily_return: dec("0.00243309"),
                log_return: Some(dec("0.00243013")),
                data_quality: Some(DataQuality::Imputed),
                engine_version: v1.clone(),
            },
            ReturnRow {
                instrument_id: ids.aaa,
                trade_date: date(2024, 2, 29),
                daily_return: dec("0.01090563"),
                log_return: None,
                data_quality: None,
                engine_version: None,
            },
            ReturnRow {
                instrument_id: ids.bbb,
                trade_date: date(2024, 2, 2),
                daily_return: dec("0.00970874"),
                log_return: Some(dec("0.00966190")),
                data_quality: Some(DataQuality::Ok),
                engine_version: v1,
            },
        ]
    );
    assert_eq!(rows[0].daily_return.to_string(), "0.01246883");
    // As JSON: decimals as exact strings, the quality in the schema's words.
    let json = serde_json::to_value(&rows[2]).unwrap();
    assert_eq!(
        (&json["daily_return"], &json["data_quality"]),
        (
            &serde_json::json!("0.00243309"),
            &serde_json::json!("IMPUTED")
        )
    );
    let json = serde_json::to_value(&rows[1]).unwrap();
    assert_eq!(json["data_quality"], "MISSING");
    assert_eq!(json["log_return"], serde_json::Value::Null);

    let one_day = series::returns(
        t.conn(),
        &[ids.aaa],
        DateRange::day(date(2024, 2, 5)).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(one_day.len(), 1);
    assert_eq!(one_day[0].data_quality, Some(DataQuality::Imputed));
    assert!(
        series::returns(t.conn(), &[], february())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_reversed_range_or_a_date_postgres_cannot_hold_is_invalid_input() {
    let t = TestDatabase::migrated().await;
    let ids = fixture(&t).await;
    let db = t.conn();
    let reversed = DateRange {
        from: date(2024, 3, 1),
        to: date(2024, 2, 1),
    };
    let message = invalid_input(
        &series::prices(db, &[ids.aaa], reversed).await.unwrap_err(),
        "date range",
    );
    assert_eq!(
        message,
        "invalid date range: from 2024-03-01 is after to 2024-02-01"
    );
    invalid_input(
        &series::returns(db, &[ids.aaa], reversed).await.unwrap_err(),
        "date range",
    );
    // Refused before anything is asked, even with no ids.
    invalid_input(
        &series::prices(db, &[], reversed).await.unwrap_err(),
        "date range",
    );
    invalid_input(
        &series::price_stream(db, &[ids.aaa], reversed)
            .await
            .err()
            .unwrap(),
        "date range",
    );
    invalid_input(
        &series::return_stream(db, &[ids.aaa], reversed)
            .await
            .err()
            .unwrap(),
        "date range",
    );
    invalid_input(
        &DateRange::new(date(2024, 3, 1), date(2024, 2, 1)).unwrap_err(),
        "date range",
    );
    let ancient = EARLIEST_DATE.pred_opt().unwrap();
    invalid_input(
        &series::prices(
            db,
            &[ids.aaa],
            DateRange {
                from: ancient,
                to: date(2024, 1, 1),
            },
        )
        .await
        .unwrap_err(),
        "date range",
    );
    invalid_input(
        &series::price_on_or_before(db, ids.aaa, ancient)
            .await
            .unwrap_err(),
        "date",
    );
    // The earliest date itself is fine (and has no prices).
    assert_eq!(
        series::price_on_or_before(db, ids.aaa, EARLIEST_DATE)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn streams_yield_exactly_the_rows_of_the_vectors_batch_by_batch() {
    let t = TestDatabase::migrated().await;
    let ids = fixture(&t).await;
    let db = t.conn();
    // LONG: a price every day for exactly two batches' worth of days; plus AAA's and BBB's.
    let days = 2 * STREAM_BATCH as u64;
    exec(
        db,
        &format!(
            "INSERT INTO instrument_master (instrument_type, ticker, exchange) VALUES ('ETF', 'LONG', 'NYSE');
             INSERT INTO daily_price (instrument_id, trade_date, close_price)
             SELECT instrument_id, DATE '2019-01-01' + k, 100 + k / 100.0
               FROM instrument_master, generate_series(0, {}) AS k WHERE ticker = 'LONG';",
            days - 1
        ),
    )
    .await;
    let long = instrument_id(&t, "LONG").await;
    let all = [long, ids.bbb, ids.aaa];
    let everything = range(date(2019, 1, 1), date(2024, 12, 31));

    let rows = series::prices(db, &all, everything).await.unwrap();
    let streamed: Vec<PriceRow> = series::price_stream(db, &all, everything)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, rows);
    assert_eq!(rows.len(), 2 * STREAM_BATCH + 6 + 3);
    let first_long = rows.iter().position(|r| r.instrument_id == long).unwrap();
    assert_eq!(first_long, 9); // AAA's 6 and BBB's 3 (2023-06-30 included) come first
    assert_eq!(rows[first_long].trade_date, date(2019, 1, 1));
    assert_eq!(rows[first_long].close_price.to_string(), "100.0000");
    assert_eq!(
        rows.last().unwrap().trade_date,
        date(2019, 1, 1) + Days::new(days - 1)
    );
    assert!(
        rows.windows(2)
            .all(|w| (w[0].instrument_id, w[0].trade_date) < (w[1].instrument_id, w[1].trade_date))
    );
    // A range cutting through LONG's rows: an exact number of batches, and one row more.
    for extra in [0, 1] {
        let to = date(2019, 1, 1) + Days::new(STREAM_BATCH as u64 - 1 + extra);
        let n = series::price_stream(db, &[long], range(date(2019, 1, 1), to))
            .await
            .unwrap()
            .try_fold(0usize, |n, _| async move { Ok(n + 1) })
            .await
            .unwrap();
        assert_eq!(n, STREAM_BATCH + extra as usize);
    }

    let returns = series::returns(db, &all, everything).await.unwrap();
    let streamed: Vec<ReturnRow> = series::return_stream(db, &all, everything)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(returns.len(), 5);
    assert_eq!(streamed, returns);
    assert_eq!(
        series::price_stream(db, &[], everything)
            .await
            .unwrap()
            .count()
            .await,
        0
    );
    assert_eq!(
        series::price_stream(db, &[ids.ccc], everything)
            .await
            .unwrap()
            .count()
            .await,
        0
    );
}

#[tokio::test]
async fn a_stream_dropped_early_gives_its_connection_back() {
    let t = TestDatabase::migrated().await;
    let ids = fixture(&t).await;
    // One connection: every stream below shares it, one after the other.
    let pool = PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
        ..PoolSettings::default()
    };
    let db = foresto::db::connect(t.url(), &pool).await.unwrap();
    let whole = range(date(2020, 1, 1), date(2024, 12, 31));
    for _ in 0..3 {
        let mut stream = series::price_stream(&db, &[ids.aaa, ids.bbb], whole)
            .await
            .unwrap();
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.trade_date, date(2024, 1, 31));
    }
    // Prices and returns streamed on the same connection each get their own columns.
    let prices: Vec<PriceRow> = series::price_stream(&db, &[ids.aaa], february())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let returns: Vec<ReturnRow> = series::return_stream(&db, &[ids.aaa], february())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!((prices.len(), returns.len()), (4, 4));

    // In a transaction of the caller's, a stream reads in a savepoint of it; one dropped early
    // leaves the transaction usable.
    let tx = db.begin().await.unwrap();
    let in_tx: Vec<PriceRow> = series::price_stream(&tx, &[ids.aaa], february())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(in_tx, prices);
    let mut left = series::return_stream(&tx, &[ids.aaa], february())
        .await
        .unwrap();
    assert_eq!(
        left.next().await.unwrap().unwrap().trade_date,
        date(2024, 2, 1)
    );
    drop(left);
    assert_eq!(
        series::prices(&tx, &[ids.aaa], february()).await.unwrap(),
        prices
    );
    tx.commit().await.unwrap();
    assert_eq!(
        series::prices(&db, &[ids.aaa, ids.bbb], whole)
            .await
            .unwrap()
            .len(),
        9
    );
}

/// The range reads run one generic plan per connection (planned once, partitions pruned when
/// it runs), and that plan must read only the requested instruments' rows whatever the range:
/// on a realistic table the generic plan of `instrument_id = ANY($1) AND trade_date BETWEEN …`
/// scanned each partition's date range and filtered the instruments out of it. Here, with 300
/// instruments over five years, the plan each read used is explained on its own connection and
/// no scan may drop a row it read.
#[tokio::test]
async fn range_reads_run_a_generic_plan_pruned_when_it_starts_that_reads_only_the_asked_rows() {
    let t = TestDatabase::migrated().await;
    exec(
        t.conn(),
        "INSERT INTO instrument_master (instrument_type, ticker, exchange)
         SELECT 'ETF', 'P' || n, 'NYSE' FROM generate_series(1, 300) n;
         INSERT INTO daily_price (instrument_id, trade_date, close_price)
         SELECT instrument_id, d, 100 FROM instrument_master,
                generate_series(DATE '2020-01-01', DATE '2024-12-31', INTERVAL '1 day') d
          WHERE extract(isodow FROM d) < 6 ORDER BY d, instrument_id;
         INSERT INTO daily_return (instrument_id, trade_date, daily_return)
         SELECT instrument_id, trade_date, 0.001 FROM daily_price;
         ANALYZE daily_price; ANALYZE daily_return;",
    )
    .await;
    let ids = [
        instrument_id(&t, "P7").await,
        instrument_id(&t, "P150").await,
    ];
    let (_capture, db) = Explaining::connect(&t).await;
    let whole = range(date(2020, 1, 1), date(2024, 12, 31));
    let year = range(date(2023, 1, 1), date(2023, 12, 31));
    let months_of_2023 = |table: &str| -> BTreeSet<String> {
        (1..=12).map(|m| format!("{table}_2023{m:02}")).collect()
    };
    // Alternating ranges on the same connections: the one plan each function has cached serves
    // both, pruned to the range's partitions when it starts.
    for _ in 0..4 {
        for (range, rows) in [(whole, 2 * 1305), (year, 2 * 260)] {
            assert_eq!(series::prices(&db, &ids, range).await.unwrap().len(), rows);
            assert_eq!(series::returns(&db, &ids, range).await.unwrap().len(), rows);
            let simulated = load_returns(&db, &ids, range.from, range.to).await.unwrap();
            assert_eq!(simulated.len(), rows);
        }
        let plans = db.take();
        assert_eq!(plans.len(), 6, "{plans:?}");
        for plan in &plans {
            assert_eq!(plan.filtered, 0, "read other rows: {plan:?}");
            assert!(
                plan.pruned_at_start > 0,
                "not a generic plan pruned when it started: {plan:?}"
            );
        }
        for (plan, table) in plans[3..]
            .iter()
            .zip(["daily_price", "daily_return", "daily_return"])
        {
            assert_eq!(plan.scanned, months_of_2023(table), "{plan:?}");
        }
    }
}

/// The range functions read per instrument, or scan the range once when the ids are a large
/// share of the instruments a month holds; both return exactly the rows asked for, and the
/// reads hand them out in order either way.
#[tokio::test]
async fn per_instrument_and_scanning_reads_return_the_same_rows() {
    let t = TestDatabase::migrated().await;
    exec(
        t.conn(),
        "INSERT INTO instrument_master (instrument_type, ticker, exchange)
         SELECT 'ETF', 'S' || n, 'NYSE' FROM generate_series(1, 12) n;
         INSERT INTO daily_price (instrument_id, trade_date, close_price)
         SELECT instrument_id, d, 100 + instrument_id + extract(doy FROM d)
           FROM instrument_master,
                generate_series(DATE '2023-01-01', DATE '2024-12-31', INTERVAL '1 day') d
          WHERE extract(isodow FROM d) < 6 ORDER BY d, instrument_id;
         INSERT INTO daily_return (instrument_id, trade_date, daily_return)
         SELECT instrument_id, trade_date, close_price / 100000 FROM daily_price;
         ANALYZE daily_price; ANALYZE daily_return;",
    )
    .await;
    let mut ids = Vec::new();
    for n in 1..=12 {
        ids.push(instrument_id(&t, &format!("S{n}")).await);
    }
    let (_capture, db) = Explaining::connect(&t).await;
    let year = range(date(2024, 1, 1), date(2024, 12, 31));
    // 12 instruments × 21–23 days a month: 2 ids read per instrument, 6 scan.
    for (asked, scans) in [(vec![ids[7], ids[2]], false), (ids[..6].to_vec(), true)] {
        let mut sorted = asked.clone();
        sorted.sort_unstable();
        let list = sorted
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let expected = strings(
            t.conn(),
            &format!(
                "SELECT instrument_id || ' ' || trade_date || ' ' || close_price FROM daily_price
                  WHERE instrument_id IN ({list}) AND trade_date BETWEEN '2024-01-01' AND '2024-12-31'
                  ORDER BY instrument_id, trade_date"
            ),
        )
        .await;
        let prices = series::prices(&db, &asked, year).await.unwrap();
        let read: Vec<String> = prices
            .iter()
            .map(|p| format!("{} {} {}", p.instrument_id, p.trade_date, p.close_price))
            .collect();
        assert_eq!(read, expected, "scan: {scans}");
        let returns = series::returns(&db, &asked, year).await.unwrap();
        assert_eq!(
            returns
                .iter()
                .map(|r| (r.instrument_id, r.trade_date))
                .collect::<Vec<_>>(),
            prices
                .iter()
                .map(|p| (p.instrument_id, p.trade_date))
                .collect::<Vec<_>>()
        );
        let plans = db.take();
        assert_eq!(plans.len(), 2);
        for plan in plans {
            let queries = if scans { 1 } else { asked.len() };
            assert_eq!(plan.reads, queries, "{plan:?}");
            assert_eq!(plan.scanned.len(), 12, "{plan:?}");
        }
    }
}

/// The price and return values the reads hand out are the stored ones, digit for digit and
/// with the column's scale, at both ends of what the columns hold.
#[tokio::test]
async fn read_values_are_exactly_the_stored_ones_at_the_columns_limits() {
    let t = TestDatabase::migrated().await;
    exec(
        t.conn(),
        "INSERT INTO instrument_master (instrument_type, ticker, exchange) VALUES ('ETF', 'X', 'NYSE');
         INSERT INTO daily_price (instrument_id, trade_date, open_price, high_price, low_price,
                                  close_price, adj_close_price, volume)
         SELECT instrument_id, d, v, -v, 0.0001, v, NULL, 9223372036854775807
           FROM instrument_master,
                (VALUES (DATE '2024-01-02', 99999999999999.9999),
                        (DATE '2024-01-03', 1.5),
                        (DATE '2024-01-04', 0)) AS x(d, v);
         INSERT INTO daily_return (instrument_id, trade_date, daily_return, log_return,
                                   data_quality, engine_version)
         SELECT instrument_id, d, v, -v, 'IMPUTED', '1.0.0'
           FROM instrument_master,
                (VALUES (DATE '2024-01-02', 9999.99999999),
                        (DATE '2024-01-03', -0.00000001),
                        (DATE '2024-01-04', 0)) AS x(d, v);",
    )
    .await;
    let id = instrument_id(&t, "X").await;
    let january = range(date(2024, 1, 1), date(2024, 1, 31));
    let stored = |column: &str, table: &str| {
        format!("SELECT coalesce({column}::text, 'NULL') FROM {table} ORDER BY trade_date")
    };
    let text = |v: Option<Decimal>| v.map_or("NULL".to_owned(), |v| v.to_string());

    let prices = series::prices(t.conn(), &[id], january).await.unwrap();
    let read = |f: fn(&PriceRow) -> Option<Decimal>| prices.iter().map(f).map(text).collect();
    let columns: [(&str, Vec<String>); 5] = [
        ("open_price", read(|p| p.open_price)),
        ("high_price", read(|p| p.high_price)),
        ("low_price", read(|p| p.low_price)),
        ("close_price", read(|p| Some(p.close_price))),
        ("adj_close_price", read(|p| p.adj_close_price)),
    ];
    for (column, values) in columns {
        let sql = stored(column, "daily_price");
        assert_eq!(values, strings(t.conn(), &sql).await, "{column}");
    }
    assert!(prices.iter().all(|p| p.volume == Some(i64::MAX)));

    let returns = series::returns(t.conn(), &[id], january).await.unwrap();
    let read = |f: fn(&ReturnRow) -> Option<Decimal>| returns.iter().map(f).map(text).collect();
    let columns: [(&str, Vec<String>); 2] = [
        ("daily_return", read(|r| Some(r.daily_return))),
        ("log_return", read(|r| r.log_return)),
    ];
    for (column, values) in columns {
        let sql = stored(column, "daily_return");
        assert_eq!(values, strings(t.conn(), &sql).await, "{column}");
    }
    assert!(returns.iter().all(|r| {
        r.data_quality == Some(DataQuality::Imputed) && r.engine_version.as_deref() == Some("1.0.0")
    }));
}

#[tokio::test]
async fn latest_dates_per_instrument_recent_or_long_ago() {
    let t = TestDatabase::migrated().await;
    let ids = fixture(&t).await;
    let db = t.conn();
    let today = Utc::now().date_naive();
    let days_ago = |n: u64| today - Days::new(n);
    // NEW is loaded daily up to two days ago; AHEAD has a row dated after today.
    exec(
        db,
        &format!(
            "INSERT INTO instrument_master (instrument_type, ticker, exchange) VALUES
                 ('ETF', 'NEW', 'NYSE'), ('ETF', 'AHEAD', 'NYSE');
             INSERT INTO daily_price (instrument_id, trade_date, close_price)
             SELECT instrument_id, d, 10 FROM instrument_master,
                    (VALUES (DATE '{}'), (DATE '{}'), (DATE '{}')) AS v(d) WHERE ticker = 'NEW';
             INSERT INTO daily_return (instrument_id, trade_date, daily_return)
             SELECT instrument_id, DATE '{}', 0 FROM instrument_master WHERE ticker = 'NEW';
             INSERT INTO daily_price (instrument_id, trade_date, close_price)
             SELECT instrument_id, DATE '{}', 10 FROM instrument_master WHERE ticker = 'AHEAD';",
            days_ago(400),
            days_ago(3),
            days_ago(2),
            days_ago(3),
            today + Days::new(40),
        ),
    )
    .await;
    let new = instrument_id(&t, "NEW").await;
    let ahead = instrument_id(&t, "AHEAD").await;

    let latest = series::latest_dates(
        db,
        &[
            ids.ccc, new, ids.aaa, 999_999, ids.bbb, ahead, ids.old, ids.aaa,
        ],
    )
    .await
    .unwrap();
    let row = |instrument_id, price_date, return_date| LatestDates {
        instrument_id,
        price_date,
        return_date,
    };
    assert_eq!(
        latest,
        [
            row(ids.aaa, Some(date(2024, 3, 1)), Some(date(2024, 2, 29))),
            row(ids.bbb, Some(date(2024, 2, 2)), Some(date(2024, 2, 2))),
            row(ids.ccc, None, None),
            row(ids.old, Some(date(2021, 3, 1)), None),
            row(new, Some(days_ago(2)), Some(days_ago(3))),
            row(ahead, Some(today + Days::new(40)), None),
            row(999_999, None, None),
        ]
    );
    assert!(series::latest_dates(db, &[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_price_on_or_before_a_date_is_the_last_one_up_to_it() {
    let t = TestDatabase::migrated().await;
    let ids = fixture(&t).await;
    let db = t.conn();
    let on = async |id: i64, d: NaiveDate| {
        series::price_on_or_before(db, id, d)
            .await
            .unwrap()
            .map(|row| (row.trade_date, row.close_price.to_string()))
    };
    // The day itself, with every column.
    assert_eq!(
        series::price_on_or_before(db, ids.aaa, date(2024, 2, 2))
            .await
            .unwrap(),
        Some(aaa_0202(ids.aaa))
    );
    // A Sunday: Friday's. Within the gap of February: the 5th's.
    assert_eq!(
        on(ids.aaa, date(2024, 2, 4)).await,
        Some((date(2024, 2, 2), "102.7500".into()))
    );
    assert_eq!(
        on(ids.aaa, date(2024, 2, 28)).await,
        Some((date(2024, 2, 5), "103.0000".into()))
    );
    // The first price on its day; the day before it, nothing.
    assert_eq!(
        on(ids.aaa, date(2024, 1, 31)).await,
        Some((date(2024, 1, 31), "100.2500".into()))
    );
    assert_eq!(on(ids.aaa, date(2024, 1, 30)).await, None);
    // Found in the second window (200 days back) and in the third (three years back).
    assert_eq!(
        on(ids.bbb, date(2024, 1, 15)).await,
        Some((date(2023, 6, 30), "50.0000".into()))
    );
    assert_eq!(
        on(ids.old, date(2024, 6, 1)).await,
        Some((date(2021, 3, 1), "10.0000".into()))
    );
    // Long after the last price, past every partition.
    assert_eq!(
        on(ids.aaa, date(2100, 1, 1)).await,
        Some((date(2024, 3, 1), "105.0000".into()))
    );
    assert_eq!(on(ids.ccc, date(2024, 6, 1)).await, None);
    assert_eq!(on(999_999, date(2024, 6, 1)).await, None);
}

#[tokio::test]
async fn each_read_scans_only_the_partitions_of_its_dates() {
    let t = TestDatabase::migrated().await;
    let ids = fixture(&t).await;
    let today = Utc::now().date_naive();
    exec(
        t.conn(),
        &format!(
            "INSERT INTO instrument_master (instrument_type, ticker, exchange) VALUES ('ETF', 'NEW', 'NYSE');
             INSERT INTO daily_price (instrument_id, trade_date, close_price)
             SELECT instrument_id, DATE '{0}', 10 FROM instrument_master WHERE ticker = 'NEW';
             INSERT INTO daily_return (instrument_id, trade_date, daily_return)
             SELECT instrument_id, DATE '{0}', 0 FROM instrument_master WHERE ticker = 'NEW';",
            today - Days::new(2)
        ),
    )
    .await;
    let new = instrument_id(&t, "NEW").await;
    let (_capture, db) = Explaining::connect(&t).await;

    let rows = series::prices(&db, &[ids.aaa, ids.bbb], february())
        .await
        .unwrap();
    assert_eq!(rows.len(), 6);
    let plans = db.take();
    assert_eq!(plans.len(), 1, "{plans:?}");
    assert_eq!(plans[0].scanned, names(&["daily_price_202402"]));

    series::prices(&db, &[ids.aaa], range(date(2024, 1, 15), date(2024, 3, 10)))
        .await
        .unwrap();
    assert_eq!(
        db.take()[0].planned,
        names(&[
            "daily_price_202401",
            "daily_price_202402",
            "daily_price_202403"
        ])
    );
    series::returns(&db, &[ids.aaa], february()).await.unwrap();
    assert_eq!(db.take()[0].planned, names(&["daily_return_202402"]));
    // Months without partitions of their own: the DEFAULT partition alone.
    series::prices(&db, &[ids.aaa], range(date(2099, 1, 1), date(2099, 2, 1)))
        .await
        .unwrap();
    assert_eq!(db.take()[0].planned, names(&["daily_price_default"]));

    // On or before: found in the first window, one statement over its two months.
    series::price_on_or_before(&db, ids.aaa, date(2024, 2, 4))
        .await
        .unwrap()
        .unwrap();
    let plans = db.take();
    assert_eq!(plans.len(), 1, "{plans:?}");
    assert_eq!(
        plans[0].planned,
        names(&["daily_price_202401", "daily_price_202402"])
    );
    // Found only three years back: each window reads no partition after its own dates.
    series::price_on_or_before(&db, ids.old, date(2024, 6, 1))
        .await
        .unwrap()
        .unwrap();
    let plans = db.take();
    assert_eq!(plans.len(), 3, "{plans:?}");
    assert_eq!(
        plans[0].planned,
        names(&["daily_price_202405", "daily_price_202406"])
    );
    assert_eq!(months(&plans[1].planned), (202306, 202405));
    assert!(months(&plans[2].planned).1 <= 202306, "{:?}", plans[2]);

    // Latest dates of a recently loaded instrument: the fallback over older partitions is
    // planned but never run, and nothing before the recent window is scanned.
    let latest = series::latest_dates(&db, &[new]).await.unwrap();
    assert_eq!(latest[0].price_date, Some(today - Days::new(2)));
    let plans = db.take();
    assert_eq!(plans.len(), 1, "{plans:?}");
    let window_start = month(today - Days::new(RECENT_DAYS));
    let (first, _) = months(&plans[0].scanned);
    assert!(first >= window_start, "{:?}", plans[0].scanned);
    assert!(
        months(&plans[0].planned).0 < window_start,
        "the fallback is in the plan: {:?}",
        plans[0].planned
    );
    // An instrument last priced long ago is looked up further back.
    series::latest_dates(&db, &[ids.aaa]).await.unwrap();
    assert!(db.take()[0].scanned.contains("daily_price_202403"));
}

#[tokio::test]
async fn on_the_bundled_real_prices() {
    let t = TestDatabase::migrated().await;
    let db = t.conn();
    instruments::seed(db).await.unwrap();
    for instrument in instruments::demo_instruments() {
        instruments::upsert(db, &instrument).await.unwrap();
    }
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/etf-prices/etf_adjusted_close_sample.csv"
    );
    let report = load_file(
        db,
        std::path::Path::new(sample),
        &LoadOptions {
            skip_weekend_fill: true,
            ..LoadOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.status, LoadStatus::Success);
    compute_returns(db, &ReturnsScope::default(), &Settings::default())
        .await
        .unwrap();
    let mut loaded = Vec::new();
    for ticker in [
        "SPY", "QQQ", "TLT", "SHY", "GLD", "VNQ", "BND", "EEM", "IWM",
    ] {
        loaded.push(instrument_id(&t, ticker).await);
    }
    let (spy, qqq) = (loaded[0], loaded[1]);
    let lehman = range(date(2008, 9, 12), date(2008, 9, 16));

    // The file's closes, to the 4 decimals stored, and the returns computed from them.
    let prices = series::prices(db, &[spy], lehman).await.unwrap();
    assert_eq!(
        closes(&prices),
        [
            (spy, date(2008, 9, 12), "94.5024".to_owned()),
            (spy, date(2008, 9, 15), "90.0055".to_owned()),
            (spy, date(2008, 9, 16), "91.5119".to_owned()),
        ]
    );
    let returns = series::returns(db, &[spy], lehman).await.unwrap();
    let figures: Vec<(String, Option<DataQuality>)> = returns
        .iter()
        .map(|r| (r.daily_return.to_string(), r.data_quality))
        .collect();
    assert_eq!(
        figures,
        [
            ("0.00462114".to_owned(), Some(DataQuality::Ok)),
            ("-0.04758503".to_owned(), Some(DataQuality::Ok)),
            ("0.01673675".to_owned(), Some(DataQuality::Ok)),
        ]
    );
    // Sunday 14 September 2008: Friday's close.
    assert_eq!(
        series::price_on_or_before(db, spy, date(2008, 9, 14))
            .await
            .unwrap()
            .map(|p| (p.trade_date, p.close_price)),
        Some((date(2008, 9, 12), dec("94.5024")))
    );
    // The file ends on 18 May 2023.
    let last = Some(date(2023, 5, 18));
    assert_eq!(
        series::latest_dates(db, &[qqq, spy]).await.unwrap(),
        [
            LatestDates {
                instrument_id: spy,
                price_date: last,
                return_date: last
            },
            LatestDates {
                instrument_id: qqq,
                price_date: last,
                return_date: last
            },
        ]
    );
    // Every price of the nine ETFs, streamed: what the table holds, in order.
    let all_time = range(date(1990, 1, 1), date(2030, 12, 31));
    let streamed: Vec<PriceRow> = series::price_stream(db, &loaded, all_time)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        streamed.len() as i64,
        count(db, "SELECT count(*) FROM daily_price").await
    );
    assert_eq!(
        streamed,
        series::prices(db, &loaded, all_time).await.unwrap()
    );
    let returns = series::returns(db, &loaded, all_time).await.unwrap();
    assert_eq!(
        returns.len() as i64,
        count(db, "SELECT count(*) FROM daily_return").await
    );

    // A year of the crisis reads that year's twelve partitions, of the hundreds the file needed.
    let (_capture, explaining) = Explaining::connect(&t).await;
    let year = series::prices(
        &explaining,
        &loaded,
        range(date(2008, 1, 1), date(2008, 12, 31)),
    )
    .await
    .unwrap();
    assert_eq!(
        year.len() as i64,
        count(
            db,
            "SELECT count(*) FROM daily_price
              WHERE trade_date BETWEEN '2008-01-01' AND '2008-12-31'"
        )
        .await
    );
    let plan = &explaining.take()[0];
    assert_eq!(
        plan.planned,
        (1..=12)
            .map(|m| format!("daily_price_2008{m:02}"))
            .collect::<BTreeSet<_>>()
    );
}

#[tokio::test]
async fn through_a_read_replica() {
    let mut primary = TestServer::start(&TestServerOptions {
        replication: true,
        ..Default::default()
    });
    let t = TestDatabase::migrated_on(&primary).await;
    let ids = fixture(&t).await;
    let replica = primary.start_replica();
    let conns = Connections::connect(
        &primary.url(t.name()),
        &[replica.url(t.name())],
        &PoolSettings::default(),
    )
    .await
    .unwrap();
    primary.wait_for_replica(&replica).await;
    // With the primary gone, every answer below can only come from the replica.
    primary.stop();

    let rows = conns.prices(&[ids.aaa, ids.bbb], february()).await.unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[1], aaa_0202(ids.aaa));
    let streamed: Vec<PriceRow> = conns
        .price_stream(&[ids.aaa, ids.bbb], february())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, rows);
    let returns = conns.returns(&[ids.aaa], february()).await.unwrap();
    let qualities: Vec<Option<DataQuality>> = returns.iter().map(|r| r.data_quality).collect();
    assert_eq!(
        qualities,
        [
            Some(DataQuality::Ok),
            Some(DataQuality::Missing),
            Some(DataQuality::Imputed),
            None
        ]
    );
    let streamed: Vec<ReturnRow> = conns
        .return_stream(&[ids.aaa], february())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, returns);
    assert_eq!(
        conns.latest_dates(&[ids.aaa]).await.unwrap(),
        [LatestDates {
            instrument_id: ids.aaa,
            price_date: Some(date(2024, 3, 1)),
            return_date: Some(date(2024, 2, 29)),
        }]
    );
    assert_eq!(
        conns
            .price_on_or_before(ids.aaa, date(2024, 2, 4))
            .await
            .unwrap(),
        Some(aaa_0202(ids.aaa))
    );
    assert!(matches!(
        conns
            .prices(
                &[ids.aaa],
                DateRange {
                    from: date(2024, 2, 2),
                    to: date(2024, 2, 1)
                }
            )
            .await,
        Err(Error::InvalidInput { .. })
    ));
    // The database first (on the stopped primary: nothing to drop), then the replica.
    drop(conns);
    drop(t);
    drop(replica);
}

// --- Plans of what the library runs --------------------------------------------------------------

/// What the plans of one statement read, a function's nested query included.
#[derive(Debug, Default)]
struct Plan {
    /// Every table in the plans: the partitions kept (a partition pruned when the plan was made
    /// or when the executor started is not in it).
    planned: BTreeSet<String>,
    /// Those it actually scanned (`Actual Loops` above 0).
    scanned: BTreeSet<String>,
    /// Partitions pruned when the executor started (`Subplans Removed`). Only a generic plan,
    /// made before the values were known, prunes then.
    pruned_at_start: u64,
    /// Rows read and then thrown away (by a filter or an index recheck).
    filtered: u64,
    /// The logged plans that read a table: a range function logs one per query it ran.
    reads: usize,
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// `YYYYMM` of a date.
fn month(d: NaiveDate) -> u32 {
    d.format("%Y%m").to_string().parse().unwrap()
}

/// The first and last `YYYYMM` among monthly partition names (the DEFAULT partition left out).
fn months(partitions: &BTreeSet<String>) -> (u32, u32) {
    let months: Vec<u32> = partitions
        .iter()
        .filter_map(|name| name.rsplit('_').next()?.parse().ok())
        .collect();
    (
        *months.iter().min().expect("a monthly partition"),
        *months.iter().max().expect("a monthly partition"),
    )
}

/// A connection (or a transaction begun from it) whose sessions have `auto_explain` log the plan
/// of every statement they run, nested statements included, with actual row counts, as notices;
/// it keeps what the plans of each query the library sends read. What the library runs is what
/// is observed, as it runs: no copy of its SQL in the test, no second execution, and the plan a
/// function has cached is the plan logged.
#[derive(Clone)]
struct Explaining<C> {
    inner: C,
    notices: Notices,
    plans: Arc<Mutex<Vec<Plan>>>,
}

impl Explaining<DatabaseConnection> {
    /// A pool of its own on `t`'s database. The notices are collected while the returned
    /// [`Capture`] lives.
    async fn connect(t: &TestDatabase) -> (Capture, Self) {
        let (capture, notices) = capture();
        let options: Vec<String> = [
            ("session_preload_libraries", "auto_explain"),
            ("auto_explain.log_min_duration", "0"),
            ("auto_explain.log_nested_statements", "on"),
            ("auto_explain.log_analyze", "on"),
            ("auto_explain.log_timing", "off"),
            ("auto_explain.log_format", "json"),
            ("auto_explain.log_level", "notice"),
        ]
        .iter()
        .map(|(name, value)| format!("options[{name}]={value}"))
        .collect();
        let separator = if t.url().contains('?') { '&' } else { '?' };
        let url = format!("{}{separator}{}", t.url(), options.join("&"));
        let db = foresto::db::connect(&url, &PoolSettings::default())
            .await
            .unwrap();
        let explaining = Self {
            inner: db,
            notices,
            plans: Arc::default(),
        };
        (capture, explaining)
    }
}

impl<C> Explaining<C> {
    /// The plans so far, leaving none.
    fn take(&self) -> Vec<Plan> {
        std::mem::take(&mut *self.plans.lock().unwrap())
    }

    fn wrap<X>(&self, inner: X) -> Explaining<X> {
        Explaining {
            inner,
            notices: self.notices.clone(),
            plans: Arc::clone(&self.plans),
        }
    }
}

impl<C: ConnectionTrait> Explaining<C> {
    /// Runs `query` and keeps what its plans read.
    async fn observe<T>(
        &self,
        query: impl Future<Output = Result<T, DbErr>> + Send,
    ) -> Result<T, DbErr> {
        self.notices.take();
        let result = query.await?;
        // Inside a transaction block the executor of a query sent through the extended protocol
        // ends, and its plan is logged, when its portal is replaced: by this statement.
        self.inner.execute_unprepared("SELECT 1").await?;
        let mut plan = Plan::default();
        for notice in self.notices.take() {
            if let Some(at) = notice.find('{') {
                let logged: serde_json::Value =
                    serde_json::from_str(&notice[at..]).unwrap_or_else(|e| panic!("{e}: {notice}"));
                let mut one = Plan::default();
                collect(&logged["Plan"], &mut one);
                if !one.planned.is_empty() {
                    plan.reads += 1;
                }
                collect(&logged["Plan"], &mut plan);
            }
        }
        self.plans.lock().unwrap().push(plan);
        Ok(result)
    }
}

/// Adds what `node` and the nodes under it read to `plan`.
fn collect(node: &serde_json::Value, plan: &mut Plan) {
    // Catalog lookups (a range function's look at a month's statistics) are not data reads.
    if let Some(name) = node["Relation Name"]
        .as_str()
        .filter(|name| !name.starts_with("pg_"))
    {
        plan.planned.insert(name.to_owned());
        if node["Actual Loops"].as_u64().unwrap_or(0) > 0 {
            plan.scanned.insert(name.to_owned());
        }
    }
    plan.pruned_at_start += node["Subplans Removed"].as_u64().unwrap_or(0);
    plan.filtered += node["Rows Removed by Filter"].as_u64().unwrap_or(0)
        + node["Rows Removed by Index Recheck"].as_u64().unwrap_or(0);
    for child in node["Plans"].as_array().into_iter().flatten() {
        collect(child, plan);
    }
}

#[async_trait::async_trait]
impl<C: ConnectionTrait + Send + Sync> ConnectionTrait for Explaining<C> {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.inner.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.inner.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.observe(self.inner.query_one_raw(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.observe(self.inner.query_all_raw(stmt)).await
    }
}

/// Streams are observed whole: the rows are read first, then handed out.
impl<C: ConnectionTrait + Send + Sync> StreamTrait for Explaining<C> {
    type Stream<'a>
        = futures_util::stream::Iter<std::vec::IntoIter<Result<QueryResult, DbErr>>>
    where
        Self: 'a;

    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    fn stream_raw<'a>(
        &'a self,
        stmt: Statement,
    ) -> Pin<Box<dyn Future<Output = Result<Self::Stream<'a>, DbErr>> + 'a + Send>> {
        Box::pin(async move {
            let rows = self.observe(self.inner.query_all_raw(stmt)).await?;
            Ok(futures_util::stream::iter(
                rows.into_iter().map(Ok).collect::<Vec<_>>(),
            ))
        })
    }
}

#[async_trait::async_trait]
impl<C> TransactionTrait for Explaining<C>
where
    C: TransactionTrait<Transaction = DatabaseTransaction> + Send + Sync,
{
    type Transaction = Explaining<DatabaseTransaction>;

    async fn begin(&self) -> Result<Self::Transaction, DbErr> {
        Ok(self.wrap(self.inner.begin().await?))
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<Self::Transaction, DbErr> {
        Ok(self.wrap(
            self.inner
                .begin_with_config(isolation_level, access_mode)
                .await?,
        ))
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<Self::Transaction, DbErr> {
        Ok(self.wrap(self.inner.begin_with_options(options).await?))
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c Self::Transaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        let tx = self.begin().await.map_err(TransactionError::Connection)?;
        finish(tx, callback).await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c Self::Transaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        let tx = self
            .begin_with_config(isolation_level, access_mode)
            .await
            .map_err(TransactionError::Connection)?;
        finish(tx, callback).await
    }
}

/// Runs `callback` in `tx`, then commits, or rolls back when it failed.
async fn finish<F, T, E>(
    tx: Explaining<DatabaseTransaction>,
    callback: F,
) -> Result<T, TransactionError<E>>
where
    F: for<'c> FnOnce(
            &'c Explaining<DatabaseTransaction>,
        ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
        + Send,
    E: std::fmt::Display + std::fmt::Debug,
{
    match callback(&tx).await {
        Ok(value) => {
            tx.commit().await.map_err(TransactionError::Connection)?;
            Ok(value)
        }
        Err(e) => {
            tx.rollback().await.map_err(TransactionError::Connection)?;
            Err(TransactionError::Transaction(e))
        }
    }
}

#[async_trait::async_trait]
impl<C: TransactionSession + Send> TransactionSession for Explaining<C> {
    async fn commit(self) -> Result<(), DbErr> {
        self.inner.commit().await
    }

    async fn rollback(self) -> Result<(), DbErr> {
        self.inner.rollback().await
    }
}
