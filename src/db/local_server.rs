//! A PostgreSQL server that Foresto runs itself from the installed binaries: the zero-config
//! database of the CLI and the throwaway server of the test helper.
//!
//! The server listens on loopback only (and a Unix socket inside its data directory) with trust
//! authentication for the `postgres` user. `initdb` refuses to run as root, so when Foresto runs
//! as root every server process runs as an unprivileged system user (`postgres`, else `nobody`)
//! that owns the data directory.

use std::ffi::OsStr;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming a directory that holds `initdb`, `pg_ctl` and `postgres`.
pub const PG_BIN_ENV: &str = "FORESTO_PG_BIN";

const TOOLS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the local server could not be set up, started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum LocalServerError {
    /// No PostgreSQL server binaries on this machine.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in ${PG_BIN_ENV}, on PATH, \
         or under /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, /opt/homebrew/opt/postgresql*/bin, \
         /usr/local/opt/postgresql*/bin. Install them (Debian/Ubuntu: `apt-get install postgresql`; \
         Fedora: `dnf install postgresql-server`; macOS: `brew install postgresql@16`) and/or set \
         {PG_BIN_ENV}=/path/to/bin, or use an existing server instead: \
         DATABASE_URL=postgres://user:password@host:5432/dbname"
    )]
    BinariesNotFound,

    /// `$FORESTO_PG_BIN` names a directory without the server tools.
    #[error("{PG_BIN_ENV}={0} does not contain initdb, pg_ctl and postgres")]
    PgBinDirInvalid(String),

    /// Running as root with no unprivileged account to run the server as.
    #[error(
        "running as root, and initdb refuses root: no `postgres` or `nobody` user exists to run \
         the server as (create one, e.g. `useradd --system postgres`), or set DATABASE_URL"
    )]
    NoUnprivilegedUser,

    /// A server tool exited unsuccessfully.
    #[error("`{command}` failed ({status}): {output}")]
    CommandFailed {
        command: String,
        status: String,
        output: String,
    },

    /// The server did not accept connections in time.
    #[error("the local PostgreSQL server did not become ready within {seconds}s; see {log}")]
    NotReady { seconds: u64, log: String },

    /// The data directory is not an initialised PostgreSQL cluster.
    #[error(
        "{0} is not an initialised PostgreSQL data directory (run `foresto local status` or reset it)"
    )]
    NotInitialized(String),

    /// File-system or process error.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, LocalServerError>;

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalServerError {
    let context = context.into();
    move |source| LocalServerError::Io { context, source }
}

/// The directory of an installed PostgreSQL's server binaries.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    bin_dir: PathBuf,
}

impl PgBinaries {
    /// Finds the binaries: `$FORESTO_PG_BIN`, then `PATH`, then the usual distribution
    /// directories (the newest version first).
    ///
    /// # Errors
    /// [`LocalServerError::PgBinDirInvalid`] when `$FORESTO_PG_BIN` is set but lacks a tool;
    /// [`LocalServerError::BinariesNotFound`] when no directory holds all three tools.
    pub fn locate() -> Result<Self> {
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default();
        Self::locate_in(
            std::env::var_os(PG_BIN_ENV).map(PathBuf::from),
            on_path.into_iter().chain(distribution_dirs()),
        )
    }

    /// Finds the binaries in `explicit` (which must hold them all) or else the first of
    /// `candidates` that does.
    ///
    /// # Errors
    /// As [`PgBinaries::locate`].
    pub fn locate_in(
        explicit: Option<PathBuf>,
        candidates: impl IntoIterator<Item = PathBuf>,
    ) -> Result<Self> {
        let has_tools = |dir: &Path| TOOLS.iter().all(|t| dir.join(t).is_file());
        if let Some(dir) = explicit {
            return if has_tools(&dir) {
                Ok(Self { bin_dir: dir })
            } else {
                Err(LocalServerError::PgBinDirInvalid(dir.display().to_string()))
            };
        }
        candidates
            .into_iter()
            .find(|d| has_tools(d))
            .map(|bin_dir| Self { bin_dir })
            .ok_or(LocalServerError::BinariesNotFound)
    }

