//! Scenarios and portfolio versions against a real PostgreSQL: listing, the version in force on a
//! date, adding versions (validation, closing the previous one, atomicity), the weight trigger as
//! the last line, and seeding.

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::enums::{AssetClass, RebalanceFreq};
use foresto::Error;
use foresto::scenarios::{self, CreatedVersion, InstrumentRef, NewVersion, SeedStatus};
use foresto::{InstrumentError, ScenarioError, Settings};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::support::{self, count, date, exec, instrument_id, migrated_with, row_count, strings};

const INSTRUMENTS: &str = "
INSERT INTO instrument_master (instrument_type, ticker, exchange, currency) VALUES
  ('ETF', 'SPY', 'NYSE', 'USD'), ('ETF', 'TLT', 'NASDAQ', 'USD'), ('ETF', 'SHY', 'NASDAQ', 'USD'),
  ('ETF', 'GLD', 'NYSE', 'USD'), ('ETF', 'VNQ', 'NYSE', 'USD');";

/// `support::version` with every allocation an EQUITY one (the holdings the tests read back).
fn version(scenario: &str, effective: NaiveDate, spec: &[(&str, &str)]) -> NewVersion {
    let mut version = support::version(scenario, effective, spec);
    for allocation in &mut version.allocations {
        allocation.asset_class = Some(AssetClass::Equity);
    }
    version
}

async fn set(db: &DatabaseConnection, v: &NewVersion) -> foresto::Result<CreatedVersion> {
    scenarios::set_portfolio_version(db, v, &Settings::default()).await
}

#[tokio::test]
async fn active_scenarios_are_listed_in_display_order() {
    let t = migrated_with(INSTRUMENTS).await;
    exec(
        t.conn(),
        "INSERT INTO scenario_definition (scenario_id, name_ko, disclaimer, display_order, is_active)
         VALUES ('FIRST', '첫째', 'd', 0, true), ('HIDDEN', '숨김', 'd', 0, false);",
    )
    .await;
    let ids: Vec<String> = scenarios::list_active(t.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.scenario_id)
        .collect();
    assert_eq!(ids, ["FIRST", "MIN_VOL", "DEFENSIVE", "GROWTH"]);
    // An inactive scenario is not listed but can still be shown.
    scenarios::detail(t.conn(), "HIDDEN", date(2024, 1, 1))
        .await
        .unwrap();
    assert!(matches!(
        scenarios::detail(t.conn(), "NOPE", date(2024, 1, 1)).await,
        Err(Error::Scenario(ScenarioError::ScenarioNotFound { scenario_id })) if scenario_id == "NOPE"
    ));
}

#[tokio::test]
async fn detail_shows_the_version_in_force_on_the_date() {
    let t = migrated_with(INSTRUMENTS).await;
    let mut v1 = version(
        "GROWTH",
        date(2024, 1, 1),
        &[("SPY", "0.6"), ("TLT", "0.4")],
    );
    v1.allocations[1].asset_class = Some(AssetClass::Bond);
    set(t.conn(), &v1).await.unwrap();
    set(
        t.conn(),
        &version("GROWTH", date(2024, 7, 1), &[("GLD", "1")]),
    )
    .await
    .unwrap();

    let db = t.conn();
    let in_force = |date| async move {
        scenarios::detail(db, "GROWTH", date)
            .await
            .unwrap()
            .portfolio
            .map(|p| {
                let holdings: Vec<(String, String, Option<AssetClass>)> = p
                    .holdings
                    .iter()
                    .map(|h| {
                        (
                            h.instrument.ticker.clone(),
                            h.allocation.weight.to_string(),
                            h.allocation.asset_class,
                        )
                    })
                    .collect();
                (p.portfolio.portfolio_name, holdings)
            })
    };
    assert_eq!(in_force(date(2023, 12, 31)).await, None);
    let v1_holdings = (
        "GROWTH_v1".to_owned(),
        vec![
            (
                "SPY".to_owned(),
                "0.6000".to_owned(),
                Some(AssetClass::Equity),
            ),
            (
                "TLT".to_owned(),
                "0.4000".to_owned(),
                Some(AssetClass::Bond),
            ),
        ],
    );
    assert_eq!(in_force(date(2024, 1, 1)).await, Some(v1_holdings.clone()));
    assert_eq!(in_force(date(2024, 6, 30)).await, Some(v1_holdings));
    let v2 = Some((
        "GROWTH_v2".to_owned(),
        vec![(
            "GLD".to_owned(),
            "1.0000".to_owned(),
            Some(AssetClass::Equity),
        )],
    ));
    assert_eq!(in_force(date(2024, 7, 1)).await, v2);
    assert_eq!(in_force(date(2031, 1, 1)).await, v2);
    // Another scenario's versions are not this one's.
    assert!(
        scenarios::detail(t.conn(), "MIN_VOL", date(2024, 3, 1))
            .await
            .unwrap()
            .portfolio
            .is_none()
    );
}

