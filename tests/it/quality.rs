//! `foresto quality` and `foresto::quality::report`: gaps, staleness, forward fills, flagged
//! returns and impossible prices, each on an instrument built to show exactly that.

use chrono::NaiveDate;
use foresto::quality::{Flag, InstrumentQuality, QualityOptions, QualityReport, Span, report};
use foresto::returns::{ReturnsScope, compute_returns};
use foresto::{Error, InstrumentError};
use rust_decimal::Decimal;

use crate::support::{TestDatabase, date, exec, foresto_fails, foresto_ok, migrated_with};

/// January 2024, whose weekdays are the 1st–5th, 8th–12th, 15th–19th, 22nd–26th and 29th–31st
/// (23 of them). Each instrument has one kind of problem; prices are `100 + day` unless said.
const JANUARY: &str = r#"
INSERT INTO instrument_master (instrument_type, ticker, exchange) VALUES
    ('ETF', 'CLEAN', 'NYSE'), ('ETF', 'GAPS', 'NYSE'), ('ETF', 'STALE', 'NYSE'),
    ('ETF', 'FLAT', 'NYSE'), ('ETF', 'RET', 'NYSE'), ('ETF', 'BAD', 'NYSE'),
    ('ETF', 'EMPTY', 'NYSE');
INSERT INTO daily_price
       (instrument_id, trade_date, open_price, high_price, low_price, close_price, adj_close_price)
SELECT i, d, 100 + extract(day FROM d), 101 + extract(day FROM d), 99 + extract(day FROM d),
       100 + extract(day FROM d), 100 + extract(day FROM d)
  FROM generate_series(DATE '2024-01-01', DATE '2024-01-31', INTERVAL '1 day') AS d,
       generate_series(1, 6) AS i
 WHERE extract(isodow FROM d) < 6
   -- GAPS misses a Wednesday, a Thursday and Friday, and the Friday and Monday around a weekend.
   AND NOT (i = 2 AND d::date IN ('2024-01-10', '2024-01-18', '2024-01-19', '2024-01-26', '2024-01-29'))
   -- STALE stops on Wednesday the 24th: five business days before the 31st have no price.
   AND NOT (i = 3 AND d > '2024-01-24');
-- A weekend row is neither required nor a gap.
INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES (2, '2024-01-13', 55);
-- FLAT repeats one value on its first 6 rows (1st–8th) and its last 3 (29th–31st); on the 22nd
-- and 23rd only the close repeats, the adjusted close does not.
UPDATE daily_price SET close_price = 50, adj_close_price = 50, open_price = 50, high_price = 51, low_price = 49
 WHERE instrument_id = 4 AND trade_date <= '2024-01-08';
UPDATE daily_price SET close_price = 70, adj_close_price = 70, open_price = 70, high_price = 71, low_price = 69
 WHERE instrument_id = 4 AND trade_date >= '2024-01-29';
UPDATE daily_price SET close_price = 60, adj_close_price = 60 + extract(day FROM trade_date),
       open_price = 60, high_price = 61, low_price = 59
 WHERE instrument_id = 4 AND trade_date IN ('2024-01-22', '2024-01-23');
-- RET's stored returns: 1 % a day, except two MISSING (one with a placeholder that is not 0),
-- two IMPUTED (one of them a jump), two jumps, and a return of exactly the threshold.
INSERT INTO daily_return (instrument_id, trade_date, daily_return, data_quality)
SELECT 5, trade_date,
       CASE trade_date WHEN '2024-01-09' THEN 0 WHEN '2024-01-16' THEN 0.5
                       WHEN '2024-01-17' THEN 0.02 WHEN '2024-01-25' THEN -0.40
                       WHEN '2024-01-22' THEN 0.30 WHEN '2024-01-23' THEN -0.26
                       WHEN '2024-01-24' THEN 0.25 ELSE 0.01 END,
       CASE WHEN trade_date IN ('2024-01-09', '2024-01-16') THEN 'MISSING'
            WHEN trade_date IN ('2024-01-17', '2024-01-25') THEN 'IMPUTED' ELSE 'OK' END
  FROM daily_price WHERE instrument_id = 5 AND trade_date > '2024-01-01';
-- BAD's rows written by hand past the loader: a zero close, a negative low, a high below its
-- low, a close above its high and one below its low.
UPDATE daily_price SET close_price = 0, adj_close_price = 0, open_price = NULL, high_price = NULL, low_price = NULL
 WHERE instrument_id = 6 AND trade_date = '2024-01-03';
