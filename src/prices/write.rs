//! Writing one batch to `daily_price` in a transaction of its own, on a session held for the
//! whole load ([`Session`]; a load writes on several at once, see the `streams` module).
//!
//! - **Binary COPY.** Batches are sent as binary `COPY` tuples (see the `batch` module).
//! - **Direct COPY when the key range is free.** When no stored row falls inside any of the
//!   batch's per-instrument date spans, the batch is `COPY`ed straight into `daily_price`: the
//!   fastest path for fresh data. Should a concurrent writer take one of the keys meanwhile, the
//!   COPY fails on the primary key and the batch is redone as below.
//! - **Otherwise a staged upsert.** The batch is `COPY`ed into a session-temporary staging table
//!   and merged with one `INSERT … SELECT … ON CONFLICT DO UPDATE`. The stored rows of the
//!   batch's instruments and dates are read once and joined with the stage first, so only records
//!   that are new or whose values differ reach the `INSERT`: unchanged rows are neither rewritten
//!   nor locked (they keep their `xmin`, `xmax` and `load_id`), which `ON CONFLICT … WHERE` alone
//!   would not give (it locks every conflicting row before testing its `WHERE`). Changed rows
//!   take the new values and this load's id.
//! - **Batched key checks.** PostgreSQL checks the two foreign keys of `daily_price` with a
//!   trigger per row, which is about half the cost of a bulk load. When the role may set
//!   `session_replication_role`, `daily_price` has exactly those two foreign keys and no trigger
//!   of its own, each batch instead locks every instrument it references and its load row
//!   `FOR KEY SHARE` (which is what those triggers do, once per row) and disables the per-row
//!   triggers for that transaction only. Referential integrity holds the same way: a referenced
//!   row that is missing fails the batch, and one cannot be deleted before the batch commits.

use sqlx::pool::PoolConnection;
use sqlx::{Connection as _, PgConnection, Postgres};

use super::batch::{Batch, COLUMNS, COPY_HEADER, COPY_TRAILER};
use crate::error::{Error, Result};
use crate::load_history;

/// What writing batches did, in records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Written {
    pub inserted: u64,
    pub updated: u64,
    /// Records whose stored row already had these values.
    pub unchanged: u64,
}

impl std::ops::AddAssign for Written {
    fn add_assign(&mut self, other: Self) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

impl Written {
    /// Every record now stored with the values of the file.
    pub(crate) fn total(&self) -> u64 {
        self.inserted + self.updated + self.unchanged
    }
}

/// Temporary (per session), emptied at every commit.
const CREATE_STAGE: &str = "
    CREATE TEMP TABLE IF NOT EXISTS foresto_price_stage (
        instrument_id bigint NOT NULL, trade_date date NOT NULL,
        open_price numeric(18,4), high_price numeric(18,4), low_price numeric(18,4),
        close_price numeric(18,4) NOT NULL, adj_close_price numeric(18,4), volume bigint,
        load_id bigint
    ) ON COMMIT DELETE ROWS";

/// Exactly the foreign keys the batched checks stand in for, and no user trigger.
const BATCHED_CHECKS_POSSIBLE: &str = include_str!("batched_checks_possible.sql");

/// Whether any stored row falls inside one of the batch's per-instrument date spans.
const ANY_STORED: &str = "
    SELECT EXISTS (
        SELECT 1 FROM unnest($1::bigint[], $2::date[], $3::date[]) AS r(instrument_id, first_date, last_date)
         WHERE EXISTS (SELECT 1 FROM daily_price d
                        WHERE d.instrument_id = r.instrument_id
                          AND d.trade_date BETWEEN r.first_date AND r.last_date))";

/// The stored rows to compare with are read in one index scan and joined in one pass: a per-row
/// probe would re-scan every partition's subplan for each record. No JIT for a statement run
/// once per batch; memory enough for a batch's sort or hash.
const STAGED_PLAN: &str = "
    SELECT set_config('enable_nestloop', 'off', true), set_config('jit', 'off', true),
           set_config('work_mem', '64MB', true)";

/// Writes the staged records that are new or differ; returns (new keys, rows written).
const MERGE_STAGE: &str = include_str!("merge_stage.sql");

/// COPY data is sent in messages of this size, so the server starts on a batch at once.
const COPY_CHUNK: usize = 256 * 1024;

/// One session a load writes on.
pub(crate) struct Session {
    conn: PoolConnection<Postgres>,
    load_id: i64,
    batched_key_checks: bool,
    /// Whether this session holds the load's liveness lock.
    holds_liveness: bool,
    /// Whether the session was tidied and may go back to the pool.
    reusable: bool,
}

impl Drop for Session {
    fn drop(&mut self) {
        // A load cut short (an error, or its future dropped) may leave the session mid-statement
        // and holding the load's liveness lock: never hand it back to the pool.
        if !self.reusable {
            self.conn.close_on_drop();
        }
    }
}

impl Session {
    /// Prepares staging on `conn` for load `load_id`; the first session of a load (`first`)
    /// marks the load alive and finds out whether key checks can be batched, which the others
    /// are told (`batched_key_checks`).
    pub(crate) async fn open(
        mut conn: PoolConnection<Postgres>,
        load_id: i64,
        batched_key_checks: BatchedChecks,
    ) -> Result<Self> {
        let holds_liveness = matches!(batched_key_checks, BatchedChecks::FindOut { .. });
        if holds_liveness {
            load_history::hold_liveness(&mut conn, load_id).await?;
        }
        sqlx::query(CREATE_STAGE).execute(&mut *conn).await?;
        let batched_key_checks = match batched_key_checks {
            BatchedChecks::FindOut { wanted: false } | BatchedChecks::Known(false) => false,
            BatchedChecks::FindOut { wanted: true } => batched_checks_possible(&mut conn).await?,
            BatchedChecks::Known(true) => true,
        };
        Ok(Self {
            conn,
            load_id,
            batched_key_checks,
            holds_liveness,
            reusable: false,
        })
    }

