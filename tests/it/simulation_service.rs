//! The simulation service end to end (scenario versions and daily returns in a real PostgreSQL →
//! engine → stored run), its bad requests, the loss limit, and the `foresto` CLI over it
//! (including several processes asking for the same request at once).

use entity::enums::RebalanceFreq;
use foresto::Error;
use foresto::engine::{self, PortfolioVersion, ReturnRow, SimulationInput, Weight};
use foresto::partitions::{self, Parent};
use foresto::scenarios::{self, NewVersion};
use foresto::simulation::{self, SimulationOutcome, SimulationRequest};
use foresto::{ScenarioError, Settings, SimulationError};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::support::{
    self, TestDatabase, date, exec, foresto, foresto_command, foresto_ok, instrument_id,
    migrated_with, row_count, stored_runs, version,
};

/// Daily returns of AAA and BBB (BBB has none on Jan 4; AAA's Jan 5 row is MISSING).
const RETURNS: [(&str, &str, &str, &str); 6] = [
    ("AAA", "2024-01-02", "0.10", "OK"),
    ("BBB", "2024-01-02", "0.00", "OK"),
    ("AAA", "2024-01-03", "-0.20", "OK"),
    ("BBB", "2024-01-03", "0.10", "OK"),
    ("AAA", "2024-01-04", "0.05", "OK"),
    ("AAA", "2024-01-05", "0", "MISSING"),
];

/// GROWTH = 50 % AAA + 50 % BBB from 2024-01-01 (no rebalancing); DEFENSIVE = AAA from
/// 2024-01-01, then BBB from 2024-01-03.
pub(crate) async fn fixture() -> TestDatabase {
    let t = migrated_with(
        "INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
         VALUES ('ETF', 'AAA', 'NYSE', 'USD'), ('ETF', 'BBB', 'NYSE', 'USD');",
    )
    .await;
    let db = t.conn();
    partitions::ensure_range(db, Parent::DailyReturn, date(2024, 1, 2), date(2024, 1, 5))
        .await
        .unwrap();
    for (ticker, date, value, quality) in RETURNS {
        exec(
            db,
            &format!(
                "INSERT INTO daily_return (instrument_id, trade_date, daily_return, data_quality)
                 SELECT instrument_id, '{date}', {value}, '{quality}'
                   FROM instrument_master WHERE ticker = '{ticker}'"
            ),
        )
        .await;
    }
    let never_rebalanced = |scenario, effective, weights: &[(&str, &str)]| NewVersion {
        rebalance_freq: Some(RebalanceFreq::None),
        ..version(scenario, effective, weights)
    };
    for v in [
        never_rebalanced(
            "GROWTH",
            date(2024, 1, 1),
            &[("AAA", "0.5"), ("BBB", "0.5")],
        ),
        never_rebalanced("DEFENSIVE", date(2024, 1, 1), &[("AAA", "1")]),
        never_rebalanced("DEFENSIVE", date(2024, 1, 3), &[("BBB", "1")]),
    ] {
        scenarios::set_portfolio_version(db, &v, &Settings::default())
            .await
            .unwrap();
    }
    t
}

/// January 2024 with 1000 invested, no rebalancing, the configured engine version.
pub(crate) fn request(scenario: &str) -> SimulationRequest {
    SimulationRequest {
        initial_amount: Decimal::new(1000, 0),
        rebalance_freq: None,
        engine_version: foresto::settings::DEFAULT_ENGINE_VERSION.to_owned(),
        ..support::request(scenario, date(2024, 1, 1), date(2024, 1, 31))
    }
}

async fn simulate(
    t: &TestDatabase,
    request: &SimulationRequest,
) -> foresto::Result<SimulationOutcome> {
    simulation::simulate(t.conn(), request, &Settings::default()).await
}

