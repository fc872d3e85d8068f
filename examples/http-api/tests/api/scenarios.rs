//! `GET /api/v1/scenarios` and `GET /api/v1/scenarios/{id}`.

use foresto::testing::TestDatabase;

use crate::support::{Api, loaded};

#[tokio::test]
async fn lists_the_active_scenarios_in_display_order() {
    let t = TestDatabase::migrated().await;
    let api = Api::on(t.conn()).await;
    let reply = api.get("/api/v1/scenarios").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let ids: Vec<&str> = reply.body["scenarios"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["scenario_id"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids, ["MIN_VOL", "DEFENSIVE", "GROWTH"]);
}

#[tokio::test]
async fn detail_gives_the_version_in_force_with_its_holdings_and_the_disclaimer() {
    let t = loaded().await;
    let api = Api::on(t.conn()).await;
    let reply = api.get("/api/v1/scenarios/GROWTH?as_of=2020-06-01").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = &reply.body;
    assert_eq!(body["as_of"], "2020-06-01");
    assert!(
        !body["scenario"]["disclaimer"]
            .as_str()
            .expect("a disclaimer")
            .is_empty()
    );
    let portfolio = &body["portfolio"];
    assert_eq!(portfolio["effective_date"], "2020-01-02");
    assert!(portfolio["expiry_date"].is_null());
    let holdings: Vec<(&str, &str)> = portfolio["holdings"]
        .as_array()
        .expect("holdings")
        .iter()
        .map(|h| (h["ticker"].as_str().unwrap(), h["weight"].as_str().unwrap()))
        .collect();
    // Largest weight first, weights as exact strings at the column's scale.
    assert_eq!(
        holdings,
        [
            ("SPY", "0.5500"),
            ("TLT", "0.2000"),
            ("GLD", "0.1000"),
            ("SHY", "0.1000"),
            ("VNQ", "0.0500")
        ]
    );

    let before = api.get("/api/v1/scenarios/GROWTH?as_of=2019-12-31").await;
    assert_eq!(before.status, 200, "{before:?}");
    assert!(before.body["portfolio"].is_null(), "{before:?}");
}

#[tokio::test]
async fn detail_refuses_unknown_scenarios_and_bad_queries() {
    let t = TestDatabase::migrated().await;
    let api = Api::on(t.conn()).await;
    let cases = [
        ("/api/v1/scenarios/NO_SUCH", 404, "scenario_not_found"),
        (
            "/api/v1/scenarios/GROWTH?as_of=2020-13-01",
            422,
            "invalid_query",
        ),
        (
            "/api/v1/scenarios/GROWTH?asof=2020-01-01",
            422,
            "invalid_query",
        ),
        // PostgreSQL refuses such a date or such text with an error of its own: without the
        // API's checks, these would be 500s.
        (
            "/api/v1/scenarios/GROWTH?as_of=-5000-01-01",
            422,
            "invalid_input",
        ),
        ("/api/v1/scenarios/GRO%00WTH", 422, "invalid_input"),
    ];
    for (path, status, code) in cases {
        let reply = api.get(path).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{path}: {reply:?}"
        );
    }
}
