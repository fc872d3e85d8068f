//! `GET /api/v1/instruments/{ticker}/prices`.

use entity::enums::InstrumentType;
use foresto::instruments::{self, NewInstrument};

use crate::support::{Api, loaded};

#[tokio::test]
async fn prices_are_the_stored_bars_of_the_range_in_date_order() {
    let t = loaded().await;
    let api = Api::on(t.conn()).await;
    let reply = api
        .get("/api/v1/instruments/SPY/prices?from=2020-03-01&to=2020-03-31")
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["instrument"]["ticker"], "SPY");
    assert_eq!(reply.body["instrument"]["exchange"], "NYSE");
    let bars = reply.body["prices"].as_array().expect("prices");
    let dates: Vec<&str> = bars
        .iter()
        .map(|b| b["trade_date"].as_str().unwrap())
        .collect();
    // March 2020 from its first to its last weekday, no weekend forward fills.
    assert_eq!(dates.first(), Some(&"2020-03-02"));
    assert_eq!(dates.last(), Some(&"2020-03-31"));
    assert_eq!(dates.len(), 22);
    assert!(dates.windows(2).all(|w| w[0] < w[1]), "{dates:?}");
    let close = bars[0]["close_price"].as_str().expect("a decimal string");
    assert!(close.parse::<rust_decimal::Decimal>().is_ok(), "{close}");

    let empty = api
        .get("/api/v1/instruments/SPY/prices?from=2021-03-01&to=2021-03-31")
        .await;
    assert_eq!(empty.status, 200, "{empty:?}");
    assert_eq!(empty.body["prices"], serde_json::json!([]));
}

#[tokio::test]
async fn a_ticker_on_two_exchanges_needs_its_exchange() {
    let t = loaded().await;
    instruments::upsert(
        t.conn(),
        &NewInstrument::new(InstrumentType::Etf, "SPY", "KRX"),
    )
    .await
    .unwrap();
    let api = Api::on(t.conn()).await;
    let range = "from=2020-03-02&to=2020-03-06";
    let ambiguous = api
        .get(&format!("/api/v1/instruments/SPY/prices?{range}"))
        .await;
    assert_eq!(
        (ambiguous.status, ambiguous.code()),
        (422, "ambiguous_ticker")
    );
    let chosen = api
        .get(&format!(
            "/api/v1/instruments/SPY/prices?{range}&exchange=NYSE"
        ))
        .await;
    assert_eq!(chosen.status, 200, "{chosen:?}");
    assert_eq!(chosen.body["prices"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn bad_price_queries_are_refused() {
    let t = loaded().await;
    let api = Api::on(t.conn()).await;
    let cases = [
        (
            "NOPE?from=2020-01-01&to=2020-02-01",
            404,
            "instrument_not_found",
        ),
        ("SPY?from=2020-03-01&to=2020-02-01", 422, "invalid_input"),
        ("SPY?from=2020-03-01", 422, "invalid_query"),
        ("SPY?from=2020-03-01&to=March", 422, "invalid_query"),
        (
            "SPY?from=2020-03-01&to=2020-04-01&limit=5",
            422,
            "invalid_query",
        ),
        ("SPY?from=-5000-01-01&to=2020-04-01", 422, "invalid_input"),
        ("S%00PY?from=2020-03-01&to=2020-04-01", 422, "invalid_input"),
    ];
    for (query, status, code) in cases {
        let reply = api
            .get(&format!(
                "/api/v1/instruments/{}",
                query.replacen('?', "/prices?", 1)
            ))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{query}: {reply:?}"
        );
    }
}
