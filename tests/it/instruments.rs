//! The instrument master: upsert by (type, ticker, exchange), CSV import (all or nothing),
//! look-up by ticker (ambiguous without an exchange), and the idempotent seed; and the
//! `instruments` CLI.

use entity::enums::LoadStatus;
use foresto::Error;
use foresto::instruments::{self, NewInstrument, Upserted};
use foresto::load_history;
use foresto::{IngestError, InstrumentError};

use crate::support::{TestDatabase, etf, foresto, row_count, strings, write_file};

#[tokio::test]
async fn upsert_inserts_then_writes_only_what_changes() {
    let t = TestDatabase::migrated().await;
    let first = NewInstrument {
        name_en: Some("SPDR S&P 500".into()),
        currency: Some("USD".into()),
        sector: Some("Equity".into()),
        ..etf("SPY", "NYSE")
    };
    let (inserted, what) = instruments::upsert(t.conn(), &first).await.unwrap();
    assert_eq!(what, Upserted::Inserted);
    assert_eq!(
        (inserted.currency.as_str(), inserted.is_active),
        ("USD", Some(true))
    );

    let (same, what) = instruments::upsert(t.conn(), &first).await.unwrap();
    assert_eq!(what, Upserted::Unchanged);
    assert_eq!(
        same.updated_at, inserted.updated_at,
        "an unchanged upsert wrote the row"
    );

    let renamed = NewInstrument {
        name_en: Some("SPDR S&P 500 ETF Trust".into()),
        ..etf("SPY", "NYSE")
    };
    let (updated, what) = instruments::upsert(t.conn(), &renamed).await.unwrap();
    assert_eq!(what, Upserted::Updated);
    assert_eq!(updated.instrument_id, inserted.instrument_id);
    assert_eq!(updated.name_en.as_deref(), Some("SPDR S&P 500 ETF Trust"));
    assert_eq!(
        (updated.currency.as_str(), updated.sector.as_deref()),
        ("USD", Some("Equity")),
        "fields not given keep their stored values"
    );
    assert!(updated.updated_at > inserted.updated_at);

    let (other, what) = instruments::upsert(t.conn(), &etf("SPY", "KRX"))
        .await
        .unwrap();
    assert_eq!(what, Upserted::Inserted);
    assert_eq!(other.currency, "KRW", "the schema's default currency");

    let err = instruments::upsert(t.conn(), &etf("", "NYSE"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
}

#[tokio::test]
async fn find_by_ticker_needs_an_exchange_when_the_ticker_is_listed_on_several() {
    let t = TestDatabase::migrated().await;
    let nyse = instruments::upsert(t.conn(), &etf("SPY", "NYSE"))
        .await
        .unwrap()
        .0;
    let krx = instruments::upsert(t.conn(), &etf("SPY", "KRX"))
        .await
        .unwrap()
        .0;
    instruments::upsert(t.conn(), &etf("QQQ", "NASDAQ"))
        .await
        .unwrap();

    let err = instruments::find_by_ticker(t.conn(), "SPY", None)
        .await
        .unwrap_err();
    let Error::Instrument(InstrumentError::AmbiguousTicker { ticker, candidates }) = &err else {
        panic!("{err}");
    };
    assert_eq!(ticker, "SPY");
    let ids: Vec<i64> = candidates.iter().map(|k| k.instrument_id).collect();
    assert_eq!(ids, [nyse.instrument_id, krx.instrument_id]);
    assert_eq!(
        foresto::error::Candidates(candidates).to_string(),
        format!(
            "ETF SPY on NYSE (id {}), ETF SPY on KRX (id {})",
            nyse.instrument_id, krx.instrument_id
        )
    );
    let found = instruments::find_by_ticker(t.conn(), "SPY", Some("KRX"))
        .await
        .unwrap();
    assert_eq!(found.instrument_id, krx.instrument_id);
    let qqq = instruments::find_by_ticker(t.conn(), "QQQ", None)
        .await
        .unwrap();
    assert_eq!(qqq.exchange, "NASDAQ");

    let err = instruments::find_by_ticker(t.conn(), "SPY", Some("LSE"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Instrument(InstrumentError::UnknownInstrument { instrument }) if instrument == "SPY on LSE"),
        "{err}"
    );
    let err = instruments::find_by_ticker(t.conn(), "VOO", None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Instrument(InstrumentError::UnknownInstrument { .. })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_csv_import_upserts_every_row_and_records_a_load() {
    let t = TestDatabase::migrated().await;
    instruments::upsert(
        t.conn(),
        &NewInstrument {
            sector: Some("Broad".into()),
            ..etf("SPY", "NYSE")
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "universe.csv",
        "Ticker,exchange,instrument_type,currency,name_ko,is_active
SPY,NYSE,etf,USD,,true
069500,KRX,ETF,KRW,KODEX 200,
KOSPI,KRX,INDEX,KRW,코스피,false
",
    );

    let report = instruments::import_csv(t.conn(), &path).await.unwrap();

    assert_eq!(
        (report.inserted, report.updated, report.unchanged),
        (2, 1, 0)
    );
    assert_eq!(
        strings(
            t.conn(),
            "SELECT concat_ws(' ', instrument_type, ticker, exchange, currency, coalesce(name_ko, '-'),
                              coalesce(sector, '-'), is_active)
               FROM instrument_master ORDER BY instrument_id"
        )
        .await,
        [
            "ETF SPY NYSE USD - Broad t",
            "ETF 069500 KRX KRW KODEX 200 - t",
            "INDEX KOSPI KRX KRW 코스피 - f",
        ]
    );
    let load = load_history::get(t.conn(), report.load_id).await.unwrap();
    assert_eq!(
        (
            load.load_status,
            load.source_type.as_str(),
            load.source_name.as_str(),
            load.records_loaded
        ),
        (LoadStatus::Success, "manual", "universe.csv", Some(3))
    );
}

#[tokio::test]
async fn a_csv_import_is_all_or_nothing_and_names_the_bad_line() {
    let t = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "type.csv",
            "instrument_type,ticker,exchange\nETF,SPY,NYSE\nFUND,XYZ,NYSE\n",
            3,
            "unknown instrument_type 'FUND'",
        ),
        (
            "twice.csv",
            "instrument_type,ticker,exchange\nETF,SPY,NYSE\nETF,SPY,NYSE\n",
            3,
            "ETF SPY on NYSE is already on line 2",
        ),
        (
            "column.csv",
            "instrument_type,ticker,exchange,isin\n",
            1,
            "unknown column 'isin'",
        ),
        (
            "missing.csv",
            "ticker,exchange\nSPY,NYSE\n",
            1,
            "missing required column 'instrument_type'",
        ),
        (
            "currency.csv",
            "instrument_type,ticker,exchange,currency\nETF,SPY,NYSE,dollar\n",
            2,
            "currency 'dollar' is not three upper-case letters",
        ),
        (
            "active.csv",
            "instrument_type,ticker,exchange,is_active\nETF,SPY,NYSE,maybe\n",
            2,
            "is_active 'maybe' is not true or false",
        ),
        (
            "fields.csv",
            "instrument_type,ticker,exchange\nETF,SPY\n",
            2,
            "expected 3 fields, found 2",
        ),
    ];
    for (name, text, expected_line, expected) in cases {
        let path = write_file(&dir, name, text);
        let err = instruments::import_csv(t.conn(), &path).await.unwrap_err();
        let Error::Ingest(IngestError::InvalidRow { line, reason, .. }) = &err else {
            panic!("{name}: {err}");
        };
        assert_eq!(
            (*line, reason.as_str()),
            (expected_line, expected),
            "{name}"
        );
    }
    assert_eq!(row_count(t.conn(), "instrument_master").await, 0);

    let err = instruments::import_csv(t.conn(), &dir.path().join("none.csv"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[tokio::test]
async fn seeding_twice_creates_the_original_universe_once() {
    let t = TestDatabase::migrated().await;
    let first = instruments::seed(t.conn()).await.unwrap();
    assert_eq!((first.inserted, first.updated, first.unchanged), (25, 0, 0));
    let second = instruments::seed(t.conn()).await.unwrap();
    assert_eq!(
        (second.inserted, second.updated, second.unchanged),
        (0, 0, 25)
    );

    assert_eq!(
        strings(
            t.conn(),
            "SELECT concat_ws(' ', instrument_type, exchange, currency, count(*))
               FROM instrument_master GROUP BY instrument_type, exchange, currency ORDER BY 1"
        )
        .await,
        [
            "ETF KRX KRW 10",
            "ETF NASDAQ USD 2",
            "ETF NYSE USD 6",
            "FX INTERNAL KRW 3",
            "INDEX INTERNAL USD 2",
            "INDEX KRX KRW 2",
        ]
    );
    let kodex = instruments::find_by_ticker(t.conn(), "069500", None)
        .await
        .unwrap();
    assert_eq!(kodex.name_ko.as_deref(), Some("KODEX 200"));
    let gold = instruments::find_by_ticker(t.conn(), "132030", None)
        .await
        .unwrap();
    assert_eq!(gold.name_ko.as_deref(), Some("KODEX 골드선물(H)"));
    let seeds = load_history::list(
        t.conn(),
        &load_history::LoadFilter {
            source_type: Some("seed".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(seeds.len(), 2);
    assert!(seeds.iter().all(|l| l.load_status == LoadStatus::Success));
}

#[tokio::test]
async fn cli_seeds_imports_and_finds_instruments() {
    let t = TestDatabase::migrated().await;
    let seeded = foresto(&t, &["instruments", "seed"]);
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    assert!(
        String::from_utf8_lossy(&seeded.stdout).contains("25 inserted, 0 updated, 0 unchanged")
    );

    let dir = tempfile::tempdir().unwrap();
    let good = write_file(
        &dir,
        "more.csv",
        "instrument_type,ticker,exchange,currency\nETF,SHY,NASDAQ,USD\n",
    );
    let imported = foresto(
        &t,
        &["instruments", "import", good.to_str().unwrap(), "--json"],
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!(report["inserted"], 1);

    let bad = write_file(
        &dir,
        "bad.csv",
        "instrument_type,ticker,exchange\nETF,,NYSE\n",
    );
    let refused = foresto(&t, &["instruments", "import", bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("line 2: ticker is empty"),
        "{stderr}"
    );

    let found = foresto(&t, &["instruments", "find", "SHY", "--json"]);
    let shy: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap();
    assert_eq!(
        (shy["exchange"].as_str(), shy["currency"].as_str()),
        (Some("NASDAQ"), Some("USD"))
    );
}
