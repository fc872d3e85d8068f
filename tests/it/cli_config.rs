//! Where the CLI finds its database and engine version: `--database-url` over `DATABASE_URL`
//! over a `.env` file in the working directory; a bad `ENGINE_VERSION` is one clear error.

use std::path::Path;
use std::process::Output;

use foresto::db::local_server::PG_BIN_ENV;

use crate::support::{TestDatabase, count, foresto_in};

/// `foresto args…` in `dir` with the variables of `env`.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    // Never fall back to a managed server here: a missing URL must show as a failure.
    foresto_in(dir, &dir.join("no-managed-server"), args)
        .env(PG_BIN_ENV, dir.join("no-binaries"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

async fn tables(t: &TestDatabase) -> i64 {
    count(
        t.conn(),
        "SELECT count(*) FROM pg_tables WHERE tablename = 'scenario_definition'",
    )
    .await
}

#[tokio::test]
async fn database_url_comes_from_the_flag_then_the_environment_then_dot_env() {
    let (from_file, from_env, from_flag) = (
        TestDatabase::empty().await,
        TestDatabase::empty().await,
        TestDatabase::empty().await,
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!("DATABASE_URL={}\n", from_file.url()),
    )
    .unwrap();

    let out = run(dir.path(), &["migrate"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(tables(&from_file).await, 1);

    let out = run(
        dir.path(),
        &["migrate"],
        &[("DATABASE_URL", from_env.url())],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(tables(&from_env).await, 1);

    let out = run(
        dir.path(),
        &["--database-url", from_flag.url(), "migrate"],
        &[("DATABASE_URL", from_env.url())],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(tables(&from_flag).await, 1);
}

#[tokio::test]
async fn a_schema_behind_its_migrations_is_reported_not_used() {
    let t = TestDatabase::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["--database-url", t.url(), "scenarios", "list"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run `foresto migrate`"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test]
async fn an_engine_version_longer_than_its_column_is_one_clear_error() {
    let t = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["--database-url", t.url(), "returns", "compute"],
        &[("ENGINE_VERSION", "1.0.0-a-very-long-pre-release-tag")],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("ENGINE_VERSION"),
        "{err}"
    );
}
