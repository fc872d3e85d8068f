//! `foresto::db::Connections` against a real streaming replica: a primary of the test's own,
//! copied with `pg_basebackup -R` and followed by a hot standby on its own port. Every check
//! waits until the replica has replayed the primary's WAL up to the point it needs.

use std::time::Duration;

use foresto::db::Connections;
use foresto::scenarios;
use foresto::settings::PoolSettings;
use foresto::simulation::RunKey;
use foresto::testing::{TestServer, TestServerOptions};
use foresto::{DatabaseError, Error, Settings};
use sea_orm::DatabaseConnection;

use crate::support::{
    TestDatabase, date, exec, instrument_id, invalid_input, pool, request, version,
};

/// A primary that allows replication, a migrated database on it with AAA's prices and returns
/// (2024-01-02..05) and GROWTH = 100 % AAA from 2024-01-01, and a replica started after all of
/// that was written. Drop order (database, replica, primary) is the reverse of this tuple's.
async fn primary_and_replica() -> (TestServer, TestServer, TestDatabase) {
    let primary = TestServer::start(&TestServerOptions {
        replication: true,
        ..Default::default()
    });
    let t = TestDatabase::migrated_on(&primary).await;
    exec(
        t.conn(),
        "INSERT INTO instrument_master (instrument_type, ticker, exchange, currency)
         VALUES ('ETF', 'AAA', 'NYSE', 'USD');
         INSERT INTO daily_price (instrument_id, trade_date, close_price)
         SELECT instrument_id, d, 100 + extract(day FROM d)
           FROM instrument_master, generate_series(date '2024-01-02', date '2024-01-05',
                                                   interval '1 day') AS d;
         INSERT INTO daily_return (instrument_id, trade_date, daily_return)
         SELECT instrument_id, d, 0.01
           FROM instrument_master, generate_series(date '2024-01-03', date '2024-01-05',
                                                   interval '1 day') AS d;",
    )
    .await;
    scenarios::set_portfolio_version(
        t.conn(),
        &version("GROWTH", date(2024, 1, 1), &[("AAA", "1")]),
        &Settings::default(),
    )
    .await
    .unwrap();
    let replica = primary.start_replica();
    (primary, replica, t)
}

async fn connections(primary: &TestServer, replica: &TestServer, t: &TestDatabase) -> Connections {
    Connections::connect(
        &primary.url(t.name()),
        &[replica.url(t.name())],
        &PoolSettings::default(),
    )
    .await
    .unwrap()
}

/// Whether `db`'s server is a standby: true on a replica, false on the primary.
async fn in_recovery(db: &DatabaseConnection) -> bool {
    sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(pool(db))
        .await
        .unwrap()
}

#[tokio::test]
async fn reads_go_to_the_replica_writes_to_the_primary_and_a_miss_is_computed_once() {
    let (mut primary, replica, t) = primary_and_replica().await;
    let conns = connections(&primary, &replica, &t).await;
    primary.wait_for_replica(&replica).await;

    assert!(in_recovery(conns.reader().await).await);
    assert!(!in_recovery(conns.writer()).await);

    // A write through the writer succeeds; the same write on a reader is refused, in words.
    let next = version("GROWTH", date(2024, 1, 4), &[("AAA", "0.5")]);
    let refused =
        scenarios::set_portfolio_version(conns.reader().await, &next, &Settings::default())
            .await
            .unwrap_err();
    let Error::Database(ref db_error @ DatabaseError::Query { .. }) = refused else {
        panic!("{refused:?}");
    };
    assert_eq!(db_error.pg_error().map(|e| e.code()), Some("25006"));
    assert!(
        refused.to_string().contains("read-only transaction"),
        "{refused}"
    );
    scenarios::set_portfolio_version(conns.writer(), &next, &Settings::default())
        .await
        .unwrap();

    // A miss computes on the primary.
    let settings = Settings::default();
    let req = request("GROWTH", date(2024, 1, 2), date(2024, 1, 3));
    let computed = conns.simulate(&req, &settings).await.unwrap();
    assert!(!computed.cache_hit);
    let run_id = computed.stored.run.run_id;
    let aaa = instrument_id(&t, "AAA").await;
    primary.wait_for_replica(&replica).await;

    // With the primary gone, everything below can only have come from the replica.
    primary.stop();
    let served = conns.simulate(&req, &settings).await.unwrap();
    assert!(served.cache_hit);
    assert_eq!(served.stored, computed.stored);
    let by_hash = conns
        .find_run(&RunKey::Hash(req.request_hash()))
        .await
        .unwrap();
    assert_eq!(by_hash.run_id, run_id);
    assert_eq!(
        conns.find_run(&RunKey::Id(run_id)).await.unwrap().run_id,
        run_id
    );
    let scenarios: Vec<String> = conns
        .active_scenarios()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.scenario_id)
        .collect();
    assert_eq!(scenarios.len(), 3, "{scenarios:?}");
    let detail = conns
        .scenario_detail("GROWTH", date(2024, 1, 4))
        .await
        .unwrap();
    let holdings = detail.portfolio.unwrap().holdings;
    assert_eq!(holdings.len(), 1);
    assert_eq!(holdings[0].allocation.weight.to_string(), "0.5000");
    let coverage = conns.price_coverage(&[aaa]).await.unwrap();
    assert_eq!(coverage.len(), 1);
    assert_eq!(
        (
            coverage[0].first_date,
            coverage[0].last_date,
            coverage[0].days
        ),
        (date(2024, 1, 2), date(2024, 1, 5), 4)
    );
}

