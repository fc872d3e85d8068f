//! The result cache: a request is computed once per hash and served from the store until its run
//! expires.
//!
//! Concurrency protocol: the computing caller holds a transaction-scoped advisory lock keyed by
//! the request hash from before its computation until the commit that stores the run, so at
//! most one caller — in any process — computes a hash at a time, and a crashed one releases the
//! lock with its session (no claim row is ever left behind). No RUNNING row is written: a run
//! exists only complete, with its summary and path. RUNNING rows written by other tools are
//! respected while younger than [`CachePolicy::stale_after`] and taken over after; FAILED and
//! expired runs are replaced.
//!
//! A caller holds at most one pooled connection at any moment, so any number of callers on one
//! pool queue for it and none waits for a second connection while holding a first (which, with
//! every connection held by such a caller, would starve the pool). A miss holds exactly one
//! from the lock to the commit: the look under the lock, the computation's reads (it gets the
//! transaction's connection as a [`TxConnection`]), the path's partitions and the store's writes
//! all run on it. Callers that find the hash locked hold none while they wait: they give their
//! connection back, pause (backing off) and look again. And a caller that cannot get a
//! connection in the pool's acquire timeout because every connection is in use keeps queueing,
//! up to [`CachePolicy::max_wait`], rather than failing because of the others.
//!
//! The computing caller also share-locks the request's scenario row until its run is stored, so
//! a new portfolio version (which expires the scenario's cached runs) can never slip in between
//! the computation reading the versions and the run becoming visible. A path month without its
//! partition gets it inside the storing transaction: the partition DDL's locks then last until
//! that commit, which follows at once (no other wait sits between them).

use std::time::{Duration, Instant};

use entity::enums::RunStatus;
use entity::{simulation_run, simulation_summary};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres};

use super::request::{SimulationRequest, Subject};
use super::runs;
use super::store::{self, ComputedRun, StoredRun};
use super::tx_connection::TxConnection;
use crate::error::{Error, Result, SimulationError};
use crate::partitions::PartitionLimits;

/// Longest pause between two looks of a waiting caller, in poll intervals.
const MAX_BACKOFF: u32 = 8;

pub use crate::settings::CachePolicy;

/// A run served by [`get_or_compute`].
#[derive(Debug, Clone, PartialEq)]
pub struct Cached<T> {
    pub stored: StoredRun,
    /// What the computation returned besides the run; `None` when the run came from the store.
    pub computed: Option<T>,
}

impl<T> Cached<T> {
    /// Whether the run was served from the store without computing.
    pub fn cache_hit(&self) -> bool {
        self.computed.is_none()
    }
}

