//! The built `http-api` binary: migrates on start, says where it listens, and ends with one
//! line when it cannot start.

use foresto::testing::TestDatabase;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::Api;

fn http_api() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_http-api"));
    command.kill_on_drop(true);
    command
}

#[tokio::test]
async fn the_binary_migrates_an_empty_database_and_serves_it() {
    let t = TestDatabase::empty().await;
    let mut child = http_api()
        .args(["--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", t.url())
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting http-api");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = Vec::new();
    let address = loop {
        let line = lines
            .next_line()
            .await
            .expect("reading its log")
            .unwrap_or_else(|| panic!("http-api exited before listening: {log:#?}"));
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        log.push(line);
    };
    let api = Api::at(address);
    let reply = api.get("/api/v1/scenarios").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // The migrations' seed rows: the schema was created on start.
    assert_eq!(reply.body["scenarios"].as_array().unwrap().len(), 3);
    child.kill().await.expect("stopping http-api");
}

#[tokio::test]
async fn a_bad_setting_or_an_unreachable_database_ends_it_with_one_line() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "postgres://foresto@{}/foresto",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let cases = [
        (
            ("FORESTO_POOL_MAX_CONNECTIONS", "0"),
            "error: invalid FORESTO_POOL_MAX_CONNECTIONS: 0 is not a pool size",
        ),
        (
            ("FORESTO_POOL_ACQUIRE_TIMEOUT_SECS", "1"),
            "error: opening the database: database connection failed",
        ),
    ];
    for ((name, value), start) in cases {
        let out = http_api()
            .args(["--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", &url)
            .env("FORESTO_CONNECT_TIMEOUT_SECS", "1")
            .env(name, value)
            .env("RUST_LOG", "off")
            .output()
            .await
            .expect("running http-api");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with(start), "{stderr}");
    }
}
