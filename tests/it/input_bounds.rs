//! Input that must be refused with a typed one-line error rather than panic, name partitions no
//! one can drop, or run on unbounded: a cleanup batch size beyond PostgreSQL's `bigint`, a date
//! window reaching outside years 1 to 9999, a simulation path needing more partitions than the
//! caller's cap (or months outside the caller's window), and instrument files with a stray
//! quote, an overlong line or control characters.

use entity::enums::RebalanceFreq;
use foresto::instruments;
use foresto::partitions::{self, DateWindow, NotMoved, Parent, PartitionLimits};
use foresto::simulation::cleanup::{CleanupOptions, cleanup_expired};
use foresto::simulation::request::InstrumentWeight;
use foresto::simulation::{self, SimulationRequest, Subject};
use foresto::{Error, IngestError, PartitionError, Settings};
use rust_decimal::Decimal;

use crate::support::{
    TestDatabase, count, date, exec, foresto_fails, foresto_ok, invalid_input, migrated_with,
    partitions_of, row_count, stored_runs, write_file,
};

// --- cleanup batch size -----------------------------------------------------------------------

/// One run that expired a day ago, with its summary and a path point.
const EXPIRED_RUN: &str = "
INSERT INTO simulation_run (request_hash, start_date, end_date, initial_amount, engine_version,
                            run_status, expires_at)
VALUES (repeat('e', 64), '2021-01-04', '2021-03-31', 100, '1.0.0', 'COMPLETED', now() - interval '1 day');
INSERT INTO simulation_summary (run_id, max_drawdown, total_return) VALUES (1, 0, 10);
INSERT INTO simulation_path (run_id, path_date, nav) VALUES (1, '2021-01-04', 100);
";

#[tokio::test]
async fn a_cleanup_batch_size_beyond_bigint_is_refused_not_a_panic() {
    let t = migrated_with(EXPIRED_RUN).await;
    for batch_size in [i64::MAX as u64 + 1, u64::MAX] {
        for dry_run in [false, true] {
            let options = CleanupOptions {
                batch_size,
                dry_run,
                ..CleanupOptions::default()
            };
            let err = cleanup_expired(t.conn(), &options).await.unwrap_err();
            assert_eq!(
                invalid_input(&err, "batch size"),
                format!("invalid batch size: {batch_size} is more than {}", i64::MAX)
            );
        }
    }
    assert_eq!(stored_runs(t.conn()).await, (1, 1, 1));

    let line = foresto_fails(
        &t,
        &["runs", "cleanup", "--batch-size", "9223372036854775808"],
    );
    assert_eq!(
        line,
        "error: invalid batch size: 9223372036854775808 is more than 9223372036854775807\n"
    );
    assert_eq!(stored_runs(t.conn()).await, (1, 1, 1));

    // The largest batch PostgreSQL takes still works.
    let done = foresto_ok(
        &t,
        &["runs", "cleanup", "--batch-size", "9223372036854775807"],
    );
    assert!(
        done.contains("deleted 1 expired runs in 1 batches"),
        "{done}"
    );
    assert_eq!(stored_runs(t.conn()).await, (0, 0, 0));
}

// --- the date window ---------------------------------------------------------------------------

#[tokio::test]
async fn a_date_window_outside_years_1_to_9999_is_refused() {
    for (first, last) in [
        (date(0, 1, 1), date(2000, 1, 1)),
        (date(-1, 12, 31), date(0, 1, 1)),
        (date(2000, 1, 1), date(10_000, 1, 1)),
    ] {
        let err = DateWindow::new(first, last).unwrap_err();
        let message = invalid_input(&err, "date window");
        assert!(
            message.contains("PostgreSQL partitions cannot hold"),
            "{message}"
        );
    }
    let widest = DateWindow::new(DateWindow::EARLIEST, DateWindow::LATEST).unwrap();
    assert_eq!(
        (widest.first(), widest.last()),
        (date(1, 1, 1), date(9999, 12, 31))
    );

    let err = Settings::from_lookup(|name| {
        (name == "FORESTO_EARLIEST_DATE").then(|| "0000-01-01".to_owned())
    })
    .unwrap_err();
    invalid_input(&err, "date window");
}