UPDATE daily_price SET low_price = -1 WHERE instrument_id = 6 AND trade_date = '2024-01-04';
UPDATE daily_price SET high_price = 9, low_price = 10, close_price = 9.5, adj_close_price = 9.5
 WHERE instrument_id = 6 AND trade_date = '2024-01-05';
UPDATE daily_price SET high_price = 107, low_price = 105 WHERE instrument_id = 6 AND trade_date = '2024-01-08';
UPDATE daily_price SET high_price = 112, low_price = 110 WHERE instrument_id = 6 AND trade_date = '2024-01-09';
"#;

/// The January instruments, with CLEAN's returns computed the ordinary way.
async fn january() -> TestDatabase {
    let t = migrated_with(JANUARY).await;
    let clean = ReturnsScope {
        instruments: Some(vec![1]),
        ..ReturnsScope::default()
    };
    compute_returns(t.conn(), &clean, &foresto::Settings::default())
        .await
        .unwrap();
    t
}

fn jan(day: u32) -> NaiveDate {
    date(2024, 1, day)
}

fn span(first: u32, last: u32, days: i64) -> Span {
    Span {
        first: jan(first),
        last: jan(last),
        days,
    }
}

fn days(days: &[u32]) -> Vec<NaiveDate> {
    days.iter().map(|d| jan(*d)).collect()
}

fn of<'a>(r: &'a QualityReport, ticker: &str) -> &'a InstrumentQuality {
    r.instruments.iter().find(|i| i.ticker == ticker).unwrap()
}

async fn run(t: &TestDatabase, options: QualityOptions) -> QualityReport {
    report(t.conn(), &options).await.unwrap()
}

#[tokio::test]
async fn every_finding_is_counted_exactly_and_a_clean_instrument_has_none() {
    let t = january().await;
    let r = run(&t, QualityOptions::default()).await;
    assert_eq!(r.as_of, Some(jan(31)), "the latest price");
    let tickers: Vec<&str> = r.instruments.iter().map(|i| i.ticker.as_str()).collect();
    assert_eq!(
        tickers,
        ["BAD", "CLEAN", "EMPTY", "FLAT", "GAPS", "RET", "STALE"]
    );

    let clean = of(&r, "CLEAN");
    assert!(clean.flags.is_empty(), "{clean:?}");
    assert_eq!(
        (clean.first_price, clean.last_price, clean.price_rows),
        (Some(jan(1)), Some(jan(31)), 23)
    );
    assert_eq!(clean.business_days_since_last, Some(0));
    for count in [
        clean.missing_business_days,
        clean.gaps.count,
        clean.fill_runs.count,
        clean.missing_returns.count,
        clean.imputed_returns.count,
        clean.jumps.count,
        clean.non_positive_prices.count,
        clean.high_below_low.count,
        clean.close_outside_range.count,
    ] {
        assert_eq!(count, 0, "{clean:?}");
    }

    let gaps = of(&r, "GAPS");
    assert_eq!(gaps.flags, [Flag::Gaps]);
    assert_eq!(gaps.price_rows, 19);
    assert_eq!(gaps.missing_business_days, 5);
    assert_eq!(gaps.gaps.count, 3);
    assert_eq!(
        gaps.gaps.examples,
        [span(10, 10, 1), span(18, 19, 2), span(26, 29, 2)]
    );

    let stale = of(&r, "STALE");
    assert_eq!(stale.flags, [Flag::Stale]);
    assert_eq!(stale.last_price, Some(jan(24)));
    assert_eq!(stale.business_days_since_last, Some(5));

    let flat = of(&r, "FLAT");
    assert_eq!(flat.flags, [Flag::FillRuns]);
    assert_eq!(flat.fill_runs.count, 1, "the 3-row run is below 5");
    assert_eq!(flat.fill_runs.examples, [span(1, 8, 6)]);

    let ret = of(&r, "RET");
    assert_eq!(
        ret.flags,
        [Flag::MissingReturns, Flag::ImputedReturns, Flag::Jumps]
    );
    assert_eq!(ret.missing_returns.count, 2);
    assert_eq!(ret.missing_returns.examples, days(&[9, 16]));
    assert_eq!(ret.imputed_returns.count, 2);
    assert_eq!(ret.imputed_returns.examples, days(&[17, 25]));
    // Not the MISSING placeholder of 0.5, not the return of exactly 0.25.
    assert_eq!(ret.jumps.count, 3);
    assert_eq!(ret.jumps.examples, days(&[22, 23, 25]));

    let bad = of(&r, "BAD");
    assert_eq!(
        bad.flags,
        [
            Flag::NonPositivePrices,
            Flag::HighBelowLow,
            Flag::CloseOutsideRange
        ]
    );
    assert_eq!(bad.non_positive_prices.count, 2);
    assert_eq!(bad.non_positive_prices.examples, days(&[3, 4]));
    assert_eq!(bad.high_below_low.count, 1);
    assert_eq!(bad.high_below_low.examples, days(&[5]));
    // The inverted range of the 5th is counted once, as high below low.
    assert_eq!(bad.close_outside_range.count, 2);
    assert_eq!(bad.close_outside_range.examples, days(&[8, 9]));

    let empty = of(&r, "EMPTY");
    assert_eq!(empty.flags, [Flag::Stale]);
    assert_eq!((empty.price_rows, empty.first_price), (0, None));
    assert_eq!(empty.business_days_since_last, None);

    let s = &r.summary;
    assert_eq!((s.instruments, s.clean, s.flagged), (7, 1, 6));
    assert_eq!(s.by_flag[&Flag::Stale], 2);
    assert_eq!(s.by_flag.len(), Flag::ALL.len());
    assert!(s.by_flag.iter().all(|(f, n)| *n == 1 || *f == Flag::Stale));
}

