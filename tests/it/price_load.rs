//! Bulk price loads against a real PostgreSQL: both file shapes, every kind of bad record,
//! unreadable files, re-loads (what is and is not rewritten), ticker resolution, weekend fills
//! (also on the bundled real file), partitions, atomicity of batches, and the CLI.

use foresto::{DatabaseError, IngestError, PartitionError};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Months, NaiveDate};
use entity::enums::{InstrumentType, LoadStatus};
use foresto::Error;
use foresto::instruments::{self, NewInstrument};
use foresto::load_history;
use foresto::partitions::{self, DateWindow, Parent, PartitionLimits};
use foresto::prices::{
    self, Format, KeyChecks, LoadOptions, LoadReport, Progress, Reject, TickerMatch,
};
use sea_orm::DatabaseConnection;
use sqlx::Connection;

use crate::support::{
    TestDatabase, count, date, etf, exec, foresto, partitions_of, row_count, strings, write_file,
};

/// Registers ETFs (in USD) by (ticker, exchange); returns their ids.
async fn register(db: &DatabaseConnection, listings: &[(&str, &str)]) -> Vec<i64> {
    let mut ids = Vec::new();
    for (ticker, exchange) in listings {
        let new = NewInstrument {
            currency: Some("USD".into()),
            ..etf(ticker, exchange)
        };
        ids.push(instruments::upsert(db, &new).await.unwrap().0.instrument_id);
    }
    ids
}

async fn load(db: &DatabaseConnection, path: &Path, options: &LoadOptions) -> LoadReport {
    prices::load_file(db, path, options)
        .await
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

fn rejects(report: &LoadReport) -> Vec<(u64, &str)> {
    report
        .rejects
        .iter()
        .map(|Reject { line, reason }| (*line, reason.as_str()))
        .collect()
}

/// Every price row as `TICKER date open high low close adj volume load_id` (`-` for NULL).
async fn rows(db: &DatabaseConnection) -> Vec<String> {
    strings(
        db,
        "SELECT concat_ws(' ', i.ticker, p.trade_date, coalesce(p.open_price::text, '-'),
                          coalesce(p.high_price::text, '-'), coalesce(p.low_price::text, '-'),
                          p.close_price, coalesce(p.adj_close_price::text, '-'),
                          coalesce(p.volume::text, '-'), coalesce(p.load_id::text, '-'))
           FROM daily_price p JOIN instrument_master i USING (instrument_id)
          ORDER BY i.ticker, p.trade_date",
    )
    .await
}

const LONG: &str = "\
ticker,trade_date,open,high,low,close,adj_close,volume
SPY,2024-01-02,472.16,473.67,470.49,472.65,465.00005,123904000
SPY,2024-01-03,470.43,471.19,468.17,468.79,461.2,103585900
QQQ,2024-01-02,402.64,402.76,396.81,398.72,,
";

#[tokio::test]
async fn a_long_file_loads_every_value_stamped_with_its_load() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE"), ("QQQ", "NASDAQ")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, "long.csv", LONG);

    let report = load(t.conn(), &path, &LoadOptions::default()).await;

    assert_eq!(report.status, LoadStatus::Success);
    assert_eq!((report.records_loaded, report.records_inserted), (3, 3));
    assert_eq!((report.records_failed, report.records_skipped), (0, 0));
    let id = report.load_id;
    assert_eq!(
        rows(t.conn()).await,
        [
            format!("QQQ 2024-01-02 402.6400 402.7600 396.8100 398.7200 - - {id}"),
            format!("SPY 2024-01-02 472.1600 473.6700 470.4900 472.6500 465.0001 123904000 {id}"),
            format!("SPY 2024-01-03 470.4300 471.1900 468.1700 468.7900 461.2000 103585900 {id}"),
        ]
    );
    let load = load_history::get(t.conn(), id).await.unwrap();
    assert_eq!(load.load_status, LoadStatus::Success);
    assert_eq!(
        (load.source_type.as_str(), load.source_name.as_str()),
        ("manual", "long.csv")
    );
    assert_eq!(
        (load.records_loaded, load.records_failed),
        (Some(3), Some(0))
    );
    assert!(load.completed_at.is_some());
}

#[tokio::test]
async fn optional_long_columns_may_be_absent_and_in_any_order() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "few.csv",
        "close,Trade_Date,TICKER\n10.5,2024-01-02,SPY\n11,2024-01-03,SPY\n",
    );
    let options = LoadOptions {
        format: Some(Format::Long),
        source_type: "krx".into(),
        source_name: Some("nightly".into()),
        loaded_by: Some("batch".into()),
        ..LoadOptions::default()
    };

    let report = load(t.conn(), &path, &options).await;

    assert_eq!(report.status, LoadStatus::Success);
    let id = report.load_id;
    assert_eq!(
        rows(t.conn()).await,
        [
            format!("SPY 2024-01-02 - - - 10.5000 - - {id}"),
            format!("SPY 2024-01-03 - - - 11.0000 - - {id}"),
        ]
    );
    let load = load_history::get(t.conn(), id).await.unwrap();
    assert_eq!(
        (
            load.source_type.as_str(),
            load.source_name.as_str(),
            load.loaded_by.as_deref()
        ),
        ("krx", "nightly", Some("batch"))
    );
}

#[tokio::test]
async fn a_wide_file_loads_adjusted_closes_and_an_empty_cell_is_no_price() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE"), ("QQQ", "NASDAQ")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "wide.csv",
        "Date,SPY,QQQ\n2024-01-02,472.65,\n2024-01-03,468.79000183105467,398.1\n",
    );

    let report = load(t.conn(), &path, &LoadOptions::default()).await;

    assert_eq!(
        (report.status, report.records_loaded, report.records_failed),
        (LoadStatus::Success, 3, 0)
    );
    let id = report.load_id;
    assert_eq!(
        rows(t.conn()).await,
        [
            format!("QQQ 2024-01-03 - - - 398.1000 398.1000 - {id}"),
            format!("SPY 2024-01-02 - - - 472.6500 472.6500 - {id}"),
            format!("SPY 2024-01-03 - - - 468.7900 468.7900 - {id}"),
        ]
    );
}

#[tokio::test]
async fn every_bad_long_record_is_rejected_with_its_line_and_reason_and_the_rest_loads() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "bad.csv",
        "ticker,trade_date,open,high,low,close,adj_close,volume
