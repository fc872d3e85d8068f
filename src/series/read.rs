//! How the series reads run.
//!
//! **Range reads: one statement, planned once per connection.** [`super::prices()`],
//! [`super::returns()`] and the simulation's return read select from the schema's
//! `daily_price_range` / `daily_return_range` functions (migration
//! `m20261208_000001_series_read_functions`): one round trip, no transaction of their own. Each
//! function keeps the plan of its query for the session and runs it as a generic plan with JIT
//! off, settings scoped to the function's own execution (`SET` clauses), never to the pooled
//! connection: PostgreSQL plans the read once per connection and afterwards only prunes the
//! partitions outside the range when the executor starts. Planning is what a hand-written read
//! spends most on over hundreds of monthly partitions (one instrument's full history over 415
//! partitions: 27 ms planning, 18 ms executing, `benches/series_read.rs`). A generic plan cannot
//! see how many rows the ids have, so the functions read one instrument per query (the id an
//! equality inside each partition's primary-key probe), or, when the ids are a large share of
//! the instruments a month holds, scan the range once (`docs/schema.md`, "Read functions"). The
//! generic plan of `instrument_id = ANY($1) AND trade_date BETWEEN $2 AND $3` scans every
//! partition's date range and filters the instruments out of it: one instrument's full history
//! among 120 took 130 ms that way against 6 ms. The rows come in no particular order;
//! [`range_rows`] sorts them.
//!
//! **Other reads** ([`all`], [`stream()`]) run in a transaction of their own with JIT off and a
//! plan made for each call's values. A read of many instruments over years has a plan cost far
//! above PostgreSQL's `jit_above_cost`, and JIT-compiling the expressions of every monthly
//! partition it scans costs more than the read: of 4 million stored prices, a read of 2.6
//! million rows over 120 monthly partitions took 4.1 s with JIT (2.4 s of it compiling 1,440
//! functions) and 2.2 s without. `set_config(…, true)` applies to that transaction only.
//!
//! **Cursor.** [`stream()`] declares a cursor and fetches [`STREAM_BATCH`] rows per round trip, so
//! the caller holds at most one batch however long the range is. PostgreSQL plans a cursor for
//! its first rows: a merge of the partitions' primary-key index scans, already in
//! `(instrument_id, trade_date)` order, instead of sorting the whole result first (on the same
//! data: the first 1,000 rows after 7 ms instead of 1.5 s, no sort spilled to disk). Each fetch
//! is a statement of its own, so a consumer slower than `statement_timeout` is not cut off.

use chrono::NaiveDate;
use futures_util::stream::{self, BoxStream, StreamExt};
use sea_orm::{
    ConnectionTrait, DbBackend, FromQueryResult, Statement, StreamTrait, TransactionSession,
    TransactionTrait, Value,
};

use crate::error::Result;

/// Typed rows of a series, read from the database batch by batch as the stream is polled (see
/// [`super::price_stream`]). It owns its transaction (a savepoint when the read was given a
/// transaction), and with it one pooled connection, until it ends or is dropped; dropping it
/// early rolls that transaction back.
pub type SeriesStream<T> = BoxStream<'static, Result<T>>;

/// Rows a [`SeriesStream`] fetches per round trip: what it holds in memory at most.
pub const STREAM_BATCH: usize = 1000;

/// Turns JIT compilation off and makes PostgreSQL plan each statement for its values, for the
/// rest of the transaction.
const CUSTOM_PLANS: &str = "SELECT set_config('jit', 'off', true), \
                                   set_config('plan_cache_mode', 'force_custom_plan', true)";

/// `column` (a `NUMERIC` with `scale` decimal places) as the `bigint` count of its units of
/// 10^-scale, which the reads turn back into the same `Decimal` (`Decimal::new(units, scale)`:
/// same digits, same scale). Exact for every stored value: `NUMERIC(p, s)` holds no further
/// digits, and p ≤ 18 fits a `bigint`. Sent as 8 bytes and decoded without allocating, where a
/// `NUMERIC` is decoded digit group by digit group: on a 10-instrument panel over 7 years
/// (18,270 prices of five columns) the read went from 47.4 ms to 43.8 ms.
pub(crate) fn scaled(column: &str, scale: u32) -> String {
    format!("({column} * {})::bigint", 10_i64.pow(scale))
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

/// The statement of a stream over `columns` of `table`, with the parameters of the range reads
/// ($1 ids, $2 first date, $3 last date): a cursor's plan is made for its values when it is
/// declared, and for its first rows, which this shape lets PostgreSQL merge from the
/// partitions' index scans in order (a PL/pgSQL range function returns its rows only once it has
/// read them all).
pub(super) fn ordered_scan(table: &str, columns: &str) -> String {
    format!(
        "SELECT {columns} FROM {table}
          WHERE instrument_id = ANY($1) AND trade_date >= $2 AND trade_date <= $3
          ORDER BY instrument_id, trade_date"
    )
}

/// Every row of `sql` (with `values` for its parameters), read in a transaction with JIT off, on
/// plans made for the values. The transaction (a savepoint when `db` is one) is rolled back, not
/// committed: a read changes nothing, and rolling back also undoes its settings, which a
/// released savepoint would leave in force for the rest of the caller's transaction.
pub(crate) async fn all<C, T>(db: &C, sql: &str, values: Vec<Value>) -> Result<Vec<T>>
where
    C: ConnectionTrait + TransactionTrait,
    T: FromQueryResult,
{
    let tx = db.begin().await?;
    tx.execute_unprepared(CUSTOM_PLANS).await?;
    let rows = rows(&tx, sql, values).await?;
    tx.rollback().await?;
    Ok(rows)
}

/// Every row of `sql` with `values` for its parameters, as one statement on `conn`.
pub(crate) async fn rows<C, T>(conn: &C, sql: &str, values: Vec<Value>) -> Result<Vec<T>>
where
    C: ConnectionTrait,
    T: FromQueryResult,
{
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    Ok(T::find_by_statement(statement).all(conn).await?)
}

/// The rows of a range read (`sql` with `values`, through a range function), each decoded as
/// it arrives as an `S` and turned into a `T`, sorted by `key` (`(instrument_id, trade_date)`).
///
/// Decoded as they arrive: collecting every row of the result first and decoding afterwards
/// keeps tens of thousands of undecoded rows in memory at once (on a 10-instrument panel over 7
/// years, 18,270 prices, that took 60.9 ms, decoding each as it arrives 52.2 ms). Sorted here:
/// the range functions return rows in no particular order (see the migration), and sorting here
/// costs far less than the server's sort, and little more than a pass when they came in order.
pub(super) async fn range_rows<C, S, T>(
    conn: &C,
    sql: &str,
    values: Vec<Value>,
    key: fn(&T) -> (i64, NaiveDate),
) -> Result<Vec<T>>
where
    C: ConnectionTrait + StreamTrait,
    S: FromQueryResult + Into<T>,
{
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    let rows = conn.stream_raw(statement).await?;
    let mut rows = std::pin::pin!(rows);
    let mut decoded = Vec::new();
    while let Some(row) = rows.next().await {
        decoded.push(S::from_query_result(&row?, "")?.into());
    }
    decoded.sort_unstable_by_key(key);
    Ok(decoded)
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
    tx.execute_unprepared(CUSTOM_PLANS).await?;
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
