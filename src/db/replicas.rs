//! A primary and its read replicas: which connection each read and write goes to.
//!
//! [`Connections`] holds one pool to the primary and one per streaming replica. Writes, and
//! reads that must see the caller's own writes, go to [`Connections::writer`] (the primary).
//! Reads that tolerate lag go to [`Connections::reader`]: the replicas in turn, skipping any
//! that does not answer, and the primary when there is no replica or none answers. It is a
//! routing layer only: every query is the service functions' own.
//!
//! # Lag
//! A replica replays the primary's changes with a delay (usually well under a second; longer
//! under heavy writes or a slow network), so a read through `reader()` sees the database as it
//! was a moment ago:
//!
//! | read | on a replica | what lag can do |
//! |---|---|---|
//! | [`Connections::price_coverage`] ([`crate::series`]) | yes | miss the latest loaded days |
//! | [`Connections::prices`], [`Connections::price_stream`], [`Connections::returns`], [`Connections::return_stream`] ([`crate::series`]) | yes | miss the latest loaded days, or returns just recomputed |
//! | [`Connections::latest_dates`] ([`crate::series::latest_dates`]) | yes | report an earlier latest date (a loader that must see its own last load asks the primary) |
//! | [`Connections::price_on_or_before`] ([`crate::series::price_on_or_before`]) | yes | answer with an earlier price when the day asked for was loaded just now |
//! | [`Connections::active_scenarios`] ([`crate::scenarios::list_active`]) | yes | list a scenario as it was |
//! | [`Connections::scenario_detail`] ([`crate::scenarios::detail`]) | yes; a scenario the replica lacks is read on the primary | show the portfolio version in force before the latest change |
//! | [`Connections::find_run`] ([`crate::simulation::runs::find`]) | yes; a run the replica lacks is read on the primary | show a run's earlier status or expiry |
//! | [`Connections::simulate`] | the cached run only | serve a run the primary has just expired (a new portfolio version expires the scenario's runs), until the replica replays the expiry |
//! | everything else (loads, returns, portfolio changes, partition upkeep, cleanup) | no: use `writer()` | — |
//!
//! A lookup by key never reports "not found" for a row the primary has: what the replica lacks
//! is looked up on the primary. [`Connections::simulate`] never computes a request twice: a
//! miss on the replica (a new request, or one the replica has not replayed yet) goes to
//! [`crate::simulation::simulate`] on the primary, which looks again there before computing.
//!
//! # Health
//! A replica is used when it answers now: an idle connection of its pool answers a ping, or a
//! new connection can be opened within the pool's connect timeout. One that does not is
//! skipped, without being asked again, for [`Connections::retry_after`] (5 s unless set); a
//! replica that fails between the check and the query fails that query with a
//! [`crate::DatabaseError::Connection`], which [`crate::Error::is_connection`] reports as
//! worth retrying.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use entity::enums::RunStatus;
use entity::{scenario_definition, simulation_run};
use sea_orm::DatabaseConnection;
use sqlx::{Connection, PgConnection};

use crate::error::{Error, Result, ScenarioError};
use crate::scenarios::{self, ScenarioDetail};
use crate::series::{self, Coverage, DateRange, LatestDates, PriceRow, ReturnRow, SeriesStream};
use crate::settings::{PoolSettings, Settings};
use crate::simulation::runs::{self, RunKey};
use crate::simulation::{self, SimulationOutcome, SimulationRequest};

/// How long a replica that did not answer is skipped when nothing else is set.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// One pool to the primary and one to each read replica (see the module docs).
pub struct Connections {
    primary: DatabaseConnection,
    replicas: Vec<Replica>,
    /// The replica the next [`Connections::reader`] call tries first (modulo their number).
    next: AtomicUsize,
    retry_after: Duration,
    /// The longest a health check of one replica may take.
    check_timeout: Duration,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("replicas", &self.replicas.len())
            .field("retry_after", &self.retry_after)
            .finish_non_exhaustive()
    }
}

struct Replica {
    db: DatabaseConnection,
    /// When a health check last found it unreachable (`None`: it answered).
    down_since: Mutex<Option<Instant>>,
}