SPY,2024-01-02,1,2,0.5,1.5,1.5,100
SPY,2024-13-01,1,2,0.5,1.5,1.5,100
SPY,2024-01-03,abc,2,0.5,1.5,1.5,100
SPY,2024-01-04,1,2,0.5,-1.5,1.5,100
SPY,2024-01-05,1,2,0.5,0,1.5,100
SPY,2024-01-08,1,1,2,1.5,1.5,100
SPY,2024-01-09,1,2,0.5,,1.5,100
SPY,2024-01-02,1,2,0.5,1.6,1.6,100
XYZ,2024-01-02,1,2,0.5,1.5,1.5,100
SPY,2024-01-10,1,2,0.5,123456789012345,1.5,100
SPY,2024-01-11,1,2,0.5,1.5,1.5,-100
SPY,2024-01-12,1,2,0.5,1.5
SPY,2024-01-16,1,2,0.5,1.5,1.5,200
",
    );

    let report = load(t.conn(), &path, &LoadOptions::default()).await;

    assert_eq!(
        rejects(&report),
        [
            (3, "date '2024-13-01' is not a date (YYYY-MM-DD)"),
            (4, "open 'abc' is not a number"),
            (5, "close -1.5 is not positive"),
            (6, "close 0 is not positive"),
            (7, "high 1 is below low 2"),
            (8, "missing close"),
            (
                9,
                "duplicate: SPY on 2024-01-02 is already on an earlier line"
            ),
            (10, "unknown ticker XYZ"),
            (11, "close 123456789012345 does not fit NUMERIC(18,4)"),
            (12, "volume -100 is negative"),
            (13, "expected 8 fields, found 6"),
        ]
    );
    assert_eq!(report.status, LoadStatus::Partial);
    assert_eq!((report.records_loaded, report.records_failed), (2, 11));
    let id = report.load_id;
    assert_eq!(
        rows(t.conn()).await,
        [
            format!("SPY 2024-01-02 1.0000 2.0000 0.5000 1.5000 1.5000 100 {id}"),
            format!("SPY 2024-01-16 1.0000 2.0000 0.5000 1.5000 1.5000 200 {id}"),
        ]
    );
    let load = load_history::get(t.conn(), id).await.unwrap();
    assert_eq!(load.load_status, LoadStatus::Partial);
    assert_eq!(
        (load.records_loaded, load.records_failed),
        (Some(2), Some(11))
    );
    let summary = load.error_message.unwrap();
    assert!(
        summary.starts_with("11 records rejected: line 3: date '2024-13-01' is not a date"),
        "{summary}"
    );
    assert!(summary.contains("; … 1 more"), "{summary}");
}

#[tokio::test]
async fn bad_wide_cells_and_lines_are_rejected_with_their_line() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE"), ("QQQ", "NASDAQ")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "wide.csv",
        "Date,SPY,QQQ
2024-01-02,470.1,400.2
2024-01-03,,401.5
2024-01-04,abc,0
yesterday,1,2
2024-01-05,471
2024-01-08,472.5,402.0
",
    );

    let report = load(t.conn(), &path, &LoadOptions::default()).await;

    assert_eq!(
        rejects(&report),
        [
            (4, "SPY 'abc' is not a number"),
            (4, "QQQ 0 is not positive"),
            (5, "date 'yesterday' is not a date (YYYY-MM-DD)"),
            (6, "expected 3 fields, found 2"),
        ]
    );
    assert_eq!(
        (report.status, report.records_loaded, report.records_failed),
        (LoadStatus::Partial, 5, 4)
    );
    assert_eq!(row_count(t.conn(), "daily_price").await, 5);
}

#[tokio::test]
async fn a_file_of_only_bad_records_ends_failed() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "bad.csv",
        "ticker,trade_date,close\nSPY,someday,1\nXYZ,2024-01-02,1\n",
    );

    let report = load(t.conn(), &path, &LoadOptions::default()).await;

    assert_eq!(report.status, LoadStatus::Failed);
    assert_eq!((report.records_loaded, report.records_failed), (0, 2));
    let load = load_history::get(t.conn(), report.load_id).await.unwrap();
    assert_eq!(load.load_status, LoadStatus::Failed);
    assert!(
        load.error_message
            .unwrap()
            .starts_with("nothing loaded: 2 records rejected")
    );
}

#[tokio::test]
async fn a_file_that_cannot_be_read_is_recorded_as_a_failed_load() {
    let t = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (dir.path().join("missing.csv"), "No such file"),
        (
            write_file(&dir, "empty.csv", ""),
            "a header row is required",
        ),
        (
            write_file(&dir, "odd.csv", "when,what\n2024-01-02,1\n"),
            "cannot tell the format",
        ),
        (write_file(&dir, "wide.csv", "Date,SPY,spy\n"), "twice"),
        (dir.path().to_owned(), "directory"),
    ];
    for (path, expected) in cases {
        let err = prices::load_file(t.conn(), &path, &LoadOptions::default())
            .await
            .unwrap_err();
        let Error::Ingest(IngestError::UnreadableFile {
            load_id, reason, ..
        }) = &err
        else {
            panic!("{}: {err}", path.display());
        };
        assert!(reason.contains(expected), "{}: {reason}", path.display());
        let load = load_history::get(t.conn(), *load_id).await.unwrap();
        assert_eq!(load.load_status, LoadStatus::Failed, "{}", path.display());
        assert!(load.error_message.unwrap().contains(expected));
        assert!(load.completed_at.is_some());
    }
    assert_eq!(row_count(t.conn(), "daily_price").await, 0);
}

#[tokio::test]
async fn a_reload_rewrites_only_new_and_changed_rows() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    let first = write_file(
        &dir,
        "first.csv",
        "ticker,trade_date,close,volume\nSPY,2024-01-02,10,100\nSPY,2024-01-03,11,110\nSPY,2024-01-04,12,\n",
    );
    let second = write_file(
        &dir,
        "second.csv",
        "ticker,trade_date,close,volume\nSPY,2024-01-02,10.00,100\nSPY,2024-01-03,11.5,110\nSPY,2024-01-04,12,\nSPY,2024-01-05,13,130\n",
    );
    // xmin changes when a row is rewritten, xmax when it is merely locked (as ON CONFLICT DO
    // UPDATE does before it evaluates its WHERE): unchanged rows must keep both.
    let versions = || {
        strings(
            t.conn(),
            "SELECT concat_ws(' ', trade_date, xmin, xmax, load_id) FROM daily_price ORDER BY trade_date",
        )
    };

    let one = load(t.conn(), &first, &LoadOptions::default()).await;
    let before = versions().await;
    let again = load(t.conn(), &first, &LoadOptions::default()).await;
    assert_eq!(
        (
            again.records_loaded,
            again.records_inserted,
            again.records_updated,
            again.records_unchanged
        ),
        (3, 0, 0, 3)
    );
    assert_eq!(
        versions().await,
        before,
        "an unchanged re-load rewrote rows"
    );

    let two = load(t.conn(), &second, &LoadOptions::default()).await;

    assert_eq!(two.status, LoadStatus::Success);
    assert_eq!(
        (
            two.records_loaded,
            two.records_inserted,
            two.records_updated,
            two.records_unchanged
        ),
        (4, 1, 1, 2)
    );
    let (a, b) = (one.load_id, two.load_id);
    assert_eq!(
        rows(t.conn()).await,
        [
            format!("SPY 2024-01-02 - - - 10.0000 - 100 {a}"),
            format!("SPY 2024-01-03 - - - 11.5000 - 110 {b}"),
            format!("SPY 2024-01-04 - - - 12.0000 - - {a}"),
            format!("SPY 2024-01-05 - - - 13.0000 - 130 {b}"),
        ]
    );
    let after = versions().await;
    assert_eq!(
        after[0], before[0],
        "the unchanged 2024-01-02 row was rewritten"
    );
    assert_eq!(
        after[2], before[2],
        "the unchanged 2024-01-04 row was rewritten"
    );
    assert_ne!(after[1], before[1]);
}