    /// The directory the tools were found in.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    fn tool(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// Another tool of this installation (`pg_dump`, `pg_restore`, `psql`, …): from the binaries'
    /// directory, else the real directory behind a symlinked `postgres` (a `/usr/local/bin`
    /// holding links only), else `PATH`.
    pub fn client_tool(&self, name: &str) -> Option<PathBuf> {
        let real_dir = fs::canonicalize(self.tool("postgres"))
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default();
        std::iter::once(self.bin_dir.clone())
            .chain(real_dir)
            .chain(on_path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    }

    /// The server's version line (`postgres (PostgreSQL) 15.x`).
    ///
    /// # Errors
    /// When `postgres --version` cannot run.
    pub fn version(&self) -> Result<String> {
        let out = run(Command::new(self.tool("postgres")).arg("--version"))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

/// Versioned install directories, newest first (`/usr/lib/postgresql/17/bin` before `…/15/bin`).
fn distribution_dirs() -> Vec<PathBuf> {
    let patterns: [(&str, &str, &str); 4] = [
        ("/usr/lib/postgresql", "", "bin"),
        ("/usr", "pgsql-", "bin"),
        ("/opt/homebrew/opt", "postgresql", "bin"),
        ("/usr/local/opt", "postgresql", "bin"),
    ];
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for (root, prefix, bin) in patterns {
        let Ok(entries) = fs::read_dir(root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(rest) = name.strip_prefix(prefix) {
                let version = rest
                    .trim_start_matches('@')
                    .split('.')
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if !prefix.is_empty() || version > 0 {
                    found.push((version, entry.path().join(bin)));
                }
            }
        }
    }
    found.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    found.into_iter().map(|(_, p)| p).collect()
}

/// The account server processes run as when Foresto runs as root.
#[derive(Debug, Clone)]
struct RunAs {
    uid: nix::unistd::Uid,
    gid: nix::unistd::Gid,
}

fn unprivileged_user() -> Result<Option<RunAs>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    ["postgres", "nobody"]
        .iter()
        .find_map(|name| nix::unistd::User::from_name(name).ok().flatten())
        .map(|u| {
            Some(RunAs {
                uid: u.uid,
                gid: u.gid,
            })
        })
        .ok_or(LocalServerError::NoUnprivilegedUser)
}

/// Picks a TCP port on loopback that is free right now.
///
/// # Errors
/// When no socket can be bound.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(io_err("binding a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io_err("reading a bound port"))?
        .port())
}

/// Whether something accepts TCP connections on `127.0.0.1:port`.
pub fn port_in_use(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_err()
}

fn run(cmd: &mut Command) -> Result<Output> {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = cmd.output().map_err(io_err(format!("running {shown}")))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(LocalServerError::CommandFailed {
            command: shown,
            status: out.status.to_string(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .trim()
            .to_owned(),
        })
    }
}

/// A PostgreSQL cluster in a data directory of Foresto's, and the server that runs it.
#[derive(Debug, Clone)]
pub struct LocalServer {
    bins: PgBinaries,
    data_dir: PathBuf,
    run_as: Option<RunAs>,
}

/// What [`LocalServer::status`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerStatus {
    /// No cluster in the data directory yet.
    NotInitialized,
    /// Initialised but not running.
    Stopped,
    /// Running and accepting connections on this port.
    Running { port: u16, pid: u32 },
}