#[tokio::test]
async fn thresholds_move_the_flags() {
    let t = january().await;
    let r = run(
        &t,
        QualityOptions {
            stale_days: 6,
            min_fill_run: 3,
            jump: Decimal::new(20, 2),
            ..QualityOptions::default()
        },
    )
    .await;
    let stale = of(&r, "STALE");
    assert!(!stale.stale && stale.flags.is_empty(), "{stale:?}");
    let flat = of(&r, "FLAT");
    assert_eq!(flat.fill_runs.count, 2);
    assert_eq!(flat.fill_runs.examples, [span(1, 8, 6), span(29, 31, 3)]);
    assert_eq!(of(&r, "RET").jumps.examples, days(&[22, 23, 24, 25]));
    assert_eq!(r.jump.to_string(), "0.20");
}

#[tokio::test]
async fn the_window_bounds_every_finding_and_the_instrument_filter_the_rows() {
    let t = january().await;
    let r = run(
        &t,
        QualityOptions {
            from: Some(jan(15)),
            as_of: Some(jan(24)),
            ..QualityOptions::default()
        },
    )
    .await;
    assert_eq!((r.from, r.as_of), (Some(jan(15)), Some(jan(24))));
    let gaps = of(&r, "GAPS");
    assert_eq!(gaps.missing_business_days, 2);
    assert_eq!(gaps.gaps.examples, [span(18, 19, 2)]);
    assert_eq!(
        (gaps.first_price, gaps.last_price),
        (Some(jan(15)), Some(jan(24)))
    );
    assert!(of(&r, "STALE").flags.is_empty());
    assert!(of(&r, "FLAT").flags.is_empty(), "its runs lie outside");
    let ret = of(&r, "RET");
    assert_eq!(ret.missing_returns.examples, days(&[16]));
    assert_eq!(ret.imputed_returns.examples, days(&[17]));
    assert_eq!(ret.jumps.examples, days(&[22, 23]));
    assert!(of(&r, "BAD").flags.is_empty());

    let r = run(
        &t,
        QualityOptions {
            instruments: Some(vec![2, 6]),
            ..QualityOptions::default()
        },
    )
    .await;
    let tickers: Vec<&str> = r.instruments.iter().map(|i| i.ticker.as_str()).collect();
    assert_eq!(tickers, ["BAD", "GAPS"]);
    assert_eq!(r.as_of, Some(jan(31)), "the latest price of any instrument");
}