#[tokio::test]
async fn unknown_tickers_are_rejected_unless_registration_is_asked() {
    let t = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, "new.csv", "Date,ACWI,SPY\n2024-01-02,100.5,470\n");
    register(t.conn(), &[("SPY", "NYSE")]).await;

    let rejected = load(t.conn(), &path, &LoadOptions::default()).await;
    assert_eq!(rejects(&rejected), [(2, "unknown ticker ACWI")]);
    assert_eq!(rejected.status, LoadStatus::Partial);

    let options = LoadOptions {
        source_type: "alpha_vantage".into(),
        tickers: TickerMatch::Register {
            instrument_type: InstrumentType::Etf,
            exchange: "NASDAQ".into(),
            currency: "USD".into(),
        },
        ..LoadOptions::default()
    };
    let registered = load(t.conn(), &path, &options).await;

    assert_eq!(
        (registered.status, registered.records_loaded),
        (LoadStatus::Success, 2)
    );
    assert_eq!(
        strings(
            t.conn(),
            "SELECT concat_ws(' ', instrument_type, ticker, exchange, currency, data_source)
               FROM instrument_master ORDER BY instrument_id"
        )
        .await,
        [
            "ETF SPY NYSE USD",
            "ETF ACWI NASDAQ USD alpha_vantage",
            "ETF SPY NASDAQ USD alpha_vantage"
        ],
        "registration matches on its own exchange, so SPY on NASDAQ is new too"
    );
}

#[tokio::test]
async fn registration_with_unusable_defaults_is_refused_before_anything_is_recorded() {
    let t = TestDatabase::migrated().await;
    let options = LoadOptions {
        tickers: TickerMatch::Register {
            instrument_type: InstrumentType::Etf,
            exchange: "NYSE".into(),
            currency: "dollars".into(),
        },
        ..LoadOptions::default()
    };
    let err = prices::load_file(t.conn(), Path::new("unused.csv"), &options)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert_eq!(row_count(t.conn(), "source_load_history").await, 0);
}

#[tokio::test]
async fn a_ticker_on_several_exchanges_is_rejected_unless_an_exchange_is_named() {
    let t = TestDatabase::migrated().await;
    let ids = register(t.conn(), &[("SPY", "NYSE"), ("SPY", "KRX")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "spy.csv",
        "ticker,trade_date,close\nSPY,2024-01-02,470\n",
    );

    let ambiguous = load(t.conn(), &path, &LoadOptions::default()).await;
    assert_eq!(ambiguous.status, LoadStatus::Failed);
    let reason = &ambiguous.rejects[0].reason;
    assert!(reason.starts_with("ticker SPY is ambiguous"), "{reason}");
    assert!(
        reason.contains("on NYSE") && reason.contains("on KRX"),
        "{reason}"
    );

    let options = LoadOptions {
        tickers: TickerMatch::OnExchange("KRX".into()),
        ..LoadOptions::default()
    };
    let named = load(t.conn(), &path, &options).await;
    assert_eq!(named.status, LoadStatus::Success);
    assert_eq!(
        count(t.conn(), "SELECT instrument_id FROM daily_price").await,
        ids[1]
    );
}

#[tokio::test]
async fn weekend_forward_fills_are_skipped_only_when_asked() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE"), ("BTC", "INTERNAL")]).await;
    let dir = tempfile::tempdir().unwrap();
    // Fri, Sat (SPY repeated, BTC traded), Sun (both repeated), Mon, Tue (flat, but a weekday).
    let path = write_file(
        &dir,
        "daily.csv",
        "Date,SPY,BTC
2024-01-05,470,44000
2024-01-06,470,44100
2024-01-07,470,44100
2024-01-08,471,45000
2024-01-09,471,45000
",
    );
    let skipping = LoadOptions {
        skip_weekend_fill: true,
        ..LoadOptions::default()
    };

    let skipped = load(t.conn(), &path, &skipping).await;

    assert_eq!(
        (
            skipped.status,
            skipped.records_loaded,
            skipped.records_skipped,
            skipped.records_failed
        ),
        (LoadStatus::Success, 7, 3, 0)
    );
    assert_eq!(
        strings(
            t.conn(),
            "SELECT i.ticker || ' ' || string_agg(to_char(p.trade_date, 'Dy'), ',' ORDER BY p.trade_date)
               FROM daily_price p JOIN instrument_master i USING (instrument_id) GROUP BY i.ticker ORDER BY 1"
        )
        .await,
        ["BTC Fri,Sat,Mon,Tue", "SPY Fri,Mon,Tue"]
    );

    let kept = load(t.conn(), &path, &LoadOptions::default()).await;
    assert_eq!(
        (
            kept.records_loaded,
            kept.records_inserted,
            kept.records_skipped
        ),
        (10, 3, 0)
    );
}

