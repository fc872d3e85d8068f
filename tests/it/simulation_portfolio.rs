//! Portfolios given directly in a request (instruments and weights, no scenario): the same
//! figures as a scenario holding those weights, the result cache, every refusal typed and
//! storing nothing, and `foresto simulate --weights`.

use entity::enums::RebalanceFreq;
use entity::simulation_summary;
use foresto::engine::StoredPathPoint;
use foresto::simulation::request::InstrumentWeight;
use foresto::simulation::{self, SimulationOutcome, SimulationRequest, Subject};
use foresto::{Error, InstrumentError, ScenarioError, Settings};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::support::{
    TestDatabase, date, foresto, foresto_ok, instrument_id, migrated_with, real_etf_data, request,
    stored_runs,
};

/// A portfolio request for 2005–2015, 1 000 000 invested, rebalanced monthly; `weights` as
/// (instrument, weight) written as given.
fn portfolio(weights: &[(&str, &str)]) -> SimulationRequest {
    SimulationRequest {
        subject: Subject::Portfolio {
            weights: weights
                .iter()
                .map(|(instrument, weight)| InstrumentWeight {
                    instrument: (*instrument).to_owned(),
                    weight: weight.parse().unwrap(),
                })
                .collect(),
        },
        ..request("-", date(2005, 1, 3), date(2015, 12, 31))
    }
}

async fn simulate(
    t: &TestDatabase,
    request: &SimulationRequest,
) -> foresto::Result<SimulationOutcome> {
    simulation::simulate(t.conn(), request, &Settings::default()).await
}

/// A summary's figures, without the ids and timestamp of the row that holds them.
fn figures(s: &simulation_summary::Model) -> simulation_summary::Model {
    simulation_summary::Model {
        summary_id: 0,
        run_id: 0,
        created_at: None,
        ..s.clone()
    }
}

/// Asserts two paths are equal, naming the first point that is not (a path is thousands of
/// points long).
fn assert_same_path(left: &[StoredPathPoint], right: &[StoredPathPoint]) {
    assert_eq!(left.len(), right.len(), "path lengths");
    if let Some(i) = left.iter().zip(right).position(|(l, r)| l != r) {
        panic!("paths differ first at {i}: {:?} vs {:?}", left[i], right[i]);
    }
}

#[tokio::test]
async fn a_portfolio_has_the_figures_of_the_scenario_holding_its_weights() {
    let t = real_etf_data().await;
    let growth = foresto::scenarios::version_in_force(t.conn(), "GROWTH", date(2005, 1, 3))
        .await
        .unwrap()
        .unwrap();
    let holdings = foresto::scenarios::holdings(t.conn(), growth.portfolio_id)
        .await
        .unwrap();
    assert_eq!(holdings.len(), 5);
    let weights: Vec<(String, String)> = holdings
        .iter()
        .map(|h| (h.instrument.ticker.clone(), h.allocation.weight.to_string()))
        .collect();
    let weights: Vec<(&str, &str)> = weights
        .iter()
        .map(|(t, w)| (t.as_str(), w.as_str()))
        .collect();
    for rebalance in [Some(RebalanceFreq::Monthly), Some(RebalanceFreq::None)] {
        let scenario = SimulationRequest {
            rebalance_freq: rebalance,
            ..request("GROWTH", date(2005, 1, 3), date(2015, 12, 31))
        };
        let direct = SimulationRequest {
            rebalance_freq: rebalance,
            ..portfolio(&weights)
        };
        let by_scenario = simulate(&t, &scenario).await.unwrap();
        let by_weights = simulate(&t, &direct).await.unwrap();
        assert!(!by_scenario.cache_hit && !by_weights.cache_hit);
        assert_ne!(by_scenario.stored.run.run_id, by_weights.stored.run.run_id);
        assert_same_path(&by_weights.stored.path, &by_scenario.stored.path);
        assert_eq!(
            figures(&by_weights.stored.summary),
            figures(&by_scenario.stored.summary),
            "{rebalance:?}"
        );
        assert_eq!(by_weights.filled_returns, by_scenario.filled_returns);
        // Written in another order, the weights give the same figures (a loss limit, which
        // changes no figure, makes it a request of its own, computed afresh).
        let mut reversed_weights = weights.clone();
        reversed_weights.reverse();
        let reversed = SimulationRequest {
            rebalance_freq: rebalance,
            max_loss_limit_pct: Some(Decimal::ONE_HUNDRED),
            ..portfolio(&reversed_weights)
        };
        let by_reversed = simulate(&t, &reversed).await.unwrap();
        assert!(!by_reversed.cache_hit);
        assert_same_path(&by_reversed.stored.path, &by_scenario.stored.path);
        assert!(by_weights.stored.path.len() > 2_700, "{rebalance:?}");

        let run = &by_weights.stored.run;
        assert_eq!((run.scenario_id.as_deref(), run.portfolio_id), (None, None));
        assert_eq!(run.rebalance_freq, rebalance);
        assert_eq!(
            run.request_params,
            Some(serde_json::to_value(&direct).unwrap())
        );
        assert_eq!(run.request_hash, direct.request_hash());
    }
}

#[tokio::test]
async fn a_portfolio_run_is_served_from_the_cache_whatever_the_order_and_spelling_of_its_weights() {
    let t = real_etf_data().await;
    let first = simulate(&t, &portfolio(&[("SPY", "0.6"), ("TLT", "0.4")]))
        .await
        .unwrap();
    assert!(!first.cache_hit);
    let again = simulate(&t, &portfolio(&[("TLT", "0.40"), ("SPY", "0.600")]))
        .await
        .unwrap();
    assert!(again.cache_hit);
    assert_eq!(again.filled_returns, None);
    assert_eq!(again.stored, first.stored);
    let other = simulate(&t, &portfolio(&[("SPY", "0.5"), ("TLT", "0.5")]))
        .await
        .unwrap();
    assert!(!other.cache_hit);
}