#[tokio::test]
async fn a_run_the_replica_lacks_is_read_on_the_primary() {
    let (primary, replica, t) = primary_and_replica().await;
    let conns = connections(&primary, &replica, &t).await;
    // The replica stops replaying, so it never sees the run stored next.
    exec(
        &foresto::db::connect(&replica.url(t.name()), &PoolSettings::default())
            .await
            .unwrap(),
        "SELECT pg_wal_replay_pause()",
    )
    .await;
    let req = request("GROWTH", date(2024, 1, 2), date(2024, 1, 5));
    let computed = conns.simulate(&req, &Settings::default()).await.unwrap();
    assert!(!computed.cache_hit);
    let run_id = computed.stored.run.run_id;
    let replica_db = conns.reader().await;
    assert!(in_recovery(replica_db).await);
    assert!(matches!(
        foresto::simulation::runs::find(replica_db, &RunKey::Id(run_id)).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        conns.find_run(&RunKey::Id(run_id)).await.unwrap().run_id,
        run_id
    );
    // A repeat is a hit on the primary, not a second computation.
    let again = conns.simulate(&req, &Settings::default()).await.unwrap();
    assert!(again.cache_hit);
    assert_eq!(again.stored.run.run_id, run_id);
}

#[tokio::test]
async fn a_replica_that_is_down_makes_reader_fall_back_to_the_primary() {
    let (primary, mut replica, t) = primary_and_replica().await;
    let conns = connections(&primary, &replica, &t)
        .await
        .retry_after(Duration::ZERO);
    primary.wait_for_replica(&replica).await;
    assert!(in_recovery(conns.reader().await).await);

    replica.stop();
    assert!(!in_recovery(conns.reader().await).await);
    assert_eq!(conns.active_scenarios().await.unwrap().len(), 3);
    let req = request("GROWTH", date(2024, 1, 2), date(2024, 1, 5));
    assert!(
        !conns
            .simulate(&req, &Settings::default())
            .await
            .unwrap()
            .cache_hit
    );

    // Back up, it is read from again (checked on every call: retry_after is zero).
    replica.restart();
    assert!(in_recovery(conns.reader().await).await);

    // A replica that is down from the start does not stop the connections from opening.
    replica.stop();
    let late = connections(&primary, &replica, &t).await;
    assert!(!in_recovery(late.reader().await).await);
}

#[tokio::test]
async fn without_replicas_everything_goes_to_the_primary_and_a_bad_replica_url_is_named() {
    let t = TestDatabase::migrated().await;
    let none: [&str; 0] = [];
    let conns = Connections::connect(t.url(), &none, &PoolSettings::default())
        .await
        .unwrap();
    assert!(!in_recovery(conns.reader().await).await);
    assert_eq!(conns.active_scenarios().await.unwrap().len(), 3);

    let err = Connections::connect(
        t.url(),
        &[t.url(), "postgres://h/db?sslmode=sometimes"],
        &PoolSettings::default(),
    )
    .await
    .unwrap_err();
    let text = invalid_input(&err, "replica URL");
    assert!(text.contains("replica 2"), "{text}");
}