#[tokio::test]
async fn a_new_version_closes_the_previous_one_the_day_before() {
    let t = migrated_with(INSTRUMENTS).await;
    let mut v1 = version("GROWTH", date(2024, 1, 1), &[("SPY", "1")]);
    v1.rebalance_freq = Some(RebalanceFreq::Monthly);
    let first = set(t.conn(), &v1).await.unwrap();
    assert_eq!(first.closed, None);
    assert_eq!(first.portfolio.rebalance_freq, Some(RebalanceFreq::Monthly));

    let second = set(
        t.conn(),
        &version("GROWTH", date(2024, 7, 1), &[("TLT", "1")]),
    )
    .await
    .unwrap();
    let closed = second.closed.unwrap();
    assert_eq!(closed.portfolio_id, first.portfolio.portfolio_id);
    assert_eq!(closed.expiry_date, Some(date(2024, 6, 30)));
    assert_eq!(second.portfolio.expiry_date, None);
    // The frequency carries over when not given.
    assert_eq!(
        second.portfolio.rebalance_freq,
        Some(RebalanceFreq::Monthly)
    );
    assert_eq!(second.portfolio.engine_version.as_deref(), Some("1.0.0"));
    assert_eq!(
        strings(
            t.conn(),
            "SELECT portfolio_name || ' ' || effective_date || ' ' || coalesce(expiry_date::text, '-')
               FROM portfolio_model ORDER BY effective_date"
        )
        .await,
        ["GROWTH_v1 2024-01-01 2024-06-30", "GROWTH_v2 2024-07-01 -"]
    );
}