/// The real sample shipped in the repository: 8 614 dated rows × 9 ETFs, with 904 weekend rows
/// that forward-fill Friday's prices.
#[tokio::test]
async fn the_bundled_etf_file_loads_without_its_weekend_fills() {
    let t = TestDatabase::migrated().await;
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/etf-prices/etf_adjusted_close_sample.csv");
    let last_progress = Arc::new(Mutex::new(None));
    let options = LoadOptions {
        tickers: TickerMatch::Register {
            instrument_type: InstrumentType::Etf,
            exchange: "NYSE".into(),
            currency: "USD".into(),
        },
        skip_weekend_fill: true,
        batch_size: 20_000,
        progress: Some(Arc::new({
            let last = Arc::clone(&last_progress);
            move |p: Progress| *last.lock().unwrap() = Some(p)
        })),
        ..LoadOptions::default()
    };

    let report = load(t.conn(), &path, &options).await;

    assert_eq!(
        *last_progress.lock().unwrap(),
        Some(Progress {
            bytes_read: std::fs::metadata(&path).unwrap().len(),
            records_read: 8614
        }),
        "progress ends at the end of the file"
    );

    assert_eq!(report.status, LoadStatus::Success);
    assert_eq!(report.records_failed, 0);
    assert_eq!(report.records_skipped, 904 * 9);
    assert_eq!(report.records_loaded, 49_153);
    assert_eq!(
        strings(
            t.conn(),
            "SELECT concat_ws(' ', i.ticker, count(*), min(p.trade_date), max(p.trade_date))
               FROM daily_price p JOIN instrument_master i USING (instrument_id)
              GROUP BY i.ticker ORDER BY min(p.trade_date), i.ticker"
        )
        .await,
        [
            "SPY 7710 1993-01-29 2023-05-18",
            "QQQ 6168 1999-03-10 2023-05-18",
            "IWM 5860 2000-05-26 2023-05-18",
            "SHY 5317 2002-07-30 2023-05-18",
            "TLT 5317 2002-07-30 2023-05-18",
            "EEM 5139 2003-04-14 2023-05-18",
            "VNQ 4771 2004-09-29 2023-05-18",
            "GLD 4735 2004-11-18 2023-05-18",
            "BND 4136 2007-04-10 2023-05-18",
        ]
    );
    assert_eq!(
        strings(
            t.conn(),
            "SELECT close_price || ' ' || adj_close_price FROM daily_price
              WHERE trade_date = '1993-01-29'"
        )
        .await,
        ["25.1224 25.1224"],
        "25.122352600097656 rounded to NUMERIC(18,4)"
    );
    let weekend =
        "SELECT count(*) FROM daily_price WHERE extract(isodow FROM trade_date) IN (6, 7)";
    assert_eq!(count(t.conn(), weekend).await, 0);
    assert_eq!(row_count(t.conn(), "daily_price_default").await, 0);
    assert_eq!(
        count(
            t.conn(),
            "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'daily_price_199301'::regclass"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn records_far_outside_the_premade_partitions_get_monthly_partitions_of_their_own() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "far.csv",
        "ticker,trade_date,close\nSPY,1995-03-15,45.1\nSPY,1995-04-03,45.9\nSPY,2031-07-01,900\n",
    );

    let report = load(t.conn(), &path, &LoadOptions::default()).await;

    assert_eq!(
        (report.status, report.records_loaded),
        (LoadStatus::Success, 3)
    );
    assert_eq!(
        strings(
            t.conn(),
            "SELECT tableoid::regclass || ' ' || trade_date FROM daily_price ORDER BY trade_date"
        )
        .await,
        [
            "daily_price_199503 1995-03-15",
            "daily_price_199504 1995-04-03",
            "daily_price_203107 2031-07-01"
        ]
    );
    assert_eq!(row_count(t.conn(), "daily_price_default").await, 0);
    let partitions = |pattern: &str| {
        format!(
            "SELECT count(*) FROM pg_inherits JOIN pg_class c ON c.oid = inhrelid
              WHERE inhparent = 'daily_price'::regclass AND c.relname LIKE '{pattern}'"
        )
    };
    assert_eq!(
        count(t.conn(), &partitions("daily\\_price\\_1995%")).await,
        2,
        "only months with records"
    );
    assert_eq!(
        count(t.conn(), &partitions("daily\\_price\\_2031%")).await,
        1
    );
}

/// Waits until a `COPY daily_price` of this database waits for a lock.
async fn wait_for_blocked_copy(db: &DatabaseConnection) {
    let blocked = "SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock'
                      AND query LIKE 'COPY daily_price%'";
    for _ in 0..600 {
        if count(db, blocked).await > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no COPY into daily_price ever waited for a lock");
}

#[tokio::test]
async fn a_key_stored_by_another_session_during_a_direct_copy_is_upserted_instead() {
    let t = TestDatabase::migrated().await;
    let ids = register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "three.csv",
        "ticker,trade_date,close\nSPY,2024-01-02,1\nSPY,2024-01-03,2\nSPY,2024-01-04,3\n",
    );
    // Not yet committed when the load looks, so the load takes the direct COPY path and then
    // runs into the key.
    let mut other = sqlx::PgConnection::connect(t.url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query(
        "INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES ($1, '2024-01-03', 99)",
    )
    .bind(ids[0])
    .execute(&mut other)
    .await
    .unwrap();

    let loading = {
        let (db, path) = (t.conn().clone(), path.clone());
        tokio::spawn(async move { prices::load_file(&db, &path, &LoadOptions::default()).await })
    };
    wait_for_blocked_copy(t.conn()).await;
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    let report = loading.await.unwrap().unwrap();

    assert_eq!(report.status, LoadStatus::Success);
    assert_eq!(
        (
            report.records_loaded,
            report.records_inserted,
            report.records_updated
        ),
        (3, 2, 1)
    );
    let id = report.load_id;
    assert_eq!(
        rows(t.conn()).await,
        [
            format!("SPY 2024-01-02 - - - 1.0000 - - {id}"),
            format!("SPY 2024-01-03 - - - 2.0000 - - {id}"),
            format!("SPY 2024-01-04 - - - 3.0000 - - {id}"),
        ]
    );
}

/// Nine records in batches of three, for the failure tests.
const NINE_DAYS: &str = "\
ticker,trade_date,close
SPY,2024-01-02,1
SPY,2024-01-03,2
SPY,2024-01-04,3
SPY,2024-01-05,4
QQQ,2024-01-05,5
SPY,2024-01-08,6
SPY,2024-01-09,7
SPY,2024-01-10,8
SPY,2024-01-11,9
";

#[tokio::test]
async fn a_batch_cut_off_by_a_lost_connection_leaves_nothing_and_a_rerun_completes_the_load() {
    cut_off_load(1, &["2024-01-02", "2024-01-03", "2024-01-04"]).await;
}

#[tokio::test]
async fn with_two_streams_a_batch_cut_off_leaves_nothing_while_the_other_sessions_batches_stay() {
    // The third batch goes to the second session and commits while the second waits.
    cut_off_load(
        2,
        &[
            "2024-01-02",
            "2024-01-03",
            "2024-01-04",
            "2024-01-09",
            "2024-01-10",
            "2024-01-11",
        ],
    )
    .await;
}

/// Loads NINE_DAYS in batches of 3 over `streams` sessions, kills the session writing the
/// second batch once `committed` (the dates of the batches that get through) are stored, and
/// re-runs the load.
async fn cut_off_load(streams: usize, committed: &[&str]) {
    let t = TestDatabase::migrated().await;
    let ids = register(t.conn(), &[("SPY", "NYSE"), ("QQQ", "NASDAQ")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, "nine.csv", NINE_DAYS);
    // Per-row checks: the second batch's rows are all inserted before its foreign-key check of
    // QQQ waits for the lock held here; the load's connection dies right there.
    let options = LoadOptions {
        batch_size: 3,
        key_checks: KeyChecks::PerRow,
        streams,
        ..LoadOptions::default()
    };
    let mut locker = sqlx::PgConnection::connect(t.url()).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("SELECT 1 FROM instrument_master WHERE instrument_id = $1 FOR UPDATE")
        .bind(ids[1])
        .execute(&mut locker)
        .await
        .unwrap();

    let loading = {
        let (db, path, options) = (t.conn().clone(), path.clone(), options.clone());
        tokio::spawn(async move { prices::load_file(&db, &path, &options).await })
    };
    wait_for_blocked_copy(t.conn()).await;
    for _ in 0..600 {
        if row_count(t.conn(), "daily_price").await == committed.len() as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    exec(
        t.conn(),
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'COPY daily_price%'
            AND wait_event_type = 'Lock'",
    )
    .await;
    let err = loading.await.unwrap().unwrap_err();
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();

    let Error::Ingest(IngestError::LoadFailed { load_id, source }) = &err else {
        panic!("{err}");
    };
    assert!(
        matches!(**source, Error::Database(DatabaseError::Connection { .. })),
        "{source}"
    );
    let failed = load_history::get(t.conn(), *load_id).await.unwrap();
    assert_eq!(failed.load_status, LoadStatus::Failed);
    assert_eq!(
        failed.records_loaded,
        Some(committed.len() as i32),
        "only the batches that committed count"
    );
    assert_eq!(
        strings(
            t.conn(),
            "SELECT trade_date::text FROM daily_price ORDER BY trade_date"
        )
        .await,
        committed,
        "no part of the cut-off batch is visible"
    );

    let rerun = load(t.conn(), &path, &options).await;

    assert_eq!(rerun.status, LoadStatus::Success);
    let kept = committed.len() as u64;
    assert_eq!(
        (
            rerun.records_loaded,
            rerun.records_inserted,
            rerun.records_unchanged
        ),
        (9, 9 - kept, kept)
    );
    assert_eq!(row_count(t.conn(), "daily_price").await, 9);
    assert_eq!(
        count(
            t.conn(),
            &format!("SELECT count(*) FROM daily_price WHERE load_id = {load_id}")
        )
        .await,
        kept as i64,
        "the committed batches keep the load that wrote them"
    );
}

#[tokio::test]
async fn a_batch_refused_by_the_database_fails_the_load_and_a_rerun_completes_it() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE"), ("QQQ", "NASDAQ")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, "nine.csv", NINE_DAYS);
    // One session: batches are written in file order, so the one after the refused batch is not.
    let options = LoadOptions {
        batch_size: 3,
        streams: 1,
        ..LoadOptions::default()
    };
    exec(
        t.conn(),
        "ALTER TABLE daily_price ADD CONSTRAINT refuse_one_day CHECK (trade_date <> '2024-01-08')",
    )
    .await;

    let err = prices::load_file(t.conn(), &path, &options)
        .await
        .unwrap_err();

    let Error::Ingest(IngestError::LoadFailed { load_id, source }) = &err else {
        panic!("{err}");
    };
    assert!(source.to_string().contains("refuse_one_day"), "{source}");
    let failed = load_history::get(t.conn(), *load_id).await.unwrap();
    assert_eq!(
        (failed.load_status, failed.records_loaded),
        (LoadStatus::Failed, Some(3))
    );
    assert!(failed.error_message.unwrap().contains("refuse_one_day"));
    assert_eq!(row_count(t.conn(), "daily_price").await, 3);

    exec(
        t.conn(),
        "ALTER TABLE daily_price DROP CONSTRAINT refuse_one_day",
    )
    .await;
    let rerun = load(t.conn(), &path, &options).await;

    assert_eq!(
        (rerun.status, rerun.records_loaded, rerun.records_unchanged),
        (LoadStatus::Success, 9, 3)
    );
    assert_eq!(row_count(t.conn(), "daily_price").await, 9);
}

#[tokio::test]
async fn key_checks_are_batched_only_when_no_trigger_of_daily_price_would_be_skipped() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE"), ("QQQ", "NASDAQ")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, "long.csv", LONG);
    let per_row = LoadOptions {
        key_checks: KeyChecks::PerRow,
        ..LoadOptions::default()
    };

    let checked_per_row = load(t.conn(), &path, &per_row).await;
    assert!(!checked_per_row.batched_key_checks);
    exec(t.conn(), "TRUNCATE daily_price").await;
    let batched = load(t.conn(), &path, &LoadOptions::default()).await;
    assert!(
        batched.batched_key_checks,
        "the test server's role is a superuser"
    );
    assert_eq!(batched.records_inserted, 3);

    exec(
        t.conn(),
        "CREATE TABLE audit (n int);
         CREATE FUNCTION audit_price() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN INSERT INTO audit VALUES (1); RETURN NULL; END $$;
         CREATE TRIGGER audit_price AFTER INSERT ON daily_price
           FOR EACH ROW EXECUTE FUNCTION audit_price();
         TRUNCATE daily_price;",
    )
    .await;
    let with_trigger = load(t.conn(), &path, &LoadOptions::default()).await;
    assert!(!with_trigger.batched_key_checks);
    assert_eq!(row_count(t.conn(), "audit").await, 3, "the trigger fired");
}

// --- the CLI ---

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test]
async fn cli_load_prints_one_json_object_and_exits_zero_for_success_and_partial() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE"), ("QQQ", "NASDAQ")]).await;
    let dir = tempfile::tempdir().unwrap();
    let good = write_file(&dir, "good.csv", LONG);
    let partial = write_file(
        &dir,
        "partial.csv",
        "Date,SPY,XYZ\n2024-01-02,470,1\n2024-01-03,x,2\n",
    );

    let ok = foresto(&t, &["prices", "load", good.to_str().unwrap(), "--json"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let report = json(&ok);
    assert_eq!(report["status"], "SUCCESS");
    assert_eq!(report["records_loaded"], 3);
    assert_eq!(report["records_failed"], 0);
    assert_eq!(report["records_skipped"], 0);
    assert_eq!(report["rejects"], serde_json::json!([]));
    let load_id = report["load_id"].as_i64().unwrap();
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert!(
        stderr.contains(&format!("load {load_id} SUCCESS: 3 records loaded")),
        "{stderr}"
    );
    assert!(stderr.contains("records/s"), "{stderr}");

    let part = foresto(
        &t,
        &[
            "prices",
            "load",
            partial.to_str().unwrap(),
            "--format",
            "wide",
            "--json",
        ],
    );
    assert!(
        part.status.success(),
        "{}",
        String::from_utf8_lossy(&part.stderr)
    );
    let report = json(&part);
    assert_eq!(report["status"], "PARTIAL");
    assert_eq!(report["records_loaded"], 1);
    assert_eq!(report["records_failed"], 3);
    assert_eq!(
        report["rejects"],
        serde_json::json!([
            {"line": 2, "reason": "unknown ticker XYZ"},
            {"line": 3, "reason": "SPY 'x' is not a number"},
            {"line": 3, "reason": "unknown ticker XYZ"},
        ])
    );

    let text = foresto(&t, &["prices", "load", partial.to_str().unwrap()]);
    assert!(text.status.success());
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains(" PARTIAL: "), "{stdout}");
    assert!(
        stdout.contains("  line 3: SPY 'x' is not a number"),
        "{stdout}"
    );
}

#[tokio::test]
async fn cli_load_exits_one_with_one_error_line_for_failed_and_unreadable_files() {
    let t = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let bad = write_file(
        &dir,
        "bad.csv",
        "ticker,trade_date,close\nXYZ,2024-01-02,1\n",
    );
    let missing = dir.path().join("missing.csv");

    let failed = foresto(&t, &["prices", "load", bad.to_str().unwrap(), "--json"]);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(json(&failed)["status"], "FAILED");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("error: load ") && stderr.contains(" FAILED: nothing could be loaded"),
        "{stderr}"
    );

    let unreadable = foresto(&t, &["prices", "load", missing.to_str().unwrap(), "--json"]);
    assert_eq!(unreadable.status.code(), Some(1));
    let report = json(&unreadable);
    assert_eq!(report["status"], "FAILED");
    assert!(report["error"].as_str().unwrap().contains("cannot read"));
    let stderr = String::from_utf8_lossy(&unreadable.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: load ") && stderr.contains("cannot read"),
        "{stderr}"
    );
    let load_id = report["load_id"].as_i64().unwrap();
    assert_eq!(
        load_history::get(t.conn(), load_id)
            .await
            .unwrap()
            .load_status,
        LoadStatus::Failed
    );
}

