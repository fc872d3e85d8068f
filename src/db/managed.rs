//! The CLI's zero-config database: a PostgreSQL cluster that Foresto initialises once under the
//! project (`.foresto/`, git-ignored), starts on a free loopback port, and reuses on later runs.
//!
//! The directory is `$FORESTO_LOCAL_DIR` when set; otherwise the nearest `.foresto/` in the
//! working directory or one of its parents, or a new `.foresto/` in the working directory. It
//! holds `pgdata/` (the cluster), `password` (the server's superuser password, mode 0600) and
//! `port` (the port of the last start).
//!
//! Whoever can write that directory controls the server and its data, so Foresto uses it only
//! when it is a real directory (not a symbolic link) owned by the current user and writable by
//! no one else, and refuses it otherwise, naming it. A `.foresto/` another user put in a shared
//! parent directory is refused, not silently used or passed over. The files in it are never
//! read or written through symbolic links.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::local_server::{
    LocalServer, LocalServerError, ServerStatus, describe_uid, free_port, port_in_use,
    read_private_file, write_private_file,
};

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
    /// The file holding the server's password (readable by its owner only).
    pub password_file: PathBuf,
    /// Where the server binaries were found.
    pub bin_dir: PathBuf,
    /// Initialised / stopped / running.
    pub state: ServerStatus,
    /// The connection URL (password included) when running.
    pub url: Option<String>,
}

