//! Daily returns from prices: values and rounding, price choice, ranges, the MISSING rule,
//! idempotence, partitions, out-of-range returns, and the `returns compute` command.

use chrono::NaiveDate;
use foresto::partitions::{self, DateWindow, Parent};
use foresto::returns::{ReturnsScope, compute_returns};
use foresto::{Error, PartitionError, Settings};

use crate::support::{
    TestDatabase, count, date, exec, foresto, migrated_with, partitions_of, row_count, strings,
};

const INSTRUMENTS: &str = "
INSERT INTO instrument_master (instrument_type, ticker, exchange, currency) VALUES
    ('ETF', 'SPY', 'NYSE', 'USD'),      -- 1
    ('ETF', 'TLT', 'NASDAQ', 'USD'),    -- 2
    ('STOCK', 'DUP', 'NYSE', 'USD'),    -- 3
    ('STOCK', 'DUP', 'KRX', 'KRW');     -- 4
";

/// Inserts (date, close, adjusted close) prices for `instrument`, partitions first, as a loader
/// would.
async fn prices(t: &TestDatabase, instrument: i64, rows: &[(&str, &str, Option<&str>)]) {
    let dates: Vec<NaiveDate> = rows.iter().map(|r| r.0.parse().unwrap()).collect();
    let (first, last) = (*dates.iter().min().unwrap(), *dates.iter().max().unwrap());
    partitions::ensure_range(t.conn(), Parent::DailyPrice, first, last)
        .await
        .unwrap();
    let values: Vec<String> = rows
        .iter()
        .map(|(date, close, adj)| {
            format!(
                "({instrument}, '{date}', {close}, {})",
                adj.unwrap_or("NULL")
            )
        })
        .collect();
    exec(
        t.conn(),
        &format!(
            "INSERT INTO daily_price (instrument_id, trade_date, close_price, adj_close_price) VALUES {}",
            values.join(", ")
        ),
    )
    .await;
}

/// `date return log quality` per stored return of `instrument`, by date.
async fn stored(t: &TestDatabase, instrument: i64) -> Vec<String> {
    strings(
        t.conn(),
        &format!(
            "SELECT concat_ws(' ', trade_date, daily_return, coalesce(log_return::text, 'NULL'), data_quality)
               FROM daily_return WHERE instrument_id = {instrument} ORDER BY trade_date"
        ),
    )
    .await
}

fn only(ids: &[i64]) -> ReturnsScope {
    ReturnsScope {
        instruments: Some(ids.to_vec()),
        ..ReturnsScope::default()
    }
}

#[tokio::test]
async fn returns_are_hand_computed_and_rounded_half_away_from_zero() {
    let t = migrated_with(INSTRUMENTS).await;
    prices(
        &t,
        1,
        &[
            ("2024-01-02", "5.12", None),
            ("2024-01-03", "5.13", None),
            ("2024-01-04", "5.12", None),
            ("2024-01-05", "5.11", None),
        ],
    )
    .await;
    let summary = compute_returns(t.conn(), &ReturnsScope::default(), &Settings::default())
        .await
        .unwrap();
    // 0.01 / 5.12 = 0.001953125 exactly: half away from zero gives ...313 (banker's would give
    // ...312), and symmetrically for -0.01 / 5.12. ln(5.13/5.12) = 0.00195122013…,
    // -0.01/5.13 = -0.00194931773…, ln(5.12/5.13) = -0.00195122013…, ln(5.11/5.12) =
    // -0.00195503483…. The first price has no return.
    assert_eq!(
        stored(&t, 1).await,
        [
            "2024-01-03 0.00195313 0.00195122 OK",
            "2024-01-04 -0.00194932 -0.00195122 OK",
            "2024-01-05 -0.00195313 -0.00195503 OK",
        ]
    );
    assert_eq!(
        (summary.computed, summary.written, summary.missing),
        (3, 3, 0)
    );
    assert_eq!(
        (summary.first_date, summary.last_date),
        (Some(date(2024, 1, 3)), Some(date(2024, 1, 5)))
    );
}

#[tokio::test]
async fn adjusted_close_is_used_and_close_where_it_is_null() {
    let t = migrated_with(INSTRUMENTS).await;
    prices(
        &t,
        2,
        &[
            ("2024-02-01", "10", Some("20")),
            ("2024-02-02", "11", None),
            ("2024-02-05", "12", Some("22")),
        ],
    )
    .await;
    compute_returns(t.conn(), &only(&[2]), &Settings::default())
        .await
        .unwrap();
    // 11 / 20 − 1 (adjusted, then close) and 22 / 11 − 1 (close, then adjusted).
    assert_eq!(
        stored(&t, 2).await,
        [
            "2024-02-02 -0.45000000 -0.59783700 OK",
            "2024-02-05 1.00000000 0.69314718 OK",
        ]
    );
}

