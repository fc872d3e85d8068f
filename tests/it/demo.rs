//! `foresto demo` end to end on the bundled real prices: the first run loads, computes and
//! stores everything; the second recognises the data and serves every simulation from the cache.

use crate::support::{TestDatabase, count, foresto_ok, row_count, strings};

#[tokio::test]
async fn demo_runs_the_whole_flow_and_is_cached_the_second_time() {
    let t = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let demo = ["demo", "--out", dir.path().to_str().unwrap()];

    let first = foresto_ok(&t, &demo);
    assert!(
        first.contains("3/6 prices: loaded 49153 rows (8136 weekend forward fills skipped)"),
        "{first}"
    );
    assert!(
        first.contains("6/6 simulations: 12 runs, 0 served from the cache, 12 computed"),
        "{first}"
    );
    // The longest common window of SPY, TLT, SHY, GLD, VNQ starts with GLD's first price.
    assert!(first.contains("(effective 2004-11-18)"), "{first}");
    for file in [
        "demo-full.svg",
        "demo-full.png",
        "demo-crisis.svg",
        "demo-crisis.png",
    ] {
        assert!(
            dir.path().join(file).metadata().unwrap().len() > 10_000,
            "{file}"
        );
    }
    let svg = std::fs::read_to_string(dir.path().join("demo-crisis.svg")).unwrap();
    assert!(svg.contains("Growth · 2007-10-01 to 2009-12-31 · MONTHLY"));

    // Real-data facts the table rests on.
    assert_eq!(
        count(
            t.conn(),
            "SELECT count(*) FROM simulation_run WHERE run_status = 'COMPLETED'"
        )
        .await,
        12
    );
    assert_eq!(row_count(t.conn(), "simulation_summary").await, 12);
    assert_eq!(
        count(
            t.conn(),
            "SELECT count(*) FROM daily_price WHERE extract(isodow FROM trade_date) >= 6"
        )
        .await,
        0,
        "weekend forward fills were loaded"
    );
    assert_eq!(
        strings(t.conn(), "SELECT min(trade_date)::text FROM daily_price JOIN instrument_master USING (instrument_id) WHERE ticker = 'SPY'").await,
        ["1993-01-29"]
    );
    assert_eq!(row_count(t.conn(), "daily_price_default").await, 0);
    let growth_full = strings(
        t.conn(),
        "SELECT trading_days::text FROM simulation_summary s JOIN simulation_run r USING (run_id)
          WHERE r.scenario_id = 'GROWTH' AND r.start_date = '2004-11-19' AND r.rebalance_freq = 'NONE'",
    )
    .await;
    let trading_days = count(
        t.conn(),
        "SELECT count(DISTINCT trade_date) FROM daily_return JOIN instrument_master USING (instrument_id)
          WHERE ticker IN ('SPY','TLT','SHY','GLD','VNQ') AND trade_date BETWEEN '2004-11-19' AND '2023-05-18'",
    )
    .await;
    assert_eq!(growth_full, [trading_days.to_string()]);

    let second = foresto_ok(&t, &demo);
    assert!(
        second.contains("3/6 prices: already loaded (49153 rows"),
        "{second}"
    );
    assert!(second.contains("0 written, 49144 unchanged"), "{second}");
    assert!(
        second.contains("MIN_VOL already seeded, DEFENSIVE already seeded, GROWTH already seeded"),
        "{second}"
    );
    assert!(
        second.contains("6/6 simulations: 12 runs, 12 served from the cache, 0 computed"),
        "{second}"
    );
    assert_eq!(row_count(t.conn(), "simulation_run").await, 12);
    assert_eq!(
        count(
            t.conn(),
            "SELECT count(*) FROM source_load_history WHERE source_type = 'demo'"
        )
        .await,
        1
    );
}