#[tokio::test]
async fn cli_refuses_an_earliest_date_before_year_1_and_loads_nothing() {
    let t = migrated_with(
        "INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
         VALUES ('ETF', 'SPY', 'NYSE', 'USD');",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "prices.csv",
        "ticker,trade_date,close\nSPY,0000-01-06,11\nSPY,2024-01-03,12\n",
    );
    let file = file.to_str().unwrap();
    let before = partitions_of(t.conn(), "daily_price").await;

    for args in [
        &["prices", "load", file, "--earliest-date", "0000-01-01"][..],
        &["returns", "compute", "--earliest-date", "0000-01-01"],
        &[
            "simulate",
            "--weights",
            "SPY=1",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-31",
            "--amount",
            "1000",
            "--earliest-date",
            "0000-01-01",
        ],
    ] {
        let line = foresto_fails(&t, args);
        assert!(
            line.starts_with(
                "error: invalid date window: its first date 0000-01-01 is before 0001-01-01"
            ),
            "{args:?}: {line}"
        );
    }
    assert_eq!(row_count(t.conn(), "source_load_history").await, 0);
    assert_eq!(row_count(t.conn(), "daily_price").await, 0);
    assert_eq!(partitions_of(t.conn(), "daily_price").await, before);
}

#[tokio::test]
async fn a_stored_year_0_row_gets_no_partition_retention_could_not_drop() {
    let t = migrated_with(
        "INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
         VALUES ('ETF', 'SPY', 'NYSE', 'USD');
         INSERT INTO daily_price (instrument_id, trade_date, close_price)
         VALUES (1, '0001-01-06 BC', 11);",
    )
    .await;
    let err = partitions::ensure_range(t.conn(), Parent::DailyPrice, date(0, 1, 6), date(0, 1, 6))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Partition(PartitionError::OutsideWindow { month, .. }) if month == date(0, 1, 1)
        ),
        "{err}"
    );

    let report = partitions::move_default_rows_report(t.conn())
        .await
        .unwrap();
    assert!(report.moved.is_empty(), "{:?}", report.moved);
    assert_eq!(report.left.len(), 1);
    assert!(
        matches!(&report.left[0].reason, NotMoved::Refused { error } if error.contains("outside the date window 0001-01-01 to 9999-12-31")),
        "{:?}",
        report.left[0].reason
    );
    assert_eq!(row_count(t.conn(), "daily_price_default").await, 1);
    assert!(
        !partitions_of(t.conn(), "daily_price")
            .await
            .contains(&"daily_price_000001".to_owned())
    );
}

// --- the partitions of a simulation path -------------------------------------------------------

/// Instrument AAA with one daily return on the 3rd of every month from `first` through `last`
/// (first days of months), its `daily_return` partitions made within a window from 1800.
async fn monthly_returns(first: chrono::NaiveDate, last: chrono::NaiveDate) -> TestDatabase {
    let t = migrated_with(
        "INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
         VALUES ('ETF', 'AAA', 'NYSE', 'USD');",
    )
    .await;
    let limits = PartitionLimits {
        window: DateWindow::new(date(1800, 1, 1), date(2100, 12, 31)).unwrap(),
        max_new: 600,
    };
    partitions::ensure_range_within(t.conn(), Parent::DailyReturn, first, last, &limits)
        .await
        .unwrap();
    exec(
        t.conn(),
        &format!(
            "INSERT INTO daily_return (instrument_id, trade_date, daily_return, data_quality)
             SELECT 1, m::date + 2, 0.01, 'OK'
               FROM generate_series(DATE '{first}', DATE '{last}', INTERVAL '1 month') m;"
        ),
    )
    .await;
    t
}

/// All in AAA from `start` through `end`, 1000 invested, never rebalanced.
fn all_in_aaa(start: chrono::NaiveDate, end: chrono::NaiveDate, amount: i64) -> SimulationRequest {
    SimulationRequest {
        subject: Subject::Portfolio {
            weights: vec![InstrumentWeight {
                instrument: "AAA".into(),
                weight: Decimal::ONE,
            }],
        },
        start_date: start,
        end_date: end,
        initial_amount: Decimal::new(amount, 0),
        rebalance_freq: Some(RebalanceFreq::None),
        risk_free_rate: Decimal::ZERO,
        max_loss_limit_pct: None,
        engine_version: foresto::settings::DEFAULT_ENGINE_VERSION.to_owned(),
        user_id: None,
    }
}

fn settings_with(window: DateWindow, max_new: u32) -> Settings {
    let mut settings = Settings::default();
    settings.partitions = PartitionLimits { window, max_new };
    settings
}

