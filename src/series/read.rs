//! How the range reads and [`super::latest_dates`] run: in a transaction of their own with JIT
//! compilation off and one generic plan per connection, either whole ([`all`]) or batch by batch
//! through a cursor ([`stream()`]).
//!
//! **JIT off.** A read of many instruments over years has a plan cost far above PostgreSQL's
//! `jit_above_cost`, and JIT-compiling the expressions of every monthly partition it scans costs
//! more than the read: of 4 million stored prices, a read of 2.6 million rows over 120 monthly
//! partitions took 4.1 s with JIT (2.4 s of it compiling 1,440 functions) and 2.2 s without.
//! `set_config('jit', 'off', true)` applies to this transaction only, never to the pooled
//! connection afterwards.
//!
//! **One plan per connection, pruned when it runs.** A range read is one statement,
//! [`per_instrument`]: for each requested id, that instrument's rows in the range, taken from
//! the `(instrument_id, trade_date)` primary-key index of each monthly partition the range
//! reaches. sqlx prepares it once per connection and the transaction sets `plan_cache_mode =
//! force_generic_plan`, so PostgreSQL plans it once and afterwards only prunes the partitions
//! outside the range when the executor starts. Planning is what a hand-written read spends most
//! on over hundreds of partitions (one instrument's full history over 415 monthly partitions:
//! 27 ms planning, 18 ms executing, `benches/series_read.rs`); this statement pays it once per
//! connection. Its shape is what keeps that one plan good for every range: the instrument is an
//! equality inside each partition's index probe, so no range can make another index look
//! better. The generic plan of `instrument_id = ANY($1) AND trade_date BETWEEN $2 AND $3`
//! instead scanned every partition's date range and filtered the instruments out of it (one
//! instrument's full history: 130 ms against 6 ms).
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

/// Which plan a read's prepared statement runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plans {
    /// The one generic plan of the connection: for [`per_instrument`] statements, whose shape
    /// keeps it good for every value.
    Generic,
    /// A plan made for each call's values.
    Custom,
}

impl Plans {
    /// Turns JIT compilation off and sets the plan cache's choice for the rest of the
    /// transaction.
    fn settings(self) -> &'static str {
        match self {
            Self::Generic => {
                "SELECT set_config('jit', 'off', true), \
                        set_config('plan_cache_mode', 'force_generic_plan', true)"
            }
            Self::Custom => {
                "SELECT set_config('jit', 'off', true), \
                        set_config('plan_cache_mode', 'force_custom_plan', true)"
            }
        }
    }
}

/// The range read of `columns` from `table` (partitioned by `trade_date`, primary key
/// `(instrument_id, trade_date)`): $1 distinct instrument ids, $2 first date, $3 last date;
/// rows ordered by `(instrument_id, trade_date)`.
pub(super) fn per_instrument(table: &str, columns: &str) -> String {
    let columns: Vec<String> = columns
        .split(',')
        .map(|c| format!("r.{}", c.trim()))
        .collect();
    // OFFSET 0 keeps the subquery a subquery: run once per id, with the id an equality inside
    // each partition's primary-key probe. Flattened, the planner may join all the range's rows
    // to the ids instead.
    format!(
        "SELECT {} FROM unnest($1::bigint[]) AS i(id)
           CROSS JOIN LATERAL (SELECT * FROM {table}
                                WHERE instrument_id = i.id
                                  AND trade_date >= $2 AND trade_date <= $3
                               OFFSET 0) AS r
          ORDER BY r.instrument_id, r.trade_date",
        columns.join(", ")
    )
}

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

/// The statement of a stream over `columns` of `table`, with the parameters of
/// [`per_instrument`]: a cursor's plan is made for its values when it is declared, and for its
/// first rows, which this shape lets PostgreSQL merge from the partitions' index scans in order
/// (the per-instrument shape would sort the whole result first).
pub(super) fn ordered_scan(table: &str, columns: &str) -> String {
    format!(
        "SELECT {columns} FROM {table}
          WHERE instrument_id = ANY($1) AND trade_date >= $2 AND trade_date <= $3
          ORDER BY instrument_id, trade_date"
    )
}

/// Every row of `sql` (with `values` for its parameters), read in a transaction with JIT off,
/// on `plans`. The transaction (a savepoint when `db` is one) is rolled back, not committed: a
/// read changes nothing, and rolling back also undoes its settings, which a released savepoint
/// would leave in force for the rest of the caller's transaction.
pub(crate) async fn all<C, T>(db: &C, sql: &str, values: Vec<Value>, plans: Plans) -> Result<Vec<T>>
where
    C: ConnectionTrait + TransactionTrait,
    T: FromQueryResult,
{
    let tx = db.begin().await?;
    tx.execute_unprepared(plans.settings()).await?;
    let rows = rows_of(&tx, sql, values).await?;
    tx.rollback().await?;
    Ok(rows)
}

/// As [`all`], on `conn`: one connection already inside a transaction (the settings are scoped
/// to a savepoint, rolled back after the read whether or not it succeeded).
pub(crate) async fn all_in_transaction<C, T>(
    conn: &C,
    sql: &str,
    values: Vec<Value>,
    plans: Plans,
) -> Result<Vec<T>>
where
    C: ConnectionTrait,
    T: FromQueryResult,
{
    conn.execute_unprepared(&format!("SAVEPOINT foresto_read; {}", plans.settings()))
        .await?;
    let rows = rows_of(conn, sql, values).await;
    conn.execute_unprepared("ROLLBACK TO SAVEPOINT foresto_read; RELEASE SAVEPOINT foresto_read")
        .await?;
    rows
}

/// Every row of `sql` with `values` for its parameters, as sent on `conn`.
async fn rows_of<C, T>(conn: &C, sql: &str, values: Vec<Value>) -> Result<Vec<T>>
where
    C: ConnectionTrait,
    T: FromQueryResult,
{
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    Ok(T::find_by_statement(statement).all(conn).await?)
}

/// `ids` in order, each once: the `$1` of a range read.
pub(crate) fn distinct_ids(ids: &[i64]) -> Vec<i64> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids
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
    tx.execute_unprepared(Plans::Custom.settings()).await?;
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
/// fetch came back short: the cursor is exhausted and the transaction ended (rolled back: see [`all`]).
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
                tx.rollback().await?;
            }
            self.batch = batch.into_iter();
        }
    }
}