// --- bounded input ---

/// The last day of the default date window, as a load started now sees it.
fn window_end() -> NaiveDate {
    PartitionLimits::default().window.last()
}

#[tokio::test]
async fn records_outside_the_date_window_are_rejected_with_their_line_and_the_rest_loads() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    let end = window_end();
    let after = end.succ_opt().unwrap();
    let path = write_file(
        &dir,
        "window.csv",
        &format!(
            "ticker,trade_date,close
SPY,2024-01-02,10
SPY,0000-01-06,11
SPY,1899-12-31,12
SPY,1900-01-01,13
SPY,{after},14
SPY,{end},15
SPY,2024-01-03,16
"
        ),
    );
    let before = partitions_of(t.conn(), "daily_price").await;

    let report = load(t.conn(), &path, &LoadOptions::default()).await;

    let outside = |d: &str| format!("date {d} is outside the date window 1900-01-01 to {end}");
    assert_eq!(
        report
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.clone()))
            .collect::<Vec<_>>(),
        [
            (3, outside("0000-01-06")),
            (4, outside("1899-12-31")),
            (6, outside(&after.to_string())),
        ]
    );
    assert_eq!(
        (report.status, report.records_loaded),
        (LoadStatus::Partial, 4)
    );
    let made: Vec<String> = partitions_of(t.conn(), "daily_price")
        .await
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let mut expected = vec![
        "daily_price_190001".to_owned(),
        Parent::DailyPrice.partition_name(end),
    ];
    expected.retain(|p| !before.contains(p));
    assert_eq!(made, expected, "partitions only for months in the window");
}

