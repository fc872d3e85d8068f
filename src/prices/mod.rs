//! Bulk price loads into `daily_price`, from CSV files in two shapes (see [`Format`]).
//!
//! What a load guarantees:
//! - It is recorded in `source_load_history` (STARTED, then SUCCESS, PARTIAL or FAILED with
//!   counts) and every price row it writes carries its `load_id`.
//! - Records are upserted on `(instrument_id, trade_date)`: loading a file again leaves one row
//!   per key with the newer values; rows whose values did not change are not rewritten and keep
//!   the `load_id` of the load that wrote those values.
//! - Each batch is written in a transaction of its own: a crash or a lost connection never leaves
//!   a batch half-written, and re-running the load completes it.
//! - The monthly partitions the records need exist before they are written: no record lands in
//!   the DEFAULT partition.
//! - Bad records are rejected with their file line and a reason, the good ones load, and the load
//!   ends PARTIAL (FAILED when nothing could be loaded). A file that cannot be read at all ends
//!   FAILED. Nothing is dropped silently: every record is loaded, rejected, or (weekend forward
//!   fills, when asked) counted as skipped.
//! - Input is bounded: a record dated outside [`LoadOptions::partitions`]' window is rejected, a
//!   line longer than [`LoadOptions::max_line_bytes`] is rejected and reading resumes at the next
//!   line, and a load whose file needs more new partitions than the cap fails before it writes
//!   anything (no row, no partition). Reasons and stored messages escape control characters and
//!   are cut to a bounded length, so the load history can always record the outcome.
//!
//! A file is read twice (see the `parse` module). A first pass collects only the months of its
//! records' dates, so that the partitions the whole load needs are counted against the cap
//! before the first write. Then records are streamed: a reading thread reads the file line by
//! line (a price file has no line breaks inside fields, so a line is a record and line numbers
//! are exact) and validates it while earlier batches are written with binary `COPY` over
//! [`LoadOptions::streams`] sessions at once (see the `streams` and `write` modules). A file that
//! can be read only once (a pipe) gets no first pass: its cap is held batch by batch, so batches
//! written before the one that would go over it stay.

mod batch;
mod layout;
mod months;
mod parse;
mod seen_keys;
mod streams;
mod tickers;
mod values;
mod weekend_fill;
mod write;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use entity::enums::{InstrumentType, LoadStatus};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::error::{Error, IngestError, Result};
use crate::instruments::{self, InstrumentKey, NewInstrument};
use crate::load_history::{self, NewLoad, Outcome};
use crate::partitions::PartitionLimits;
use crate::printable::{self, MESSAGE_CHARS};
pub use layout::{Format, LONG_COLUMNS};
use months::LoadMonths;
pub use parse::MAX_LISTED_REJECTS;
use parse::{ParseJob, Parsed, Stop};
use streams::Streams;
use tickers::{Registrar, Resolver};
use write::Written;

/// Records per batch (and transaction) unless told otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 25_000;

/// The most records per batch: a batch is held in memory (about 120 bytes a record; up to
/// [`LoadOptions::streams`] + 3 batches at a time), and one transaction writes it.
pub const MAX_BATCH_SIZE: usize = 1_000_000;

/// Sessions a load writes on at once unless told otherwise.
pub const DEFAULT_STREAMS: usize = 2;

/// The most sessions a load may write on at once.
pub const MAX_STREAMS: usize = 16;

/// The longest line accepted unless told otherwise, in bytes.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;

/// The most [`LoadOptions::max_line_bytes`] may be: one line is held in memory while it is read.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Which instruments a file's tickers name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickerMatch {
    /// Any instrument with the ticker; records of unknown tickers, and of tickers listed on
    /// several exchanges, are rejected.
    Any,
    /// Only instruments on this exchange; records of unknown tickers are rejected.
    OnExchange(String),
    /// Only instruments of this type on this exchange; unknown tickers are registered as such,
    /// in this currency.
    Register {
        instrument_type: InstrumentType,
        exchange: String,
        currency: String,
    },
}

/// How the foreign keys of written rows are checked (see the `write` module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChecks {
    /// Once per batch when the database allows it, else per row.
    Auto,
    /// Per row, by PostgreSQL's foreign-key triggers.
    PerRow,
}

/// How far reading a file has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub bytes_read: u64,
    pub records_read: u64,
}