#[tokio::test]
async fn a_path_needing_more_partitions_than_the_callers_cap_stores_nothing() {
    let t = monthly_returns(date(2005, 1, 1), date(2006, 12, 1)).await;
    let before = partitions_of(t.conn(), "simulation_path").await;
    let request = all_in_aaa(date(2005, 1, 1), date(2006, 12, 31), 1000);
    let window = DateWindow::default();

    let err = simulation::simulate(t.conn(), &request, &settings_with(window, 10))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Partition(PartitionError::TooManyPartitions {
                parent: Parent::SimulationPath,
                count: 24,
                cap: 10,
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "refusing to create 24 partitions of simulation_path (2005-01 through 2006-12): one \
         operation may create at most 10"
    );
    assert_eq!(stored_runs(t.conn()).await, (0, 0, 0));
    assert_eq!(partitions_of(t.conn(), "simulation_path").await, before);

    let outcome = simulation::simulate(t.conn(), &request, &settings_with(window, 24))
        .await
        .unwrap();
    assert!(!outcome.cache_hit);
    assert_eq!(outcome.stored.path.len(), 24);
    assert_eq!(stored_runs(t.conn()).await, (1, 1, 24));
    let after = partitions_of(t.conn(), "simulation_path").await;
    assert_eq!(after.len(), before.len() + 24);
    assert!(after.contains(&"simulation_path_200501".to_owned()));
    assert!(after.contains(&"simulation_path_200612".to_owned()));
}

#[tokio::test]
async fn a_path_of_returns_loaded_under_a_wider_window_is_stored_within_the_callers_window() {
    let t = monthly_returns(date(1850, 1, 1), date(1850, 12, 1)).await;
    let request = all_in_aaa(date(1850, 1, 1), date(1850, 12, 31), 1000);

    // The default window (from 1900) cannot make partitions for 1850: refused, nothing stored.
    let err = simulation::simulate(t.conn(), &request, &Settings::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Partition(PartitionError::OutsideWindow {
                parent: Parent::SimulationPath,
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(stored_runs(t.conn()).await, (0, 0, 0));

    // The window the returns were loaded under.
    let wide = settings_with(
        DateWindow::new(date(1800, 1, 1), date(2100, 12, 31)).unwrap(),
        600,
    );
    let outcome = simulation::simulate(t.conn(), &request, &wide)
        .await
        .unwrap();
    assert_eq!(outcome.stored.path.len(), 12);
    assert_eq!(stored_runs(t.conn()).await, (1, 1, 12));

    // Once the months have partitions, another run over them needs no wider window: the window
    // bounds what is created, not what is written.
    let other = all_in_aaa(date(1850, 1, 1), date(1850, 12, 31), 2000);
    simulation::simulate(t.conn(), &other, &Settings::default())
        .await
        .unwrap();
    assert_eq!(stored_runs(t.conn()).await, (2, 2, 24));
}

#[tokio::test]
async fn cli_simulate_takes_the_partition_limits() {
    let t = monthly_returns(date(2005, 1, 1), date(2006, 12, 1)).await;
    let args = |max_new: &'static str| {
        [
            "simulate",
            "--weights",
            "AAA=1",
            "--start",
            "2005-01-01",
            "--end",
            "2006-12-31",
            "--amount",
            "1000",
            "--max-new-partitions",
            max_new,
        ]
    };
    let line = foresto_fails(&t, &args("10"));
    assert_eq!(
        line,
        "error: refusing to create 24 partitions of simulation_path (2005-01 through 2006-12): \
         one operation may create at most 10\n"
    );
    assert_eq!(stored_runs(t.conn()).await, (0, 0, 0));

    let out = foresto_ok(&t, &args("24"));
    assert!(out.contains("computed"), "{out}");
    assert_eq!(stored_runs(t.conn()).await, (1, 1, 24));
}

// --- instrument files -------------------------------------------------------------------------

/// The line and reason of the typed error importing `text` (as file `name`) fails with.
async fn import_error(t: &TestDatabase, name: &str, text: &str) -> (u64, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, name, text);
    let err = instruments::import_csv(t.conn(), &path).await.unwrap_err();
    let Error::Ingest(IngestError::InvalidRow { line, reason, .. }) = &err else {
        panic!("{name}: {err:?}");
    };
    assert!(!err.to_string().contains('\n'), "{name}: {err}");
    (*line, reason.clone())
}

/// The header of the instrument files below, its line ending in `eol`.
fn header(eol: &str) -> String {
    format!("instrument_type,ticker,exchange,name_en{eol}")
}

/// `n` instrument rows, ETF <prefix><i> on NYSE named "Fund <i>, Inc." (quoted), lines ending
/// in `eol`.
fn rows(prefix: &str, n: usize, eol: &str) -> String {
    (0..n)
        .map(|i| format!("ETF,{prefix}{i},NYSE,\"Fund {i}, Inc.\"{eol}"))
        .collect()
}

#[tokio::test]
async fn a_stray_quote_spoils_only_its_own_line() {
    let t = TestDatabase::migrated().await;
    for eol in ["\n", "\r\n"] {
        // The quote on line 4 opens a field that never closes; the 1,000 lines after it are
        // records of their own, not the rest of that field.
        let text = format!(
            "{}{}ETF,QQQ,\"NASDAQ,Invesco QQQ{eol}{}",
            header(eol),
            rows("T", 2, eol),
            rows("U", 1000, eol)
        );
        let (line, reason) = import_error(&t, "stray.csv", &text).await;
        assert_eq!((line, reason.as_str()), (4, "a quoted field is not closed"));

        let text = format!(
            "{}{}ETF,\"QQQ\"X,NASDAQ,Invesco{eol}",
            header(eol),
            rows("T", 2, eol)
        );
        let (line, reason) = import_error(&t, "after.csv", &text).await;
        assert_eq!(
            (line, reason.as_str()),
            (4, "text follows the closing quote of a field")
        );
    }
    // All or nothing: the good lines are not imported either; fixed, the file imports whole.
    assert_eq!(row_count(t.conn(), "instrument_master").await, 0);
    let dir = tempfile::tempdir().unwrap();
    let fixed = write_file(
        &dir,
        "fixed.csv",
        &format!("{}{}", header("\r\n"), rows("T", 1003, "\r\n")),
    );
    let report = instruments::import_csv(t.conn(), &fixed).await.unwrap();
    assert_eq!(report.inserted, 1003);
    assert_eq!(
        count(
            t.conn(),
            "SELECT count(*) FROM instrument_master WHERE name_en = 'Fund 1002, Inc.'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn an_overlong_line_is_refused_with_its_number_unread() {
    let t = TestDatabase::migrated().await;
    let long = format!("ETF,LONG,NYSE,{}\n", "x".repeat(100_000));
    let text = format!(
        "{}{}{long}{}",
        header("\n"),
        rows("T", 2, "\n"),
        rows("U", 3, "\n")
    );
    let (line, reason) = import_error(&t, "long.csv", &text).await;
    assert_eq!(
        (line, reason),
        (
            4,
            format!(
                "the line has {} bytes, more than the limit of {}",
                long.len() - 1,
                instruments::MAX_LINE_BYTES
            )
        )
    );

    let header = format!("instrument_type,ticker,exchange,{}\n", "n".repeat(70_000));
    let (line, reason) = import_error(&t, "header.csv", &header).await;
    assert_eq!(line, 1);
    assert!(reason.starts_with("the line has 70"), "{reason}");
    assert_eq!(row_count(t.conn(), "instrument_master").await, 0);
}

#[tokio::test]
async fn control_characters_are_escaped_in_messages_and_refused_in_values() {
    let t = TestDatabase::migrated().await;
    let header = header("\n");
    let cases = [
        (
            "\u{1b}[2J\u{1b}[31mETF,SPY,NYSE,x\n",
            r"unknown instrument_type '\u{1b}[2J\u{1b}[31mETF'",
        ),
        (
            "ETF,SPY,NYSE,Evil\u{1b}]0;owned\u{7}\n",
            r"name_en 'Evil\u{1b}]0;owned\u{7}' holds a control character",
        ),
        (
            "ETF,S\0PY,NYSE,x\n",
            r"ticker 'S\0PY' holds a control character",
        ),
        (
            "ETF,SPY,NY\u{202e}SE,x\n",
            r"exchange 'NY\u{202e}SE' holds a control character",
        ),
    ];
    for (row, expected) in cases {
        let (line, reason) = import_error(&t, "evil.csv", &format!("{header}{row}")).await;
        assert_eq!((line, reason.as_str()), (2, expected));
    }
    let (line, reason) = import_error(
        &t,
        "column.csv",
        "instrument_type,ticker,exchange,\u{1b}[8m\n",
    )
    .await;
    assert_eq!((line, reason.as_str()), (1, r"unknown column '\u{1b}[8m'"));
    assert_eq!(row_count(t.conn(), "instrument_master").await, 0);

    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        "evil.csv",
        &format!("{header}\u{1b}[2JETF,SPY,NYSE,x\n"),
    );
    let line = foresto_fails(&t, &["instruments", "import", path.to_str().unwrap()]);
    assert!(!line.contains('\u{1b}'), "{line:?}");
    assert!(
        line.ends_with("line 2: unknown instrument_type '\\u{1b}[2JETF'\n"),
        "{line:?}"
    );
}
