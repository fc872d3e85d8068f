//! `POST /api/v1/backtest/scenario`, `POST /api/v1/backtest/portfolio` and
//! `GET /api/v1/backtest/scenario/{run_id}/path`.

use serde_json::{Value, json};

use crate::support::{Api, loaded, stored_hashes};

const SCENARIO: &str = "/api/v1/backtest/scenario";
const PORTFOLIO: &str = "/api/v1/backtest/portfolio";

/// GROWTH over 2020 from 1,000,000, rebalanced monthly, with a 10 % loss limit.
fn growth_2020() -> Value {
    json!({
        "scenario_id": "GROWTH",
        "start_date": "2020-01-02",
        "end_date": "2020-12-31",
        "initial_amount": "1000000",
        "rebalance_freq": "MONTHLY",
        "max_loss_limit_pct": "10",
    })
}

/// `base` with `changes` applied (a `null` change removes the field).
fn with(base: Value, changes: Value) -> Value {
    let mut body = base;
    for (key, value) in changes.as_object().expect("an object") {
        if value.is_null() {
            body.as_object_mut().unwrap().remove(key);
        } else {
            body[key] = value.clone();
        }
    }
    body
}

#[tokio::test]
async fn a_scenario_backtest_is_computed_once_then_served_from_the_cache_with_its_path() {
    let t = loaded().await;
    let api = Api::on(t.conn()).await;
    let first = api.post(SCENARIO, &growth_2020()).await;
    assert_eq!(first.status, 200, "{first:?}");
    let body = &first.body;
    assert_eq!(body["cache_hit"], false);
    let run_id = body["run_id"].as_i64().expect("a run id");
    let hash = body["request_hash"].as_str().expect("a hash").to_owned();
    assert_eq!(hash.len(), 64);
    let summary = &body["summary"];
    // Decimals travel as exact strings.
    for figure in ["total_return", "max_drawdown", "final_value", "volatility"] {
        let text = summary[figure]
            .as_str()
            .unwrap_or_else(|| panic!("{figure}: {summary}"));
        text.parse::<rust_decimal::Decimal>()
            .unwrap_or_else(|e| panic!("{figure} = {text:?}: {e}"));
    }
    let days = summary["trading_days"].as_i64().expect("trading days");
    assert!(days > 200, "{summary}");
    // The spring of 2020 took GROWTH more than 10 % below its high.
    assert_eq!(body["loss_limit_breached"], true, "{body}");
    assert!(
        body["first_breach_date"]
            .as_str()
            .unwrap()
            .starts_with("2020-")
    );

    // The same request written differently (a number, trailing zeros) is the same request.
    let again = api
        .post(
            SCENARIO,
            &with(growth_2020(), json!({"initial_amount": 1000000.00})),
        )
        .await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["cache_hit"], true);
    assert_eq!(again.body["run_id"], run_id);
    assert_eq!(again.body["request_hash"], hash.as_str());
    assert_eq!(stored_hashes(t.conn()).await, std::slice::from_ref(&hash));

    for key in [run_id.to_string(), hash] {
        let reply = api
            .get(&format!("/api/v1/backtest/scenario/{key}/path"))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body["run_id"], run_id);
        let path = reply.body["path"].as_array().expect("a path");
        assert_eq!(path.len() as i64, days);
        let dates: Vec<&str> = path.iter().map(|p| p["date"].as_str().unwrap()).collect();
        assert!(dates.windows(2).all(|w| w[0] < w[1]), "dates in order");
        assert!(path[0]["nav"].is_string(), "{}", path[0]);
    }
}

#[tokio::test]
async fn a_portfolio_backtest_simulates_the_weights_given() {
    let t = loaded().await;
    let api = Api::on(t.conn()).await;
    let body = json!({
        "weights": {"SPY": "0.6", "TLT": "0.4"},
        "start_date": "2020-01-02",
        "end_date": "2020-12-31",
        "initial_amount": "10000",
        "rebalance_freq": "QUARTERLY",
    });
    let first = api.post(PORTFOLIO, &body).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["cache_hit"], false);
    assert!(first.body["loss_limit_breached"].is_null());
    // The weights in another order are the same portfolio.
    let reordered = with(body, json!({"weights": {"TLT": "0.40", "SPY": "0.6"}}));
    let again = api.post(PORTFOLIO, &reordered).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["cache_hit"], true);
    assert_eq!(again.body["run_id"], first.body["run_id"]);
    let path = api
        .get(&format!(
            "/api/v1/backtest/scenario/{}/path",
            first.body["run_id"]
        ))
        .await;
    assert_eq!(path.status, 200, "{path:?}");
    assert_eq!(
        path.body["path"].as_array().unwrap().len() as i64,
        first.body["summary"]["trading_days"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn bad_scenario_requests_are_refused_with_their_own_code_and_store_nothing() {
    let t = loaded().await;
    let api = Api::on(t.conn()).await;
    let cases = [
        (json!({"scenario_id": "NO_SUCH"}), 404, "scenario_not_found"),
        (
            json!({"start_date": "2020-12-31", "end_date": "2020-01-02"}),
            422,
            "invalid_date_range",
        ),
        (json!({"initial_amount": "0"}), 422, "invalid_amount"),
        (json!({"initial_amount": -5}), 422, "invalid_amount"),
        (json!({"initial_amount": "10.001"}), 422, "invalid_amount"),
        (
            json!({"risk_free_rate": "1.5"}),
            422,
            "invalid_risk_free_rate",
        ),
        (
            json!({"max_loss_limit_pct": "0"}),
            422,
            "invalid_loss_limit",
        ),
        (json!({"rebalance_freq": "WEEKLY"}), 422, "invalid_body"),
        (json!({"initial_amount": "lots"}), 422, "invalid_body"),
        (json!({"start_date": "2020-02-30"}), 422, "invalid_body"),
        (json!({"start_date": null}), 422, "invalid_body"),
        (json!({"max_loss": "10"}), 422, "invalid_body"),
        (json!({"weights": {"SPY": "1"}}), 422, "invalid_input"),
        (json!({"scenario_id": null}), 422, "invalid_input"),
        // Before the portfolio's first version, and after the last return.
        (
            json!({"start_date": "2019-06-03", "end_date": "2020-06-01"}),
            422,
            "no_portfolio_in_force",
        ),
        (
            json!({"start_date": "2021-02-01", "end_date": "2021-03-01"}),
            422,
            "no_returns_in_window",
        ),
        // What PostgreSQL would refuse with an error of its own (a 500) without the API's checks.
        (json!({"start_date": "-5000-01-01"}), 422, "invalid_input"),
        (json!({"scenario_id": "GRO\u{0}WTH"}), 422, "invalid_input"),
    ];
    for (changes, status, code) in cases {
        let reply = api
            .post(SCENARIO, &with(growth_2020(), changes.clone()))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{changes}: {reply:?}"
        );
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            !message.is_empty() && !message.contains('\n'),
            "{message:?}"
        );
    }
    assert_eq!(stored_hashes(t.conn()).await, Vec::<String>::new());
}

