//! The managed local PostgreSQL server: initialised once, started on a free loopback port,
//! reused on later runs, stopped and reset — through the library and through the CLI with no
//! database configured.

use foresto::db::local_server::ServerStatus;
use foresto::db::managed::ManagedServer;
use sqlx::Connection;

use crate::support::{foresto_in, reachable_tempdir, select_one};

#[tokio::test]
async fn managed_server_life_cycle() {
    let tmp = reachable_tempdir();
    let root = tmp.path().join(".foresto");
    let server = ManagedServer::new(&root).unwrap();
    assert_eq!(server.status().unwrap().state, ServerStatus::NotInitialized);

    let url = server.ensure_running().unwrap();
    assert!(url.starts_with("postgres://postgres:"), "{url}");
    assert!(url.contains("@127.0.0.1:"), "{url}");
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

/// `foresto args…` in `dir`, with no database configured and the managed server in
/// `dir/.foresto`.
fn run(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    foresto_in(dir, &dir.join(".foresto"), args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn cli_uses_the_managed_server_when_no_database_is_configured() {
    let tmp = reachable_tempdir();
    let status = run(tmp.path(), &["local", "status", "--json"]);
    assert!(status.status.success(), "{status:?}");
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["state"], "not initialised");

    let migrate = run(tmp.path(), &["migrate"]);
    assert!(migrate.status.success(), "{migrate:?}");
    let stderr = String::from_utf8_lossy(&migrate.stderr);
    assert!(
        stderr.contains("using the managed local PostgreSQL"),
        "{stderr}"
    );

    let status = run(tmp.path(), &["local", "status", "--json"]);
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

    let refused = run(tmp.path(), &["local", "reset"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("re-run with --yes"));

    let stop = run(tmp.path(), &["local", "stop"]);
    assert!(stop.status.success(), "{stop:?}");
    let reset = run(tmp.path(), &["local", "reset", "--yes"]);
    assert!(reset.status.success(), "{reset:?}");
    assert!(!tmp.path().join(".foresto").exists());
}
