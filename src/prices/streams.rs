//! Writing a load's batches over several sessions at once.
//!
//! A single `COPY` stream is bound by the one server process that parses and inserts it; a
//! second stream on another backend nearly doubles what a multi-core server takes in. Batches
//! are key-disjoint (a file's duplicate keys are rejected before batching), so sessions never
//! wait on each other's rows, and each batch still commits on its own: whatever the order they
//! finish in, a batch is stored whole or not at all.
//!
//! Sessions take batches from one queue as they become free. When one fails the others finish
//! the batch in hand and stop; the load reports the first failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::DatabaseConnection;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

use super::KeyChecks;
use super::batch::Batch;
use super::write::{BatchedChecks, Session, Written};
use crate::error::{Error, Result};

/// The writing sessions of one load.
pub(crate) struct Streams {
    queue: mpsc::Sender<Batch>,
    /// Aborted (and their sessions closed) if the load is dropped midway.
    writers: JoinSet<(Session, Written, Result<()>)>,
    failed: Arc<AtomicBool>,
    batched_key_checks: bool,
}

impl Streams {
    /// Opens up to `wanted` sessions for load `load_id`, and at least one. Sessions beyond the
    /// first are taken only from what the pool can give at once (idle connections and room to
    /// open more), leaving one for the load's other statements (partitions, ticker
    /// registration): a load on a pool busy with other work writes on fewer sessions rather than
    /// wait for connections.
    pub(crate) async fn open(
        db: &DatabaseConnection,
        load_id: i64,
        key_checks: KeyChecks,
        wanted: usize,
    ) -> Result<Self> {
        let pool = db.get_postgres_connection_pool();
        let max = usize::try_from(pool.options().get_max_connections()).unwrap_or(usize::MAX);
        let open = usize::try_from(pool.size()).unwrap_or(usize::MAX);
        let available = pool.num_idle() + max.saturating_sub(open);
        let count = wanted.min(available.saturating_sub(1)).max(1);

        let first = Session::open(
            pool.acquire().await?,
            load_id,
            BatchedChecks::FindOut {
                wanted: key_checks == KeyChecks::Auto,
            },
        )
        .await?;
        let batched_key_checks = first.batched_key_checks();
        let mut sessions = vec![first];
        for _ in 1..count {
            let known = BatchedChecks::Known(batched_key_checks);
            sessions.push(Session::open(pool.acquire().await?, load_id, known).await?);
        }

        let (queue, batches) = mpsc::channel(1);
        let batches = Arc::new(Mutex::new(batches));
        let failed = Arc::new(AtomicBool::new(false));
        let mut writers = JoinSet::new();
        for session in sessions {
            writers.spawn(drain(session, Arc::clone(&batches), Arc::clone(&failed)));
        }
        Ok(Self {
            queue,
            writers,
            failed,
            batched_key_checks,
        })
    }

    /// How many sessions write.
    pub(crate) fn count(&self) -> usize {
        self.writers.len()
    }

    /// Whether batches check their foreign keys in bulk (decided by the first session).
    pub(crate) fn batched_key_checks(&self) -> bool {
        self.batched_key_checks
    }

    /// Hands `batch` to the next free session. Returns `false`, dropping the batch, once a
    /// session has failed: the load is ending.
    pub(crate) async fn send(&self, batch: Batch) -> bool {
        !self.failed.load(Ordering::Relaxed) && self.queue.send(batch).await.is_ok()
    }

    /// Waits for every batch handed over to be written (or refused), then tidies the sessions
    /// when all succeeded and `tidy` is asked (a session not tidied is closed, not pooled).
    /// Returns what was written, and the first failure.
    pub(crate) async fn finish(self, tidy: bool) -> (Written, Result<()>) {
        let Self {
            queue, mut writers, ..
        } = self;
        drop(queue);
        let mut written = Written::default();
        let mut result = Ok(());
        let mut sessions = Vec::new();
        while let Some(joined) = writers.join_next().await {
            let (session, wrote, outcome) = match joined {
                Ok(done) => done,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            written += wrote;
            sessions.push(session);
            if let (Ok(()), Err(e)) = (&result, outcome) {
                result = Err(e);
            }
        }
        if tidy && result.is_ok() {
            for session in sessions {
                session.finish().await;
            }
        }
        (written, result)
    }
}

/// One session's loop: write batches from the queue until it closes or a write fails.
async fn drain(
    mut session: Session,
    batches: Arc<Mutex<mpsc::Receiver<Batch>>>,
    failed: Arc<AtomicBool>,
) -> (Session, Written, Result<()>) {
    let mut written = Written::default();
    loop {
        if failed.load(Ordering::Relaxed) {
            return (session, written, Ok(()));
        }
        // The lock is held while waiting, so the next batch goes to exactly one free session.
        let Some(batch) = batches.lock().await.recv().await else {
            return (session, written, Ok(()));
        };
        match session.write(&batch).await {
            Ok(wrote) => written += wrote,
            Err(e) => {
                failed.store(true, Ordering::Relaxed);
                return (session, written, Err::<(), Error>(e));
            }
        }
    }
}
