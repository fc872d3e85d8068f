//! A PostgreSQL server that Foresto runs itself from the installed binaries: the zero-config
//! database of the CLI and the throwaway server of the test helper.
//!
//! The server admits only whoever knows its password. `initdb` runs with every connection
//! rejected; the superuser `postgres` then gets a random password (set in single-user mode, fed
//! through a pipe, so it never reaches a command line) and `pg_hba.conf` asks every connection
//! for it (`scram-sha-256`). The password is kept in a file only its owner can read (0600, never
//! reached through a symbolic link), and the connection URL carries it. The server listens on
//! `127.0.0.1` only and has no Unix socket. Without this, any local user could connect as
//! superuser and run programs as the server's account (`COPY … TO PROGRAM`).
//!
//! No shell sits between Foresto and the server: the tools are run with argument vectors, and the
//! server is started by running `postgres` directly (`pg_ctl start` hands its data directory and
//! `-o` options to `/bin/sh`, so a path holding a space breaks it and one holding `$(…)` runs a
//! command).
//!
//! `initdb` refuses to run as root, so when Foresto runs as root every server process runs as an
//! unprivileged system user (`postgres`, else `nobody`) that owns the data directory; the
//! password file stays root's.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming a directory that holds `initdb`, `pg_ctl` and `postgres`.
pub const PG_BIN_ENV: &str = "FORESTO_PG_BIN";

const TOOLS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The cluster's superuser, the role every URL of this module connects as.
const SUPERUSER: &str = "postgres";

/// Random bytes in a generated password (hex-encoded: safe in a URL without escaping).
const PASSWORD_BYTES: usize = 32;

/// Client authentication once the password is set: the password, from anywhere, always.
/// Replication connections match no line and are refused (see [`LocalServer::allow_replication`]).
const PG_HBA: &str = "\
# Written by Foresto: every connection must give the superuser's generated password, which
# Foresto keeps in a file only its owner can read. Nothing is trusted.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
";

/// Added to [`PG_HBA`] by [`LocalServer::allow_replication`]: replication connections from
/// loopback, with the same password.
const PG_HBA_REPLICATION: &str = "\
host    replication  all  127.0.0.1/32  scram-sha-256
host    replication  all  ::1/128       scram-sha-256
";

/// The server's certificate and key, in the data directory (the server's default names).
const TLS_CERT_FILE: &str = "server.crt";
const TLS_KEY_FILE: &str = "server.key";

pub use crate::error::LocalServerError;

type Result<T> = std::result::Result<T, LocalServerError>;

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalServerError {
    let context = context.into();
    move |source| LocalServerError::Io { context, source }
}

fn unsafe_path(path: &Path, reason: impl Into<String>) -> LocalServerError {
    LocalServerError::UnsafePath {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// `uid` as people read it: `alice (uid 1000)`, or `uid 1000` for an unknown account.
pub(crate) fn describe_uid(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(user)) => format!("{} (uid {uid})", user.name),
        _ => format!("uid {uid}"),
    }
}

fn is_symlink_error(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32)
}

/// Opens `path` without following a symbolic link in its last component (`O_NOFOLLOW`, plus
/// the `open(2)` flags in `extra`); a link there is [`LocalServerError::UnsafePath`].
fn open_no_follow(
    options: &mut OpenOptions,
    extra: nix::fcntl::OFlag,
    path: &Path,
    doing: &str,
) -> Result<File> {
    options
        // `custom_flags` replaces earlier custom flags, so all of them are given here at once.
        .custom_flags((nix::fcntl::OFlag::O_NOFOLLOW | extra).bits())
        .open(path)
        .map_err(|e| {
            if is_symlink_error(&e) {
                unsafe_path(path, "it is a symbolic link")
            } else {
                io_err(format!("{doing} {}", path.display()))(e)
            }
        })
}