/// Called from the reading thread as the file is read.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How to load a file.
#[derive(Clone)]
pub struct LoadOptions {
    /// `None`: told from the header.
    pub format: Option<Format>,
    /// `source_load_history.source_type`.
    pub source_type: String,
    /// `source_load_history.source_name`; `None`: the file name (cut to 100 characters).
    pub source_name: Option<String>,
    pub loaded_by: Option<String>,
    pub tickers: TickerMatch,
    /// Skip weekend records that repeat the instrument's previous values (forward fills).
    pub skip_weekend_fill: bool,
    /// Records per batch (and transaction): 1 to [`MAX_BATCH_SIZE`].
    pub batch_size: usize,
    /// The longest line accepted, in bytes without its line break: 1 to [`MAX_LINE_BYTES`]. A
    /// longer line is rejected, unread, and reading goes on at the next line.
    pub max_line_bytes: usize,
    /// Records dated outside the window are rejected; a load that would create more partitions
    /// than the cap fails before creating any.
    pub partitions: PartitionLimits,
    pub key_checks: KeyChecks,
    /// Sessions written on at once: 1 to [`MAX_STREAMS`]. Sessions beyond the first are taken
    /// only from what the pool can give at once, less one connection kept for the load's other
    /// statements (see [`LoadReport::streams`] for how many wrote).
    pub streams: usize,
    pub progress: Option<ProgressFn>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            format: None,
            source_type: "manual".into(),
            source_name: None,
            loaded_by: None,
            tickers: TickerMatch::Any,
            skip_weekend_fill: false,
            batch_size: DEFAULT_BATCH_SIZE,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            partitions: PartitionLimits::default(),
            key_checks: KeyChecks::Auto,
            streams: DEFAULT_STREAMS,
            progress: None,
        }
    }
}

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("format", &self.format)
            .field("source_type", &self.source_type)
            .field("source_name", &self.source_name)
            .field("loaded_by", &self.loaded_by)
            .field("tickers", &self.tickers)
            .field("skip_weekend_fill", &self.skip_weekend_fill)
            .field("batch_size", &self.batch_size)
            .field("max_line_bytes", &self.max_line_bytes)
            .field("partitions", &self.partitions)
            .field("key_checks", &self.key_checks)
            .field("streams", &self.streams)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// A rejected record: its line in the file (the header is line 1) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    pub line: u64,
    pub reason: String,
}

/// The outcome of a load that ran to the end of its file.
///
/// Counts are records: a line of a long file, a cell of a wide file (a wide line whose date is
/// unreadable is one rejected record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    pub load_id: i64,
    pub status: LoadStatus,
    /// Records now stored with the file's values: inserted + updated + unchanged.
    pub records_loaded: u64,
    pub records_failed: u64,
    /// Weekend forward fills left out.
    pub records_skipped: u64,
    pub records_inserted: u64,
    pub records_updated: u64,
    /// Records whose stored row already had these values (not rewritten).
    pub records_unchanged: u64,
    /// Whether foreign keys were checked once per batch rather than per row.
    pub batched_key_checks: bool,
    /// Sessions the load wrote on at once ([`LoadOptions::streams`], fewer on a busy pool).
    pub streams: usize,
    /// The first [`MAX_LISTED_REJECTS`] rejected records, in file order.
    pub rejects: Vec<Reject>,
}

/// Loads the price file at `path` into `daily_price` (see the module documentation for what it
/// guarantees). The caller's pool is used for `COPY`, on up to [`LoadOptions::streams`] of its
/// connections at once; each batch commits on its own, so this cannot run inside a caller's
/// transaction.
///
/// A load that reads its whole file returns its report, whatever its status: SUCCESS, PARTIAL
/// (some records rejected) or FAILED (records there were, none could be loaded).
///
/// # Errors
/// - [`Error::InvalidInput`] for unusable options, e.g. a batch size or line limit out of range
///   (nothing is recorded);
/// - [`IngestError::UnreadableFile`] when the file cannot be read (missing, unreadable, no usable
///   header): the load is recorded as FAILED;
/// - [`IngestError::LoadFailed`] when the database fails part-way (e.g. a [`DatabaseError::Connection`](crate::DatabaseError::Connection) inside):
///   batches committed before stay, the load is recorded as FAILED if the database can still be
///   reached (else it stays STARTED until [`load_history::mark_stale_failed`]); running the
///   load again completes it. Also when the file's records need more new partitions than
///   [`PartitionLimits::max_new`]
///   ([`PartitionError::TooManyPartitions`](crate::PartitionError::TooManyPartitions) inside,
///   naming the first and last month that would need one): found by a first pass over the file,
///   before anything is written (no row, no partition), and the load is recorded as FAILED with
///   that reason. A file read only once (a pipe) is held to the cap batch by batch instead: the
///   batch that would go over it is refused before any of its partitions is created, and the
///   batches before it stay;
/// - database errors while recording the load's start.
#[tracing::instrument(skip(db, options), fields(path = %path.display()))]
pub async fn load_file(
    db: &DatabaseConnection,
    path: &Path,
    options: &LoadOptions,
) -> Result<LoadReport> {
    check(options)?;
    let source_name = options
        .source_name
        .clone()
        .unwrap_or_else(|| load_history::file_source_name(path));
    let load = load_history::start(
        db,
        &NewLoad {
            source_type: options.source_type.clone(),
            source_name,
            loaded_by: options.loaded_by.clone(),
        },
    )
    .await?;
    let (tally, result) = run(db, path, options, load.load_id).await;
    conclude(db, path, load.load_id, tally, result).await
}