#[tokio::test]
async fn an_incremental_run_takes_the_last_price_before_its_range() {
    let t = migrated_with(INSTRUMENTS).await;
    prices(
        &t,
        1,
        &[("2024-03-28", "100", None), ("2024-03-29", "110", None)],
    )
    .await;
    compute_returns(t.conn(), &ReturnsScope::default(), &Settings::default())
        .await
        .unwrap();
    // A later load brings April; the run over April only must still see March's last price.
    prices(
        &t,
        1,
        &[("2024-04-01", "99", None), ("2024-04-02", "99", None)],
    )
    .await;
    let summary = compute_returns(
        t.conn(),
        &ReturnsScope {
            from: Some(date(2024, 4, 1)),
            to: Some(date(2024, 4, 30)),
            ..ReturnsScope::default()
        },
        &Settings::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        stored(&t, 1).await,
        [
            "2024-03-29 0.10000000 0.09531018 OK",
            "2024-04-01 -0.10000000 -0.10536052 OK",
            "2024-04-02 0.00000000 0.00000000 OK",
        ]
    );
    assert_eq!((summary.computed, summary.written), (2, 2));
    assert_eq!(summary.first_date, Some(date(2024, 4, 1)));
}

#[tokio::test]
async fn a_non_positive_price_on_either_side_makes_the_day_missing() {
    let t = migrated_with(INSTRUMENTS).await;
    prices(
        &t,
        1,
        &[
            ("2024-05-01", "10", None),
            ("2024-05-02", "0", None),
            ("2024-05-03", "12", None),
            ("2024-05-06", "-5", Some("-5")),
            ("2024-05-07", "13", None),
            ("2024-05-08", "13", None),
        ],
    )
    .await;
    let summary = compute_returns(t.conn(), &only(&[1]), &Settings::default())
        .await
        .unwrap();
    // MISSING: recorded, daily_return 0 (NOT NULL), log_return NULL — never a made-up return.
    assert_eq!(
        stored(&t, 1).await,
        [
            "2024-05-02 0.00000000 NULL MISSING",
            "2024-05-03 0.00000000 NULL MISSING",
            "2024-05-06 0.00000000 NULL MISSING",
            "2024-05-07 0.00000000 NULL MISSING",
            "2024-05-08 0.00000000 0.00000000 OK",
        ]
    );
    assert_eq!((summary.computed, summary.missing), (5, 4));
}

#[tokio::test]
async fn re_running_rewrites_nothing_and_a_changed_price_rewrites_its_return_and_the_next() {
    let t = migrated_with(INSTRUMENTS).await;
    prices(
        &t,
        1,
        &[
            ("2024-06-03", "100", None),
            ("2024-06-04", "101", None),
            ("2024-06-05", "102", None),
            ("2024-06-06", "103", None),
        ],
    )
    .await;
    compute_returns(t.conn(), &ReturnsScope::default(), &Settings::default())
        .await
        .unwrap();
    let xmins = "SELECT trade_date || ':' || xmin FROM daily_return ORDER BY trade_date";
    let before = strings(t.conn(), xmins).await;

    let again = compute_returns(t.conn(), &ReturnsScope::default(), &Settings::default())
        .await
        .unwrap();
    assert_eq!((again.computed, again.written, again.unchanged), (3, 0, 3));
    assert_eq!(strings(t.conn(), xmins).await, before);

    exec(
        t.conn(),
        "UPDATE daily_price SET close_price = 104 WHERE trade_date = '2024-06-05'",
    )
    .await;
    let changed = compute_returns(t.conn(), &ReturnsScope::default(), &Settings::default())
        .await
        .unwrap();
    assert_eq!((changed.computed, changed.written), (3, 2));
    let after = strings(t.conn(), xmins).await;
    assert_eq!(after[0], before[0], "06-04 depends on no changed price");
    assert_ne!(after[1], before[1]);
    assert_ne!(after[2], before[2]);
    assert_eq!(
        stored(&t, 1).await[1..],
        [
            "2024-06-05 0.02970297 0.02927038 OK",
            "2024-06-06 -0.00961538 -0.00966191 OK",
        ]
    );
}