/// The stored run for `request` if there is a usable one (COMPLETED, unexpired), else runs
/// `compute` and stores its result — run, summary and path in one transaction — replacing an
/// expired, FAILED or abandoned run of the same hash.
///
/// Guarantees: among concurrent callers with the same request (any number of processes), one
/// computes and the others get its run; `compute` is called at most once per call and not at
/// all on a hit; a failing `compute` or store leaves nothing behind. Each call holds at most one
/// of the pool's connections at a time, so any number of concurrent calls on one pool complete
/// (they queue; see the module documentation). `compute` gets the storing transaction's
/// connection and must do its reads there, not on the pool. Needs a connection pool (not a
/// transaction): it manages its own transactions and waits between them. The path's
/// `simulation_path` partitions are made in the storing transaction, within `partitions`
/// ([`store::ensure_path_partitions`]).
///
/// # Errors
/// Whatever `compute` fails with; a path needing partitions outside `partitions.window` or more
/// than `partitions.max_new` ([`crate::PartitionError`]), storing nothing;
/// [`SimulationError::ComputeInProgress`] after waiting
/// [`CachePolicy::max_wait`] for another caller; database errors (including a path figure that
/// does not fit its column, and a pool that stayed full for [`CachePolicy::max_wait`]).
#[tracing::instrument(skip_all, fields(request_hash))]
pub async fn get_or_compute<T, F>(
    db: &DatabaseConnection,
    request: &SimulationRequest,
    policy: &CachePolicy,
    partitions: &PartitionLimits,
    compute: F,
) -> Result<Cached<T>>
where
    F: AsyncFnOnce(&TxConnection<'_>) -> Result<(ComputedRun, T)>,
{
    let hash = request.request_hash();
    tracing::Span::current().record("request_hash", hash.as_str());
    let pool = db.get_postgres_connection_pool();
    let started = Instant::now();
    let mut compute = Some(compute);
    let mut pause = policy.poll_interval;
    loop {
        let mut conn = acquire(pool, started, policy.max_wait).await?;
        if let Some(stored) = read_usable(&mut conn, &hash).await? {
            return Ok(Cached {
                stored,
                computed: None,
            });
        }
        let mut tx = conn.begin().await?;
        let previous = if try_lock(&mut tx, &hash).await? {
            previous_run(&TxConnection::new(&mut tx), &hash, policy).await?
        } else {
            Previous::Busy
        };
        match previous {
            // Stored by another caller between the look and the lock: read it in a snapshot.
            Previous::Usable => continue,
            Previous::Busy => {}
            Previous::Replaceable(previous) => {
                hold_scenario(&mut tx, request).await?;
                super::invalidate::hold_returns(&mut tx).await?;
                let compute = compute
                    .take()
                    .expect("compute runs at most once: every path after it returns");
                let (computed, extra) = {
                    let on_tx = TxConnection::new(&mut tx);
                    let (computed, extra) = compute(&on_tx).await?;
                    store::ensure_path_partitions(&on_tx, &computed.path, partitions).await?;
                    (computed, extra)
                };
                if let Some(run_id) = previous {
                    sqlx::query("DELETE FROM simulation_run WHERE run_id = $1")
                        .bind(run_id)
                        .execute(&mut *tx)
                        .await?;
                }
                let (run, summary) =
                    store::insert_run(&mut tx, &hash, request, &computed, policy.ttl).await?;
                tx.commit().await?;
                return Ok(Cached {
                    stored: StoredRun {
                        run,
                        summary,
                        path: computed.path,
                    },
                    computed: Some(extra),
                });
            }
        }
        // Rolling back releases the lock if we held it; the connection goes back to the pool
        // before the pause.
        drop(tx);
        drop(conn);
        if started.elapsed() >= policy.max_wait {
            return Err(Error::Simulation(SimulationError::ComputeInProgress {
                request_hash: hash,
                waited_secs: started.elapsed().as_secs(),
            }));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(policy.poll_interval * MAX_BACKOFF);
    }
}

/// A connection from `pool`. An acquire that times out while every connection of the pool is
/// open (so in use by other callers, not failing to connect) is retried until `max_wait` has
/// passed since `started`: those callers each finish with the one connection they hold.
async fn acquire(
    pool: &PgPool,
    started: Instant,
    max_wait: Duration,
) -> Result<PoolConnection<Postgres>> {
    loop {
        match pool.acquire().await {
            Err(sqlx::Error::PoolTimedOut)
                if pool.size() >= pool.options().get_max_connections()
                    && started.elapsed() < max_wait =>
            {
                tracing::debug!("every pooled connection is in use; queueing again");
            }
            acquired => return Ok(acquired?),
        }
    }
}

async fn try_lock(tx: &mut PgConnection, hash: &str) -> Result<bool> {
    Ok(sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(lock_key(hash))
        .fetch_one(tx)
        .await?)
}

/// Share-locks the request's scenario row until the run is stored: a new portfolio version
/// (which expires the scenario's runs under an exclusive lock on that row) then either commits
/// before the computation reads the versions, or waits until the run is stored and expires it.
async fn hold_scenario(tx: &mut PgConnection, request: &SimulationRequest) -> Result<()> {
    if let Subject::Scenario { scenario_id } = &request.subject {
        sqlx::query("SELECT 1 FROM scenario_definition WHERE scenario_id = $1 FOR SHARE")
            .bind(scenario_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The usable run of `hash`, read in one snapshot so that run, summary and path agree.
async fn read_usable(conn: &mut PgConnection, hash: &str) -> Result<Option<StoredRun>> {
    let mut snapshot = conn
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    let stored = runs::usable(&TxConnection::new(&mut snapshot), hash).await?;
    snapshot.commit().await?;
    Ok(stored)
}

/// What is stored under the hash, as the caller holding its lock finds it.
enum Previous {
    /// A run that answers the request: another caller stored it since this one looked.
    Usable,
    /// A RUNNING row younger than the stale timeout: someone else may still be computing.
    Busy,
    /// None, or one to delete and replace (expired, FAILED, abandoned, incomplete).
    Replaceable(Option<i64>),
}

async fn previous_run<C: ConnectionTrait>(
    db: &C,
    hash: &str,
    policy: &CachePolicy,
) -> Result<Previous> {
    // The same condition as `runs::usable`, so that this look and the snapshot read agree.
    let usable = simulation_run::Entity::find()
        .filter(simulation_run::Column::RequestHash.eq(hash))
        .filter(runs::answers_requests())
        .inner_join(simulation_summary::Entity)
        .count(db)
        .await?;
    if usable > 0 {
        return Ok(Previous::Usable);
    }
    let run = simulation_run::Entity::find()
        .filter(simulation_run::Column::RequestHash.eq(hash))
        .one(db)
        .await?;
    Ok(match run {
        Some(run)
            if run.run_status == Some(RunStatus::Running)
                && run
                    .created_at
                    .is_some_and(|at| chrono::Utc::now() - at.to_utc() < policy.stale_after) =>
        {
            Previous::Busy
        }
        run => Previous::Replaceable(run.map(|r| r.run_id)),
    })
}

/// The advisory-lock key of a request hash: its first 64 bits. (The two-key advisory lock space
/// that partition upkeep uses is separate from this one-key space.)
fn lock_key(hash: &str) -> i64 {
    let prefix = hash.get(..16).and_then(|p| u64::from_str_radix(p, 16).ok());
    // Reinterpreting the 64 bits as signed is the point: any bigint is a valid key.
    prefix.expect("a request hash is 64 hex digits") as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_key_is_the_hash_prefix() {
        let hash = "ffffffffffffffff0000000000000000000000000000000000000000000000aa";
        assert_eq!(lock_key(hash), -1);
        assert_eq!(lock_key(&"1".repeat(64)), 0x1111_1111_1111_1111);
    }
}
