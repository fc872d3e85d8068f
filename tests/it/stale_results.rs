//! Fresh results after data corrections: recomputing returns from a corrected price expires
//! exactly the cached runs that read a rewritten return (its instrument, inside the run's
//! window) — also when the correction commits while such a run is being computed — and nothing
//! when nothing changed; runs stored before the migration are covered; and a simulation path
//! gets `simulation_path` partitions only for the months it has rows in.

use std::time::Duration;

use chrono::NaiveDate;
use foresto::Settings;
use foresto::prices::{self, LoadOptions};
use foresto::returns::{ChangedSpan, ReturnsScope, ReturnsSummary, compute_returns};
use foresto::scenarios;
use foresto::settings::DEFAULT_ENGINE_VERSION;
use foresto::simulation::{self, SimulationOutcome, SimulationRequest};
use migration::{Migrator, MigratorTrait};
use rust_decimal::Decimal;
use serde_json::Value;
use tempfile::TempDir;

use crate::support::{
    self, TestDatabase, count, date, exec, foresto_ok, instrument_id, migrated_with, pool, strings,
    version, write_file,
};

/// Closes of AAA and BBB on the weekdays from 2024-01-02 through 2024-01-12.
const PRICES: &str = "ticker,trade_date,close
AAA,2024-01-02,100
AAA,2024-01-03,101
AAA,2024-01-04,99
AAA,2024-01-05,102
AAA,2024-01-08,103
AAA,2024-01-09,104
AAA,2024-01-10,106
AAA,2024-01-11,105
AAA,2024-01-12,107
BBB,2024-01-02,50
BBB,2024-01-03,50.5
BBB,2024-01-04,51
BBB,2024-01-05,50
BBB,2024-01-08,49.5
BBB,2024-01-09,50
BBB,2024-01-10,50.25
BBB,2024-01-11,50.5
BBB,2024-01-12,51
";

/// AAA's close of 2024-01-10 corrected from 106 to 116: its returns of Jan 10 and Jan 11 change.
const CORRECTION: &str = "ticker,trade_date,close
AAA,2024-01-10,116
";

/// Loads `csv` as a price file.
async fn load(t: &TestDatabase, dir: &TempDir, name: &str, csv: &str) {
    let path = write_file(dir, name, csv);
    prices::load_file(t.conn(), &path, &LoadOptions::default())
        .await
        .unwrap_or_else(|e| panic!("loading {name}: {e}"));
}

async fn compute(t: &TestDatabase) -> ReturnsSummary {
    compute_returns(t.conn(), &ReturnsScope::default(), &Settings::default())
        .await
        .unwrap()
}

/// A database with AAA and BBB, the prices of `csv` and their returns; GROWTH holds AAA alone
/// and DEFENSIVE BBB alone, both from 2024-01-01.
async fn fixture(dir: &TempDir, csv: &str) -> TestDatabase {
    let t = migrated_with(
        "INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
         VALUES ('ETF', 'AAA', 'NYSE', 'USD'), ('ETF', 'BBB', 'NYSE', 'USD');",
    )
    .await;
    load(&t, dir, "prices.csv", csv).await;
    assert_eq!(compute(&t).await.runs_expired, 0);
    for v in [
        version("GROWTH", date(2024, 1, 1), &[("AAA", "1")]),
        version("DEFENSIVE", date(2024, 1, 1), &[("BBB", "1")]),
    ] {
        scenarios::set_portfolio_version(t.conn(), &v, &Settings::default())
            .await
            .unwrap();
    }
    t
}

fn request(scenario: &str, start: NaiveDate, end: NaiveDate) -> SimulationRequest {
    SimulationRequest {
        initial_amount: Decimal::new(1000, 0),
        engine_version: DEFAULT_ENGINE_VERSION.to_owned(),
        ..support::request(scenario, start, end)
    }
}

async fn simulate(t: &TestDatabase, request: &SimulationRequest) -> SimulationOutcome {
    simulation::simulate(t.conn(), request, &Settings::default())
        .await
        .unwrap()
}

/// The path's NAV on `day`, to whole units (the returns are rounded to 8 places, so the NAV of
/// exact prices is off by far less than one unit).
fn nav_on(outcome: &SimulationOutcome, day: NaiveDate) -> Decimal {
    outcome
        .stored
        .path
        .iter()
        .find(|p| p.date == day)
        .unwrap_or_else(|| panic!("no path point on {day}"))
        .nav
        .round()
}