/// The load id of a load refused for its partition cap, and what the refusal names: parent,
/// first and last month, partitions needed, cap.
fn refused_for_partitions(err: &Error) -> (i64, (Parent, NaiveDate, NaiveDate, u32, u32)) {
    let Error::Ingest(IngestError::LoadFailed { load_id, source }) = err else {
        panic!("{err}");
    };
    let Error::Partition(PartitionError::TooManyPartitions {
        parent,
        first,
        last,
        count,
        cap,
    }) = &**source
    else {
        panic!("{source}");
    };
    (*load_id, (*parent, *first, *last, *count, *cap))
}

#[tokio::test]
async fn a_load_that_would_create_more_partitions_than_its_cap_fails_before_creating_any() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    // One record a month, 1900 through 2100: the file that used to leave 2,414 partitions.
    let mut text = String::from("ticker,trade_date,close\n");
    let mut day = date(1900, 1, 15);
    let mut inside = Vec::new();
    while day <= date(2100, 12, 15) {
        text.push_str(&format!("SPY,{day},1\n"));
        if day <= window_end() {
            inside.push(partitions::month_start(day));
        }
        day = day + Months::new(1);
    }
    let path = write_file(&dir, "centuries.csv", &text);
    let before = partitions_of(t.conn(), "daily_price").await;
    let new = inside
        .iter()
        .filter(|m| !before.contains(&Parent::DailyPrice.partition_name(**m)))
        .count() as u32;

    let err = prices::load_file(t.conn(), &path, &LoadOptions::default())
        .await
        .unwrap_err();

    let (load_id, refused) = refused_for_partitions(&err);
    let last_month = *inside.last().unwrap();
    assert_eq!(
        refused,
        (Parent::DailyPrice, date(1900, 1, 1), last_month, new, 600)
    );
    let message = err.to_string();
    assert_eq!(
        message,
        format!(
            "load {load_id} failed: refusing to create {new} partitions of daily_price (1900-01 \
             through {}): one operation may create at most 600",
            last_month.format("%Y-%m")
        )
    );
    assert_eq!(partitions_of(t.conn(), "daily_price").await, before);
    assert_eq!(row_count(t.conn(), "daily_price").await, 0);
    let row = load_history::get(t.conn(), load_id).await.unwrap();
    assert_eq!(row.load_status, LoadStatus::Failed);
    assert_eq!(
        row.records_failed,
        Some(0),
        "refused after the first pass, before any record was read for loading"
    );
    assert_eq!(
        row.error_message.unwrap(),
        message[message.find("refusing").unwrap()..]
    );
}

/// Loads `text` (a file whose records need partitions for 1990-01, 1990-02 and, last in the
/// file, 1995-07; 2024-01 exists already; one line has an impossible date and one a date before
/// the window) in batches of two under a cap of 2: the first pass over the file finds the
/// three months before anything is written, so the load fails naming all of them, writes no row
/// and creates no partition. Run again with a cap of 3, it loads `loaded` records.
async fn a_load_over_its_cap_writes_nothing(tickers: &[&str], text: &str, loaded: u64) {
    let t = TestDatabase::migrated().await;
    let listings: Vec<(&str, &str)> = tickers.iter().map(|t| (*t, "NYSE")).collect();
    register(t.conn(), &listings).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, "spread.csv", text);
    let before = partitions_of(t.conn(), "daily_price").await;
    assert!(before.contains(&"daily_price_202401".to_owned()));
    let capped = |max_new| LoadOptions {
        batch_size: 2,
        partitions: PartitionLimits {
            max_new,
            ..PartitionLimits::default()
        },
        ..LoadOptions::default()
    };

    let err = prices::load_file(t.conn(), &path, &capped(2))
        .await
        .unwrap_err();

    let (load_id, refused) = refused_for_partitions(&err);
    assert_eq!(
        refused,
        (Parent::DailyPrice, date(1990, 1, 1), date(1995, 7, 1), 3, 2),
        "the span of the whole file, not of the batch that went over"
    );
    let reason = "refusing to create 3 partitions of daily_price (1990-01 through 1995-07): one \
                  operation may create at most 2";
    assert_eq!(err.to_string(), format!("load {load_id} failed: {reason}"));
    assert_eq!(
        row_count(t.conn(), "daily_price").await,
        0,
        "no row written"
    );
    assert_eq!(
        partitions_of(t.conn(), "daily_price").await,
        before,
        "no partition created"
    );
    let row = load_history::get(t.conn(), load_id).await.unwrap();
    assert_eq!(
        (
            row.load_status,
            row.records_loaded,
            row.error_message.as_deref()
        ),
        (LoadStatus::Failed, Some(0), Some(reason))
    );
    assert!(row.completed_at.is_some());

    // With a cap the file's months fit in, everything loads; the two bad lines are rejected
    // (the first pass ignored them rather than count a partition for them).
    let rerun = load(t.conn(), &path, &capped(3)).await;
    assert_eq!(
        (rerun.status, rerun.records_loaded, rerun.records_failed),
        (LoadStatus::Partial, loaded, 2)
    );
    assert_eq!(row_count(t.conn(), "daily_price").await, loaded as i64);
    let made: Vec<String> = partitions_of(t.conn(), "daily_price")
        .await
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(
        made,
        [
            "daily_price_199001",
            "daily_price_199002",
            "daily_price_199507"
        ]
    );
}

