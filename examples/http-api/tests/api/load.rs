//! 128 concurrent backtests on one pool: every one answered, every distinct request stored once.
//! Prints its latency figures; asserts nothing about time.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::support::{Api, FIRST_DAY, LAST_DAY, loaded, stored_hashes};

/// Distinct requests sent once each: cache misses.
const MISSES: usize = 64;
/// Requests sent [`COPIES`] times each, all at once: one computes, the others wait for it.
const REPEATED: usize = 8;
const COPIES: usize = 8;

fn request(scenario: &str, start_offset: usize, rebalance: &str) -> Value {
    let start = FIRST_DAY + TimeDelta::days(start_offset as i64);
    json!({
        "scenario_id": scenario,
        "start_date": start,
        "end_date": LAST_DAY,
        "initial_amount": "1000000",
        "rebalance_freq": rebalance,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_backtests_all_succeed_and_each_distinct_one_is_stored_once() {
    let t = loaded().await;
    let api = Arc::new(Api::on(t.conn()).await);
    let mut bodies: Vec<Value> = (0..MISSES)
        .map(|i| request("DEFENSIVE", i, "NONE"))
        .collect();
    bodies.extend((0..COPIES).flat_map(|_| (0..REPEATED).map(|i| request("GROWTH", i, "MONTHLY"))));
    assert_eq!(bodies.len(), 128);

    let started = Instant::now();
    let mut requests = JoinSet::new();
    for body in bodies {
        let api = Arc::clone(&api);
        requests.spawn(async move {
            let sent = Instant::now();
            let reply = api.post("/api/v1/backtest/scenario", &body).await;
            (sent.elapsed(), reply)
        });
    }
    let mut latencies = Vec::new();
    let mut hashes = BTreeSet::new();
    let mut computed = 0;
    while let Some(done) = requests.join_next().await {
        let (latency, reply) = done.expect("the request task");
        assert_eq!(reply.status, 200, "{reply:?}");
        latencies.push(latency);
        hashes.insert(reply.body["request_hash"].as_str().unwrap().to_owned());
        computed += usize::from(reply.body["cache_hit"] == false);
    }
    let wall = started.elapsed();

    let distinct = MISSES + REPEATED;
    assert_eq!(hashes.len(), distinct);
    assert_eq!(
        computed, distinct,
        "exactly one computation per distinct request"
    );
    let stored = stored_hashes(t.conn()).await;
    assert_eq!(
        stored.len(),
        distinct,
        "one stored run per distinct request"
    );
    assert_eq!(stored.into_iter().collect::<BTreeSet<_>>(), hashes);

    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "load: {} requests ({MISSES} distinct misses, {REPEATED} requests x {COPIES} copies) in \
         {:.2} s: {:.1} requests/s; latency p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        latencies.len(),
        wall.as_secs_f64(),
        latencies.len() as f64 / wall.as_secs_f64(),
        ms(at(0.5)),
        ms(at(0.95)),
        ms(latencies[latencies.len() - 1]),
    );
}