    /// Whether batches check their foreign keys in bulk (see the module documentation).
    pub(crate) fn batched_key_checks(&self) -> bool {
        self.batched_key_checks
    }

    /// Writes `batch` in one transaction: all of it or none of it. The partitions it needs
    /// must exist.
    pub(crate) async fn write(&mut self, batch: &Batch) -> Result<Written> {
        let (batched, load_id) = (self.batched_key_checks, self.load_id);
        let mut tx = self.conn.begin().await?;
        guard_keys(&mut tx, batched, load_id, batch).await?;
        if !any_stored(&mut tx, batch).await? {
            let copy = format!("COPY daily_price ({COLUMNS}) FROM STDIN (FORMAT binary)");
            match copy_in(&mut tx, &copy, batch.data()).await {
                Ok(rows) => {
                    tx.commit().await?;
                    return Ok(Written {
                        inserted: rows,
                        ..Written::default()
                    });
                }
                Err(e) if is_unique_violation(&e) => {
                    tracing::debug!("keys taken since the check; upserting the batch instead");
                    tx.rollback().await?;
                    tx = self.conn.begin().await?;
                    guard_keys(&mut tx, batched, load_id, batch).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let written = merge_staged(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Ends a load that wrote everything it was given: drops the staging table and releases the
    /// liveness lock, so the session can go back to the pool. (A session dropped without this is
    /// closed instead.)
    pub(crate) async fn finish(mut self) {
        let tidied = async {
            sqlx::query("DROP TABLE IF EXISTS pg_temp.foresto_price_stage")
                .execute(&mut *self.conn)
                .await?;
            if self.holds_liveness {
                load_history::release_liveness(&mut self.conn, self.load_id).await?;
            }
            Ok::<_, Error>(())
        };
        self.reusable = tidied.await.is_ok();
    }
}

/// What a session is told about batched key checks when it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchedChecks {
    /// The load's first session: batch them if `wanted` and the database allows it.
    FindOut { wanted: bool },
    /// Decided by the first session.
    Known(bool),
}

async fn batched_checks_possible(conn: &mut PgConnection) -> Result<bool> {
    let shape_allows: bool = sqlx::query_scalar(BATCHED_CHECKS_POSSIBLE)
        .fetch_one(&mut *conn)
        .await?;
    if !shape_allows {
        return Ok(false);
    }
    // Superusers may, and roles granted SET on the parameter (PostgreSQL 15+); try it.
    let mut tx = conn.begin().await?;
    let permitted = sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .is_ok();
    tx.rollback().await?;
    Ok(permitted)
}

/// With batched key checks: locks the batch's instruments and load row as the per-row foreign
/// key triggers would, then turns those triggers off for this transaction.
async fn guard_keys(
    tx: &mut PgConnection,
    batched: bool,
    load_id: i64,
    batch: &Batch,
) -> Result<()> {
    if !batched {
        return Ok(());
    }
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await?;
    let (ids, _, _) = batch.spans();
    let locked: Vec<i64> = sqlx::query_scalar(
        "SELECT instrument_id FROM instrument_master WHERE instrument_id = ANY($1) FOR KEY SHARE",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    if locked.len() != ids.len() {
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| !locked.contains(id))
            .map(ToString::to_string)
            .collect();
        return Err(Error::not_found("instrument", missing.join(", ")));
    }
    let load: Option<i64> = sqlx::query_scalar(
        "SELECT load_id FROM source_load_history WHERE load_id = $1 FOR KEY SHARE",
    )
    .bind(load_id)
    .fetch_optional(&mut *tx)
    .await?;
    load.map(|_| ())
        .ok_or_else(|| Error::not_found("load", load_id))
}

async fn any_stored(tx: &mut PgConnection, batch: &Batch) -> Result<bool> {
    let (ids, firsts, lasts) = batch.spans();
    Ok(sqlx::query_scalar(ANY_STORED)
        .bind(ids)
        .bind(firsts)
        .bind(lasts)
        .fetch_one(&mut *tx)
        .await?)
}

async fn merge_staged(tx: &mut PgConnection, batch: &Batch) -> Result<Written> {
    let Some((first, last)) = batch.date_range() else {
        return Ok(Written::default());
    };
    sqlx::query(STAGED_PLAN).execute(&mut *tx).await?;
    let copy = format!("COPY foresto_price_stage ({COLUMNS}) FROM STDIN (FORMAT binary)");
    copy_in(&mut *tx, &copy, batch.data()).await?;
    let (ids, _, _) = batch.spans();
    let (new_keys, written): (i64, i64) = sqlx::query_as(MERGE_STAGE)
        .bind(ids)
        .bind(first)
        .bind(last)
        .fetch_one(&mut *tx)
        .await?;
    let written = written as u64;
    // A key that looked new but was stored concurrently (and updated instead) counts as updated.
    let inserted = (new_keys as u64).min(written);
    Ok(Written {
        inserted,
        updated: written - inserted,
        unchanged: batch.rows() - written,
    })
}

/// Sends `tuples` as one binary COPY stream.
async fn copy_in(conn: &mut PgConnection, statement: &str, tuples: &[u8]) -> sqlx::Result<u64> {
    let mut copy = conn.copy_in_raw(statement).await?;
    copy.send(COPY_HEADER).await?;
    for chunk in tuples.chunks(COPY_CHUNK) {
        copy.send(chunk).await?;
    }
    copy.send(COPY_TRAILER).await?;
    copy.finish().await
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "23505")
}