#[tokio::test]
async fn bad_portfolio_weights_fail_with_their_own_error_and_store_nothing() {
    // AAA has returns; DUP is listed on two exchanges.
    let t = migrated_with(
        "INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
         VALUES ('ETF', 'AAA', 'NYSE', 'USD'), ('ETF', 'DUP', 'NYSE', 'USD'),
                ('ETF', 'DUP', 'LSE', 'GBP');
         INSERT INTO daily_return (instrument_id, trade_date, daily_return)
         SELECT instrument_id, DATE '2024-01-02', 0.01 FROM instrument_master WHERE ticker = 'AAA';",
    )
    .await;
    let aaa = format!("id:{}", instrument_id(&t, "AAA").await);
    type Expected = fn(&Error) -> bool;
    let cases: Vec<(Vec<(&str, &str)>, Expected)> = vec![
        (vec![("AAA", "1.5")], |e| {
            matches!(e, Error::Scenario(ScenarioError::WeightOutOfRange { .. }))
        }),
        (vec![("AAA", "-0.1")], |e| {
            matches!(e, Error::Scenario(ScenarioError::WeightOutOfRange { .. }))
        }),
        (vec![("AAA", "0.12345")], |e| {
            matches!(e, Error::Scenario(ScenarioError::WeightTooPrecise { .. }))
        }),
        (vec![("AAA", "0.6"), ("DUP", "0.4002")], |e| {
            matches!(
                e,
                Error::Scenario(ScenarioError::WeightSumExceeded {
                    portfolio_id: None,
                    ..
                })
            )
        }),
        (vec![("AAA", "0.5"), ("AAA", "0.5")], |e| {
            matches!(
                e,
                Error::Scenario(ScenarioError::DuplicateInstrument { .. })
            )
        }),
        (
            vec![("AAA", "0.5"), (aaa.as_str(), "0.5")],
            |e| matches!(e, Error::Scenario(ScenarioError::DuplicateInstrument { instrument }) if instrument.starts_with("id:")),
        ),
        (
            vec![("NOPE", "1")],
            |e| matches!(e, Error::Instrument(InstrumentError::UnknownInstrument { instrument }) if instrument == "NOPE"),
        ),
        (vec![("id:999999", "1")], |e| {
            matches!(
                e,
                Error::Instrument(InstrumentError::UnknownInstrument { .. })
            )
        }),
        (
            vec![("DUP", "1")],
            |e| matches!(e, Error::Instrument(InstrumentError::AmbiguousTicker { candidates, .. }) if candidates.len() == 2),
        ),
        (vec![], |e| {
            matches!(
                e,
                Error::InvalidInput {
                    field: "weights",
                    ..
                }
            )
        }),
        (vec![("id:x", "1")], |e| {
            matches!(
                e,
                Error::InvalidInput {
                    field: "instrument",
                    ..
                }
            )
        }),
    ];
    for (weights, expected) in cases {
        let req = SimulationRequest {
            end_date: date(2024, 1, 31),
            start_date: date(2024, 1, 1),
            ..portfolio(&weights)
        };
        let err = simulate(&t, &req).await.unwrap_err();
        assert!(expected(&err), "{weights:?}: {err}");
        assert!(!err.to_string().contains('\n'), "{err}");
    }
    assert_eq!(
        stored_runs(t.conn()).await,
        (0, 0, 0),
        "run, summary, path rows"
    );
    // The same instruments with good weights do simulate.
    let fine = SimulationRequest {
        end_date: date(2024, 1, 31),
        start_date: date(2024, 1, 1),
        ..portfolio(&[("AAA", "0.5")])
    };
    assert_eq!(simulate(&t, &fine).await.unwrap().stored.path.len(), 1);
}

const SIMULATE_60_40: [&str; 11] = [
    "simulate",
    "--weights",
    "SPY=0.6, TLT=0.4",
    "--start",
    "2005-01-03",
    "--end",
    "2015-12-31",
    "--amount",
    "1000000",
    "--rebalance",
    "monthly",
];

#[tokio::test]
async fn simulate_weights_runs_a_portfolio_that_reordered_weights_find_in_the_cache() {
    let t = real_etf_data().await;
    let first: Value = serde_json::from_str(&foresto_ok(
        &t,
        &[&SIMULATE_60_40[..], &["--json"]].concat(),
    ))
    .unwrap();
    assert_eq!(first["cache_hit"], false);
    assert_eq!(
        first["request_hash"],
        portfolio(&[("SPY", "0.6"), ("TLT", "0.4")]).request_hash()
    );
    let mut reordered = SIMULATE_60_40;
    reordered[2] = "TLT=0.40,SPY=0.600";
    let text = foresto_ok(&t, &reordered);
    assert!(text.contains("(cache hit)"), "{text}");
    assert!(
        text.contains("portfolio TLT=0.40,SPY=0.600 from 2005-01-03 to 2015-12-31"),
        "{text}"
    );
    assert!(
        text.contains(first["run_id"].to_string().as_str()),
        "{text}"
    );

    let both = foresto(
        &t,
        &[&SIMULATE_60_40[..], &["--scenario", "GROWTH"]].concat(),
    );
    assert_eq!(both.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&both.stderr).contains("cannot be used with"),
        "{both:?}"
    );
    let mut too_precise = SIMULATE_60_40;
    too_precise[2] = "SPY=0.12345,TLT=0.4";
    let out = foresto(&t, &too_precise);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap().trim_end(),
        "error: weight 0.12345 of SPY has more than 4 decimal places"
    );
}
