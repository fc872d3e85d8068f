//! The result cache: a request is computed once per hash and served from the store until its run
//! expires.
//!
//! Concurrency protocol: the computing caller holds a transaction-scoped advisory lock keyed by
//! the request hash from before its computation until the commit that stores the run, so at
//! most one caller — in any process — computes a hash at a time, and a crashed one releases the
//! lock with its session (no claim row is ever left behind). Other callers do not block on the
//! lock: they release their connection, wait a poll interval and look again, so waiting never
//! ties up a pool's connections. No RUNNING row is written: a run exists only complete, with its
//! summary and path. RUNNING rows written by other tools are respected while younger than
//! [`CachePolicy::stale_after`] and taken over after; FAILED and expired runs are replaced.
//!
//! The computing caller also share-locks the request's scenario row until its run is stored, so
//! a new portfolio version (which expires the scenario's cached runs) can never slip in between
//! the computation reading the versions and the run becoming visible.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use entity::enums::RunStatus;
use entity::simulation_run;
use sea_orm::{
    AccessMode, ColumnTrait, DatabaseConnection, EntityTrait, IsolationLevel, QueryFilter,
    TransactionTrait,
};

use super::request::{SimulationRequest, Subject};
use super::runs;
use super::store::{self, ComputedRun, StoredRun};
use crate::error::{Error, Result};

/// How stored results live and how long callers wait for each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    /// Lifetime of a newly stored run; `None` keeps it until deleted.
    pub ttl: Option<TimeDelta>,
    /// A RUNNING row (written by another tool) older than this is taken to be abandoned.
    pub stale_after: TimeDelta,
    /// How often a caller waiting for another's computation looks again.
    pub poll_interval: Duration,
    /// How long a caller waits for another's computation before giving up.
    pub max_wait: Duration,
}

impl Default for CachePolicy {
    /// The default TTL ([`crate::config::DEFAULT_RESULT_TTL_DAYS`]), RUNNING rows stale after
    /// 5 minutes, polling every 50 ms for at most 6 minutes — longer than the stale timeout, so
    /// that one call outlasts an abandoned RUNNING row.
    fn default() -> Self {
        Self {
            ttl: Some(TimeDelta::days(crate::config::DEFAULT_RESULT_TTL_DAYS)),
            stale_after: TimeDelta::minutes(5),
            poll_interval: Duration::from_millis(50),
            max_wait: Duration::from_secs(360),
        }
    }
}

impl CachePolicy {
    /// The defaults with the configured TTL ([`crate::config::result_ttl`]).
    ///
    /// # Errors
    /// When the configured TTL is not valid.
    pub fn from_config() -> Result<Self> {
        Ok(Self {
            ttl: crate::config::result_ttl()?,
            ..Self::default()
        })
    }
}

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
/// all on a hit; a failing `compute` or store leaves nothing behind. Needs a connection pool
/// (not a transaction): it manages its own transactions and waits between them.
///
/// # Errors
/// Whatever `compute` fails with; [`Error::ComputeInProgress`] after waiting
/// [`CachePolicy::max_wait`] for another caller; database errors (including a path figure that
/// does not fit its column).
#[tracing::instrument(skip_all, fields(request_hash))]
pub async fn get_or_compute<T, F, Fut>(
    db: &DatabaseConnection,
    request: &SimulationRequest,
    policy: &CachePolicy,
    compute: F,
) -> Result<Cached<T>>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(ComputedRun, T)>>,
{
    let hash = request.request_hash();
    tracing::Span::current().record("request_hash", hash.as_str());
    let started = Instant::now();
    let mut compute = Some(compute);
    loop {
        if let Some(stored) = read_usable(db, &hash).await? {
            return Ok(Cached {
                stored,
                computed: None,
            });
        }
        let mut tx = db.get_postgres_connection_pool().begin().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(lock_key(&hash))
            .fetch_one(&mut *tx)
            .await?;
        if locked {
            // Another caller may have stored the run between the first look and the lock.
            if let Some(stored) = read_usable(db, &hash).await? {
                return Ok(Cached {
                    stored,
                    computed: None,
                });
            }
            match previous_run(db, &hash, policy).await? {
                Previous::Busy => {}
                Previous::Replaceable(previous) => {
                    hold_scenario(&mut tx, request).await?;
                    let compute = compute
                        .take()
                        .expect("compute runs at most once: every path after it returns");
                    let (computed, extra) = compute().await?;
                    store::ensure_path_partitions(db, &computed.path).await?;
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
        }
        // Dropping the transaction rolls it back, which releases the lock if we held it.
        drop(tx);
        if started.elapsed() >= policy.max_wait {
            return Err(Error::ComputeInProgress {
                request_hash: hash,
                waited_secs: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(policy.poll_interval).await;
    }
}

/// Share-locks the request's scenario row until the run is stored: a new portfolio version
/// (which expires the scenario's runs under an exclusive lock on that row) then either commits
/// before the computation reads the versions, or waits until the run is stored and expires it.
async fn hold_scenario(tx: &mut sqlx::PgConnection, request: &SimulationRequest) -> Result<()> {
    if let Subject::Scenario { scenario_id } = &request.subject {
        sqlx::query("SELECT 1 FROM scenario_definition WHERE scenario_id = $1 FOR SHARE")
            .bind(scenario_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The usable run of `hash`, read in one snapshot so that run, summary and path agree.
async fn read_usable(db: &DatabaseConnection, hash: &str) -> Result<Option<StoredRun>> {
    let snapshot = db
        .begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await?;
    let stored = runs::usable(&snapshot, hash).await?;
    snapshot.commit().await?;
    Ok(stored)
}

/// A stored run of the hash that does not answer the request.
enum Previous {
    /// A RUNNING row younger than the stale timeout: someone else may still be computing.
    Busy,
    /// None, or one to delete and replace (expired, FAILED, abandoned, incomplete).
    Replaceable(Option<i64>),
}

async fn previous_run(
    db: &DatabaseConnection,
    hash: &str,
    policy: &CachePolicy,
) -> Result<Previous> {
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
