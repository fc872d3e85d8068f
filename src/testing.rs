//! Real-PostgreSQL test databases, for Foresto's own tests and for application crates that build
//! on it.
//!
//! The server is the one named by [`TEST_DATABASE_URL_ENV`] (an admin URL: a role that may
//! create databases), or else a throwaway server this process starts from the installed
//! PostgreSQL binaries (see [`crate::db::local_server`]) and that dies with it. Like the managed
//! server, the throwaway one admits only connections that give its generated password (kept in a
//! private temporary directory; the URLs carry it), so other local users cannot use it. A
//! migrated template database is built once per schema version and month (shared by concurrent
//! test processes through an advisory lock) and every [`TestDatabase`] is a fresh copy of it,
//! dropped when the value is dropped, so tests run in parallel without seeing each other's rows.
//!
//! A test that needs a server configured its own way — serving TLS, or a primary with a
//! streaming replica — starts a [`TestServer`] of its own, stopped and deleted on drop.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

    /// A fresh database with the full schema on `server` (a template is built there first,
    /// once per schema version and month, as on the shared server).
    ///
    /// # Panics
    /// As [`TestDatabase::migrated`].
    pub async fn migrated_on(server: &TestServer) -> Self {
        let admin_url = server.admin_url();
        let template = ensure_template(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("building the template on {admin_url}: {e}"));
        Self::create(&admin_url, Some(&template)).await
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
        let db = crate::db::connect(&url, &Default::default())
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
    let (_dir, server) = new_private_server()?;
    server.init().map_err(|e| e.to_string())?;
    let port = free_port().map_err(|e| e.to_string())?;
    let child = server.spawn_ephemeral(port).map_err(|e| e.to_string())?;
    remove_stale_server_dirs();
    let url = server.url(port, "postgres").map_err(|e| e.to_string())?;
    Ok((url, Some(child)))
}

/// A server over a new private directory (see [`private_server_dir`]), not initialised yet.
/// The data directory and the password file (0600, ours) lie side by side in it: the password
/// is what keeps other local users out of the server.
fn new_private_server() -> Result<(PathBuf, LocalServer), String> {
    let dir = private_server_dir()?;
    let server =
        LocalServer::new(dir.join("pgdata"), dir.join("password")).map_err(|e| e.to_string())?;
    if server.runs_as_another_user() {
        // Searchable, not readable, so that the server user reaches `pgdata` and no more.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
            .map_err(|e| format!("securing {}: {e}", dir.display()))?;
    }
    Ok((dir, server))
}

/// How a [`TestServer`] is set up beyond password logins on loopback.
#[derive(Debug, Clone, Default)]
pub struct TestServerOptions {
    /// A certificate (chain) and its private key, in PEM: the server then serves TLS.
    pub certificate: Option<(Vec<u8>, Vec<u8>)>,
    /// Whether it accepts replication connections (what [`TestServer::start_replica`] needs).
    pub replication: bool,
}

/// A throwaway PostgreSQL server of one test's own (its own cluster, port and password, from
/// the installed binaries), for what the shared server cannot be: one serving TLS, a primary
/// with a streaming replica, a server that is stopped mid-test. Stopped and deleted on drop.
///
/// Starting one takes seconds (`initdb`, or `pg_basebackup` for a replica); use
/// [`TestDatabase`] wherever the shared server does.
pub struct TestServer {
    server: LocalServer,
    dir: PathBuf,
    port: u16,
    postmaster: Option<Postmaster>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("dir", &self.dir)
            .field("port", &self.port)
            .field("running", &self.postmaster.is_some())
            .finish()
    }
}

/// A running server process, and the thread that started it and waits for it to exit (the
/// server dies with that thread: see [`LocalServer::spawn_ephemeral`]).
struct Postmaster {
    pid: u32,
    waiter: std::thread::JoinHandle<()>,
}

/// How long [`TestServer::wait_for_replica`] waits before it gives up.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(120);