#[tokio::test]
async fn a_corrected_price_expires_exactly_the_runs_that_read_its_returns() {
    let dir = tempfile::tempdir().unwrap();
    let t = fixture(&dir, PRICES).await;
    let jan = |d| date(2024, 1, d);
    let requests = [
        // Reads AAA's returns of Jan 10 and 11: stale after the correction.
        request("GROWTH", jan(1), jan(31)),
        // Reads only AAA's Jan 11 return, which the corrected Jan 10 price feeds: stale too.
        request("GROWTH", jan(11), jan(31)),
        // Ends the day before the corrected date.
        request("GROWTH", jan(1), jan(9)),
        // Holds BBB only.
        request("DEFENSIVE", jan(1), jan(31)),
    ];
    let mut before = Vec::new();
    for r in &requests {
        let outcome = simulate(&t, r).await;
        assert!(!outcome.cache_hit);
        before.push(outcome);
    }
    assert_eq!(nav_on(&before[0], jan(10)), Decimal::from(1060));
    let aaa = instrument_id(&t, "AAA").await;
    assert_eq!(
        count(
            t.conn(),
            &format!(
                "SELECT count(*) FROM simulation_run_instrument
                  WHERE run_id = {} AND instrument_id = {aaa}",
                before[0].stored.run.run_id
            )
        )
        .await,
        1,
        "the run records the instrument it read"
    );

    load(&t, &dir, "correction.csv", CORRECTION).await;
    let summary = compute(&t).await;
    assert_eq!(summary.written, 2);
    assert_eq!(summary.runs_expired, 2);
    let changed: Vec<(i64, Vec<ChangedSpan>)> = summary
        .instruments
        .iter()
        .map(|i| (i.instrument_id, i.changed.clone()))
        .collect();
    let bbb = instrument_id(&t, "BBB").await;
    assert_eq!(
        changed,
        [
            (
                aaa,
                vec![ChangedSpan {
                    first: jan(10),
                    last: jan(11)
                }]
            ),
            (bbb, vec![])
        ]
    );

    for (i, r) in requests.iter().enumerate() {
        let after = simulate(&t, r).await;
        if i < 2 {
            assert!(!after.cache_hit, "request {i} read a corrected return");
            assert_ne!(after.stored.run.run_id, before[i].stored.run.run_id);
            assert_ne!(after.stored.path, before[i].stored.path);
        } else {
            assert!(after.cache_hit, "request {i} read no corrected return");
            assert_eq!(after.stored, before[i].stored);
        }
    }
    let recomputed = simulate(&t, &requests[0]).await;
    assert_eq!(nav_on(&recomputed, jan(10)), Decimal::from(1160));

    // Nothing changed since: nothing is written, nothing expires, everything is served.
    let again = compute(&t).await;
    assert_eq!((again.written, again.runs_expired), (0, 0));
    assert!(again.instruments.iter().all(|i| i.changed.is_empty()));
    for r in &requests {
        assert!(simulate(&t, r).await.cache_hit);
    }
}

#[tokio::test]
async fn returns_compute_prints_the_runs_it_expired() {
    let dir = tempfile::tempdir().unwrap();
    let t = fixture(&dir, PRICES).await;
    simulate(&t, &request("GROWTH", date(2024, 1, 1), date(2024, 1, 31))).await;
    exec(
        t.conn(),
        "UPDATE daily_price SET close_price = 116 WHERE trade_date = '2024-01-10'
            AND instrument_id = (SELECT instrument_id FROM instrument_master WHERE ticker = 'AAA')",
    )
    .await;
    let json: Value =
        serde_json::from_str(&foresto_ok(&t, &["returns", "compute", "--json"])).unwrap();
    assert_eq!(json["runs_expired"], 1);
    let aaa = instrument_id(&t, "AAA").await;
    let instrument = json["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instrument_id"] == aaa)
        .unwrap();
    assert_eq!(
        instrument["changed"],
        serde_json::json!([{"first": "2024-01-10", "last": "2024-01-11"}])
    );
    let line = foresto_ok(&t, &["returns", "compute"]);
    assert!(line.contains("; 0 cached runs expired"), "{line}");
}

