//! The PostgreSQL major the tests run on. CI runs a subset of this binary once per extra major
//! (`.ci/run`: 14 and 18 besides the machine's own) with `FORESTO_PG_BIN` naming that major's
//! binaries and `FORESTO_EXPECT_PG_MAJOR` the major it means; these tests fail when the server
//! the helper started is another one, so a run can never pass on the wrong version unnoticed.

use foresto::db::local_server::PgBinaries;
use foresto::testing::{TEMPLATE_PREFIX, TEST_DATABASE_URL_ENV};

use crate::support::{TestDatabase, count, strings};

/// The major CI asks for, when it asks.
const EXPECT_MAJOR_ENV: &str = "FORESTO_EXPECT_PG_MAJOR";

async fn server_version_num(t: &TestDatabase) -> i64 {
    count(
        t.conn(),
        "SELECT current_setting('server_version_num')::bigint",
    )
    .await
}

#[tokio::test]
async fn the_server_is_the_major_that_was_asked_for() {
    let t = TestDatabase::migrated().await;
    let major = server_version_num(&t).await / 10_000;
    assert!(
        major >= 14,
        "PostgreSQL {major} is older than the 14 Foresto supports"
    );
    if let Ok(expected) = std::env::var(EXPECT_MAJOR_ENV) {
        assert_eq!(major.to_string(), expected.trim(), "{EXPECT_MAJOR_ENV}");
    }
    if std::env::var_os(TEST_DATABASE_URL_ENV).is_none() {
        // The throwaway server runs the located binaries: FORESTO_PG_BIN's when it is set.
        let version = PgBinaries::locate().unwrap().version().unwrap();
        assert!(
            version.contains(&format!("PostgreSQL) {major}.")),
            "server {major}, binaries: {version}"
        );
    }
}

#[tokio::test]
async fn the_template_is_the_one_built_by_this_server_version() {
    let t = TestDatabase::migrated().await;
    let version = server_version_num(&t).await;
    let templates = strings(
        t.conn(),
        &format!("SELECT datname::text FROM pg_database WHERE datname LIKE '{TEMPLATE_PREFIX}%'"),
    )
    .await;
    let own = format!("{TEMPLATE_PREFIX}{version}_");
    assert!(
        templates.iter().any(|name| name.starts_with(&own)),
        "no {own}… among {templates:?}"
    );
}