impl Connections {
    /// Connects to the primary at `primary_url` (at once: it must be reachable) and prepares a
    /// pool for each of `replica_urls` (lazily: a replica that is down now is skipped by
    /// [`Connections::reader`] until it answers). Each pool is sized and timed by `pool`.
    ///
    /// # Errors
    /// As [`super::connect`] for the primary; [`Error::InvalidInput`] (field `replica URL`,
    /// naming which) when a replica URL cannot be parsed.
    pub async fn connect<S: AsRef<str>>(
        primary_url: &str,
        replica_urls: &[S],
        pool: &PoolSettings,
    ) -> Result<Self> {
        let primary = super::connect(primary_url, pool).await?;
        let mut replicas = Vec::with_capacity(replica_urls.len());
        for (i, url) in replica_urls.iter().enumerate() {
            let db = super::open(url.as_ref(), pool, true)
                .await
                .map_err(|e| match e {
                    Error::InvalidInput { reason, .. } => {
                        Error::invalid("replica URL", format!("replica {}: {reason}", i + 1))
                    }
                    other => other,
                })?;
            replicas.push(Replica {
                db,
                down_since: Mutex::new(None),
            });
        }
        Ok(Self {
            primary,
            replicas,
            next: AtomicUsize::new(0),
            retry_after: DEFAULT_RETRY_AFTER,
            check_timeout: pool.connect_timeout,
        })
    }

    /// These connections with a replica that did not answer skipped for `retry_after` before
    /// it is checked again (`Duration::ZERO`: checked on every [`Connections::reader`] call).
    pub fn retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// The primary: for writes, and for reads that must see the caller's own writes.
    pub fn writer(&self) -> &DatabaseConnection {
        &self.primary
    }

    /// A connection for reads that tolerate lag: the next replica (round robin) that answers a
    /// health check, else the primary — when no replica is configured or none answers. Never
    /// fails; what it costs is one round trip to the chosen replica (see the module docs).
    pub async fn reader(&self) -> &DatabaseConnection {
        let count = self.replicas.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        for offset in 0..count {
            let index = (first + offset) % count;
            let replica = &self.replicas[index];
            if replica
                .answers(index, self.retry_after, self.check_timeout)
                .await
            {
                return &replica.db;
            }
        }
        &self.primary
    }

    fn is_primary(&self, db: &DatabaseConnection) -> bool {
        std::ptr::eq(db, &self.primary)
    }

    /// `read` on a reader; when it finds nothing there (`absent`) on a replica, on the primary,
    /// which may have rows the replica has not replayed yet.
    async fn read_or_primary<T>(
        &self,
        read: impl AsyncFn(&DatabaseConnection) -> Result<T>,
        absent: impl Fn(&Error) -> bool,
    ) -> Result<T> {
        let reader = self.reader().await;
        match read(reader).await {
            Err(e) if absent(&e) && !self.is_primary(reader) => read(&self.primary).await,
            result => result,
        }
    }

    /// [`series::price_coverage`] on a reader.
    ///
    /// # Errors
    /// As [`series::price_coverage`].
    pub async fn price_coverage(&self, instrument_ids: &[i64]) -> Result<Vec<Coverage>> {
        series::price_coverage(self.reader().await, instrument_ids).await
    }

    /// [`series::prices()`] on a reader.
    ///
    /// # Errors
    /// As [`series::prices()`].
    pub async fn prices(&self, instrument_ids: &[i64], range: DateRange) -> Result<Vec<PriceRow>> {
        series::prices(self.reader().await, instrument_ids, range).await
    }

    /// [`series::price_stream`] on a reader; the stream holds a connection of that reader's
    /// pool until it ends or is dropped.
    ///
    /// # Errors
    /// As [`series::price_stream`].
    pub async fn price_stream(
        &self,
        instrument_ids: &[i64],
        range: DateRange,
    ) -> Result<SeriesStream<PriceRow>> {
        series::price_stream(self.reader().await, instrument_ids, range).await
    }

    /// [`series::returns()`] on a reader.
    ///
    /// # Errors
    /// As [`series::returns()`].
    pub async fn returns(
        &self,
        instrument_ids: &[i64],
        range: DateRange,
    ) -> Result<Vec<ReturnRow>> {
        series::returns(self.reader().await, instrument_ids, range).await
    }

    /// [`series::return_stream`] on a reader; the stream holds a connection of that reader's
    /// pool until it ends or is dropped.
    ///
    /// # Errors
    /// As [`series::return_stream`].
    pub async fn return_stream(
        &self,
        instrument_ids: &[i64],
        range: DateRange,
    ) -> Result<SeriesStream<ReturnRow>> {
        series::return_stream(self.reader().await, instrument_ids, range).await
    }

    /// [`series::latest_dates`] on a reader. A replica behind the primary reports the dates as
    /// they were; use [`series::latest_dates`] on [`Connections::writer`] to see a load just
    /// written.
    ///
    /// # Errors
    /// As [`series::latest_dates`].
    pub async fn latest_dates(&self, instrument_ids: &[i64]) -> Result<Vec<LatestDates>> {
        series::latest_dates(self.reader().await, instrument_ids).await
    }