#[tokio::test]
async fn bad_portfolio_requests_are_refused_with_their_own_code_and_store_nothing() {
    let t = loaded().await;
    let api = Api::on(t.conn()).await;
    let base = || {
        with(
            growth_2020(),
            json!({"scenario_id": null, "weights": {"SPY": "0.6", "TLT": "0.4"}}),
        )
    };
    let cases = [
        (
            json!({"weights": {"SPY": "0.7", "TLT": "0.4"}}),
            422,
            "invalid_weights",
        ),
        (json!({"weights": {"SPY": "1.5"}}), 422, "invalid_weights"),
        (
            json!({"weights": {"SPY": "0.12345"}}),
            422,
            "invalid_weights",
        ),
        (json!({"weights": {"SPY": "abc"}}), 422, "invalid_body"),
        (json!({"weights": ["SPY", "0.6"]}), 422, "invalid_body"),
        (json!({"weights": {}}), 422, "invalid_input"),
        (
            json!({"weights": {"NOPE": "0.5"}}),
            404,
            "instrument_not_found",
        ),
        (json!({"scenario_id": "GROWTH"}), 422, "invalid_input"),
        (json!({"weights": null}), 422, "invalid_input"),
        (
            json!({"weights": {"S\u{1}PY": "0.5"}}),
            422,
            "invalid_input",
        ),
    ];
    for (changes, status, code) in cases {
        let reply = api.post(PORTFOLIO, &with(base(), changes.clone())).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{changes}: {reply:?}"
        );
    }
    // A repeated key is two weights for one instrument, not the last one silently winning.
    let text = r#"{"weights": {"SPY": "0.3", "SPY": "0.5"}, "start_date": "2020-01-02",
                   "end_date": "2020-12-31", "initial_amount": "1000"}"#;
    let repeated = api
        .post_raw(PORTFOLIO, Some("application/json"), text)
        .await;
    assert_eq!(
        (repeated.status, repeated.code()),
        (422, "invalid_weights"),
        "{repeated:?}"
    );
    assert_eq!(stored_hashes(t.conn()).await, Vec::<String>::new());
}

#[tokio::test]
async fn bodies_that_are_not_json_get_the_envelope() {
    let t = loaded().await;
    let api = Api::on(t.conn()).await;
    let json = Some("application/json");
    let cases = [
        (json, r#"{"scenario_id": "GROWTH", "#, 400, "malformed_json"),
        (json, "", 400, "malformed_json"),
        (Some("text/plain"), "{}", 415, "unsupported_media_type"),
        (None, "{}", 415, "unsupported_media_type"),
    ];
    for (content_type, text, status, code) in cases {
        for route in [SCENARIO, PORTFOLIO] {
            let reply = api.post_raw(route, content_type, text).await;
            assert_eq!(
                (reply.status, reply.code()),
                (status, code),
                "{text:?}: {reply:?}"
            );
        }
    }
    // Beyond axum's 2 MB body limit.
    let huge = format!(r#"{{"scenario_id": "{}"}}"#, "A".repeat(3 << 20));
    let reply = api.post_raw(SCENARIO, json, &huge).await;
    assert_eq!((reply.status, reply.code()), (413, "payload_too_large"));
    assert_eq!(stored_hashes(t.conn()).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_path_of_an_unknown_run_is_404_and_a_bad_key_422() {
    let t = loaded().await;
    let api = Api::on(t.conn()).await;
    let hash = "ab".repeat(32);
    for (key, status, code) in [
        ("4242", 404, "not_found"),
        (hash.as_str(), 404, "not_found"),
        ("run-1", 422, "invalid_input"),
        ("99999999999999999999", 422, "invalid_input"),
    ] {
        let reply = api
            .get(&format!("/api/v1/backtest/scenario/{key}/path"))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{key}: {reply:?}"
        );
    }
}
