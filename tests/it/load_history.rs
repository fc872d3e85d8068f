//! The life cycle of a load in `source_load_history`: start, finish once with each outcome,
//! stale loads (and live ones that are not), listing, and the `loads` CLI.

use std::time::Duration;

use entity::enums::LoadStatus;
use foresto::Error;
use foresto::IngestError;
use foresto::load_history::{self, LoadFilter, NewLoad, Outcome};
use sea_orm::DatabaseConnection;
use sqlx::Connection;

use crate::support::{TestDatabase, exec, foresto};

fn new_load(source_type: &str, source_name: &str) -> NewLoad {
    NewLoad {
        source_type: source_type.into(),
        source_name: source_name.into(),
        loaded_by: Some("batch".into()),
    }
}

async fn start(db: &DatabaseConnection, source_type: &str, source_name: &str) -> i64 {
    load_history::start(db, &new_load(source_type, source_name))
        .await
        .unwrap()
        .load_id
}

/// Pretends load `load_id` started `minutes` ago.
async fn age(db: &DatabaseConnection, load_id: i64, minutes: i64) {
    exec(
        db,
        &format!(
            "UPDATE source_load_history SET started_at = now() - interval '{minutes} minutes'
              WHERE load_id = {load_id}"
        ),
    )
    .await;
}

#[tokio::test]
async fn a_load_starts_then_finishes_exactly_once() {
    let t = TestDatabase::migrated().await;
    let started = load_history::start(t.conn(), &new_load("krx", "prices.csv"))
        .await
        .unwrap();
    assert_eq!(started.load_status, LoadStatus::Started);
    assert_eq!(
        (
            started.source_type.as_str(),
            started.source_name.as_str(),
            started.loaded_by.as_deref()
        ),
        ("krx", "prices.csv", Some("batch"))
    );
    assert!(started.started_at.is_some() && started.completed_at.is_none());

    let done = load_history::finish(
        t.conn(),
        started.load_id,
        &Outcome::Success { records_loaded: 42 },
    )
    .await
    .unwrap();
    assert_eq!(done.load_status, LoadStatus::Success);
    assert_eq!(
        (done.records_loaded, done.records_failed, done.error_message),
        (Some(42), Some(0), None)
    );
    assert!(done.completed_at.unwrap() >= done.started_at.unwrap());

    let again = load_history::finish(
        t.conn(),
        started.load_id,
        &Outcome::Failed {
            records_loaded: 0,
            records_failed: 0,
            error: "late".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            again,
            Error::Ingest(IngestError::LoadAlreadyFinished {
                status: LoadStatus::Success,
                ..
            })
        ),
        "{again}"
    );
    let unknown = load_history::finish(t.conn(), 999, &Outcome::Success { records_loaded: 0 })
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::NotFound { .. }), "{unknown}");
}

#[tokio::test]
async fn partial_and_failed_loads_keep_their_counts_and_messages() {
    let t = TestDatabase::migrated().await;
    let partial = start(t.conn(), "manual", "a.csv").await;
    let failed = start(t.conn(), "manual", "b.csv").await;

    let p = load_history::finish(
        t.conn(),
        partial,
        &Outcome::Partial {
            records_loaded: 10,
            records_failed: 2,
            summary: "2 records rejected: line 3: …".into(),
        },
    )
    .await
    .unwrap();
    let f = load_history::finish(
        t.conn(),
        failed,
        &Outcome::Failed {
            records_loaded: 5,
            records_failed: 0,
            error: "connection lost".into(),
        },
    )
    .await
    .unwrap();

    assert_eq!(
        (
            p.load_status,
            p.records_loaded,
            p.records_failed,
            p.error_message.as_deref()
        ),
        (
            LoadStatus::Partial,
            Some(10),
            Some(2),
            Some("2 records rejected: line 3: …")
        )
    );
    assert_eq!(
        (f.load_status, f.records_loaded, f.error_message.as_deref()),
        (LoadStatus::Failed, Some(5), Some("connection lost"))
    );
    assert!(p.completed_at.is_some() && f.completed_at.is_some());
}

