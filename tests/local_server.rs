//! The managed local PostgreSQL server: initialised once, started on a free loopback port,
//! reused on later runs, stopped and reset — through the library and through the CLI with no
//! database configured.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use foresto::db::local_server::ServerStatus;
use foresto::db::managed::{LOCAL_DIR_ENV, ManagedServer};
use sqlx::Connection;

/// A temporary directory the unprivileged server user can reach (tempfile makes them 0700).
fn reachable_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

async fn select_one(url: &str) -> i32 {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn managed_server_life_cycle() {
    let tmp = reachable_tempdir();
    let root = tmp.path().join(".foresto");
    let server = ManagedServer::new(&root).unwrap();
    assert_eq!(server.status().unwrap().state, ServerStatus::NotInitialized);

    let url = server.ensure_running().unwrap();
    assert!(url.starts_with("postgres://postgres@127.0.0.1:"), "{url}");
    assert_eq!(select_one(&url.replace("/foresto", "/postgres")).await, 1);
    let status = server.status().unwrap();
    let ServerStatus::Running { port, .. } = status.state else {
        panic!("not running: {status:?}");
    };
    assert!(status.data_dir.join("PG_VERSION").is_file());

    // A second run reuses the running server.
    assert_eq!(server.ensure_running().unwrap(), url);

    server.stop().unwrap();
    assert_eq!(server.status().unwrap().state, ServerStatus::Stopped);

    // Restarted on the port it had (it is free again), with the cluster kept.
    let again = server.ensure_running().unwrap();
    assert_eq!(again, url);
    assert!(
        matches!(server.status().unwrap().state, ServerStatus::Running { port: p, .. } if p == port)
    );

    server.reset().unwrap();
    assert!(!root.exists());
}

fn foresto(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_foresto"))
        .args(args)
        .current_dir(dir)
        .env(LOCAL_DIR_ENV, dir.join(".foresto"))
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

#[tokio::test]
async fn cli_uses_the_managed_server_when_no_database_is_configured() {
    let tmp = reachable_tempdir();
    let status = foresto(tmp.path(), &["local", "status", "--json"]);
    assert!(status.status.success(), "{status:?}");
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["state"], "not initialised");

    let migrate = foresto(tmp.path(), &["migrate"]);
    assert!(migrate.status.success(), "{migrate:?}");
    let stderr = String::from_utf8_lossy(&migrate.stderr);
    assert!(
        stderr.contains("using the managed local PostgreSQL"),
        "{stderr}"
    );

    let status = foresto(tmp.path(), &["local", "status", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["state"], "running");
    let url = json["url"].as_str().unwrap().to_owned();
    // The schema is there: the seed scenarios were migrated in.
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let scenarios: i64 = sqlx::query_scalar("SELECT count(*) FROM scenario_definition")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(scenarios, 3);
    conn.close().await.unwrap();

    let refused = foresto(tmp.path(), &["local", "reset"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("re-run with --yes"));

    let stop = foresto(tmp.path(), &["local", "stop"]);
    assert!(stop.status.success(), "{stop:?}");
    let reset = foresto(tmp.path(), &["local", "reset", "--yes"]);
    assert!(reset.status.success(), "{reset:?}");
    assert!(!tmp.path().join(".foresto").exists());
}