/// Reads a small file of Foresto's that must be a regular file owned by the current user and,
/// when `secret`, readable by nobody else. `None` when it does not exist.
///
/// The checks are made on the opened file (`O_NOFOLLOW`, then `fstat`), so a name swapped for a
/// link or another file in between cannot slip past them. `O_NONBLOCK` keeps a FIFO planted
/// under the name from hanging the open; it is refused as "not a regular file".
pub(crate) fn read_private_file(path: &Path, secret: bool) -> Result<Option<String>> {
    let mut options = OpenOptions::new();
    options.read(true);
    let nonblock = nix::fcntl::OFlag::O_NONBLOCK;
    let mut file = match open_no_follow(&mut options, nonblock, path, "reading") {
        Ok(file) => file,
        Err(LocalServerError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let meta = file
        .metadata()
        .map_err(io_err(format!("inspecting {}", path.display())))?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_file() {
        return Err(unsafe_path(path, "it is not a regular file"));
    }
    if meta.uid() != me {
        return Err(unsafe_path(
            path,
            format!(
                "it is owned by {}, not by the current user {}",
                describe_uid(meta.uid()),
                describe_uid(me)
            ),
        ));
    }
    if secret && meta.mode() & 0o077 != 0 {
        return Err(unsafe_path(
            path,
            format!(
                "it holds a password but others may read it (mode {:04o}); `chmod 600` it",
                meta.mode() & 0o7777
            ),
        ));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(io_err(format!("reading {}", path.display())))?;
    Ok(Some(text))
}

/// Replaces `path` with a new file (mode 0600) holding `contents`, owned by `owner` when given
/// (else by the current user).
///
/// A symbolic link or non-file at `path` is refused, never written through. The new content is
/// written to a fresh sibling (`O_CREAT | O_EXCL`: never an existing file or link), synced, and
/// renamed over `path`: a rename replaces a link put there meanwhile instead of following it,
/// and readers see the old file or the whole new one.
fn replace_file(path: &Path, contents: &[u8], owner: Option<&RunAs>) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(unsafe_path(path, "it is a symbolic link"));
        }
        Ok(meta) if !meta.is_file() => {
            return Err(unsafe_path(path, "it is not a regular file"));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(format!("inspecting {}", path.display()))(e)),
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.new"));
    // A leftover of an interrupted write; `remove_file` removes a link itself, not its target.
    match fs::remove_file(&temp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(format!("removing {}", temp.display()))(e)),
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true).mode(0o600);
    let mut file = open_no_follow(&mut options, nix::fcntl::OFlag::empty(), &temp, "creating")?;
    if let Some(owner) = owner {
        std::os::unix::fs::fchown(&file, Some(owner.uid.as_raw()), Some(owner.gid.as_raw()))
            .map_err(io_err(format!(
                "handing {} to the server user",
                temp.display()
            )))?;
    }
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io_err(format!("writing {}", temp.display())))?;
    fs::rename(&temp, path).map_err(io_err(format!("replacing {}", path.display())))
}

/// Writes a file of Foresto's that only the current user may read (see [`replace_file`]).
///
/// # Errors
/// [`LocalServerError::UnsafePath`] when `path` is a symbolic link or not a regular file;
/// [`LocalServerError::Io`] when it cannot be written.
pub(crate) fn write_private_file(path: &Path, contents: &[u8]) -> Result<()> {
    replace_file(path, contents, None)
}

/// A new password: random bytes from the kernel, hex-encoded.
fn generate_password() -> Result<String> {
    let mut bytes = [0u8; PASSWORD_BYTES];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io_err("reading random bytes for the server's password"))?;
    Ok(hex::encode(bytes))
}

