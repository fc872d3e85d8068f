//! The migration binary (what `cargo run -p migration -- …` and `sea-orm-cli migrate …` run)
//! takes `DATABASE_URL` from the environment or a `.env` file and applies, reports and reverts
//! the migrations.

use std::process::{Command, Output};

use foresto::testing::TestDatabase;
use sqlx::Connection;

fn migration(dir: &std::path::Path, args: &[&str], url: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_migration"));
    cmd.args(args).current_dir(dir).env_remove("DATABASE_URL");
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().unwrap()
}

async fn table_count(url: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace
            AND relkind IN ('r', 'p') AND relname NOT LIKE '%\\_20%' AND relname NOT LIKE '%\\_default'
            AND relname <> 'seaql_migrations'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn up_status_down_with_database_url_from_the_environment() {
    let t = TestDatabase::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let up = migration(dir.path(), &["up"], Some(t.url()));
    assert!(up.status.success(), "{up:?}");
    assert_eq!(table_count(t.url()).await, 12);

    let status = migration(dir.path(), &["status"], Some(t.url()));
    let out = String::from_utf8_lossy(&status.stdout);
    let steps = migration::MIGRATIONS.len();
    assert_eq!(out.matches("Applied").count(), steps, "{out}");

    let down = migration(
        dir.path(),
        &["down", "-n", &steps.to_string()],
        Some(t.url()),
    );
    assert!(down.status.success(), "{down:?}");
    assert_eq!(table_count(t.url()).await, 0);
}

#[tokio::test]
async fn database_url_is_read_from_a_dot_env_file() {
    let t = TestDatabase::empty().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!("DATABASE_URL={}\n", t.url()),
    )
    .unwrap();
    let up = migration(dir.path(), &["up"], None);
    assert!(up.status.success(), "{up:?}");
    assert_eq!(table_count(t.url()).await, 12);
}