/// The managed directory this process would use (see the module docs); it may not exist yet,
/// and [`ManagedServer::new`] decides whether it may be used.
pub fn default_root() -> PathBuf {
    if let Some(dir) = std::env::var_os(LOCAL_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors()
        .map(|d| d.join(".foresto"))
        // Anything of that name counts (a link, a file, another user's directory), so that it
        // is refused by name rather than skipped for one further up.
        .find(|d| fs::symlink_metadata(d).is_ok())
        .unwrap_or_else(|| cwd.join(".foresto"))
}

/// Refuses `dir` unless it is a directory (not a symbolic link) owned by the current user that
/// neither group nor others may write.
///
/// # Errors
/// [`LocalServerError::UnsafePath`] naming `dir` and what is wrong with it;
/// [`LocalServerError::Io`] when it cannot be inspected (a missing `dir` included).
fn check_private_dir(dir: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(dir).map_err(|source| LocalServerError::Io {
        context: format!("inspecting {}", dir.display()),
        source,
    })?;
    let refuse = |reason: String| LocalServerError::UnsafePath {
        path: dir.display().to_string(),
        reason,
    };
    if meta.file_type().is_symlink() {
        return Err(refuse(format!(
            "it is a symbolic link (set {LOCAL_DIR_ENV} to the real directory)"
        )));
    }
    if !meta.is_dir() {
        return Err(refuse("it is not a directory".into()));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(refuse(format!(
            "it is owned by {}, not by the current user {}; set {LOCAL_DIR_ENV} to a \
             directory of your own",
            describe_uid(meta.uid()),
            describe_uid(me)
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refuse(format!(
            "it is writable by group or others (mode {:04o}); `chmod 700` it",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

impl ManagedServer {
    /// The managed server in `root` (nothing is created until [`ManagedServer::ensure_running`]).
    ///
    /// # Errors
    /// [`LocalServerError::UnsafePath`] when `root` exists but is a symbolic link, not a
    /// directory, another user's, or writable by group or others; when the PostgreSQL binaries
    /// cannot be found, or running as root without an unprivileged user to run the server as.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = std::path::absolute(root.into()).map_err(|source| LocalServerError::Io {
            context: "resolving the managed directory".into(),
            source,
        })?;
        if fs::symlink_metadata(&root).is_ok() {
            check_private_dir(&root)?;
        }
        let server = LocalServer::new(root.join("pgdata"), root.join("password"))?;
        Ok(Self { root, server })
    }

    /// The managed directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn port_file(&self) -> PathBuf {
        self.root.join("port")
    }

    /// The port of the last start, if recorded (an unreadable number counts as none).
    fn saved_port(&self) -> Result<Option<u16>> {
        Ok(read_private_file(&self.port_file(), false)?.and_then(|t| t.trim().parse().ok()))
    }

    /// Creates the managed directory (mode 0700) if missing and checks whatever is there then:
    /// another process may have made it first.
    fn prepare_root(&self) -> Result<()> {
        if let Some(parent) = self.root.parent() {
            fs::create_dir_all(parent).map_err(|source| LocalServerError::Io {
                context: format!("creating {}", parent.display()),
                source,
            })?;
        }
        match fs::DirBuilder::new().mode(0o700).create(&self.root) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(LocalServerError::Io {
                    context: format!("creating {}", self.root.display()),
                    source,
                });
            }
        }
        check_private_dir(&self.root)?;
        if self.server.runs_as_another_user() {
            // The server user must be able to reach the data directory through every parent.
            make_traversable(&self.root);
        }
        Ok(())
    }

    /// Initialises the cluster if needed, starts the server if it is not running (on the port it
    /// used last time when that is still free), and returns the URL of the `foresto` database
    /// (which [`ManagedServer::ensure_database`] creates). Safe to call on every run.
    ///
    /// # Errors
    /// [`LocalServerError::UnsafePath`] when the managed directory or a path in it is not safely
    /// this user's (see the module docs); when initialisation or start-up fails (the message
    /// names the log).
    pub fn ensure_running(&self) -> Result<String> {
        self.prepare_root()?;
        // Read before anything is created or started, so a bad port file stops everything.
        let saved_port = self.saved_port()?;
        self.server.init()?;
        let port = match self.server.status()? {
            ServerStatus::Running { port, .. } => port,
            _ => {
                let port = saved_port
                    .filter(|p| !port_in_use(*p))
                    .map_or_else(free_port, Ok)?;
                self.server.start(port)?;
                write_private_file(&self.port_file(), port.to_string().as_bytes())?;
                port
            }
        };
        self.server.url(port, DATABASE_NAME)
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
            .map_err(|e| super::local_server::LocalServerError::Io {
                context: "starting the local server".into(),
                source: std::io::Error::other(e),
            })??;
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

    /// The server's state, without starting anything. A server running without a known
    /// password (one an earlier Foresto started with trust authentication) has no URL until
    /// [`ManagedServer::ensure_running`] secures it.
    ///
    /// # Errors
    /// [`LocalServerError::UnsafePath`] when the data directory or password file is not safely
    /// this user's; when the server's pid file cannot be read.
    pub fn status(&self) -> Result<ManagedStatus> {
        let state = self.server.status()?;
        let url = match &state {
            ServerStatus::Running { port, .. } => match self.server.url(*port, DATABASE_NAME) {
                Ok(url) => Some(url),
                Err(LocalServerError::NoPassword { .. }) => None,
                Err(e) => return Err(e),
            },
            _ => None,
        };
        Ok(ManagedStatus {
            root: self.root.clone(),
            data_dir: self.server.data_dir().to_owned(),
            password_file: self.server.password_file().to_owned(),
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
        // `remove_dir_all` removes symbolic links inside, never what they point to.
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

/// Gives group and others search (not read or write) permission on `dir`, ours: a root-owned
/// project directory is made 0700 and would hide the data directory from the unprivileged
/// server user. The password and port files in it stay 0600.
fn make_traversable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let me = nix::unistd::geteuid().as_raw();
    if let Ok(meta) = fs::symlink_metadata(dir)
        && meta.is_dir()
        && meta.uid() == me
        && meta.mode() & 0o001 == 0
    {
        let _ = fs::set_permissions(
            dir,
            fs::Permissions::from_mode((meta.mode() & 0o7777) | 0o011),
        );
    }
}