impl TestServer {
    /// Initialises and starts a server set up as `options` say.
    ///
    /// # Panics
    /// When the binaries are missing or the server cannot be set up or started.
    pub fn start(options: &TestServerOptions) -> Self {
        let (dir, server) = new_private_server().unwrap_or_else(|e| panic!("test server: {e}"));
        let fail = |e: crate::LocalServerError| panic!("test server in {}: {e}", dir.display());
        server.init().unwrap_or_else(fail);
        if let Some((cert, key)) = &options.certificate {
            server.install_certificate(cert, key).unwrap_or_else(fail);
        }
        if options.replication {
            server.allow_replication().unwrap_or_else(fail);
        }
        Self::launch(dir, server)
    }

    /// A streaming replica of this server (which must have been started with
    /// [`TestServerOptions::replication`]), copied with `pg_basebackup` and started on a port
    /// of its own as a read-only hot standby.
    ///
    /// # Panics
    /// When `pg_basebackup` is missing or fails, or the replica does not start.
    pub fn start_replica(&self) -> Self {
        let (dir, replica) = new_private_server().unwrap_or_else(|e| panic!("replica: {e}"));
        replica
            .init_replica_of(&self.server, self.port)
            .unwrap_or_else(|e| panic!("replica in {}: {e}", dir.display()));
        Self::launch(dir, replica)
    }

    fn launch(dir: PathBuf, server: LocalServer) -> Self {
        let port = free_port().unwrap_or_else(|e| panic!("test server: {e}"));
        let mut this = Self {
            server,
            dir,
            port,
            postmaster: None,
        };
        this.restart();
        remove_stale_server_dirs();
        this
    }

    /// The URL of `database` on this server (password included).
    pub fn url(&self, database: &str) -> String {
        self.server
            .url(self.port, database)
            .unwrap_or_else(|e| panic!("test server URL: {e}"))
    }

    /// The URL of its `postgres` database, for creating databases.
    pub fn admin_url(&self) -> String {
        self.url("postgres")
    }

