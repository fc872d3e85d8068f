//! Connecting to PostgreSQL and migrating the schema; [`Connections`] routes between a primary
//! and its read replicas.
//!
//! A URL may ask for TLS the way libpq's do: `sslmode=require` (encrypted, the certificate not
//! checked), `verify-ca` (signed by a trusted CA), `verify-full` (and issued for the host named
//! in the URL), with `sslrootcert=/path/ca.pem` adding the CA to trust. Without `sslmode` the
//! connection is encrypted when the server offers TLS (`prefer`). TLS is rustls with the
//! webpki (Mozilla) root certificates compiled in: no system OpenSSL or certificate store is
//! used, so a build behaves alike on every machine.

#[cfg(feature = "local-server")]
pub mod local_server;
#[cfg(feature = "local-server")]
pub mod managed;
pub mod replicas;
mod tls;

pub use replicas::Connections;
pub use tls::TlsNotSupported;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sqlx::postgres::PgConnectOptions;

use crate::error::{Error, Result};
use crate::settings::PoolSettings;

/// Opens a connection pool to `url`, sized and timed by `pool`, and checks that one connection
/// can be made. Statement logging goes to `tracing` at debug level. TLS is used as the URL's
/// `sslmode` and `sslrootcert` say (see the module docs).
///
/// # Errors
/// [`Error::InvalidInput`] (field `database URL`) when `url` is not a PostgreSQL URL, has a
/// parameter sqlx does not understand (an unknown `sslmode`, say), or names a certificate or
/// key file (`sslrootcert`, `sslcert`, `sslkey`) that cannot be read: nothing is connected to;
/// [`crate::DatabaseError::Connection`] when the server cannot be reached, refuses the login,
/// fails the certificate check, or does not offer the TLS that the URL requires (the message
/// then says so: see [`TlsNotSupported`]).
#[tracing::instrument(skip_all)]
pub async fn connect(url: &str, pool: &PoolSettings) -> Result<DatabaseConnection> {
    open(url, pool, false).await
}

/// The pool of [`connect`], opened lazily when `lazy` (no connection is made until the first
/// use, so an unreachable server is no error yet).
async fn open(url: &str, pool: &PoolSettings, lazy: bool) -> Result<DatabaseConnection> {
    let target: PgConnectOptions = url
        .parse()
        .map_err(|e: sqlx::Error| Error::invalid("database URL", e.to_string()))?;
    tls::check_files(url).await?;
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(pool.max_connections)
        .connect_timeout(pool.connect_timeout)
        .acquire_timeout(pool.acquire_timeout)
        .connect_lazy(lazy)
        .sqlx_logging(false);
    if let Some(timeout) = pool.statement_timeout {
        options.statement_timeout(timeout);
    }
    Database::connect(options)
        .await
        .map_err(|e| tls::explain(e, &target))
}

/// Applies every pending migration; a no-op on an up-to-date database.
///
/// # Errors
/// When a migration fails (the failing step is rolled back and named in the error).
#[tracing::instrument(skip_all)]
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    Ok(Migrator::up(db, None).await?)
}

/// Connects to `url` and brings its schema up to date.
///
/// # Errors
/// As [`connect`] and [`migrate`].
pub async fn connect_and_migrate(url: &str, pool: &PoolSettings) -> Result<DatabaseConnection> {
    let db = connect(url, pool).await?;
    migrate(&db).await?;
    Ok(db)
}

/// `url` with its database name replaced by `database` (query parameters kept).
pub fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_end..]
        .find('/')
        .map_or(base.len(), |i| authority_end + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn replaces_the_database_and_keeps_the_query() {
        assert_eq!(
            replace_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(
            replace_database("postgresql://u@h/db", "y"),
            "postgresql://u@h/y"
        );
    }
}
