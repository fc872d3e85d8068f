//! Real-PostgreSQL test databases, for Foresto's own tests and for application crates that build
//! on it.
//!
//! The server is the one named by [`TEST_DATABASE_URL_ENV`] (an admin URL: a role that may
//! create databases), or else a throwaway server this process starts from the installed
//! PostgreSQL binaries (see [`crate::db::local_server`]) and that dies with it. A migrated
//! template database is built once per schema version and month (shared by concurrent test
//! processes through an advisory lock) and every [`TestDatabase`] is a fresh copy of it, dropped
//! when the value is dropped, so tests run in parallel without seeing each other's rows.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use crate::db::local_server::{LocalServer, free_port};
use crate::db::replace_database;

/// Environment variable with an admin URL of the server to create test databases on, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`. Unset: a throwaway local server is started.
pub const TEST_DATABASE_URL_ENV: &str = "FORESTO_TEST_DATABASE_URL";

/// A database of its own for one test, dropped (with its connections) on drop.
pub struct TestDatabase {
    db: DatabaseConnection,
    url: String,
    name: String,
    admin_url: String,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("url", &self.url)
            .finish()
    }
}

struct Server {
    admin_url: String,
    template: String,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TestDatabase {
    /// A fresh database with the full schema (all migrations applied, seed rows included).
    ///
    /// # Panics
    /// When no server can be found or started, or the copy cannot be created: a test without
    /// its database cannot run, and the message says why.
    pub async fn migrated() -> Self {
        let server = server();
        Self::create(&server.admin_url, Some(&server.template)).await
    }

    /// A fresh, empty database (no schema at all), e.g. to apply hand-written DDL first.
    ///
    /// # Panics
    /// As [`TestDatabase::migrated`].
    pub async fn empty() -> Self {
        Self::create(&server().admin_url, None).await
    }

    async fn create(admin_url: &str, template: Option<&str>) -> Self {
        let name = format!(
            "foresto_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("connecting to the test server {admin_url}: {e}"));
        let sql = match template {
            Some(t) => format!(r#"CREATE DATABASE "{name}" TEMPLATE "{t}""#),
            None => format!(r#"CREATE DATABASE "{name}" TEMPLATE template0 ENCODING 'UTF8'"#),
        };
        // A copy fails while another session is connected to the template; such a session
        // (a concurrent creator's last migration connection closing) is gone within moments.
        let mut attempt = 0;
        loop {
            match admin.execute(AssertSqlSafe(sql.as_str())).await {
                Ok(_) => break,
                Err(e) if attempt < 50 && e.to_string().contains("being accessed") => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("creating test database {name}: {e}"),
            }
        }
        let _ = admin.close().await;
        let url = replace_database(admin_url, &name);
        let db = crate::db::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connecting to test database {name}: {e}"));
        Self {
            db,
            url,
            name,
            admin_url: admin_url.to_owned(),
        }
    }

    /// The connection pool of this database.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block on a future: do the drop on a
        // thread of its own with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                admin
                    .execute(AssertSqlSafe(format!(
                        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                    )))
                    .await
                    .ok()
            })
        })
        .join();
    }
}

fn server() -> &'static Server {
    SERVER
        .get_or_init(|| {
            // Its own thread: a throwaway server lives as long as the thread that spawned it,
            // and the template is built on a runtime that no test owns.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("foresto-test-server".into())
                .spawn(move || {
                    let started = start_server();
                    let child = match started {
                        Ok((admin_url, child)) => {
                            let template = build_template(&admin_url);
                            let _ = tx.send(template.map(|template| Server {
                                admin_url,
                                template,
                            }));
                            child
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            None
                        }
                    };
                    if let Some(mut child) = child {
                        let _ = child.wait();
                    }
                })
                .expect("spawning the test server thread");
            rx.recv()
                .unwrap_or_else(|_| Err("test server thread died".into()))
        })
        .as_ref()
        .unwrap_or_else(|e| panic!("no test database server: {e}"))
}

fn start_server() -> Result<(String, Option<std::process::Child>), String> {
    if let Ok(url) = std::env::var(TEST_DATABASE_URL_ENV) {
        return Ok((url, None));
    }
    let dir = std::env::temp_dir().join(format!("foresto-test-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = LocalServer::new(&dir).map_err(|e| e.to_string())?;
    server.init().map_err(|e| e.to_string())?;
    let port = free_port().map_err(|e| e.to_string())?;
    let child = server.spawn_ephemeral(port).map_err(|e| e.to_string())?;
    remove_stale_server_dirs();
    Ok((LocalServer::url(port, "postgres"), Some(child)))
}

/// Data directories of throwaway servers whose test process has exited.
fn remove_stale_server_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("foresto-test-pg-")
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The template's name changes with the migrations' SQL and with the month (the partition
/// horizon is relative to the current month), so a stale template is never reused.
fn template_name() -> String {
    let mut hasher = Sha256::new();
    for m in migration::MIGRATIONS {
        hasher.update(m.name.as_bytes());
        hasher.update(m.up.as_bytes());
        hasher.update(m.down.as_bytes());
    }
    hasher.update(chrono::Utc::now().format("%Y%m").to_string().as_bytes());
    format!("foresto_tpl_{}", &hex::encode(hasher.finalize())[..16])
}

fn build_template(admin_url: &str) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let template = template_name();
        let mut admin = PgConnection::connect(admin_url)
            .await
            .map_err(|e| format!("connecting to {admin_url}: {e}"))?;
        // Every test process of a run may get here at once; one builds, the others wait.
        admin
            .execute("SELECT pg_advisory_lock(7460531870)")
            .await
            .map_err(|e| e.to_string())?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&template)
                .fetch_one(&mut admin)
                .await
                .map_err(|e| e.to_string())?;
        if !exists {
            let building = format!("{template}_building");
            for sql in [
                format!(r#"DROP DATABASE IF EXISTS "{building}" WITH (FORCE)"#),
                format!(r#"CREATE DATABASE "{building}" TEMPLATE template0 ENCODING 'UTF8'"#),
            ] {
                admin
                    .execute(AssertSqlSafe(sql))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let db = crate::db::connect_and_migrate(&replace_database(admin_url, &building))
                .await
                .map_err(|e| format!("migrating the template database: {e}"))?;
            let _ = db.close().await;
            // Renaming last makes the template appear complete or not at all.
            admin
                .execute(AssertSqlSafe(format!(
                    r#"ALTER DATABASE "{building}" RENAME TO "{template}""#
                )))
                .await
                .map_err(|e| e.to_string())?;
        }
        let _ = admin.execute("SELECT pg_advisory_unlock(7460531870)").await;
        let _ = admin.close().await;
        Ok(template)
    })
}
