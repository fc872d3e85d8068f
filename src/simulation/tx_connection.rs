//! The connection of the transaction that computes and stores a run, as a SeaORM
//! [`ConnectionTrait`].
//!
//! SeaORM's own transaction type cannot hand out its sqlx connection, which the store needs for
//! `COPY`; a SeaORM transaction plus a sqlx one would take two pooled connections per miss,
//! and callers each holding one while waiting for a second starve a pool. This wrapper lets the
//! service's SeaORM reads run on the very connection that holds the cache's lock.

use sea_orm::sea_query::Values;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;
use sqlx::{AssertSqlSafe, PgConnection};
use tokio::sync::Mutex;

/// A borrowed connection (usually inside a transaction) on which SeaORM queries run; every
/// statement goes to that one connection, one at a time.
pub struct TxConnection<'c> {
    conn: Mutex<&'c mut PgConnection>,
}

impl<'c> TxConnection<'c> {
    /// Wraps `conn`; the borrow ends when this value is dropped, and the connection is usable
    /// directly again.
    pub fn new(conn: &'c mut PgConnection) -> Self {
        Self {
            conn: Mutex::new(conn),
        }
    }
}

impl std::fmt::Debug for TxConnection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TxConnection")
    }
}

/// `stmt` as a sqlx query, its values bound the way SeaORM binds them.
fn query(stmt: &Statement) -> sqlx::query::Query<'_, sqlx::Postgres, SqlxValues> {
    let values = stmt.values.clone().unwrap_or_else(|| Values(Vec::new()));
    sqlx::query_with(AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

// Errors are wrapped as SeaORM's own driver wraps them, so that `crate::Error` classifies a
// failure here exactly as it would one from the pool.
fn exec_err(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}

fn query_err(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}

#[async_trait::async_trait]
impl ConnectionTrait for TxConnection<'_> {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn.lock().await;
        query(&stmt)
            .execute(&mut **conn)
            .await
            .map(ExecResult::from)
            .map_err(exec_err)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let mut conn = self.conn.lock().await;
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut **conn)
            .await
            .map(ExecResult::from)
            .map_err(exec_err)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut conn = self.conn.lock().await;
        query(&stmt)
            .fetch_optional(&mut **conn)
            .await
            .map(|row| row.map(QueryResult::from))
            .map_err(query_err)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut conn = self.conn.lock().await;
        query(&stmt)
            .fetch_all(&mut **conn)
            .await
            .map(|rows| rows.into_iter().map(QueryResult::from).collect())
            .map_err(query_err)
    }
}