    /// [`series::price_on_or_before`] on a reader.
    ///
    /// # Errors
    /// As [`series::price_on_or_before`].
    pub async fn price_on_or_before(
        &self,
        instrument_id: i64,
        date: NaiveDate,
    ) -> Result<Option<PriceRow>> {
        series::price_on_or_before(self.reader().await, instrument_id, date).await
    }

    /// [`scenarios::list_active`] on a reader.
    ///
    /// # Errors
    /// As [`scenarios::list_active`].
    pub async fn active_scenarios(&self) -> Result<Vec<scenario_definition::Model>> {
        scenarios::list_active(self.reader().await).await
    }

    /// [`scenarios::detail`] on a reader; a scenario the replica does not have (yet) is looked
    /// up on the primary.
    ///
    /// # Errors
    /// As [`scenarios::detail`].
    pub async fn scenario_detail(
        &self,
        scenario_id: &str,
        as_of: NaiveDate,
    ) -> Result<ScenarioDetail> {
        self.read_or_primary(
            async |db| scenarios::detail(db, scenario_id, as_of).await,
            |e| matches!(e, Error::Scenario(ScenarioError::ScenarioNotFound { .. })),
        )
        .await
    }

    /// [`runs::find`] on a reader; a run the replica does not have (yet) is looked up on the
    /// primary.
    ///
    /// # Errors
    /// As [`runs::find`].
    pub async fn find_run(&self, key: &RunKey) -> Result<simulation_run::Model> {
        self.read_or_primary(
            async |db| runs::find(db, key).await,
            |e| matches!(e, Error::NotFound { .. }),
        )
        .await
    }

    /// [`simulation::simulate`], served from a replica when the replica holds a usable run of
    /// the request (COMPLETED and unexpired), else on the primary — which looks the hash up
    /// again before computing, so a run the replica has not replayed yet is served, not
    /// recomputed. A replica that fails part-way (down, or its run expired meanwhile and the
    /// read-only replica refused to replace it) hands the request to the primary.
    ///
    /// # Errors
    /// As [`simulation::simulate`].
    pub async fn simulate(
        &self,
        request: &SimulationRequest,
        settings: &Settings,
    ) -> Result<SimulationOutcome> {
        let reader = self.reader().await;
        if !self.is_primary(reader) && has_usable_run(reader, &request.request_hash()).await {
            match simulation::simulate(reader, request, settings).await {
                Err(Error::Database(e)) => {
                    tracing::debug!(error = %e, "replica could not serve the run; asking the primary");
                }
                served => return served,
            }
        }
        simulation::simulate(&self.primary, request, settings).await
    }
}

impl Replica {
    /// Whether the replica (number `index`, for the log) answers within `timeout`; one that did
    /// not is not asked again until `retry_after` has passed.
    async fn answers(&self, index: usize, retry_after: Duration, timeout: Duration) -> bool {
        let skipped = self
            .down_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some_and(|since| since.elapsed() < retry_after);
        if skipped {
            return false;
        }
        let up = tokio::time::timeout(timeout, self.check())
            .await
            .unwrap_or(false);
        let mut down_since = self
            .down_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match (up, down_since.is_some()) {
            (false, false) => tracing::warn!(
                replica = index + 1,
                "read replica does not answer; reading elsewhere"
            ),
            (true, true) => tracing::info!(replica = index + 1, "read replica answers again"),
            _ => {}
        }
        *down_since = (!up).then(Instant::now);
        up
    }

    /// An idle connection of the pool answers a ping, or a new one can be opened. (The pool's
    /// own acquire is not used for this: it retries a refused connection until its acquire
    /// timeout, which would hold up every read while a replica is down.)
    async fn check(&self) -> bool {
        let pool = self.db.get_postgres_connection_pool();
        if let Some(mut idle) = pool.try_acquire() {
            if idle.ping().await.is_ok() {
                return true;
            }
            idle.close_on_drop();
        }
        match PgConnection::connect_with(&pool.connect_options()).await {
            Ok(probe) => {
                let _ = probe.close().await;
                true
            }
            Err(_) => false,
        }
    }
}

/// Whether `replica` holds a run of `hash` that would answer its request: COMPLETED and not
/// expired by this machine's clock. Only a hint for routing; [`simulation::simulate`] decides.
async fn has_usable_run(replica: &DatabaseConnection, hash: &str) -> bool {
    match runs::find(replica, &RunKey::Hash(hash.to_owned())).await {
        Ok(run) => {
            run.run_status == Some(RunStatus::Completed)
                && run.expires_at.is_none_or(|at| at > Utc::now())
        }
        Err(_) => false,
    }
}