#[tokio::test]
async fn a_scenario_simulates_to_hand_checked_figures_stored_exactly() {
    let t = fixture().await;
    let outcome = simulate(&t, &request("GROWTH")).await.unwrap();
    assert!(!outcome.cache_hit);
    // h = 500/500. Jan 2: AAA 550 → 1050. Jan 3: AAA 440, BBB 550 → 990.
    // Jan 4: AAA 462, BBB filled → 1012. Jan 5: AAA's row is MISSING, BBB has none: no date.
    let navs: Vec<String> = outcome
        .stored
        .path
        .iter()
        .map(|p| format!("{} {}", p.date, p.nav))
        .collect();
    assert_eq!(
        navs,
        [
            "2024-01-02 1050.0000",
            "2024-01-03 990.0000",
            "2024-01-04 1012.0000"
        ]
    );
    let s = &outcome.stored.summary;
    assert_eq!(s.total_return.to_string(), "1.2000");
    assert_eq!(s.final_value.unwrap().to_string(), "1012.00");
    // 990 / 1050 − 1 = −5.714285… %
    assert_eq!(s.max_drawdown.to_string(), "5.7143");
    assert_eq!(s.trading_days, Some(3));
    assert_eq!(s.rebalance_count, Some(0));
    assert_eq!(outcome.filled_returns, Some(1));
    assert_eq!(outcome.loss_limit_breached, None);

    let run = &outcome.stored.run;
    let growth_v1 = scenarios::version_in_force(t.conn(), "GROWTH", date(2024, 1, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.portfolio_id, Some(growth_v1.portfolio_id));
    assert_eq!(run.rebalance_freq, Some(RebalanceFreq::None));
    assert_eq!(run.engine_version, "1.0.0");
    assert_eq!(
        run.request_params,
        Some(serde_json::to_value(request("GROWTH")).unwrap())
    );

    // What is stored is exactly the engine's result at column scale.
    let aaa = instrument_id(&t, "AAA").await;
    let bbb = instrument_id(&t, "BBB").await;
    let returns: Vec<ReturnRow> = RETURNS
        .iter()
        .filter(|r| r.3 == "OK")
        .map(|&(ticker, date, value, _)| ReturnRow {
            instrument_id: if ticker == "AAA" { aaa } else { bbb },
            date: date.parse().unwrap(),
            daily_return: value.parse().unwrap(),
        })
        .collect();
    let versions = [PortfolioVersion {
        portfolio_id: growth_v1.portfolio_id,
        effective_date: date(2024, 1, 1),
        weights: vec![
            Weight {
                instrument_id: aaa,
                weight: 0.5,
            },
            Weight {
                instrument_id: bbb,
                weight: 0.5,
            },
        ],
    }];
    let direct = engine::simulate(&SimulationInput {
        versions: &versions,
        returns: &returns,
        start_date: date(2024, 1, 1),
        end_date: date(2024, 1, 31),
        initial_amount: 1000.0,
        rebalance: RebalanceFreq::None,
        risk_free_rate: 0.0,
    })
    .unwrap();
    let stored_summary = direct.summary.to_stored().unwrap();
    assert_eq!(s.volatility, stored_summary.volatility);
    assert_eq!(s.sharpe_ratio, stored_summary.sharpe_ratio);
    assert_eq!(s.sortino_ratio, stored_summary.sortino_ratio);
    assert_eq!(s.max_recovery_days, Some(stored_summary.max_recovery_days));
    assert_eq!(s.cagr, None);
    let direct_path: Vec<_> = direct.path.iter().map(|p| p.to_stored().unwrap()).collect();
    assert_eq!(outcome.stored.path, direct_path);
    assert_eq!(row_count(t.conn(), "simulation_path").await, 3);
}

#[tokio::test]
async fn a_version_taking_effect_inside_the_window_switches_the_portfolio() {
    let t = fixture().await;
    let outcome = simulate(&t, &request("DEFENSIVE")).await.unwrap();
    // AAA alone: Jan 2 +10 % → 1100. Jan 3 (BBB's version in force): AAA −20 % → 880, then
    // switch into BBB. Jan 4: BBB has no row → 880.
    let navs: Vec<String> = outcome
        .stored
        .path
        .iter()
        .map(|p| p.nav.to_string())
        .collect();
    assert_eq!(navs, ["1100.0000", "880.0000", "880.0000"]);
    assert_eq!(outcome.stored.summary.rebalance_count, Some(1));
    let first = scenarios::version_in_force(t.conn(), "DEFENSIVE", date(2024, 1, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.stored.run.portfolio_id, Some(first.portfolio_id));
}

#[tokio::test]
async fn the_loss_limit_is_checked_against_the_path() {
    let t = fixture().await;
    let mut req = request("GROWTH");
    req.max_loss_limit_pct = Some(Decimal::new(5, 0));
    let breached = simulate(&t, &req).await.unwrap();
    assert_eq!(breached.loss_limit_breached, Some(true));
    assert_eq!(breached.first_breach_date, Some(date(2024, 1, 3)));
    assert_eq!(
        breached.stored.run.max_loss_limit_pct,
        Some(Decimal::new(5, 0))
    );
    // The limit is part of the request: another limit is another run.
    req.max_loss_limit_pct = Some(Decimal::new(6, 0));
    let kept = simulate(&t, &req).await.unwrap();
    assert!(!kept.cache_hit);
    assert_eq!(kept.loss_limit_breached, Some(false));
    assert_eq!(kept.first_breach_date, None);
    // A hit gives the same verdict.
    req.max_loss_limit_pct = Some(Decimal::new(5, 0));
    let hit = simulate(&t, &req).await.unwrap();
    assert!(hit.cache_hit);
    assert_eq!(hit.filled_returns, None);
    assert_eq!(hit.first_breach_date, Some(date(2024, 1, 3)));
    assert_eq!(hit.stored, breached.stored);
}

#[tokio::test]
async fn bad_requests_fail_with_their_own_error_and_store_nothing() {
    let t = fixture().await;
    let bad = |f: fn(&mut SimulationRequest)| {
        let mut r = request("GROWTH");
        f(&mut r);
        r
    };
    type Expected = fn(&Error) -> bool;
    let cases: Vec<(SimulationRequest, Expected)> = vec![
        (
            request("NOPE"),
            |e| matches!(e, Error::Scenario(ScenarioError::ScenarioNotFound { scenario_id }) if scenario_id == "NOPE"),
        ),
        (
            bad(|r| r.start_date = date(2023, 12, 31)),
            |e| matches!(e, Error::Scenario(ScenarioError::NoPortfolioInForce { date: at, .. }) if *at == date(2023, 12, 31)),
        ),
        (bad(|r| r.end_date = r.start_date), |e| {
            matches!(
                e,
                Error::Simulation(SimulationError::InvalidDateRange { .. })
            )
        }),
        (bad(|r| r.initial_amount = Decimal::ZERO), |e| {
            matches!(e, Error::Simulation(SimulationError::InvalidAmount { .. }))
        }),
        (
            bad(|r| {
                r.start_date = date(2024, 2, 1);
                r.end_date = date(2024, 2, 29);
            }),
            |e| {
                matches!(
                    e,
                    Error::Simulation(SimulationError::NoReturnsInWindow { .. })
                )
            },
        ),
        (bad(|r| r.risk_free_rate = Decimal::TWO), |e| {
            matches!(
                e,
                Error::Simulation(SimulationError::RiskFreeRateOutOfRange { .. })
            )
        }),
        (
            bad(|r| r.max_loss_limit_pct = Some(Decimal::new(150, 0))),
            |e| {
                matches!(
                    e,
                    Error::Simulation(SimulationError::LossLimitOutOfRange { .. })
                )
            },
        ),
    ];
    for (req, expected) in cases {
        let err = simulate(&t, &req).await.unwrap_err();
        assert!(expected(&err), "{req:?}: {err}");
    }
    assert_eq!(
        stored_runs(t.conn()).await,
        (0, 0, 0),
        "run, summary, path rows"
    );
}

// --- the CLI ---

const SIMULATE_GROWTH: [&str; 10] = [
    "simulate",
    "--scenario",
    "GROWTH",
    "--start",
    "2024-01-01",
    "--end",
    "2024-01-31",
    "--amount",
    "1000",
    "--json",
];

#[tokio::test]
async fn simulate_json_reports_the_run_and_the_second_call_is_a_cache_hit() {
    let t = fixture().await;
    let first: Value = serde_json::from_str(&foresto_ok(&t, &SIMULATE_GROWTH)).unwrap();
    assert_eq!(first["cache_hit"], false);
    assert_eq!(first["engine_version"], "1.0.0");
    assert_eq!(first["request_hash"], request("GROWTH").request_hash());
    assert_eq!(first["filled_returns"], 1);
    assert_eq!(first["loss_limit_breached"], Value::Null);
    assert_eq!(first["first_breach_date"], Value::Null);
    let summary = first["summary"].as_object().unwrap();
    let mut columns: Vec<&str> = summary.keys().map(String::as_str).collect();
    columns.sort_unstable();
    assert_eq!(
        columns,
        [
            "cagr",
            "created_at",
            "final_value",
            "max_drawdown",
            "max_recovery_days",
            "rebalance_count",
            "run_id",
            "sharpe_ratio",
            "sortino_ratio",
            "summary_id",
            "total_return",
            "trading_days",
            "volatility",
            "worst_1m_return",
            "worst_3m_return",
        ]
    );
    assert_eq!(summary["total_return"], "1.2000");
    assert_eq!(summary["final_value"], "1012.00");
    assert_eq!(summary["trading_days"], 3);
    assert_eq!(summary["run_id"], first["run_id"]);

    let second: Value = serde_json::from_str(&foresto_ok(&t, &SIMULATE_GROWTH)).unwrap();
    assert_eq!(second["cache_hit"], true);
    assert_eq!(second["run_id"], first["run_id"]);
    assert_eq!(second["summary"], first["summary"]);
    assert_eq!(second["filled_returns"], Value::Null);
}

#[tokio::test]
async fn a_bad_request_exits_1_with_one_line_and_stores_nothing() {
    let t = fixture().await;
    let growth_in = |start, end| ["--scenario", "GROWTH", "--start", start, "--end", end];
    let january = growth_in("2024-01-01", "2024-01-31");
    for (args, message) in [
        (
            vec![
                "--scenario",
                "NOPE",
                "--start",
                "2024-01-01",
                "--end",
                "2024-01-31",
                "--amount",
                "1000",
            ],
            "error: scenario not found: NOPE",
        ),
        (
            [
                &growth_in("2024-01-31", "2024-01-01")[..],
                &["--amount", "1000"],
            ]
            .concat(),
            "error: end date 2024-01-01 is not after start date 2024-01-31",
        ),
        (
            [
                &growth_in("2024-03-01", "2024-03-31")[..],
                &["--amount", "1000"],
            ]
            .concat(),
            "error: no daily returns for the portfolio's instruments between 2024-03-01 and 2024-03-31",
        ),
        // Numbers with a minus sign reach the service, which says what is wrong with them.
        (
            [&january[..], &["--amount", "-5"]].concat(),
            "error: initial amount -5 must be positive, with at most 2 decimals and 16 digits",
        ),
        (
            [&january[..], &["--amount", "1000", "--rf", "-2"]].concat(),
            "error: risk-free rate -2 is out of range: an annual fraction within -1..=1",
        ),
        (
            [&january[..], &["--amount", "1000", "--max-loss", "-5"]].concat(),
            "error: loss limit -5 % is out of range: more than 0, at most 100, 2 decimals",
        ),
    ] {
        let out = foresto(&t, &[&["simulate"], &args[..]].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.trim_end(), message, "{args:?}");
        assert!(out.stdout.is_empty());
    }
    // A negative risk-free rate is a rate like any other.
    let negative_rate: Value = serde_json::from_str(&foresto_ok(
        &t,
        &[
            &["simulate"],
            &january[..],
            &["--amount", "1000", "--rf", "-0.01", "--json"],
        ]
        .concat(),
    ))
    .unwrap();
    assert_eq!(negative_rate["cache_hit"], false);
    assert_eq!(row_count(t.conn(), "simulation_run").await, 1);
}

#[tokio::test]
async fn processes_and_tasks_asking_at_once_compute_once() {
    let t = fixture().await;
    let children: Vec<std::process::Child> = (0..3)
        .map(|_| {
            foresto_command(&t, &SIMULATE_GROWTH)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let db = foresto::db::connect(t.url(), &Default::default())
            .await
            .unwrap();
        tasks.push(tokio::spawn(async move {
            simulation::simulate(&db, &request("GROWTH"), &Settings::default())
                .await
                .unwrap()
        }));
    }
    let mut outcomes: Vec<(i64, bool)> = Vec::new();
    for task in tasks {
        let o = task.await.unwrap();
        outcomes.push((o.stored.run.run_id, o.cache_hit));
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        outcomes.push((
            v["run_id"].as_i64().unwrap(),
            v["cache_hit"].as_bool().unwrap(),
        ));
    }
    assert_eq!(
        outcomes.iter().filter(|(_, hit)| !hit).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes.iter().all(|(id, _)| *id == outcomes[0].0),
        "{outcomes:?}"
    );
    assert_eq!(row_count(t.conn(), "simulation_run").await, 1);
}

#[tokio::test]
async fn the_cli_sets_seeds_shows_lists_and_cleans_up() {
    let t = fixture().await;
    exec(
        t.conn(),
        "INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
         VALUES ('ETF', 'CCC', 'NYSE', 'USD'), ('ETF', 'DDD', 'NYSE', 'USD'), ('ETF', 'EEE', 'NYSE', 'USD');",
    )
    .await;
    let seeded: Value = serde_json::from_str(&foresto_ok(
        &t,
        &[
            "portfolios",
            "seed",
            "--map",
            "EQUITY=AAA,BOND=BBB,CASH=CCC,COMMODITY=DDD,OTHER=EEE",
            "--json",
        ],
    ))
    .unwrap();
    // GROWTH and DEFENSIVE already have versions; MIN_VOL is created.
    let statuses: Vec<(&str, &str)> = seeded
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o[0].as_str().unwrap(), o[1]["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("MIN_VOL", "created"),
            ("DEFENSIVE", "kept"),
            ("GROWTH", "kept")
        ]
    );

    let set = foresto_ok(
        &t,
        &[
            "portfolios",
            "set",
            "GROWTH",
            "--effective",
            "2024-06-01",
            "--weights",
            "AAA=0.7, BBB=0.2",
            "--asset-classes",
            "AAA=equity,BBB=BOND",
            "--rebalance",
            "quarterly",
        ],
    );
    assert!(set.contains("GROWTH_v2"), "{set}");
    assert!(set.contains("now expires 2024-05-31"), "{set}");
    let bad = foresto(
        &t,
        &[
            "portfolios",
            "set",
            "GROWTH",
            "--effective",
            "2024-07-01",
            "--weights",
            "AAA=0.12345",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(bad.stderr).unwrap().trim_end(),
        "error: weight 0.12345 of AAA has more than 4 decimal places"
    );

    let shown: Value = serde_json::from_str(&foresto_ok(
        &t,
        &[
            "scenarios",
            "show",
            "GROWTH",
            "--as-of",
            "2024-06-01",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(
        shown["portfolio"]["portfolio"]["portfolio_name"],
        "GROWTH_v2"
    );
    assert_eq!(
        shown["portfolio"]["portfolio"]["rebalance_freq"],
        "QUARTERLY"
    );
    assert_eq!(
        shown["portfolio"]["holdings"][0]["instrument"]["ticker"],
        "AAA"
    );
    assert_eq!(
        shown["portfolio"]["holdings"][0]["allocation"]["weight"],
        "0.7000"
    );
    assert_eq!(
        shown["portfolio"]["holdings"][0]["allocation"]["asset_class"],
        "EQUITY"
    );
    let listed = foresto_ok(&t, &["scenarios", "list"]);
    assert!(
        listed.contains("MIN_VOL") && listed.contains("변동성 최소화"),
        "{listed}"
    );

    let simulated: Value = serde_json::from_str(&foresto_ok(&t, &SIMULATE_GROWTH)).unwrap();
    let run_id = simulated["run_id"].as_i64().unwrap().to_string();
    let listed: Value = serde_json::from_str(&foresto_ok(
        &t,
        &[
            "runs",
            "list",
            "--scenario",
            "GROWTH",
            "--status",
            "completed",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let by_hash: Value = serde_json::from_str(&foresto_ok(
        &t,
        &[
            "runs",
            "show",
            simulated["request_hash"].as_str().unwrap(),
            "--path",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(by_hash["run"]["run_id"].to_string(), run_id);
    assert_eq!(by_hash["run"]["request_params"]["scenario_id"], "GROWTH");
    assert_eq!(by_hash["path"][1]["nav"], "990.0000");
    let text = foresto_ok(&t, &["runs", "show", &run_id]);
    assert!(
        text.contains("total return %") && text.contains("1.2000"),
        "{text}"
    );

    exec(
        t.conn(),
        "UPDATE simulation_run SET expires_at = now() - interval '1 day'",
    )
    .await;
    let dry = foresto_ok(&t, &["runs", "cleanup", "--dry-run"]);
    assert_eq!(dry.trim(), "1 expired runs would be deleted");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().to_str().unwrap();
    let done = foresto_ok(&t, &["runs", "cleanup", "--archive", archive]);
    assert_eq!(
        done.trim(),
        "deleted 1 expired runs in 1 batches, archived 1 files"
    );
    assert_eq!(row_count(t.conn(), "simulation_run").await, 0);
}