impl LocalServer {
    /// A server over `data_dir` (made absolute), using the located binaries.
    ///
    /// # Errors
    /// When the binaries are missing, or running as root with no unprivileged user.
    pub fn new(data_dir: impl AsRef<Path>) -> Result<Self> {
        let data_dir = std::path::absolute(data_dir.as_ref())
            .map_err(io_err(format!("resolving {}", data_dir.as_ref().display())))?;
        Ok(Self {
            bins: PgBinaries::locate()?,
            data_dir,
            run_as: unprivileged_user()?,
        })
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The binaries in use.
    pub fn binaries(&self) -> &PgBinaries {
        &self.bins
    }

    /// The server's log file.
    pub fn log_file(&self) -> PathBuf {
        self.data_dir.join("server.log")
    }

    /// Whether `initdb` has run in the data directory.
    pub fn is_initialized(&self) -> bool {
        self.data_dir.join("PG_VERSION").is_file()
    }

    fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(self.bins.tool(tool));
        // The unprivileged account may not be able to enter our working directory.
        cmd.current_dir("/");
        if let Some(user) = &self.run_as {
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        cmd
    }

    /// Creates the cluster (UTF-8, C locale, trust auth for `postgres`) unless it exists.
    ///
    /// # Errors
    /// When the directory cannot be prepared or `initdb` fails.
    pub fn init(&self) -> Result<()> {
        if self.is_initialized() {
            return Ok(());
        }
        fs::create_dir_all(&self.data_dir)
            .map_err(io_err(format!("creating {}", self.data_dir.display())))?;
        fs::set_permissions(&self.data_dir, fs::Permissions::from_mode(0o700))
            .map_err(io_err(format!("securing {}", self.data_dir.display())))?;
        if let Some(user) = &self.run_as {
            nix::unistd::chown(&self.data_dir, Some(user.uid), Some(user.gid)).map_err(|e| {
                LocalServerError::Io {
                    context: format!("handing {} to the server user", self.data_dir.display()),
                    source: e.into(),
                }
            })?;
        }
        run(self.command("initdb").arg("-D").arg(&self.data_dir).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]))?;
        Ok(())
    }

    fn server_options(&self, port: u16) -> Vec<String> {
        vec![
            "-p".into(),
            port.to_string(),
            "-k".into(),
            self.data_dir.display().to_string(),
            "-c".into(),
            "listen_addresses=127.0.0.1".into(),
        ]
    }

    /// Starts the server as a daemon (`pg_ctl start`) on `port` and waits until it accepts
    /// connections. It keeps running after this process exits.
    ///
    /// # Errors
    /// When the cluster is not initialised or the server does not come up.
    pub fn start(&self, port: u16) -> Result<()> {
        if !self.is_initialized() {
            return Err(LocalServerError::NotInitialized(
                self.data_dir.display().to_string(),
            ));
        }
        let log = self.log_file();
        if !log.exists() {
            fs::write(&log, b"").map_err(io_err(format!("creating {}", log.display())))?;
            if let Some(user) = &self.run_as {
                let _ = nix::unistd::chown(&log, Some(user.uid), Some(user.gid));
            }
        }
        run(self
            .command("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", &READY_TIMEOUT.as_secs().to_string(), "-o"])
            .arg(self.server_options(port).join(" "))
            .stdin(Stdio::null()))?;
        Ok(())
    }

    /// Starts the server as a child of this process that dies with it, for throwaway use: the
    /// spawning thread must outlive every use of the server (the kernel signals the server
    /// when that thread exits). Durability is switched off; do not keep data here.
    ///
    /// # Errors
    /// When the server cannot be spawned or does not come up.
    pub fn spawn_ephemeral(&self, port: u16) -> Result<Child> {
        let log = fs::File::create(self.log_file())
            .map_err(io_err(format!("creating {}", self.log_file().display())))?;
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .args(self.server_options(port))
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=300"])
            .stdin(Stdio::null())
            .stdout(
                log.try_clone()
                    .map_err(io_err("duplicating the log handle"))?,
            )
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGINT)
                    .map_err(std::io::Error::from)
            });
        }
        let child = cmd.spawn().map_err(io_err("spawning postgres"))?;
        self.wait_ready()?;
        Ok(child)
    }

    fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let ServerStatus::Running { .. } = self.status()? {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(LocalServerError::NotReady {
            seconds: READY_TIMEOUT.as_secs(),
            log: self.log_file().display().to_string(),
        })
    }

    /// Reads the server's state from its `postmaster.pid` (written by the server itself: pid on
    /// line 1, port on line 4, `ready` on line 8 once it accepts connections).
    ///
    /// # Errors
    /// When the pid file exists but cannot be read.
    pub fn status(&self) -> Result<ServerStatus> {
        if !self.is_initialized() {
            return Ok(ServerStatus::NotInitialized);
        }
        let pid_file = self.data_dir.join("postmaster.pid");
        let text = match fs::read_to_string(&pid_file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ServerStatus::Stopped),
            Err(e) => return Err(io_err(format!("reading {}", pid_file.display()))(e)),
        };
        let lines: Vec<&str> = text.lines().collect();
        let pid: Option<u32> = lines.first().and_then(|l| l.trim().parse().ok());
        let port: Option<u16> = lines.get(3).and_then(|l| l.trim().parse().ok());
        let ready = lines.get(7).is_some_and(|l| l.trim() == "ready");
        let alive = pid.is_some_and(|p| {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(p as i32), None).is_ok()
        });
        Ok(match (pid, port) {
            (Some(pid), Some(port)) if alive && ready => ServerStatus::Running { port, pid },
            _ => ServerStatus::Stopped,
        })
    }

    /// Stops a running server (fast shutdown: open sessions are disconnected).
    ///
    /// # Errors
    /// When `pg_ctl stop` fails on a running server.
    pub fn stop(&self) -> Result<()> {
        if !matches!(self.status()?, ServerStatus::Running { .. }) {
            return Ok(());
        }
        run(self
            .command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w"]))?;
        Ok(())
    }

    /// Connection URL for `database` on a server listening on `port`.
    pub fn url(port: u16, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/{database}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_say_what_to_install_and_how_to_use_a_server_instead() {
        let empty = std::env::temp_dir();
        let err = PgBinaries::locate_in(None, [empty])
            .unwrap_err()
            .to_string();
        assert!(err.contains("apt-get install postgresql"), "{err}");
        assert!(err.contains("brew install postgresql"), "{err}");
        assert!(err.contains("DATABASE_URL=postgres://"), "{err}");
        assert!(err.contains(PG_BIN_ENV), "{err}");
    }

    #[test]
    fn an_explicit_bin_dir_without_the_tools_is_an_error_not_a_fallback() {
        let err = PgBinaries::locate_in(Some(PathBuf::from("/nonexistent")), distribution_dirs())
            .unwrap_err();
        assert!(matches!(err, LocalServerError::PgBinDirInvalid(_)), "{err}");
    }
}
