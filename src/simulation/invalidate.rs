//! Keeping cached runs true to the data they were computed from. Every run is stored with the
//! instruments whose daily returns it read (`simulation_run_instrument`), and a change to one of
//! those returns inside the run's window expires the run ([`expire_runs_touching`], which
//! [`crate::returns::compute_returns`] calls for the returns it rewrites), so the next identical
//! request computes afresh instead of serving figures the data no longer supports.
//!
//! Concurrency protocol: a computation reads returns before its run exists, so an expiry running
//! between that read and the run's commit would find nothing to expire and the stale run would
//! stay. The computing caller therefore holds a shared transaction-scoped advisory lock
//! (`hold_returns`) from before it reads until its run is committed, and the expiry takes the
//! same lock exclusively, in the transaction that changed the returns, before it looks for runs.
//! So it waits for the computations in flight, sees their runs and expires them; a computation
//! that starts after it waits until the changed returns are committed, and reads them.

use chrono::NaiveDate;
use entity::enums::RunStatus;
use sea_orm::{
    ActiveEnum, ConnectionTrait, DbBackend, Statement, TransactionSession, TransactionTrait,
};
use sqlx::PgConnection;

use crate::error::Result;

/// Advisory-lock class and key of "daily returns a computation reads". The key is 1, never 0,
/// so it is never the `(oid, 0)` pair `create_monthly_partitions` locks.
const RETURNS_LOCK: (i32, i32) = (0x5245_544E, 1); // "RETN"

// The runs the cache would serve (COMPLETED, unexpired) that read a changed instrument over a
// window overlapping its changed span. $1 instrument ids, $2 first dates, $3 last dates (one
// span per index), $4 the COMPLETED status.
const EXPIRE: &str = include_str!("expire_runs.sql");

/// Share-locks "the daily returns" on `tx` until it ends: taken by the computing caller of the
/// result cache before it reads anything, so that [`expire_runs_touching`] waits for its run.
pub(crate) async fn hold_returns(tx: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1, $2)")
        .bind(RETURNS_LOCK.0)
        .bind(RETURNS_LOCK.1)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Expires — sets `expires_at` to now — every stored run the cache would serve (COMPLETED and
/// unexpired) that read an instrument of `changed` over a window `[start_date, end_date]` that
/// overlaps that instrument's span: `(instrument_id, first, last)`, both dates inclusive. Returns
/// how many runs it expired. The next identical request recomputes ([`super::get_or_compute`]
/// replaces expired runs) and `foresto runs cleanup` may delete them; no other run is touched.
/// An empty `changed` does nothing and takes no lock.
///
/// Call it after writing the changed returns: in the same READ COMMITTED transaction (then the
/// expiry commits with them, and computations wait for that commit), or after committing them.
/// It first waits for the computations in flight (see the module documentation), so that none
/// stores a run from the returns as they were without it being expired.
///
/// # Errors
/// When the database refuses.
#[tracing::instrument(skip_all, fields(spans = changed.len()))]
pub async fn expire_runs_touching<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    changed: &[(i64, NaiveDate, NaiveDate)],
) -> Result<u64> {
    if changed.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = changed.iter().map(|c| c.0).collect();
    let firsts: Vec<NaiveDate> = changed.iter().map(|c| c.1).collect();
    let lasts: Vec<NaiveDate> = changed.iter().map(|c| c.2).collect();
    // In a transaction of its own (a savepoint in the caller's) so that the lock outlives the
    // lock statement: until the caller's commit, if it has a transaction.
    let txn = db.begin().await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1, $2)",
        [RETURNS_LOCK.0.into(), RETURNS_LOCK.1.into()],
    ))
    .await?;
    let expired = txn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            EXPIRE,
            [
                ids.into(),
                firsts.into(),
                lasts.into(),
                RunStatus::Completed.to_value().into(),
            ],
        ))
        .await?
        .rows_affected();
    txn.commit().await?;
    Ok(expired)
}
