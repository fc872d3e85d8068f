//! The CLI's zero-config database: a PostgreSQL cluster that Foresto initialises once under the
//! project (`.foresto/`, git-ignored), starts on a free loopback port, and reuses on later runs.
//!
//! The directory is `$FORESTO_LOCAL_DIR` when set; otherwise the nearest `.foresto/` in the
//! working directory or one of its parents, or a new `.foresto/` in the working directory.

use std::fs;
use std::path::{Path, PathBuf};

use super::local_server::{LocalServer, LocalServerError, ServerStatus, free_port, port_in_use};

/// Environment variable that sets the managed server's directory.
pub const LOCAL_DIR_ENV: &str = "FORESTO_LOCAL_DIR";

/// The database the managed server holds Foresto's schema in.
pub const DATABASE_NAME: &str = "foresto";

type Result<T> = std::result::Result<T, LocalServerError>;

/// Where the managed server lives and how it runs.
#[derive(Debug, Clone)]
pub struct ManagedServer {
    root: PathBuf,
    server: LocalServer,
}

/// What [`ManagedServer::status`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedStatus {
    /// The managed directory (`.foresto/`).
    pub root: PathBuf,
    /// The cluster's data directory.
    pub data_dir: PathBuf,
    /// Where the server binaries were found.
    pub bin_dir: PathBuf,
    /// Initialised / stopped / running.
    pub state: ServerStatus,
    /// The connection URL when running.
    pub url: Option<String>,
}

/// The managed directory this process would use (see the module docs); it may not exist yet.
pub fn default_root() -> PathBuf {
    if let Some(dir) = std::env::var_os(LOCAL_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors()
        .map(|d| d.join(".foresto"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| cwd.join(".foresto"))
}

impl ManagedServer {
    /// The managed server in `root` (nothing is created until [`ManagedServer::ensure_running`]).
    ///
    /// # Errors
    /// When the PostgreSQL binaries cannot be found, or running as root without an
    /// unprivileged user to run the server as.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = std::path::absolute(root.into()).map_err(|source| LocalServerError::Io {
            context: "resolving the managed directory".into(),
            source,
        })?;
        let server = LocalServer::new(root.join("pgdata"))?;
        Ok(Self { root, server })
    }

    /// The managed directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn port_file(&self) -> PathBuf {
        self.root.join("port")
    }

    fn saved_port(&self) -> Option<u16> {
        fs::read_to_string(self.port_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Initialises the cluster if needed, starts the server if it is not running (on the port it
    /// used last time when that is still free), creates the `foresto` database if missing, and
    /// returns its URL. Safe to call on every run.
    ///
    /// # Errors
    /// When initialisation, start-up or database creation fails; the message names the log.
    pub fn ensure_running(&self) -> Result<String> {
        fs::create_dir_all(&self.root).map_err(|source| LocalServerError::Io {
            context: format!("creating {}", self.root.display()),
            source,
        })?;
        // The server user must be able to reach the data directory through every parent.
        make_traversable(&self.root);
        self.server.init()?;
        let port = match self.server.status()? {
            ServerStatus::Running { port, .. } => port,
            _ => {
                let port = self
                    .saved_port()
                    .filter(|p| !port_in_use(*p))
                    .map_or_else(free_port, Ok)?;
                self.server.start(port)?;
                fs::write(self.port_file(), port.to_string()).map_err(|source| {
                    LocalServerError::Io {
                        context: format!("writing {}", self.port_file().display()),
                        source,
                    }
                })?;
                port
            }
        };
        Ok(LocalServer::url(port, DATABASE_NAME))
    }

    /// [`ManagedServer::ensure_running`], then creates the `foresto` database if it is missing;
    /// returns its URL.
    ///
    /// # Errors
    /// As `ensure_running`, or when the database cannot be created.
    pub async fn ensure_database(&self) -> crate::Result<String> {
        use sqlx::{AssertSqlSafe, Connection, Executor};
        let this = self.clone();
        let url = tokio::task::spawn_blocking(move || this.ensure_running())
            .await
            .map_err(|e| crate::Error::Connection(format!("starting the local server: {e}")))??;
        let mut admin =
            sqlx::PgConnection::connect(&super::replace_database(&url, "postgres")).await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DATABASE_NAME)
                .fetch_one(&mut admin)
                .await?;
        if !exists {
            admin
                .execute(AssertSqlSafe(format!(
                    r#"CREATE DATABASE "{DATABASE_NAME}" TEMPLATE template0 ENCODING 'UTF8'"#
                )))
                .await?;
        }
        admin.close().await?;
        Ok(url)
    }

    /// The server's state, without starting anything.
    ///
    /// # Errors
    /// When the server's pid file cannot be read.
    pub fn status(&self) -> Result<ManagedStatus> {
        let state = self.server.status()?;
        let url = match &state {
            ServerStatus::Running { port, .. } => Some(LocalServer::url(*port, DATABASE_NAME)),
            _ => None,
        };
        Ok(ManagedStatus {
            root: self.root.clone(),
            data_dir: self.server.data_dir().to_owned(),
            bin_dir: self.server.binaries().bin_dir().to_owned(),
            state,
            url,
        })
    }

    /// Stops the server if it runs; its data stays.
    ///
    /// # Errors
    /// When `pg_ctl stop` fails.
    pub fn stop(&self) -> Result<()> {
        self.server.stop()
    }

    /// Stops the server and deletes the managed directory with all its data.
    ///
    /// # Errors
    /// When stopping fails or the directory cannot be removed.
    pub fn reset(&self) -> Result<()> {
        self.server.stop()?;
        match fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(LocalServerError::Io {
                context: format!("removing {}", self.root.display()),
                source,
            }),
        }
    }
}

/// Gives "others" search permission on `dir` when it is ours to change: a root-owned project
/// directory created with a 0700 umask would otherwise hide the data directory from the
/// unprivileged server user. Directories we do not own are left alone.
fn make_traversable(dir: &Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let me = nix::unistd::geteuid().as_raw();
    if let Ok(meta) = fs::metadata(dir)
        && meta.uid() == me
        && meta.mode() & 0o001 == 0
    {
        let _ = fs::set_permissions(
            dir,
            fs::Permissions::from_mode((meta.mode() & 0o7777) | 0o011),
        );
    }
}
