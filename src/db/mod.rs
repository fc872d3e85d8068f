//! Connecting to PostgreSQL and migrating the schema.

pub mod local_server;
pub mod managed;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::error::Result;

/// Opens a connection pool to `url`. Statement logging goes to `tracing` at debug level.
///
/// # Errors
/// [`crate::Error::Connection`] when the server cannot be reached or refuses the login.
#[tracing::instrument(skip_all)]
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(10)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    Ok(Database::connect(options).await?)
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
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection> {
    let db = connect(url).await?;
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