    /// The port it listens on (on `127.0.0.1`; it keeps it across [`TestServer::stop`] and
    /// [`TestServer::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (fast shutdown) and waits until it has exited; a no-op when stopped.
    pub fn stop(&mut self) {
        if let Some(postmaster) = self.postmaster.take() {
            let pid = nix::unistd::Pid::from_raw(postmaster.pid as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
            let _ = postmaster.waiter.join();
        }
    }

    /// Starts the server again on its port, with its data; a no-op when it runs.
    ///
    /// # Panics
    /// When it does not start.
    pub fn restart(&mut self) {
        if self.postmaster.is_some() {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let server = self.server.clone();
        let port = self.port;
        let waiter = std::thread::Builder::new()
            .name("foresto-test-pg".into())
            .spawn(move || match server.spawn_ephemeral(port) {
                Ok(mut child) => {
                    let _ = tx.send(Ok(child.id()));
                    let _ = child.wait();
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            })
            .expect("spawning a test server thread");
        let pid = rx
            .recv()
            .unwrap_or_else(|_| Err("the test server thread died".into()))
            .unwrap_or_else(|e| panic!("starting the test server in {}: {e}", self.dir.display()));
        self.postmaster = Some(Postmaster { pid, waiter });
    }

    /// Waits until `replica` has replayed everything this server had written when called
    /// (`pg_last_wal_replay_lsn()` on the replica reaches `pg_current_wal_lsn()` here).
    ///
    /// # Panics
    /// When `replica` is not in recovery, or has not caught up within two minutes.
    pub async fn wait_for_replica(&self, replica: &TestServer) {
        let mut primary = PgConnection::connect(&self.admin_url())
            .await
            .unwrap_or_else(|e| panic!("connecting to the primary: {e}"));
        let target: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
            .fetch_one(&mut primary)
            .await
            .unwrap_or_else(|e| panic!("reading the primary's WAL position: {e}"));
        let _ = primary.close().await;
        let mut standby = PgConnection::connect(&replica.admin_url())
            .await
            .unwrap_or_else(|e| panic!("connecting to the replica: {e}"));
        let deadline = Instant::now() + REPLAY_TIMEOUT;
        loop {
            let replayed: Option<bool> =
                sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn")
                    .bind(&target)
                    .fetch_one(&mut standby)
                    .await
                    .unwrap_or_else(|e| panic!("reading the replica's replay position: {e}"));
            match replayed {
                Some(true) => break,
                None => panic!("{} is not a replica (not in recovery)", replica.admin_url()),
                Some(false) if Instant::now() >= deadline => panic!(
                    "the replica has not replayed up to {target} within {}s",
                    REPLAY_TIMEOUT.as_secs()
                ),
                Some(false) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let _ = standby.close().await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const SERVER_DIR_PREFIX: &str = "foresto-test-pg-";

/// How the names of the migrated template databases begin: `foresto_tpl_<server_version_num>_`
/// and a fingerprint of the migrations and the month.
pub const TEMPLATE_PREFIX: &str = "foresto_tpl_";

/// A new directory `foresto-test-pg-<pid>-<n>` in the temporary directory, mode 0700. It is
/// created, never reused: the temporary directory is shared, and a name someone else made
/// (a directory, a link) is passed over for the next one.
fn private_server_dir() -> Result<std::path::PathBuf, String> {
    let tmp = std::env::temp_dir();
    for n in 0..100 {
        let dir = tmp.join(format!("{SERVER_DIR_PREFIX}{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("creating {}: {e}", dir.display())),
        }
    }
    Err(format!(
        "no free {SERVER_DIR_PREFIX}{}-<n> name in {}",
        std::process::id(),
        tmp.display()
    ))
}

/// Directories of throwaway servers whose test process has exited. Only our own directories
/// are removed (not links, not other users' entries of the shared temporary directory).
fn remove_stale_server_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    let me = nix::unistd::geteuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(SERVER_DIR_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let ours =
            std::fs::symlink_metadata(entry.path()).is_ok_and(|m| m.is_dir() && m.uid() == me);
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if ours && !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The template's name: `foresto_tpl_<server_version_num>_<hash>`. It changes with the server's
/// version (a cluster upgraded in place keeps its databases, and a schema built by one major is
/// not taken for another's), with the migrations' SQL and with the month (the partition horizon
/// is relative to the current month), so a stale template is never reused.
fn template_name(server_version_num: &str) -> String {
    let mut hasher = Sha256::new();
    for m in migration::MIGRATIONS {
        hasher.update(m.name.as_bytes());
        hasher.update(m.up.as_bytes());
        hasher.update(m.down.as_bytes());
    }
    hasher.update(chrono::Utc::now().format("%Y%m").to_string().as_bytes());
    format!(
        "{TEMPLATE_PREFIX}{server_version_num}_{}",
        &hex::encode(hasher.finalize())[..16]
    )
}

fn build_template(admin_url: &str) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(ensure_template(admin_url))
}

/// The name of the migrated template on the server of `admin_url`, built unless it exists.
async fn ensure_template(admin_url: &str) -> Result<String, String> {
    let mut admin = PgConnection::connect(admin_url)
        .await
        .map_err(|e| format!("connecting to {admin_url}: {e}"))?;
    let version: String = sqlx::query_scalar("SELECT current_setting('server_version_num')")
        .fetch_one(&mut admin)
        .await
        .map_err(|e| e.to_string())?;
    let template = template_name(&version);
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
        let db = crate::db::connect_and_migrate(
            &replace_database(admin_url, &building),
            &Default::default(),
        )
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
}

#[cfg(test)]
mod tests {
    use super::template_name;

    #[test]
    fn each_server_version_has_a_template_of_its_own() {
        let v14 = template_name("140023");
        let v18 = template_name("180004");
        assert!(v14.starts_with("foresto_tpl_140023_"), "{v14}");
        assert!(v18.starts_with("foresto_tpl_180004_"), "{v18}");
        assert_ne!(v14, v18);
        assert_eq!(template_name("140023"), v14);
    }
}
