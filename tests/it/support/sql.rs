//! Raw SQL against a test database: scripts, and the text or `bigint` values of a query; and
//! whether a server at a URL answers at all.

use sea_orm::DatabaseConnection;
use sqlx::{AssertSqlSafe, Connection, PgPool};

/// The sqlx pool behind a SeaORM connection, for catalog queries and raw SQL.
pub fn pool(db: &DatabaseConnection) -> &PgPool {
    db.get_postgres_connection_pool()
}

/// Runs a script (several statements allowed) and panics with the error if it fails.
pub async fn exec(db: &DatabaseConnection, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(pool(db))
        .await
        .unwrap_or_else(|e| panic!("{e}\nin:\n{sql}"));
}

/// One text column per row of `sql`.
pub async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    sqlx::query_scalar::<_, String>(AssertSqlSafe(sql.to_owned()))
        .fetch_all(pool(db))
        .await
        .unwrap_or_else(|e| panic!("{e}\nin:\n{sql}"))
}

/// The single `bigint` value of `sql`.
pub async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool(db))
        .await
        .unwrap_or_else(|e| panic!("{e}\nin:\n{sql}"))
}

/// The number of rows in `table`.
pub async fn row_count(db: &DatabaseConnection, table: &str) -> i64 {
    count(db, &format!("SELECT count(*) FROM {table}")).await
}

/// The rows of `simulation_run`, `simulation_summary` and `simulation_path`: what the result
/// store holds.
pub async fn stored_runs(db: &DatabaseConnection) -> (i64, i64, i64) {
    (
        row_count(db, "simulation_run").await,
        row_count(db, "simulation_summary").await,
        row_count(db, "simulation_path").await,
    )
}

/// The names of `parent`'s partitions, sorted.
pub async fn partitions_of(db: &DatabaseConnection, parent: &str) -> Vec<String> {
    strings(
        db,
        &format!(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = '{parent}'::regclass ORDER BY 1"
        ),
    )
    .await
}

/// `SELECT 1` on a connection of its own to `url` (closed afterwards): whether the server there
/// admits this client.
pub async fn select_one(url: &str) -> i32 {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    let one = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    one
}