#[tokio::test]
async fn examples_stop_at_five_and_the_count_goes_on() {
    let t = migrated_with(
        "INSERT INTO instrument_master (instrument_type, ticker, exchange) VALUES ('ETF', 'ODD', 'NYSE');
         INSERT INTO daily_price (instrument_id, trade_date, close_price)
         SELECT 1, d, extract(day FROM d) FROM generate_series(DATE '2024-01-01', DATE '2024-01-31', INTERVAL '1 day') d
          WHERE extract(isodow FROM d) IN (1, 3, 5);",
    )
    .await;
    let r = run(&t, QualityOptions::default()).await;
    let odd = &r.instruments[0];
    // Mondays, Wednesdays and Fridays from the 1st to the 31st (a Wednesday): every Tuesday and
    // Thursday is missing.
    assert_eq!((odd.missing_business_days, odd.gaps.count), (9, 9));
    assert_eq!(
        odd.gaps.examples,
        [
            span(2, 2, 1),
            span(4, 4, 1),
            span(9, 9, 1),
            span(11, 11, 1),
            span(16, 16, 1)
        ]
    );
    let out = foresto_ok(&t, &["quality"]);
    assert!(
        out.contains("gaps: 2024-01-02 (1), 2024-01-04 (1), 2024-01-09 (1), 2024-01-11 (1), 2024-01-16 (1), …\n"),
        "{out}"
    );
}

#[tokio::test]
async fn business_days_are_counted_before_2000_too_and_up_to_a_weekend() {
    // The weekday arithmetic counts from Monday 2000-01-03; this gap straddles it.
    let t = migrated_with(
        "INSERT INTO instrument_master (instrument_type, ticker, exchange) VALUES ('ETF', 'OLD', 'NYSE');
         INSERT INTO daily_price (instrument_id, trade_date, close_price) VALUES
             (1, '1999-12-29', 10), (1, '1999-12-30', 11), (1, '2000-01-04', 12), (1, '2000-01-05', 13);",
    )
    .await;
    let sunday = date(2000, 1, 9);
    let r = run(
        &t,
        QualityOptions {
            as_of: Some(sunday),
            stale_days: 2,
            ..QualityOptions::default()
        },
    )
    .await;
    let old = &r.instruments[0];
    assert_eq!(old.missing_business_days, 2);
    assert_eq!(
        old.gaps.examples,
        [Span {
            first: date(1999, 12, 31),
            last: date(2000, 1, 3),
            days: 2
        }]
    );
    // Thursday the 6th and Friday the 7th; the weekend does not count.
    assert_eq!(old.business_days_since_last, Some(2));
    assert_eq!(old.flags, [Flag::Gaps, Flag::Stale]);
}

