//! How the range reads and [`super::latest_dates`] run: in a transaction of their own with JIT
//! compilation off and a plan made for each call's values, either whole ([`all`]) or batch by batch through a cursor ([`stream()`]).
//!
//! **JIT off.** A read of many instruments over years has a plan cost far above PostgreSQL's
//! `jit_above_cost`, and JIT-compiling the expressions of every monthly partition it scans costs
//! more than the read: of 4 million stored prices, a read of 2.6 million rows over 120 monthly
//! partitions took 4.1 s with JIT (2.4 s of it compiling 1,440 functions) and 2.2 s without.
//! `set_config('jit', 'off', true)` applies to this transaction only, never to the pooled
//! connection afterwards.
//!
//! **A plan per call.** sqlx prepares each statement once per connection, and after five runs
//! PostgreSQL may switch a prepared statement to a generic plan, made without the values. For a
//! range read that plan scans the `trade_date` range of every partition and filters the
//! instruments afterwards: one instrument's full history took 115 ms on a generic plan against
//! 3.7 ms on a plan for its values (`benches/series_read.rs`). `plan_cache_mode =
//! force_custom_plan`, for this transaction only, keeps the plan made for the values.
//!
//! **Cursor.** [`stream()`] declares a cursor and fetches [`STREAM_BATCH`] rows per round trip, so
//! the caller holds at most one batch however long the range is. PostgreSQL plans a cursor for
//! its first rows: a merge of the partitions' primary-key index scans, already in
//! `(instrument_id, trade_date)` order, instead of sorting the whole result first (on the same
//! data: the first 1,000 rows after 7 ms instead of 1.5 s, no sort spilled to disk). Each fetch
//! is a statement of its own, so a consumer slower than `statement_timeout` is not cut off.

use futures_util::stream::{self, BoxStream, StreamExt};
use sea_orm::{
    ConnectionTrait, DbBackend, FromQueryResult, Statement, TransactionSession, TransactionTrait,
    Value,
};

use crate::error::Result;

/// Typed rows of a series, read from the database batch by batch as the stream is polled (see
/// [`super::price_stream`]). It owns its transaction (a savepoint when the read was given a
/// transaction), and with it one pooled connection, until it ends or is dropped; dropping it
/// early rolls that transaction back.
pub type SeriesStream<T> = BoxStream<'static, Result<T>>;

/// Rows a [`SeriesStream`] fetches per round trip: what it holds in memory at most.
pub const STREAM_BATCH: usize = 1000;

/// Turns JIT compilation off and generic plans of prepared statements off for the rest of the
/// transaction.
const READ_SETTINGS: &str = "SELECT set_config('jit', 'off', true), \
                             set_config('plan_cache_mode', 'force_custom_plan', true)";

/// The cursor of a stream of one kind of row. One stream has one transaction, and a cursor
/// lives no longer than its transaction, so a name never meets another cursor of its own. Each
/// kind of row needs a name of its own: sqlx keeps each statement it has prepared on a
/// connection, with its result columns, by the statement's text — so one `FETCH … FROM name`
/// must always return the same columns.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cursor {
    Prices,
    Returns,
}

impl Cursor {
    fn name(self) -> &'static str {
        match self {
            Self::Prices => "foresto_price_series",
            Self::Returns => "foresto_return_series",
        }
    }
}

/// Every row of `sql` (with `values` for its parameters), read in a transaction with JIT and generic plans off.
pub(super) async fn all<C, T>(db: &C, sql: &str, values: Vec<Value>) -> Result<Vec<T>>
where
    C: ConnectionTrait + TransactionTrait,
    T: FromQueryResult,
{
    let tx = db.begin().await?;
    tx.execute_unprepared(READ_SETTINGS).await?;
    let rows = T::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .all(&tx)
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// The rows of `sql` (with `values` for its parameters) as a stream: `cursor` declared in a
/// transaction of its own with JIT off, fetched [`STREAM_BATCH`] rows at a time. The transaction
/// is begun and the cursor declared before this returns, so a bad statement fails here; what
/// fails later (a lost connection) is the stream's last item.
pub(super) async fn stream<C, T>(
    db: &C,
    cursor: Cursor,
    sql: &str,
    values: Vec<Value>,
) -> Result<SeriesStream<T>>
where
    C: ConnectionTrait + TransactionTrait,
    C::Transaction: 'static,
    T: FromQueryResult + Send + 'static,
{
    let tx = db.begin().await?;
    tx.execute_unprepared(READ_SETTINGS).await?;
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("DECLARE {} NO SCROLL CURSOR FOR {sql}", cursor.name()),
        values,
    ))
    .await?;
    let open = Open {
        fetch: format!("FETCH FORWARD {STREAM_BATCH} FROM {}", cursor.name()),
        tx: Some(tx),
        batch: Vec::new().into_iter(),
    };
    Ok(stream::try_unfold(open, Open::next).boxed())
}

/// An empty [`SeriesStream`], for a read that has nothing to ask the database.
pub(super) fn empty<T: Send + 'static>() -> SeriesStream<T> {
    stream::empty().boxed()
}

/// A declared cursor and the rows of its last fetch not yet handed out. `tx` is `None` once a
/// fetch came back short: the cursor is exhausted and the transaction committed.
struct Open<X, T> {
    /// The statement that fetches the next batch.
    fetch: String,
    tx: Option<X>,
    batch: std::vec::IntoIter<T>,
}

impl<X, T> Open<X, T>
where
    X: ConnectionTrait + TransactionSession,
    T: FromQueryResult,
{
    /// The next row and the cursor to read on from, or `None` at the end.
    async fn next(mut self) -> Result<Option<(T, Self)>> {
        loop {
            if let Some(row) = self.batch.next() {
                return Ok(Some((row, self)));
            }
            let Some(tx) = &self.tx else {
                return Ok(None);
            };
            let batch = T::find_by_statement(Statement::from_string(
                DbBackend::Postgres,
                self.fetch.clone(),
            ))
            .all(tx)
            .await?;
            if batch.len() < STREAM_BATCH
                && let Some(tx) = self.tx.take()
            {
                tx.commit().await?;
            }
            self.batch = batch.into_iter();
        }
    }
}
