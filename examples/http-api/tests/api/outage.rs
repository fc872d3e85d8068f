//! A database that cannot be reached is a 503 with the envelope, never a 500 or a hang.

use std::time::Duration;

use sea_orm::{ConnectOptions, Database};
use serde_json::json;

use crate::support::{Api, loaded};

const ROUTES: [&str; 3] = [
    "/api/v1/scenarios",
    "/api/v1/scenarios/GROWTH?as_of=2020-06-01",
    "/api/v1/instruments/SPY/prices?from=2020-03-01&to=2020-03-31",
];

fn backtest() -> serde_json::Value {
    json!({"scenario_id": "GROWTH", "start_date": "2020-01-02", "end_date": "2020-12-31",
           "initial_amount": "1000"})
}

async fn assert_unavailable(api: &Api) {
    for route in ROUTES {
        let reply = api.get(route).await;
        assert_eq!(
            (reply.status, reply.code()),
            (503, "database_unavailable"),
            "{route}: {reply:?}"
        );
    }
    let reply = api.post("/api/v1/backtest/scenario", &backtest()).await;
    assert_eq!(
        (reply.status, reply.code()),
        (503, "database_unavailable"),
        "{reply:?}"
    );
    // No host, port or driver text leaves the server.
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("127.0.0.1") && !message.contains("sqlx"),
        "{message}"
    );
}

#[tokio::test]
async fn a_database_that_went_away_is_503() {
    let t = loaded().await;
    let api = Api::on(t.conn()).await;
    assert_eq!(api.get(ROUTES[0]).await.status, 200);
    // Dropping the test database terminates its sessions and removes it.
    drop(t);
    assert_unavailable(&api).await;
}

#[tokio::test]
async fn a_server_that_is_not_listening_is_503() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut options = ConnectOptions::new(format!("postgres://foresto@127.0.0.1:{port}/foresto"));
    // A lazy pool, as an application's would be after a restart of the database; a short
    // acquire timeout so that each refused request returns quickly.
    options
        .connect_lazy(true)
        .acquire_timeout(Duration::from_millis(500))
        .sqlx_logging(false);
    let db = Database::connect(options).await.expect("a lazy pool");
    let api = Api::serve(db, foresto::Settings::default()).await;
    assert_unavailable(&api).await;
}