#[tokio::test]
async fn bad_options_are_refused_with_typed_errors() {
    let t = january().await;
    let refused = |options: QualityOptions| {
        let t = &t;
        async move { report(t.conn(), &options).await.unwrap_err() }
    };
    let err = refused(QualityOptions {
        instruments: Some(vec![2, 99, 98]),
        ..QualityOptions::default()
    })
    .await;
    assert!(
        matches!(&err, Error::Instrument(InstrumentError::UnknownInstrument { instrument }) if instrument == "id:98, id:99"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "unknown instrument: id:98, id:99");

    let err = refused(QualityOptions {
        from: Some(date(2024, 2, 1)),
        ..QualityOptions::default()
    })
    .await;
    assert!(
        matches!(
            &err,
            Error::InvalidInput {
                field: "date range",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "invalid date range: as-of 2024-01-31 (the latest price) is before from 2024-02-01"
    );

    for (options, field) in [
        (
            QualityOptions {
                from: Some(jan(20)),
                as_of: Some(jan(10)),
                ..QualityOptions::default()
            },
            "date range",
        ),
        (
            QualityOptions {
                jump: Decimal::new(-25, 2),
                ..QualityOptions::default()
            },
            "jump threshold",
        ),
        (
            QualityOptions {
                stale_days: -3,
                ..QualityOptions::default()
            },
            "stale days",
        ),
        (
            QualityOptions {
                min_fill_run: 0,
                ..QualityOptions::default()
            },
            "fill run",
        ),
    ] {
        let err = refused(options).await;
        assert!(
            matches!(&err, Error::InvalidInput { field: f, .. } if *f == field),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn a_database_without_prices_reports_every_instrument_stale() {
    let t = migrated_with(
        "INSERT INTO instrument_master (instrument_type, ticker, exchange) VALUES ('ETF', 'NEW', 'NYSE');",
    )
    .await;
    let r = run(&t, QualityOptions::default()).await;
    assert_eq!(r.as_of, None);
    assert_eq!(r.instruments.len(), 1);
    assert_eq!(r.instruments[0].flags, [Flag::Stale]);
    exec(t.conn(), "DELETE FROM instrument_master").await;
    let r = run(&t, QualityOptions::default()).await;
    assert!(r.instruments.is_empty());
    assert_eq!((r.summary.instruments, r.summary.flagged), (0, 0));
}

#[tokio::test]
async fn cli_prints_a_flagged_table_and_a_summary_line() {
    let t = january().await;
    let out = foresto_ok(&t, &["quality"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("Data quality over all rows, as of 2024-01-31: stale after 5"),
        "{out}"
    );
    let header = lines.iter().find(|l| l.starts_with("ticker")).unwrap();
    for column in [
        "gaps", "stale", "fills", "missing", "imputed", "jumps", "high<low",
    ] {
        assert!(header.contains(column), "{column} in {header}");
    }
    let row = |ticker: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{ticker} ")))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    // ticker exchange id first last rows, then one cell per flag.
    assert_eq!(
        row("CLEAN")[5..],
        ["23", "-", "-", "-", "-", "-", "-", "-", "-", "-"]
    );
    assert_eq!(
        row("GAPS")[5..],
        ["19", "5", "-", "-", "-", "-", "-", "-", "-", "-"]
    );
    assert_eq!(
        row("EMPTY")[3..],
        [
            "-", "-", "0", "-", "none", "-", "-", "-", "-", "-", "-", "-"
        ]
    );
    assert_eq!(
        row("RET")[6..],
        ["-", "-", "-", "2", "2", "3", "-", "-", "-"]
    );
    assert!(
        out.contains(
            "GAPS on NYSE (id 2) — gaps: 2024-01-10 (1), 2024-01-18..2024-01-19 (2), 2024-01-26..2024-01-29 (2)
"
        ),
        "{out}"
    );
    assert!(
        out.contains("STALE on NYSE (id 3) — stale: 5 business days without a price"),
        "{out}"
    );
    assert_eq!(
        lines.last().unwrap(),
        &"quality: 7 instruments, 1 clean, 6 flagged (gaps 1, stale 2, fill_runs 1, missing_returns 1, \
          imputed_returns 1, jumps 1, non_positive_prices 1, high_below_low 1, close_outside_range 1); \
          as of 2024-01-31"
    );

    let only = foresto_ok(
        &t,
        &["quality", "--ticker", "CLEAN", "--as-of", "2024-01-31"],
    );
    assert!(
        only.trim_end()
            .ends_with("quality: 1 instruments, 1 clean, 0 flagged; as of 2024-01-31"),
        "{only}"
    );
}

#[tokio::test]
async fn cli_json_is_one_document_with_decimals_as_strings() {
    let t = january().await;
    let out = foresto_ok(
        &t,
        &[
            "quality", "--json", "--ticker", "RET", "--ticker", "GAPS", "--jump", "0.3",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["jump"], "0.3");
    assert_eq!(v["as_of"], "2024-01-31");
    assert_eq!(v["from"], serde_json::Value::Null);
    assert_eq!(v["stale_days"], 5);
    assert_eq!(v["summary"]["by_flag"]["gaps"], 1);
    let gaps = &v["instruments"][0];
    assert_eq!(gaps["ticker"], "GAPS");
    assert_eq!(gaps["flags"], serde_json::json!(["gaps"]));
    assert_eq!(gaps["missing_business_days"], 5);
    assert_eq!(
        gaps["gaps"]["examples"][1],
        serde_json::json!({"first": "2024-01-18", "last": "2024-01-19", "days": 2})
    );
    let ret = &v["instruments"][1];
    assert_eq!(
        ret["flags"],
        serde_json::json!(["missing_returns", "imputed_returns", "jumps"])
    );
    // Above 0.3: only the imputed -0.40.
    assert_eq!(
        ret["jumps"],
        serde_json::json!({"count": 1, "examples": ["2024-01-25"]})
    );
}

#[tokio::test]
async fn cli_refuses_bad_options_in_one_line() {
    let t = january().await;
    for (args, start) in [
        (&["--ticker", "NOPE"][..], "error: unknown instrument: NOPE"),
        (
            &["--jump", "-0.5"][..],
            "error: invalid jump threshold: -0.5 is negative",
        ),
        (&["--stale-days", "-3"][..], "error: invalid stale days: -3"),
        (&["--fill-run", "1"][..], "error: invalid fill run: 1 rows"),
        (
            &["--from", "2024-02-01", "--as-of", "2024-01-31"][..],
            "error: invalid date range: as-of 2024-01-31 is before from 2024-02-01",
        ),
    ] {
        let stderr = foresto_fails(&t, &[&["quality"][..], args].concat());
        assert!(stderr.starts_with(start), "{args:?}: {stderr}");
    }
}