#[tokio::test]
async fn names_longer_than_their_columns_are_refused() {
    let t = TestDatabase::migrated().await;
    let err = load_history::start(t.conn(), &new_load("manual", &"x".repeat(101)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "source_name",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn stale_loads_are_found_and_marked_failed_unless_their_loader_is_alive() {
    let t = TestDatabase::migrated().await;
    let dead = start(t.conn(), "manual", "dead.csv").await;
    let alive = start(t.conn(), "manual", "alive.csv").await;
    let recent = start(t.conn(), "manual", "recent.csv").await;
    let finished = start(t.conn(), "manual", "done.csv").await;
    for id in [dead, alive, finished] {
        age(t.conn(), id, 120).await;
    }
    load_history::finish(t.conn(), finished, &Outcome::Success { records_loaded: 1 })
        .await
        .unwrap();
    let mut loader = sqlx::PgConnection::connect(t.url()).await.unwrap();
    load_history::hold_liveness(&mut loader, alive)
        .await
        .unwrap();
    let hour = Duration::from_secs(3600);

    let stale: Vec<i64> = load_history::find_stale(t.conn(), hour)
        .await
        .unwrap()
        .iter()
        .map(|l| l.load_id)
        .collect();
    assert_eq!(stale, [dead]);

    let marked = load_history::mark_stale_failed(t.conn(), hour)
        .await
        .unwrap();
    assert_eq!(marked.len(), 1);
    assert_eq!(
        (marked[0].load_id, marked[0].load_status),
        (dead, LoadStatus::Failed)
    );
    assert!(marked[0].completed_at.is_some());
    let message = marked[0].error_message.clone().unwrap();
    assert!(
        message.starts_with("stale: still STARTED 02:00:"),
        "{message}"
    );
    assert_eq!(
        load_history::get(t.conn(), recent)
            .await
            .unwrap()
            .load_status,
        LoadStatus::Started
    );

    // The loader's session ends (its process died): now its load is stale too.
    loader.close().await.unwrap();
    // `close` returns once the goodbye is sent; the server ends the backend (and so releases
    // its liveness lock) a moment later, so look until it has, for at most ten seconds.
    let mut marked = Vec::new();
    for _ in 0..200 {
        marked = load_history::mark_stale_failed(t.conn(), hour)
            .await
            .unwrap();
        if !marked.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        marked.iter().map(|l| l.load_id).collect::<Vec<_>>(),
        [alive]
    );
    assert!(
        load_history::find_stale(t.conn(), hour)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_liveness_lock_can_be_released_and_is_held_by_one_session_only() {
    let t = TestDatabase::migrated().await;
    let load = start(t.conn(), "manual", "x.csv").await;
    age(t.conn(), load, 10).await;
    let mut first = sqlx::PgConnection::connect(t.url()).await.unwrap();
    let mut second = sqlx::PgConnection::connect(t.url()).await.unwrap();
    load_history::hold_liveness(&mut first, load).await.unwrap();

    let err = load_history::hold_liveness(&mut second, load)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(
        load_history::find_stale(t.conn(), Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );

    load_history::release_liveness(&mut first, load)
        .await
        .unwrap();
    assert_eq!(
        load_history::find_stale(t.conn(), Duration::ZERO)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn loads_are_listed_newest_first_and_filtered() {
    let t = TestDatabase::migrated().await;
    let a = start(t.conn(), "krx", "a.csv").await;
    let b = start(t.conn(), "manual", "b.csv").await;
    let c = start(t.conn(), "krx", "c.csv").await;
    load_history::finish(t.conn(), b, &Outcome::Success { records_loaded: 1 })
        .await
        .unwrap();
    let ids = |loads: Vec<entity::source_load_history::Model>| {
        loads.into_iter().map(|l| l.load_id).collect::<Vec<_>>()
    };

    let all = load_history::list(t.conn(), &LoadFilter::default())
        .await
        .unwrap();
    assert_eq!(ids(all), [c, b, a]);
    let started = LoadFilter {
        status: Some(LoadStatus::Started),
        ..LoadFilter::default()
    };
    assert_eq!(
        ids(load_history::list(t.conn(), &started).await.unwrap()),
        [c, a]
    );
    let krx = LoadFilter {
        source_type: Some("krx".into()),
        limit: Some(1),
        ..LoadFilter::default()
    };
    assert_eq!(ids(load_history::list(t.conn(), &krx).await.unwrap()), [c]);
    let named = LoadFilter {
        source_name: Some("b.csv".into()),
        ..LoadFilter::default()
    };
    assert_eq!(
        ids(load_history::list(t.conn(), &named).await.unwrap()),
        [b]
    );
}

#[tokio::test]
async fn cli_lists_loads_and_marks_stale_ones() {
    let t = TestDatabase::migrated().await;
    let old = start(t.conn(), "manual", "old.csv").await;
    let new = start(t.conn(), "manual", "new.csv").await;
    age(t.conn(), old, 90).await;

    let marked = foresto(&t, &["loads", "mark-stale", "--older-than-minutes", "60"]);
    assert!(
        marked.status.success(),
        "{}",
        String::from_utf8_lossy(&marked.stderr)
    );
    assert!(String::from_utf8_lossy(&marked.stdout).starts_with("1 stale loads marked FAILED"));

    let listed = foresto(&t, &["loads", "list", "--status", "failed", "--json"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let loads: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(loads.as_array().unwrap().len(), 1);
    assert_eq!(loads[0]["load_id"], old);
    assert_eq!(loads[0]["load_status"], "FAILED");

    let table = foresto(&t, &["loads", "list"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("load_id"), "{text}");
    assert!(
        text.contains("new.csv") && text.contains(&new.to_string()),
        "{text}"
    );

    let bad = foresto(&t, &["loads", "list", "--status", "DONE"]);
    assert_eq!(bad.status.code(), Some(2), "clap refuses an unknown status");
}