#[tokio::test]
async fn a_long_file_over_its_cap_fails_naming_the_whole_span_before_writing_anything() {
    a_load_over_its_cap_writes_nothing(
        &["SPY"],
        "ticker,trade_date,close
SPY,1990-01-02,1
SPY,1990-02-01,2
SPY,2024-01-02,3
SPY,1990-13-01,4
SPY,1850-06-03,5
SPY,1995-07-03,6
",
        4,
    )
    .await;
}

#[tokio::test]
async fn a_wide_file_over_its_cap_fails_naming_the_whole_span_before_writing_anything() {
    a_load_over_its_cap_writes_nothing(
        &["SPY", "QQQ"],
        "Date,SPY,QQQ
1990-01-02,1,2
1990-02-01,,3
2024-01-02,4,
1990-13-01,5,6
1850-06-03,7,8
1995-07-03,9,10
",
        6,
    )
    .await;
}

#[tokio::test]
async fn a_file_read_only_once_is_held_to_its_cap_batch_by_batch() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("prices.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            std::fs::write(
                fifo,
                "ticker,trade_date,close\nSPY,1990-01-02,1\nSPY,1990-02-01,2\n\
                 SPY,2024-01-02,3\nSPY,1995-07-03,4\n",
            )
        })
    };
    let capped = LoadOptions {
        batch_size: 2,
        partitions: PartitionLimits {
            max_new: 2,
            ..PartitionLimits::default()
        },
        ..LoadOptions::default()
    };

    let err = prices::load_file(t.conn(), &fifo, &capped)
        .await
        .unwrap_err();
    writer.join().unwrap().unwrap();

    // No first pass over a pipe: the batch that goes over the cap is refused, the one before
    // it stays.
    let Error::Ingest(IngestError::LoadFailed { source, .. }) = &err else {
        panic!("{err}");
    };
    assert!(
        matches!(
            **source,
            Error::Partition(PartitionError::TooManyPartitions { first, last, count: 3, cap: 2, .. })
                if first == date(1990, 1, 1) && last == date(1995, 7, 1)
        ),
        "{source}"
    );
    assert_eq!(
        row_count(t.conn(), "daily_price").await,
        2,
        "the first batch"
    );
}

#[tokio::test]
async fn a_stray_quote_spoils_only_its_own_line() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "quote.csv",
        "ticker,trade_date,close
SPY,2024-01-02,1
SPY,\"2024-01-03,2
SPY,2024-01-04,3
\"SPY\",2024-01-05,\"4\"
SPY,2024-01-08\"x\",5
SPY,2024-01-09,6
",
    );

    let report = load(t.conn(), &path, &LoadOptions::default()).await;

    assert_eq!(
        rejects(&report),
        [
            (3, "a quoted field is not closed"),
            (6, "date '2024-01-08\"x\"' is not a date (YYYY-MM-DD)"),
        ]
    );
    assert_eq!(
        (report.status, report.records_loaded),
        (LoadStatus::Partial, 4)
    );
}

#[tokio::test]
async fn a_line_over_the_limit_is_rejected_and_the_lines_after_it_load() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    let long = format!("SPY,2024-01-03,1{}", "0".repeat(200_000));
    let path = write_file(
        &dir,
        "long.csv",
        &format!("ticker,trade_date,close\nSPY,2024-01-02,1\n{long}\nSPY,2024-01-04,3\n"),
    );

    let report = load(t.conn(), &path, &LoadOptions::default()).await;
    assert_eq!(
        rejects(&report),
        [(3, "the line has 200016 bytes, more than the limit of 65536")]
    );
    assert_eq!(report.records_loaded, 2);

    let tight = LoadOptions {
        max_line_bytes: 23,
        ..LoadOptions::default()
    };
    let report = load(t.conn(), &path, &tight).await;
    assert_eq!(
        rejects(&report),
        [(3, "the line has 200016 bytes, more than the limit of 23")]
    );
    assert_eq!(report.records_loaded, 2, "23 bytes: exactly the header");

    let header_too_long = LoadOptions {
        max_line_bytes: 10,
        ..LoadOptions::default()
    };
    let err = prices::load_file(t.conn(), &path, &header_too_long)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("the header line has 23 bytes, more than the limit of 10"),
        "{err}"
    );
}

#[tokio::test]
async fn crlf_and_lf_files_report_the_same_lines() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    let text = "ticker,trade_date,close\nSPY,2024-01-02,1\nSPY,2024-01-03,x\n\nSPY,\"2024-01-04\",3\nSPY,2024-13-01,4\nSPY,2024-01-05,5\n";
    let lf = write_file(&dir, "lf.csv", text);
    let crlf = write_file(&dir, "crlf.csv", &text.replace('\n', "\r\n"));

    let from_lf = load(t.conn(), &lf, &LoadOptions::default()).await;
    let from_crlf = load(t.conn(), &crlf, &LoadOptions::default()).await;

    let expected = [
        (3, "close 'x' is not a number"),
        (6, "date '2024-13-01' is not a date (YYYY-MM-DD)"),
    ];
    assert_eq!(rejects(&from_lf), expected);
    assert_eq!(rejects(&from_crlf), expected);
    assert_eq!((from_lf.records_loaded, from_crlf.records_loaded), (3, 3));
}

#[tokio::test]
async fn control_characters_and_long_fields_are_escaped_and_bounded_and_the_load_finishes() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE")]).await;
    let dir = tempfile::tempdir().unwrap();
    let huge = "x".repeat(60_000);
    let mut text = format!(
        "ticker,trade_date,close
SPY,2024-01-02,1
SPY,2024-01-0\0,1
SPY,2024-01-03,\u{1b}[2J5
S\u{1b}PY,2024-01-04,1
SPY,2024-01-05,{huge}
{},2024-01-08,1
",
        "T".repeat(30)
    );
    for day in 10..20 {
        text.push_str(&format!("SPY,2024-01-{day},{huge}\n"));
    }
    let path = write_file(&dir, "dirty.csv", &text);

    let report = load(t.conn(), &path, &LoadOptions::default()).await;

    let cut = format!("{}… (59920 more characters)", "x".repeat(80));
    assert_eq!(
        rejects(&report)[..5],
        [
            (3, "date '2024-01-0\\0' is not a date (YYYY-MM-DD)"),
            (4, "close '\\u{1b}[2J5' is not a number"),
            (5, "ticker 'S\\u{1b}PY' holds control characters"),
            (6, format!("close '{cut}' is not a number").as_str()),
            (
                7,
                "ticker 'TTTTTTTTTTTTTTTTTTTTTTTTTTTTTT' is longer than 20 characters"
            ),
        ]
    );
    assert_eq!(
        (report.status, report.records_loaded, report.records_failed),
        (LoadStatus::Partial, 1, 15)
    );
    let stored = load_history::get(t.conn(), report.load_id)
        .await
        .unwrap()
        .error_message
        .unwrap();
    assert!(!stored.chars().any(char::is_control), "{stored:?}");
    assert!(
        stored.chars().count() <= 4100,
        "{} characters",
        stored.chars().count()
    );
    assert!(
        stored.starts_with("15 records rejected: line 3: date '2024-01-0\\0' is not a date"),
        "{stored}"
    );
}