/// How a command line reads in messages (the arguments joined by spaces; for display only).
fn describe(cmd: &Command) -> String {
    format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" ")
    )
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
    let shown = describe(cmd);
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
    password_file: PathBuf,
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
    /// A server over `data_dir` whose superuser password is kept in `password_file` (both made
    /// absolute), using the located binaries. The password file must not be inside the data
    /// directory (`initdb` wants it empty) and is best in a directory only the current user
    /// can write.
    ///
    /// # Errors
    /// When the binaries are missing, or running as root with no unprivileged user.
    pub fn new(data_dir: impl AsRef<Path>, password_file: impl AsRef<Path>) -> Result<Self> {
        let absolute =
            |p: &Path| std::path::absolute(p).map_err(io_err(format!("resolving {}", p.display())));
        Ok(Self {
            bins: PgBinaries::locate()?,
            data_dir: absolute(data_dir.as_ref())?,
            password_file: absolute(password_file.as_ref())?,
            run_as: unprivileged_user()?,
        })
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The file holding the superuser's password (owner-only, 0600).
    pub fn password_file(&self) -> &Path {
        &self.password_file
    }

    /// The binaries in use.
    pub fn binaries(&self) -> &PgBinaries {
        &self.bins
    }

    /// Whether the server processes run as an account other than the current one (Foresto runs
    /// as root): directories above the data directory must then let that account pass.
    pub fn runs_as_another_user(&self) -> bool {
        self.run_as.is_some()
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
        self.command_at(&self.bins.tool(tool))
    }

    fn command_at(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        // The unprivileged account may not be able to enter our working directory.
        cmd.current_dir("/");
        if let Some(user) = &self.run_as {
            cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        cmd
    }

    fn server_uid(&self) -> u32 {
        self.run_as
            .as_ref()
            .map_or_else(|| nix::unistd::geteuid().as_raw(), |u| u.uid.as_raw())
    }

    /// Whether the data directory exists, after making sure it is a real directory of the
    /// server's account: through a symbolic link, Foresto would initialise, start or stop a
    /// cluster somewhere else.
    fn check_data_dir(&self) -> Result<bool> {
        let meta = match fs::symlink_metadata(&self.data_dir) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err(format!("inspecting {}", self.data_dir.display()))(e)),
        };
        if meta.file_type().is_symlink() {
            return Err(unsafe_path(&self.data_dir, "it is a symbolic link"));
        }
        if !meta.is_dir() {
            return Err(unsafe_path(&self.data_dir, "it is not a directory"));
        }
        if meta.uid() != self.server_uid() {
            return Err(unsafe_path(
                &self.data_dir,
                format!(
                    "it is owned by {}, not by the server's account {}",
                    describe_uid(meta.uid()),
                    describe_uid(self.server_uid())
                ),
            ));
        }
        Ok(true)
    }

    /// The superuser's password, or `None` when the password file is missing or holds none.
    fn password(&self) -> Result<Option<String>> {
        Ok(read_private_file(&self.password_file, true)?
            .map(|text| text.trim().to_owned())
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_hexdigit())))
    }

    /// Creates the cluster (UTF-8, C locale, superuser `postgres` with a new random password)
    /// unless it exists. An existing cluster without a password file (made by an earlier
    /// Foresto with trust authentication, or its password file was deleted) gets a new password
    /// and password-only authentication; a running server is stopped for that.
    ///
    /// # Errors
    /// [`LocalServerError::UnsafePath`] when the data directory or password file is a symbolic
    /// link, not what it should be, or not the right account's; otherwise when the directory
    /// cannot be prepared or `initdb` or setting the password fails.
    pub fn init(&self) -> Result<()> {
        let exists = self.check_data_dir()?;
        let password = self.password()?;
        if self.is_initialized() {
            if password.is_none() {
                self.stop()?;
                self.set_password()?;
            }
            return Ok(());
        }
        self.prepare_data_dir(exists)?;
        // Every connection is rejected until `set_password` has given the superuser a password.
        run(self.command("initdb").arg("-D").arg(&self.data_dir).args([
            "-U",
            SUPERUSER,
            "--auth=reject",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]))?;
        self.set_password()
    }

    /// Creates the data directory unless it `exists`, and makes it the server account's, mode
    /// 0700 (an existing empty directory may have any mode; the server insists on 0700).
    fn prepare_data_dir(&self, exists: bool) -> Result<()> {
        if !exists {
            if let Some(parent) = self.data_dir.parent() {
                fs::create_dir_all(parent)
                    .map_err(io_err(format!("creating {}", parent.display())))?;
            }
            fs::DirBuilder::new()
                .mode(0o700)
                .create(&self.data_dir)
                .map_err(io_err(format!("creating {}", self.data_dir.display())))?;
        }
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
        Ok(())
    }

    /// Makes this cluster a streaming replica of `primary`, which runs on `primary_port` and
    /// must allow replication ([`LocalServer::allow_replication`]): `pg_basebackup -R` copies
    /// the primary's cluster and records how to follow it, so the next start of this server
    /// comes up as a read-only hot standby. The replica is a copy, so the superuser's password
    /// is the primary's; it is saved in this server's password file too.
    ///
    /// The password reaches `pg_basebackup` through its environment (never its command line)
    /// and ends up in the replica's `postgresql.auto.conf`, inside the private data directory.
    ///
    /// # Errors
    /// [`LocalServerError::UnsafePath`] as for [`LocalServer::init`], and when the data
    /// directory already holds a cluster;
    /// [`LocalServerError::NoPassword`] when the primary has none; [`LocalServerError::Io`]
    /// when `pg_basebackup` is not installed; [`LocalServerError::CommandFailed`] when it fails.
    pub fn init_replica_of(&self, primary: &LocalServer, primary_port: u16) -> Result<()> {
        let exists = self.check_data_dir()?;
        if self.is_initialized() {
            return Err(unsafe_path(
                &self.data_dir,
                "it already holds a cluster (a replica is made in an empty directory)",
            ));
        }
        let password = primary
            .password()?
            .ok_or_else(|| LocalServerError::NoPassword {
                path: primary.password_file.display().to_string(),
            })?;
        let tool = self.bins.client_tool("pg_basebackup").ok_or_else(|| {
            io_err(format!(
                "pg_basebackup is not installed next to {} or on PATH",
                self.bins.bin_dir.display()
            ))(std::io::ErrorKind::NotFound.into())
        })?;
        self.prepare_data_dir(exists)?;
        run(self
            .command_at(&tool)
            .env("PGPASSWORD", &password)
            .args(["-h", "127.0.0.1", "-p", &primary_port.to_string()])
            .args(["-U", SUPERUSER, "-D"])
            .arg(&self.data_dir)
            .args(["-R", "-X", "stream", "--checkpoint=fast", "--no-sync"]))?;
        write_private_file(&self.password_file, format!("{password}\n").as_bytes())
    }

    /// Lets the superuser, with its password, open replication connections from loopback (what
    /// a replica made by [`LocalServer::init_replica_of`] needs), on top of the usual
    /// password-only logins. Takes effect at the next start.
    ///
    /// # Errors
    /// As [`LocalServer::init`], when `pg_hba.conf` cannot be rewritten.
    pub fn allow_replication(&self) -> Result<()> {
        self.check_data_dir()?;
        replace_file(
            &self.data_dir.join("pg_hba.conf"),
            format!("{PG_HBA}{PG_HBA_REPLICATION}").as_bytes(),
            self.run_as.as_ref(),
        )
    }

    /// Installs `cert_pem` and `key_pem` as the server's TLS certificate (chain) and private
    /// key: `server.crt` and `server.key` in the data directory, the server account's, mode
    /// 0600 (the server refuses a key others may read). A server whose data directory holds
    /// both is started with `ssl=on`; password authentication stays as it is, over TLS or not.
    ///
    /// # Errors
    /// As [`LocalServer::init`], when a file cannot be written.
    pub fn install_certificate(&self, cert_pem: &[u8], key_pem: &[u8]) -> Result<()> {
        self.check_data_dir()?;
        for (name, contents) in [(TLS_CERT_FILE, cert_pem), (TLS_KEY_FILE, key_pem)] {
            replace_file(&self.data_dir.join(name), contents, self.run_as.as_ref())?;
        }
        Ok(())
    }

    /// Whether the data directory holds a certificate and key to serve TLS with.
    fn has_certificate(&self) -> bool {
        [TLS_CERT_FILE, TLS_KEY_FILE]
            .iter()
            .all(|name| self.data_dir.join(name).is_file())
    }

    /// Gives the superuser a new random password, lets in connections that present it (and
    /// nothing else), and saves it in the password file. The server must not be running.
    ///
    /// The password goes to a single-user `postgres` on its standard input, a pipe filled before
    /// the process starts: no command line or environment shows it, and an early exit of the
    /// server cannot raise `SIGPIPE` here.
    fn set_password(&self) -> Result<()> {
        let password = generate_password()?;
        let (stdin, mut feed) = std::io::pipe().map_err(io_err("creating a pipe"))?;
        feed.write_all(format!("ALTER ROLE {SUPERUSER} WITH PASSWORD '{password}';\n").as_bytes())
            .map_err(io_err("writing to a pipe"))?;
        drop(feed);
        let mut cmd = self.command("postgres");
        cmd.arg("--single")
            .arg("-D")
            .arg(&self.data_dir)
            // exit_on_error: a failed statement makes the exit status non-zero (single-user
            // mode otherwise carries on and exits 0); log_min_error_statement: an error
            // message does not quote the statement, password and all.
            .args([
                "-c",
                "exit_on_error=on",
                "-c",
                "log_min_error_statement=panic",
            ])
            .args(["-c", "log_checkpoints=off"])
            .args(["-c", "password_encryption=scram-sha-256", SUPERUSER])
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let shown = describe(&cmd);
        let out = cmd.output().map_err(io_err(format!("running {shown}")))?;
        if !out.status.success() {
            return Err(LocalServerError::CommandFailed {
                command: shown,
                status: out.status.to_string(),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
                .replace(&password, "<password>")
                .trim()
                .to_owned(),
            });
        }
        replace_file(
            &self.data_dir.join("pg_hba.conf"),
            PG_HBA.as_bytes(),
            self.run_as.as_ref(),
        )?;
        // Last: a missing password file then always means "no password known, set one".
        write_private_file(&self.password_file, format!("{password}\n").as_bytes())
    }

    /// Settings of every server start, as separate arguments (never through a shell): the port,
    /// loopback only, and no Unix socket (the password file is the only way in); TLS when a
    /// certificate is installed.
    fn server_options(&self, port: u16) -> Vec<String> {
        let mut options = vec![
            "-p".into(),
            port.to_string(),
            "-c".into(),
            "listen_addresses=127.0.0.1".into(),
            "-c".into(),
            "unix_socket_directories=".into(),
        ];
        if self.has_certificate() {
            options.extend(["-c".into(), "ssl=on".into()]);
        }
        options
    }

    /// `postgres` on this data directory with the options of every start ([`Self::server_options`]),
    /// its output going to the log (appended to, or emptied when `truncate_log`).
    fn server_command(&self, port: u16, truncate_log: bool) -> Result<Command> {
        let log = self.open_log(truncate_log)?;
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .args(self.server_options(port))
            .stdin(Stdio::null())
            .stdout(
                log.try_clone()
                    .map_err(io_err("duplicating the log handle"))?,
            )
            .stderr(log);
        Ok(cmd)
    }

    /// The log, opened for the server's output (appended to, or emptied when `truncate`); never
    /// through a symbolic link.
    fn open_log(&self, truncate: bool) -> Result<File> {
        let path = self.log_file();
        let mut options = OpenOptions::new();
        options.create(true).mode(0o600);
        if truncate {
            options.write(true).truncate(true);
        } else {
            options.append(true);
        }
        let log = open_no_follow(&mut options, nix::fcntl::OFlag::empty(), &path, "opening")?;
        if let Some(user) = &self.run_as {
            // Only so that the server's account can use the log when it runs the cluster by
            // hand; the server itself writes through the descriptor it inherits.
            let _ =
                std::os::unix::fs::fchown(&log, Some(user.uid.as_raw()), Some(user.gid.as_raw()));
        }
        Ok(log)
    }

    /// The last lines of the log, on one line, for an error message.
    fn log_tail(&self) -> String {
        let path = self.log_file();
        let mut options = OpenOptions::new();
        options.read(true);
        let mut text = String::new();
        if open_no_follow(&mut options, nix::fcntl::OFlag::empty(), &path, "reading")
            .ok()
            .and_then(|mut f| f.read_to_string(&mut text).ok())
            .is_none()
        {
            return format!("see {}", path.display());
        }
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
        format!("{tail} (log: {})", path.display())
    }

    /// Starts the server as a daemon on `port` and waits until it accepts connections. It keeps
    /// running after this process exits.
    ///
    /// `postgres` is run directly with an argument vector, in a session of its own (so the
    /// terminal's Ctrl-C or hang-up that ends this process does not reach it), as `pg_ctl start`
    /// would but without its shell.
    ///
    /// # Errors
    /// [`LocalServerError::UnsafePath`] when the data directory or log is a symbolic link;
    /// [`LocalServerError::NotInitialized`] when there is no cluster;
    /// [`LocalServerError::CommandFailed`] when the server exits during start-up (the message
    /// quotes the end of its log); [`LocalServerError::NotReady`] when it does not come up.
    pub fn start(&self, port: u16) -> Result<()> {
        self.check_data_dir()?;
        if !self.is_initialized() {
            return Err(LocalServerError::NotInitialized(
                self.data_dir.display().to_string(),
            ));
        }
        let mut cmd = self.server_command(port, false)?;
        // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()
                    .map(drop)
                    .map_err(std::io::Error::from)
            });
        }
        let shown = describe(&cmd);
        let mut child = cmd.spawn().map_err(io_err(format!("running {shown}")))?;
        let ready = self.wait_ready(&mut child, &shown);
        // Collect the exit status whenever the server ends, so no zombie lingers while this
        // process lives on (tests, long-running callers); if this process ends first, the
        // server is re-parented and runs on.
        let _ = std::thread::Builder::new()
            .name("foresto-pg-reaper".into())
            .spawn(move || child.wait());
        ready
    }

    /// Starts the server as a child of this process that dies with it, for throwaway use: the
    /// spawning thread must outlive every use of the server (the kernel signals the server
    /// when that thread exits). Durability is switched off; do not keep data here.
    ///
    /// # Errors
    /// As [`LocalServer::start`].
    pub fn spawn_ephemeral(&self, port: u16) -> Result<Child> {
        self.check_data_dir()?;
        let mut cmd = self.server_command(port, true)?;
        cmd.args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=300"]);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGINT)
                    .map_err(std::io::Error::from)
            });
        }
        let shown = describe(&cmd);
        let mut child = cmd.spawn().map_err(io_err("spawning postgres"))?;
        self.wait_ready(&mut child, &shown)?;
        Ok(child)
    }

    /// Waits until `server` (a postmaster just spawned) says it is ready in its pid file. A
    /// server that exits first is an error at once, with the end of its log.
    fn wait_ready(&self, server: &mut Child, shown: &str) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = server.try_wait().map_err(io_err("waiting for postgres"))? {
                return Err(LocalServerError::CommandFailed {
                    command: shown.to_owned(),
                    status: status.to_string(),
                    output: self.log_tail(),
                });
            }
            // The pid must be this server's: a pid file can also belong to another one.
            if let ServerStatus::Running { pid, .. } = self.status()?
                && pid == server.id()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LocalServerError::NotReady {
                    seconds: READY_TIMEOUT.as_secs(),
                    log: self.log_file().display().to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Reads the server's state from its `postmaster.pid` (written by the server itself: pid on
    /// line 1, port on line 4, `ready` on line 8 once it accepts connections).
    ///
    /// # Errors
    /// [`LocalServerError::UnsafePath`] when the data directory is a symbolic link or another
    /// account's; when the pid file exists but cannot be read.
    pub fn status(&self) -> Result<ServerStatus> {
        self.check_data_dir()?;
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
    /// As [`LocalServer::status`]; when `pg_ctl stop` fails on a running server.
    pub fn stop(&self) -> Result<()> {
        if !matches!(self.status()?, ServerStatus::Running { .. }) {
            return Ok(());
        }
        // `pg_ctl stop` only signals the postmaster and waits: no shell involved.
        run(self
            .command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w"]))?;
        Ok(())
    }

    /// Connection URL for `database` on this server listening on `port`, password included
    /// (`postgres://postgres:PASSWORD@127.0.0.1:PORT/DATABASE`; the password is hex, so it
    /// needs no escaping).
    ///
    /// # Errors
    /// [`LocalServerError::NoPassword`] before [`LocalServer::init`] has set one;
    /// [`LocalServerError::UnsafePath`] when the password file is a symbolic link, another
    /// user's, or readable by others.
    pub fn url(&self, port: u16, database: &str) -> Result<String> {
        let password = self
            .password()?
            .ok_or_else(|| LocalServerError::NoPassword {
                path: self.password_file.display().to_string(),
            })?;
        Ok(format!(
            "postgres://{SUPERUSER}:{password}@127.0.0.1:{port}/{database}"
        ))
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

    #[test]
    fn private_files_are_never_read_or_written_through_links() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        fs::write(&target, "keep").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();

        let read = read_private_file(&link, false).unwrap_err();
        assert!(
            matches!(read, LocalServerError::UnsafePath { .. }),
            "{read}"
        );
        assert!(read.to_string().contains("symbolic link"), "{read}");
        let write = write_private_file(&link, b"changed").unwrap_err();
        assert!(
            matches!(write, LocalServerError::UnsafePath { .. }),
            "{write}"
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");

        // A stale temporary that is a link is removed, not written through.
        let file = tmp.path().join("port");
        std::os::unix::fs::symlink(&target, tmp.path().join(".port.new")).unwrap();
        write_private_file(&file, b"5432").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(
            read_private_file(&file, true).unwrap().as_deref(),
            Some("5432")
        );
        assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            read_private_file(&tmp.path().join("missing"), true).unwrap(),
            None
        );
    }

    #[test]
    fn a_secret_others_may_read_or_a_fifo_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let secret = tmp.path().join("password");
        fs::write(&secret, "abc").unwrap();
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_private_file(&secret, true).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        assert_eq!(
            read_private_file(&secret, false).unwrap().as_deref(),
            Some("abc")
        );

        // Opening a FIFO for reading would wait for a writer; it is refused at once instead.
        let fifo = tmp.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = read_private_file(&fifo, false).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }
}