#[tokio::test]
async fn a_failure_after_closing_the_previous_version_leaves_it_open() {
    let t = migrated_with(INSTRUMENTS).await;
    set(
        t.conn(),
        &version("GROWTH", date(2024, 1, 1), &[("SPY", "1")]),
    )
    .await
    .unwrap();
    // Fault injection: the allocation insert, which comes after the previous version is
    // closed, fails.
    exec(
        t.conn(),
        "CREATE FUNCTION pg_temp_fail() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
         CREATE TRIGGER inject BEFORE INSERT ON portfolio_allocation
           FOR EACH ROW EXECUTE FUNCTION pg_temp_fail();",
    )
    .await;
    let err = set(
        t.conn(),
        &version("GROWTH", date(2024, 7, 1), &[("TLT", "1")]),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(
        strings(
            t.conn(),
            "SELECT portfolio_name || ' ' || coalesce(expiry_date::text, '-') FROM portfolio_model"
        )
        .await,
        ["GROWTH_v1 -"]
    );
}

#[tokio::test]
async fn each_validation_rule_fails_with_its_own_error() {
    let t = migrated_with(INSTRUMENTS).await;
    set(
        t.conn(),
        &version("GROWTH", date(2024, 1, 1), &[("SPY", "1")]),
    )
    .await
    .unwrap();
    let spy_id = instrument_id(&t, "SPY").await;
    let later = date(2025, 1, 1);
    let db = t.conn();
    let attempt = |spec: Vec<(String, String)>, effective: NaiveDate| {
        let spec: Vec<(&str, &str)> = spec.iter().map(|(i, w)| (i.as_str(), w.as_str())).collect();
        let v = version("GROWTH", effective, &spec);
        async move { set(db, &v).await.unwrap_err() }
    };
    let s = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };

    let e = attempt(s(&[("SPY", "-0.0001")]), later).await;
    assert!(
        matches!(e, Error::Scenario(ScenarioError::WeightOutOfRange { .. })),
        "{e}"
    );
    let e = attempt(s(&[("SPY", "1.0001")]), later).await;
    assert!(
        matches!(e, Error::Scenario(ScenarioError::WeightOutOfRange { .. })),
        "{e}"
    );
    let e = attempt(s(&[("SPY", "0.6"), ("TLT", "0.4002")]), later).await;
    assert!(
        matches!(e, Error::Scenario(ScenarioError::WeightSumExceeded { portfolio_id: None, sum }) if sum.to_string() == "1.0002"),
        "{e}"
    );
    let e = attempt(s(&[("SPY", "0.12345")]), later).await;
    assert!(
        matches!(e, Error::Scenario(ScenarioError::WeightTooPrecise { .. })),
        "{e}"
    );
    let e = attempt(s(&[("SPY", "0.5"), ("XXX", "0.5")]), later).await;
    assert!(
        matches!(&e, Error::Instrument(InstrumentError::UnknownInstrument { instrument }) if instrument == "XXX"),
        "{e}"
    );
    let e = attempt(s(&[("id:999999", "0.5")]), later).await;
    assert!(
        matches!(
            e,
            Error::Instrument(InstrumentError::UnknownInstrument { .. })
        ),
        "{e}"
    );
    let e = attempt(s(&[("SPY", "0.5"), ("SPY", "0.5")]), later).await;
    assert!(
        matches!(
            e,
            Error::Scenario(ScenarioError::DuplicateInstrument { .. })
        ),
        "{e}"
    );
    // The same instrument by ticker and by id.
    let by_id = format!("id:{spy_id}");
    let e = attempt(s(&[("SPY", "0.5"), (by_id.as_str(), "0.5")]), later).await;
    assert!(
        matches!(
            e,
            Error::Scenario(ScenarioError::DuplicateInstrument { .. })
        ),
        "{e}"
    );
    for effective in [date(2024, 1, 1), date(2023, 6, 1)] {
        let e = attempt(s(&[("SPY", "1")]), effective).await;
        assert!(
            matches!(e, Error::Scenario(ScenarioError::EffectiveDateNotAfter { latest, .. }) if latest == date(2024, 1, 1)),
            "{e}"
        );
    }
    let e = attempt(Vec::new(), later).await;
    assert!(
        matches!(
            e,
            Error::InvalidInput {
                field: "weights",
                ..
            }
        ),
        "{e}"
    );
    let mut unknown = version("NOPE", later, &[("SPY", "1")]);
    unknown.rebalance_freq = Some(RebalanceFreq::None);
    assert!(matches!(
        set(t.conn(), &unknown).await,
        Err(Error::Scenario(ScenarioError::ScenarioNotFound { .. }))
    ));

    // Nothing of the refused versions was written; 4 decimals and the 0.0001 tolerance pass.
    assert_eq!(row_count(t.conn(), "portfolio_model").await, 1);
    set(
        t.conn(),
        &version("GROWTH", later, &[("SPY", "0.6001"), ("TLT", "0.4000")]),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn the_database_trigger_is_the_last_line_with_the_same_error() {
    let t = migrated_with(INSTRUMENTS).await;
    let created = set(
        t.conn(),
        &version(
            "GROWTH",
            date(2024, 1, 1),
            &[("SPY", "0.7"), ("TLT", "0.3")],
        ),
    )
    .await
    .unwrap();
    // Bypass validation: a direct insert that pushes the sum to 1.2, caught at commit.
    let txn = t.conn().begin().await.unwrap();
    txn.execute_unprepared(&format!(
        "INSERT INTO portfolio_allocation (portfolio_id, instrument_id, weight)
         SELECT {}, instrument_id, 0.2 FROM instrument_master WHERE ticker = 'GLD'",
        created.portfolio.portfolio_id
    ))
    .await
    .unwrap();
    let err = Error::from(txn.commit().await.unwrap_err());
    let Error::Scenario(ScenarioError::WeightSumExceeded { portfolio_id, sum }) = err else {
        panic!("expected WeightSumExceeded, got {err}");
    };
    assert_eq!(portfolio_id, Some(created.portfolio.portfolio_id));
    assert_eq!(sum, Decimal::new(12, 1));
}

#[tokio::test]
async fn an_ambiguous_ticker_must_be_named_by_id() {
    let t = migrated_with(INSTRUMENTS).await;
    exec(
        t.conn(),
        "INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
         VALUES ('ETF', 'SPY', 'KRX', 'KRW')",
    )
    .await;
    let e = set(
        t.conn(),
        &version("GROWTH", date(2024, 1, 1), &[("SPY", "1")]),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Instrument(InstrumentError::AmbiguousTicker { .. })
        ),
        "{e}"
    );
    let krx = count(
        t.conn(),
        "SELECT instrument_id FROM instrument_master WHERE exchange = 'KRX'",
    )
    .await;
    let created = set(
        t.conn(),
        &version("GROWTH", date(2024, 1, 1), &[(&format!("id:{krx}"), "1")]),
    )
    .await
    .unwrap();
    assert_eq!(created.allocations[0].instrument_id, krx);
}

#[tokio::test]
async fn a_new_version_expires_the_cached_runs_it_makes_stale() {
    let t = migrated_with(INSTRUMENTS).await;
    set(
        t.conn(),
        &version("GROWTH", date(2024, 1, 1), &[("SPY", "1")]),
    )
    .await
    .unwrap();
    exec(
        t.conn(),
        "INSERT INTO simulation_run (request_hash, scenario_id, start_date, end_date, initial_amount, engine_version, expires_at)
         VALUES (repeat('a', 64), 'GROWTH', '2024-01-02', '2024-12-31', 100, '1.0.0', NULL),
                (repeat('b', 64), 'GROWTH', '2024-01-02', '2024-03-01', 100, '1.0.0', NULL),
                (repeat('c', 64), 'MIN_VOL', '2024-01-02', '2024-12-31', 100, '1.0.0', NULL);",
    )
    .await;
    let created = set(
        t.conn(),
        &version("GROWTH", date(2024, 7, 1), &[("TLT", "1")]),
    )
    .await
    .unwrap();
    assert_eq!(created.expired_runs, 1);
    assert_eq!(
        strings(
            t.conn(),
            "SELECT left(request_hash, 1) FROM simulation_run WHERE expires_at <= now() ORDER BY 1"
        )
        .await,
        ["a"]
    );
}

fn us_map() -> HashMap<AssetClass, InstrumentRef> {
    [
        (AssetClass::Equity, "SPY"),
        (AssetClass::Bond, "TLT"),
        (AssetClass::Cash, "SHY"),
        (AssetClass::Commodity, "GLD"),
        (AssetClass::Other, "VNQ"),
    ]
    .into_iter()
    .map(|(class, ticker)| (class, ticker.parse().unwrap()))
    .collect()
}

#[tokio::test]
async fn seeding_creates_the_three_portfolios_once_with_exact_weights() {
    let t = migrated_with(INSTRUMENTS).await;
    let map = us_map();
    let settings = Settings::default();
    let seed = || {
        scenarios::seed_scenario_portfolios(
            t.conn(),
            &map,
            date(2000, 1, 1),
            RebalanceFreq::None,
            &settings,
        )
    };
    let first = seed().await.unwrap();
    assert!(
        first
            .iter()
            .all(|(_, s)| matches!(s, SeedStatus::Created { .. })),
        "{first:?}"
    );
    let snapshot =
        "SELECT m.portfolio_name || ' ' || m.effective_date || ' ' || m.rebalance_freq || ' '
                           || i.ticker || ' ' || a.asset_class || ' ' || a.weight::text
                      FROM portfolio_model m
                      JOIN portfolio_allocation a USING (portfolio_id)
                      JOIN instrument_master i USING (instrument_id)
                     ORDER BY m.portfolio_name, a.weight DESC, i.ticker";
    let rows = strings(t.conn(), snapshot).await;
    assert_eq!(rows.len(), 15);
    assert_eq!(
        rows[10..],
        [
            "MIN_VOL_v1 2000-01-01 NONE TLT BOND 0.4500",
            "MIN_VOL_v1 2000-01-01 NONE SHY CASH 0.2500",
            "MIN_VOL_v1 2000-01-01 NONE SPY EQUITY 0.1500",
            "MIN_VOL_v1 2000-01-01 NONE GLD COMMODITY 0.1000",
            "MIN_VOL_v1 2000-01-01 NONE VNQ OTHER 0.0500",
        ]
    );
    assert!(rows.contains(&"GROWTH_v1 2000-01-01 NONE SPY EQUITY 0.5500".to_owned()));
    assert!(rows.contains(&"DEFENSIVE_v1 2000-01-01 NONE TLT BOND 0.4000".to_owned()));

    let again = seed().await.unwrap();
    assert!(
        again
            .iter()
            .all(|(_, s)| matches!(s, SeedStatus::AlreadySeeded { .. })),
        "{again:?}"
    );
    assert_eq!(strings(t.conn(), snapshot).await, rows);

    // A different mapping does not rewrite what is there.
    let mut other = us_map();
    other.insert(AssetClass::Other, "SPY".parse().unwrap());
    other.insert(AssetClass::Equity, "VNQ".parse().unwrap());
    let kept = scenarios::seed_scenario_portfolios(
        t.conn(),
        &other,
        date(2000, 1, 1),
        RebalanceFreq::None,
        &Settings::default(),
    )
    .await
    .unwrap();
    assert!(
        kept.iter()
            .all(|(_, s)| matches!(s, SeedStatus::Kept { .. }))
    );
    assert_eq!(strings(t.conn(), snapshot).await, rows);
}

#[tokio::test]
async fn seeding_is_all_or_nothing() {
    let t = migrated_with(INSTRUMENTS).await;
    let mut incomplete = us_map();
    incomplete.remove(&AssetClass::Other);
    let e = scenarios::seed_scenario_portfolios(
        t.conn(),
        &incomplete,
        date(2000, 1, 1),
        RebalanceFreq::None,
        &Settings::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { field: "map", .. }), "{e}");
    // GROWTH, seeded last, fails: the two seeded before it must not stay.
    exec(
        t.conn(),
        "DELETE FROM scenario_definition WHERE scenario_id = 'GROWTH'",
    )
    .await;
    let e = scenarios::seed_scenario_portfolios(
        t.conn(),
        &us_map(),
        date(2000, 1, 1),
        RebalanceFreq::None,
        &Settings::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, Error::Scenario(ScenarioError::ScenarioNotFound { .. })),
        "{e}"
    );
    assert_eq!(row_count(t.conn(), "portfolio_model").await, 0);
}