#[tokio::test]
async fn dates_centuries_apart_load_within_a_wider_window() {
    let t = TestDatabase::migrated().await;
    register(
        t.conn(),
        &[("SPY", "NYSE"), ("QQQ", "NASDAQ"), ("IWM", "NYSE")],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "centuries.csv",
        "Date,SPY,QQQ,IWM\n1701-03-01,1,2,3\n2299-12-31,4,5,6\n1850-06-30,7,8,9\n",
    );
    let wide = LoadOptions {
        partitions: PartitionLimits {
            window: DateWindow::new(date(1700, 1, 1), date(2300, 12, 31)).unwrap(),
            ..PartitionLimits::default()
        },
        ..LoadOptions::default()
    };

    let report = load(t.conn(), &path, &wide).await;

    assert_eq!(
        (report.status, report.records_loaded),
        (LoadStatus::Success, 9)
    );
    assert_eq!(
        strings(
            t.conn(),
            "SELECT DISTINCT tableoid::regclass::text FROM daily_price ORDER BY 1"
        )
        .await,
        [
            "daily_price_170103",
            "daily_price_185006",
            "daily_price_229912"
        ]
    );
    let again = load(t.conn(), &path, &wide).await;
    assert_eq!(again.records_unchanged, 9);
}

#[tokio::test]
async fn out_of_range_sizes_are_refused_before_anything_is_recorded() {
    let t = TestDatabase::migrated().await;
    for (options, field) in [
        (
            LoadOptions {
                batch_size: usize::MAX,
                ..LoadOptions::default()
            },
            "batch_size",
        ),
        (
            LoadOptions {
                batch_size: prices::MAX_BATCH_SIZE + 1,
                ..LoadOptions::default()
            },
            "batch_size",
        ),
        (
            LoadOptions {
                max_line_bytes: 0,
                ..LoadOptions::default()
            },
            "max_line_bytes",
        ),
        (
            LoadOptions {
                max_line_bytes: usize::MAX,
                ..LoadOptions::default()
            },
            "max_line_bytes",
        ),
        (
            LoadOptions {
                streams: 0,
                ..LoadOptions::default()
            },
            "streams",
        ),
        (
            LoadOptions {
                streams: prices::MAX_STREAMS + 1,
                ..LoadOptions::default()
            },
            "streams",
        ),
    ] {
        let err = prices::load_file(t.conn(), Path::new("unused.csv"), &options)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field: f, .. } if *f == field),
            "{err}"
        );
    }
    assert_eq!(row_count(t.conn(), "source_load_history").await, 0);
}

#[tokio::test]
async fn cli_out_of_range_numbers_exit_one_with_one_error_line() {
    let t = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "one.csv",
        "ticker,trade_date,close\nSPY,2024-01-02,1\n",
    );
    let huge = u64::MAX.to_string();
    for (args, expected) in [
        (
            vec![
                "prices",
                "load",
                path.to_str().unwrap(),
                "--batch-size",
                &huge,
            ],
            format!("error: invalid batch_size: {huge} is not between 1 and 1000000"),
        ),
        (
            vec!["loads", "list", "--limit", &huge],
            format!("error: invalid limit: {huge} is more than {}", i64::MAX),
        ),
        (
            vec!["runs", "list", "--limit", &huge],
            format!("error: invalid limit: {huge} is more than {}", i64::MAX),
        ),
        (
            vec![
                "prices",
                "load",
                path.to_str().unwrap(),
                "--latest-date",
                "1899-01-01",
            ],
            "error: invalid date window: its last date 1899-01-01 is before its first 1900-01-01"
                .to_owned(),
        ),
    ] {
        let out = foresto(&t, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end(), expected, "{args:?}");
    }
}

/// Every stored price but the load that wrote it, as text, in key order.
async fn stored_prices(db: &DatabaseConnection) -> Vec<String> {
    strings(
        db,
        "SELECT concat_ws('|', instrument_id, trade_date, open_price, high_price, low_price,
                          close_price, adj_close_price, volume)
           FROM daily_price ORDER BY instrument_id, trade_date",
    )
    .await
}

#[tokio::test]
async fn a_load_over_several_streams_stores_what_one_stream_does_and_fits_the_pool() {
    let t = TestDatabase::migrated().await;
    register(t.conn(), &[("SPY", "NYSE"), ("QQQ", "NASDAQ")]).await;
    let mut csv = String::from("ticker,trade_date,open,high,low,close,adj_close,volume\n");
    let mut day = date(2023, 1, 2);
    for n in 0..400u32 {
        for ticker in ["SPY", "QQQ"] {
            let close = 100 + n % 37;
            csv.push_str(&format!(
                "{ticker},{day},{close}.25,{}.5,{}.125,{close}.0001,{close},{}\n",
                close + 1,
                close - 1,
                1000 + n
            ));
        }
        day = day.succ_opt().unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, "eight_hundred.csv", &csv);
    let options = |streams| LoadOptions {
        batch_size: 25,
        streams,
        ..LoadOptions::default()
    };

    let single = load(t.conn(), &path, &options(1)).await;
    assert_eq!((single.streams, single.records_inserted), (1, 800));
    let expected = stored_prices(t.conn()).await;
    assert_eq!(expected.len(), 800);
    exec(t.conn(), "TRUNCATE daily_price").await;

    let parallel = load(t.conn(), &path, &options(4)).await;
    assert_eq!((parallel.streams, parallel.records_inserted), (4, 800));
    assert_eq!(stored_prices(t.conn()).await, expected);
    let again = load(t.conn(), &path, &options(4)).await;
    assert_eq!((again.records_unchanged, again.records_inserted), (800, 0));

    // A pool of two keeps one connection for the load's other statements.
    let mut settings = foresto::Settings::default();
    settings.pool.max_connections = 2;
    let small = foresto::db::connect(t.url(), &settings.pool).await.unwrap();
    exec(t.conn(), "TRUNCATE daily_price").await;
    let capped = load(&small, &path, &options(4)).await;
    assert_eq!((capped.streams, capped.records_inserted), (1, 800));
    assert_eq!(stored_prices(t.conn()).await, expected);

    // A pool of four, two of them held by other work: the load takes one session and leaves
    // the last connection free, instead of waiting for the held ones.
    settings.pool.max_connections = 4;
    settings.pool.acquire_timeout = Duration::from_secs(2);
    let busy = foresto::db::connect(t.url(), &settings.pool).await.unwrap();
    let pool = busy.get_postgres_connection_pool();
    let held = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
    exec(t.conn(), "TRUNCATE daily_price").await;
    let shared = load(&busy, &path, &options(4)).await;
    assert_eq!((shared.streams, shared.records_inserted), (1, 800));
    drop(held);
}
