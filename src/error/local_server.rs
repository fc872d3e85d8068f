//! Errors of the managed local PostgreSQL server (feature `local-server`).

/// Why the local server could not be set up, started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum LocalServerError {
    /// No PostgreSQL server binaries on this machine.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in $FORESTO_PG_BIN, on PATH, \
         or under /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, /opt/homebrew/opt/postgresql*/bin, \
         /usr/local/opt/postgresql*/bin. Install them (Debian/Ubuntu: `apt-get install postgresql`; \
         Fedora: `dnf install postgresql-server`; macOS: `brew install postgresql@16`) and/or set \
         FORESTO_PG_BIN=/path/to/bin, or use an existing server instead: \
         DATABASE_URL=postgres://user:password@host:5432/dbname"
    )]
    BinariesNotFound,

    /// `$FORESTO_PG_BIN` names a directory without the server tools.
    #[error("FORESTO_PG_BIN={0} does not contain initdb, pg_ctl and postgres")]
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

    /// A path Foresto would read or write is not safely its own: a symbolic link, another
    /// user's, or writable by others.
    #[error("refusing to use {path}: {reason}")]
    UnsafePath { path: String, reason: String },

    /// The server's password file is missing or holds no password, so no URL can be made.
    #[error(
        "{path} holds no password for the local server (initialising the server again sets a \
         new one)"
    )]
    NoPassword { path: String },

    /// File-system or process error.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}