fn check(options: &LoadOptions) -> Result<()> {
    let in_range = |field: &'static str, value: usize, max: usize| {
        if (1..=max).contains(&value) {
            Ok(())
        } else {
            Err(Error::invalid(
                field,
                format!("{value} is not between 1 and {max}"),
            ))
        }
    };
    in_range("batch_size", options.batch_size, MAX_BATCH_SIZE)?;
    in_range("max_line_bytes", options.max_line_bytes, MAX_LINE_BYTES)?;
    in_range("streams", options.streams, MAX_STREAMS)?;
    if let TickerMatch::Register {
        instrument_type,
        exchange,
        currency,
    } = &options.tickers
    {
        let probe = NewInstrument {
            currency: Some(currency.clone()),
            ..NewInstrument::new(*instrument_type, "-", exchange.as_str())
        };
        if let Some(problem) = probe.problem() {
            return Err(Error::invalid("auto-registration", problem));
        }
    }
    Ok(())
}

/// What a load did, whether or not it got to the end.
#[derive(Debug, Default)]
struct Tally {
    written: Written,
    parsed: Parsed,
    batched_key_checks: bool,
    streams: usize,
}

async fn run(
    db: &DatabaseConnection,
    path: &Path,
    options: &LoadOptions,
    load_id: i64,
) -> (Tally, Result<(), Stop>) {
    let mut tally = Tally::default();
    let prepared = async {
        let streams = Streams::open(db, load_id, options.key_checks, options.streams).await?;
        let known = instruments::keys_by_ticker(db).await?;
        Ok::<_, Error>((streams, known))
    };
    let (streams, known) = match prepared.await {
        Ok(ready) => ready,
        Err(e) => return (tally, Err(Stop::Database(e))),
    };
    tally.batched_key_checks = streams.batched_key_checks();
    tally.streams = streams.count();
    let mut months = LoadMonths::new(db, &options.partitions);

    let read = read(db, path, options, load_id, known, &mut months, &streams).await;
    let (written, write_result) = streams.finish(matches!(read, Ok((_, Ok(()))))).await;
    tally.written = written;
    let (parsed, read_result) = read.unwrap_or_else(|stop| (Parsed::default(), Err(stop)));
    tally.parsed = parsed;
    // A failed write stops reading: it is the cause to report.
    let result = write_result.map_err(Stop::Database).and(read_result);
    (tally, result)
}