/// Waits, polling, until a session of this database waits for a lock matching `condition` (on
/// `pg_locks`), or `done` says the awaited task ended anyway.
async fn until_waiting(t: &TestDatabase, condition: &str, done: impl Fn() -> bool) {
    let sql = format!(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND {condition}
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    );
    while !done() && count(t.conn(), &sql).await == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_correction_committed_while_a_run_is_computed_expires_that_run() {
    let dir = tempfile::tempdir().unwrap();
    let t = fixture(&dir, PRICES).await;
    let req = request("GROWTH", date(2024, 1, 1), date(2024, 1, 31));

    // Hold the simulation at its path COPY: by then it has read the returns as they were.
    let mut blocker = pool(t.conn()).begin().await.unwrap();
    sqlx::query("LOCK TABLE simulation_path IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let simulating = {
        let (db, req) = (t.conn().clone(), req.clone());
        tokio::spawn(async move { simulation::simulate(&db, &req, &Settings::default()).await })
    };
    until_waiting(&t, "relation = 'simulation_path'::regclass", || {
        simulating.is_finished()
    })
    .await;

    exec(
        t.conn(),
        "UPDATE daily_price SET close_price = 116 WHERE trade_date = '2024-01-10'
            AND instrument_id = (SELECT instrument_id FROM instrument_master WHERE ticker = 'AAA')",
    )
    .await;
    let computing = {
        let db = t.conn().clone();
        tokio::spawn(async move {
            compute_returns(&db, &ReturnsScope::default(), &Settings::default()).await
        })
    };
    // The expiry either waits for the run in flight or (if nothing made it wait) finishes.
    until_waiting(&t, "locktype = 'advisory'", || computing.is_finished()).await;
    blocker.rollback().await.unwrap();

    let stored = simulating.await.unwrap().unwrap();
    assert!(!stored.cache_hit);
    assert_eq!(
        nav_on(&stored, date(2024, 1, 10)),
        Decimal::from(1060),
        "the run read the returns from before the correction"
    );
    let summary = computing.await.unwrap().unwrap();
    assert_eq!(summary.runs_expired, 1);
    let fresh = simulate(&t, &req).await;
    assert!(!fresh.cache_hit);
    assert_eq!(nav_on(&fresh, date(2024, 1, 10)), Decimal::from(1160));
}

#[tokio::test]
async fn runs_stored_before_the_migration_get_their_instruments_or_expire() {
    let t = TestDatabase::empty().await;
    let this_step = migration::MIGRATIONS
        .iter()
        .position(|m| m.name == "m20261201_000001_create_simulation_run_instrument")
        .unwrap();
    Migrator::up(t.conn(), Some(this_step as u32))
        .await
        .unwrap();
    exec(
        t.conn(),
        "INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
         VALUES ('ETF', 'AAA', 'NYSE', 'USD'), ('ETF', 'BBB', 'NYSE', 'USD'),
                ('ETF', 'CCC', 'NYSE', 'USD');
         INSERT INTO portfolio_model (scenario_id, portfolio_name, effective_date, expiry_date)
         VALUES ('GROWTH', 'GROWTH_v1', '2024-01-01', '2024-01-31'),
                ('GROWTH', 'GROWTH_v2', '2024-02-01', NULL);
         INSERT INTO portfolio_allocation (portfolio_id, instrument_id, weight)
         VALUES (1, 1, 0.6), (1, 2, 0.4), (2, 3, 1);
         INSERT INTO simulation_run (request_hash, scenario_id, start_date, end_date,
                                     initial_amount, engine_version, expires_at)
         VALUES (repeat('1', 64), 'GROWTH', '2024-01-02', '2024-01-20', 1000, '1.0.0', NULL),
                (repeat('2', 64), 'GROWTH', '2024-01-15', '2024-02-10', 1000, '1.0.0', NULL),
                (repeat('3', 64), 'GROWTH', '2024-02-05', '2024-03-01', 1000, '1.0.0', NULL),
                (repeat('4', 64), NULL, '2024-01-02', '2024-01-20', 1000, '1.0.0', NULL),
                (repeat('5', 64), NULL, '2024-01-02', '2024-01-20', 1000, '1.0.0',
                 '2000-01-01 00:00:00+00');",
    )
    .await;
    Migrator::up(t.conn(), None).await.unwrap();

    assert_eq!(
        strings(
            t.conn(),
            "SELECT run_id || ' ' || ticker FROM simulation_run_instrument
               JOIN instrument_master USING (instrument_id) ORDER BY run_id, ticker"
        )
        .await,
        ["1 AAA", "1 BBB", "2 AAA", "2 BBB", "2 CCC", "3 CCC"],
        "each scenario run gets the instruments of the versions over its window"
    );
    assert_eq!(
        strings(
            t.conn(),
            "SELECT run_id || ' ' || CASE WHEN expires_at IS NULL THEN 'kept'
                                      WHEN expires_at = '2000-01-01 00:00:00+00' THEN 'as it was'
                                      WHEN expires_at <= now() THEN 'expired' END
               FROM simulation_run ORDER BY run_id"
        )
        .await,
        ["1 kept", "2 kept", "3 kept", "4 expired", "5 as it was"],
        "a run whose instruments cannot be told is expired"
    );
}

#[tokio::test]
async fn a_path_spanning_years_gets_partitions_only_for_its_months() {
    let dir = tempfile::tempdir().unwrap();
    let t = fixture(
        &dir,
        "ticker,trade_date,close
AAA,2024-01-02,100
AAA,2024-01-03,101
AAA,2024-01-04,102
AAA,2035-06-01,150
AAA,2035-06-02,151
",
    )
    .await;
    let partitions =
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                       WHERE i.inhparent = 'simulation_path'::regclass ORDER BY 1";
    let before = strings(t.conn(), partitions).await;
    let outcome = simulate(&t, &request("GROWTH", date(2024, 1, 1), date(2035, 12, 31))).await;
    assert_eq!(outcome.stored.path.len(), 4);
    let created: Vec<String> = strings(t.conn(), partitions)
        .await
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    // 2024-01 is among the migrated months; of the eight years after, only 2035-06 has rows (2035: inside the default date window).
    assert_eq!(
        created.len(),
        1,
        "partitions created, {:?} … {:?}",
        created.first(),
        created.last()
    );
    assert_eq!(created, ["simulation_path_203506"]);
    assert_eq!(
        count(t.conn(), "SELECT count(*) FROM simulation_path_203506").await,
        2
    );
}