#[tokio::test]
async fn a_changed_last_price_of_the_range_also_rewrites_the_first_return_after_it() {
    let t = migrated_with(INSTRUMENTS).await;
    prices(
        &t,
        1,
        &[
            ("2024-06-28", "100", None),
            ("2024-07-01", "100", None),
            ("2024-07-02", "100", None),
        ],
    )
    .await;
    compute_returns(t.conn(), &ReturnsScope::default(), &Settings::default())
        .await
        .unwrap();
    exec(
        t.conn(),
        "UPDATE daily_price SET close_price = 80 WHERE trade_date = '2024-06-28'",
    )
    .await;
    // The reload covered June only; July 1st's return depends on June 28th's price.
    let summary = compute_returns(
        t.conn(),
        &ReturnsScope {
            from: Some(date(2024, 6, 1)),
            to: Some(date(2024, 6, 30)),
            ..ReturnsScope::default()
        },
        &Settings::default(),
    )
    .await
    .unwrap();
    assert_eq!(summary.written, 1);
    assert_eq!(
        stored(&t, 1).await,
        [
            "2024-07-01 0.25000000 0.22314355 OK",
            "2024-07-02 0.00000000 0.00000000 OK",
        ]
    );
}

#[tokio::test]
async fn only_the_chosen_instruments_are_computed() {
    let t = migrated_with(INSTRUMENTS).await;
    for instrument in [1, 2] {
        prices(
            &t,
            instrument,
            &[("2024-08-01", "10", None), ("2024-08-02", "11", None)],
        )
        .await;
    }
    let summary = compute_returns(t.conn(), &only(&[2]), &Settings::default())
        .await
        .unwrap();
    assert_eq!(summary.instruments.len(), 1);
    assert_eq!(summary.instruments[0].instrument_id, 2);
    assert_eq!(
        count(
            t.conn(),
            "SELECT count(*) FROM daily_return WHERE instrument_id <> 2"
        )
        .await,
        0
    );

    let err = compute_returns(t.conn(), &only(&[2, 98, 99]), &Settings::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { entity: "instrument", key } if key == "id 98, 99"),
        "{err}"
    );
    let err = compute_returns(t.conn(), &only(&[]), &Settings::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    let err = compute_returns(
        t.conn(),
        &ReturnsScope {
            from: Some(date(2024, 8, 2)),
            to: Some(date(2024, 8, 1)),
            ..ReturnsScope::default()
        },
        &Settings::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
}

#[tokio::test]
async fn every_row_is_stamped_with_the_engine_version() {
    let t = migrated_with(INSTRUMENTS).await;
    prices(
        &t,
        1,
        &[
            ("2024-09-02", "10", None),
            ("2024-09-03", "11", None),
            ("2024-09-04", "0", None),
        ],
    )
    .await;
    let summary = compute_returns(t.conn(), &only(&[1]), &Settings::default())
        .await
        .unwrap();
    let version = foresto::settings::DEFAULT_ENGINE_VERSION;
    assert_eq!(summary.engine_version, version);
    assert_eq!(
        strings(
            t.conn(),
            "SELECT DISTINCT coalesce(engine_version, 'NULL') FROM daily_return"
        )
        .await,
        [version]
    );
}

#[tokio::test]
async fn far_dates_get_their_own_partitions_and_nothing_lands_in_default() {
    let t = migrated_with(INSTRUMENTS).await;
    prices(
        &t,
        1,
        &[
            ("1995-03-30", "10", None),
            ("1995-03-31", "11", None),
            ("2031-07-01", "12", None),
        ],
    )
    .await;
    let summary = compute_returns(t.conn(), &only(&[1]), &Settings::default())
        .await
        .unwrap();
    assert_eq!(summary.partitions_created, 2, "1995-03 and 2031-07 only");
    assert_eq!(
        strings(
            t.conn(),
            "SELECT tableoid::regclass || ':' || trade_date FROM daily_return ORDER BY trade_date"
        )
        .await,
        [
            "daily_return_199503:1995-03-31",
            "daily_return_203107:2031-07-01"
        ]
    );
    assert_eq!(row_count(t.conn(), "daily_return_default").await, 0);
}

#[tokio::test]
async fn a_return_too_large_for_numeric_12_8_is_recorded_missing_and_reported() {
    let t = migrated_with(INSTRUMENTS).await;
    prices(
        &t,
        1,
        &[
            ("2024-10-01", "0.0001", None),
            ("2024-10-02", "1.0000", None), // +9999: the largest that fits
            ("2024-10-03", "0.0001", None),
            ("2024-10-04", "1.0001", None), // +10000: does not fit
            ("2024-10-07", "1.0002", None),
        ],
    )
    .await;
    prices(
        &t,
        2,
        &[("2024-10-01", "10", None), ("2024-10-02", "11", None)],
    )
    .await;
    let summary = compute_returns(t.conn(), &ReturnsScope::default(), &Settings::default())
        .await
        .unwrap();
    assert_eq!(
        stored(&t, 1).await,
        [
            "2024-10-02 9999.00000000 9.21034037 OK",
            "2024-10-03 -0.99990000 -9.21034037 OK",
            "2024-10-04 0.00000000 NULL MISSING",
            "2024-10-07 0.00009999 0.00009999 OK",
        ]
    );
    let first = &summary.instruments[0];
    assert_eq!(first.out_of_range, [date(2024, 10, 4)]);
    assert_eq!(first.missing, 1);
    // The rest of the run went through.
    assert_eq!(stored(&t, 2).await, ["2024-10-02 0.10000000 0.09531018 OK"]);
}

#[tokio::test]
async fn cli_computes_returns_for_tickers_as_json() {
    let t = migrated_with(INSTRUMENTS).await;
    prices(
        &t,
        1,
        &[("2024-11-01", "10", None), ("2024-11-04", "11", None)],
    )
    .await;
    for instrument in [3, 4] {
        prices(
            &t,
            instrument,
            &[("2024-11-01", "5", None), ("2024-11-04", "4", None)],
        )
        .await;
    }
    let out = foresto(
        &t,
        &[
            "returns",
            "compute",
            "--from",
            "2024-11-01",
            "--ticker",
            "SPY",
            "--ticker",
            "DUP",
            "--json",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["computed"], 3);
    assert_eq!(json["written"], 3);
    assert_eq!(json["missing"], 0);
    assert_eq!(json["from"], "2024-11-01");
    let ids: Vec<_> = json["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instrument_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1, 3, 4]);
    assert!(
        stderr.contains("ticker DUP is listed on 2 exchanges"),
        "{stderr}"
    );
    assert!(stderr.contains("returns: 3 computed"), "{stderr}");

    let out = foresto(&t, &["returns", "compute", "--ticker", "NOPE"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: unknown ticker \"NOPE\""),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// Every return as one pass over all prices gives it (the previous price row of the instrument),
/// and as stored, `instrument date return log` by instrument and date.
async fn one_pass_and_stored(t: &TestDatabase) -> (Vec<String>, Vec<String>) {
    let reference = strings(
        t.conn(),
        "SELECT concat_ws(' ', instrument_id, trade_date, round(p / prev - 1, 8), round(ln(p / prev), 8))
           FROM (SELECT instrument_id, trade_date, coalesce(adj_close_price, close_price) AS p,
                        lag(coalesce(adj_close_price, close_price))
                            OVER (PARTITION BY instrument_id ORDER BY trade_date) AS prev
                   FROM daily_price) s
          WHERE prev IS NOT NULL ORDER BY instrument_id, trade_date",
    )
    .await;
    let stored = strings(
        t.conn(),
        "SELECT concat_ws(' ', instrument_id, trade_date, daily_return, log_return)
           FROM daily_return ORDER BY instrument_id, trade_date",
    )
    .await;
    (reference, stored)
}

#[tokio::test]
async fn a_run_over_many_partitions_gives_the_returns_of_one_pass() {
    let t = migrated_with(INSTRUMENTS).await;
    // Sixty months of SPY (five ranges of twelve partitions), and TLT with a gap of three years.
    let monthly: Vec<(String, String)> = (0..60)
        .map(|i| {
            let day = date(1990, 1, 15) + chrono::Months::new(i);
            (day.to_string(), (100 + (i * 37) % 23).to_string())
        })
        .collect();
    let rows: Vec<(&str, &str, Option<&str>)> = monthly
        .iter()
        .map(|(d, p)| (d.as_str(), p.as_str(), None))
        .collect();
    prices(&t, 1, &rows).await;
    prices(
        &t,
        2,
        &[("1990-03-15", "50", None), ("1993-07-15", "55", None)],
    )
    .await;

    let all = compute_returns(t.conn(), &ReturnsScope::default(), &Settings::default())
        .await
        .unwrap();

    assert_eq!((all.computed, all.written), (60, 60));
    let (reference, stored) = one_pass_and_stored(&t).await;
    assert_eq!(reference.len(), 60);
    assert_eq!(stored, reference);

    // Prices of 1991-06 through 1993-03 change by a factor: only the two returns at the edges of
    // that range change, one of them computed from the price before it, one after it.
    exec(
        t.conn(),
        "UPDATE daily_price SET close_price = close_price * 1.1
          WHERE trade_date BETWEEN '1991-06-01' AND '1993-03-31'",
    )
    .await;
    let span = ReturnsScope {
        from: Some(date(1991, 6, 1)),
        to: Some(date(1993, 3, 31)),
        ..ReturnsScope::default()
    };
    let changed = compute_returns(t.conn(), &span, &Settings::default())
        .await
        .unwrap();
    assert_eq!((changed.computed, changed.written), (23, 2));
    let (reference, stored) = one_pass_and_stored(&t).await;
    assert_eq!(stored, reference);

    // TLT's 1993 return comes from its price three years (three ranges) before the run's range.
    exec(t.conn(), "DELETE FROM daily_return WHERE instrument_id = 2").await;
    let later = ReturnsScope {
        from: Some(date(1993, 1, 1)),
        ..only(&[2])
    };
    let gap = compute_returns(t.conn(), &later, &Settings::default())
        .await
        .unwrap();
    assert_eq!((gap.computed, gap.written), (1, 1));
    let (reference, stored) = one_pass_and_stored(&t).await;
    assert_eq!(stored, reference);
}

#[tokio::test]
async fn a_run_that_would_create_more_partitions_than_its_cap_writes_nothing() {
    let t = migrated_with(INSTRUMENTS).await;
    let days: Vec<String> = (0..10)
        .map(|i| (date(1985, 1, 2) + chrono::Months::new(i)).to_string())
        .collect();
    let rows: Vec<(&str, &str, Option<&str>)> =
        days.iter().map(|d| (d.as_str(), "10", None)).collect();
    prices(&t, 1, &rows).await;
    let before = partitions_of(t.conn(), "daily_return").await;
    let mut settings = Settings::default();
    settings.partitions.max_new = 5;

    let err = compute_returns(t.conn(), &ReturnsScope::default(), &settings)
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            Error::Partition(PartitionError::TooManyPartitions {
                parent: Parent::DailyReturn,
                first,
                last,
                count: 10,
                cap: 5,
            }) if first == date(1985, 1, 1) && last == date(1985, 10, 1)
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "refusing to create 10 partitions of daily_return (1985-01 through 1985-10): one \
         operation may create at most 5"
    );
    assert_eq!(partitions_of(t.conn(), "daily_return").await, before);
    assert_eq!(row_count(t.conn(), "daily_return").await, 0);

    let out = foresto(&t, &["returns", "compute", "--max-new-partitions", "9"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        "error: refusing to create 10 partitions of daily_return (1985-01 through 1985-10): one \
         operation may create at most 9"
    );

    settings.partitions.max_new = 10;
    let summary = compute_returns(t.conn(), &ReturnsScope::default(), &settings)
        .await
        .unwrap();
    assert_eq!((summary.partitions_created, summary.written), (10, 9));
}

#[tokio::test]
async fn dates_outside_the_window_stop_a_run_before_it_writes() {
    let t = migrated_with(INSTRUMENTS).await;
    prices(
        &t,
        1,
        &[("2024-01-02", "10", None), ("2024-01-03", "11", None)],
    )
    .await;
    // Stored before there was a window: in the DEFAULT partition.
    exec(
        t.conn(),
        "INSERT INTO daily_price (instrument_id, trade_date, close_price)
         VALUES (2, '1850-01-02', 5), (2, '1850-01-03', 6)",
    )
    .await;

    let err = compute_returns(t.conn(), &ReturnsScope::default(), &Settings::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Partition(PartitionError::OutsideWindow { parent: Parent::DailyReturn, month, .. })
                if month == date(1850, 1, 1)
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(
            "refusing to create partition daily_return_185001: 1850-01 is outside the date window 1900-01-01 to "
        ),
        "{err}"
    );
    assert_eq!(row_count(t.conn(), "daily_return").await, 0);

    for scope in [
        ReturnsScope {
            from: Some(date(0, 1, 1)),
            ..ReturnsScope::default()
        },
        ReturnsScope {
            to: Some(date(9999, 12, 31)),
            ..ReturnsScope::default()
        },
    ] {
        let err = compute_returns(t.conn(), &scope, &Settings::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { reason, .. } if reason.contains("outside the date window")),
            "{err}"
        );
    }

    let mut settings = Settings::default();
    settings.partitions.window = DateWindow::new(date(1800, 1, 1), date(2100, 1, 1)).unwrap();
    let summary = compute_returns(t.conn(), &ReturnsScope::default(), &settings)
        .await
        .unwrap();
    assert_eq!(summary.written, 2);
    assert_eq!(row_count(t.conn(), "daily_return_185001").await, 1);
}