/// Reads the file (both passes), creating the partitions each batch needs and handing it to the
/// writing sessions. `Err` when the load stopped before the second pass read anything.
async fn read(
    db: &DatabaseConnection,
    path: &Path,
    options: &LoadOptions,
    load_id: i64,
    known: HashMap<String, Vec<InstrumentKey>>,
    months: &mut LoadMonths<'_>,
    streams: &Streams,
) -> Result<(Parsed, Result<(), Stop>), Stop> {
    // The first pass, and the cap held against the whole file before the first write.
    let started = std::time::Instant::now();
    let first_pass = {
        let (path, format) = (path.to_owned(), options.format);
        let (max_line_bytes, window) = (options.max_line_bytes, options.partitions.window);
        tokio::task::spawn_blocking(move || parse::open(&path, format, max_line_bytes, &window))
    };
    let opened = match first_pass.await {
        Ok(opened) => opened?,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    if let Some(file_months) = &opened.months {
        let missing = months.check(file_months).await.map_err(Stop::Database)?;
        tracing::debug!(
            months = file_months.len(),
            missing,
            elapsed_ms = started.elapsed().as_millis(),
            "first pass: the file's months are within the partition cap"
        );
    }

    let registrar = Registrar {
        db: db.clone(),
        runtime: tokio::runtime::Handle::current(),
        data_source: options.source_type.clone(),
    };
    let job = ParseJob {
        file: opened.file,
        format: options.format,
        load_id,
        batch_size: options.batch_size,
        max_line_bytes: options.max_line_bytes,
        window: options.partitions.window,
        skip_weekend_fill: options.skip_weekend_fill,
        resolver: Resolver::new(known, options.tickers.clone(), registrar),
        progress: options.progress.clone(),
    };
    // One batch in the channel and one being filled: reading stays one batch ahead of writing.
    let (sender, mut batches) = mpsc::channel(1);
    let reading = tokio::task::spawn_blocking(move || parse::run(job, sender));

    let mut stopped = None;
    while let Some(batch) = batches.recv().await {
        if let Err(e) = months.ensure(&batch).await {
            stopped = Some(Stop::Database(e));
            break;
        }
        if !streams.send(batch).await {
            break;
        }
    }
    drop(batches);
    let (parsed, read_result) = match reading.await {
        Ok(done) => done,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    Ok((parsed, stopped.map_or(read_result, Err)))
}

/// Records the outcome and turns it into the caller's result.
async fn conclude(
    db: &DatabaseConnection,
    path: &Path,
    load_id: i64,
    tally: Tally,
    result: Result<(), Stop>,
) -> Result<LoadReport> {
    let records_loaded = tally.written.total();
    let records_failed = tally.parsed.failed;
    // Stored messages quote the file (reasons) or the database (errors): escaped and bounded,
    // so that the outcome can always be recorded.
    let failed = |error: String| Outcome::Failed {
        records_loaded,
        records_failed,
        error: printable::bounded(&error, MESSAGE_CHARS),
    };
    let (outcome, error) = match result {
        Ok(()) if records_failed == 0 => (Outcome::Success { records_loaded }, None),
        Ok(()) if records_loaded > 0 => (
            Outcome::Partial {
                records_loaded,
                records_failed,
                summary: printable::bounded(&summary(&tally.parsed), MESSAGE_CHARS),
            },
            None,
        ),
        Ok(()) => (
            failed(format!("nothing loaded: {}", summary(&tally.parsed))),
            None,
        ),
        Err(Stop::Unreadable(reason)) => {
            let reason = printable::bounded(&reason, MESSAGE_CHARS);
            (
                failed(format!("cannot read {}: {reason}", path.display())),
                Some(Error::Ingest(IngestError::UnreadableFile {
                    load_id,
                    path: path.display().to_string(),
                    reason,
                })),
            )
        }
        Err(Stop::Database(e)) => (
            failed(e.to_string()),
            Some(Error::Ingest(IngestError::LoadFailed {
                load_id,
                source: Box::new(e),
            })),
        ),
    };
    let recorded = load_history::finish(db, load_id, &outcome).await;
    if let Some(error) = error {
        if let Err(e) = recorded {
            tracing::warn!(
                load_id,
                "could not record the failed load (it stays STARTED): {e}"
            );
        }
        return Err(error);
    }
    let row = recorded?;
    Ok(LoadReport {
        load_id,
        status: row.load_status,
        records_loaded,
        records_failed,
        records_skipped: tally.parsed.skipped,
        records_inserted: tally.written.inserted,
        records_updated: tally.written.updated,
        records_unchanged: tally.written.unchanged,
        batched_key_checks: tally.batched_key_checks,
        streams: tally.streams,
        rejects: tally.parsed.rejects,
    })
}

/// How many rejects the recorded summary lists.
const SUMMARY_REJECTS: usize = 10;

/// "N records rejected: line L: reason; …" for the load history.
fn summary(parsed: &Parsed) -> String {
    let listed: Vec<String> = parsed
        .rejects
        .iter()
        .take(SUMMARY_REJECTS)
        .map(|r| format!("line {}: {}", r.line, r.reason))
        .collect();
    let more = if parsed.failed > listed.len() as u64 {
        format!("; … {} more", parsed.failed - listed.len() as u64)
    } else {
        String::new()
    };
    format!(
        "{} records rejected: {}{more}",
        parsed.failed,
        listed.join("; ")
    )
}
