//! Errors a caller can follow: typed by area, with the driver's error behind them reachable
//! through `source()`, and the weight-sum trigger recognised by what it is, not what it says.

use std::error::Error as _;
use std::time::Duration;

use foresto::settings::PoolSettings;
use foresto::{DatabaseError, Error, ScenarioError};
use sea_orm::{ConnectionTrait, DbErr};

use crate::support::{TestDatabase, exec};

#[tokio::test]
async fn an_unreachable_server_is_a_connection_error_with_its_cause() {
    // A port nothing listens on (bound and released at once).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pool = PoolSettings {
        connect_timeout: Duration::from_secs(2),
        acquire_timeout: Duration::from_secs(2),
        ..PoolSettings::default()
    };
    let err = foresto::db::connect(&format!("postgres://postgres@127.0.0.1:{port}/x"), &pool)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Database(DatabaseError::Connection { .. })),
        "{err:?}"
    );
    assert!(err.is_connection());
    let db_err = err.source().and_then(|e| e.downcast_ref::<DbErr>());
    assert!(
        db_err.is_some(),
        "the driver's error is the source: {err:?}"
    );
    assert!(!err.to_string().contains('\n'));
}

#[tokio::test]
async fn a_refused_statement_keeps_the_servers_error() {
    let t = TestDatabase::migrated().await;
    let err: Error = t
        .conn()
        .execute_unprepared("SELECT * FROM no_such_table")
        .await
        .unwrap_err()
        .into();
    let Error::Database(db) = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(db, DatabaseError::Query { .. }));
    assert_eq!(db.pg_error().map(|pg| pg.code()), Some("42P01"));
    assert!(!err.is_connection());
}

#[tokio::test]
async fn only_the_weight_sum_trigger_maps_to_weight_sum_exceeded() {
    let t = TestDatabase::migrated().await;
    // Another check violation that copies the trigger's message text word for word: it is a
    // plain statement error, since the mapping goes by SQLSTATE and constraint name.
    exec(
        t.conn(),
        "CREATE FUNCTION mimic_weight_trigger() RETURNS void LANGUAGE plpgsql AS $$
         BEGIN
             RAISE EXCEPTION 'Portfolio weight sum exceeds 1.0: 2 (portfolio_id 1)'
                 USING ERRCODE = 'check_violation', CONSTRAINT = 'some_other_check',
                       DETAIL = 'portfolio_id=1 sum=2';
         END $$;",
    )
    .await;
    let err: Error = t
        .conn()
        .execute_unprepared("SELECT mimic_weight_trigger()")
        .await
        .unwrap_err()
        .into();
    assert!(
        matches!(err, Error::Database(DatabaseError::Query { .. })),
        "{err:?}"
    );
    assert!(!matches!(
        err,
        Error::Scenario(ScenarioError::WeightSumExceeded { .. })
    ));
}
