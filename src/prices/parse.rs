//! Reading a price file: the file is read as a stream of lines (`lines`: one CSV record per
//! line), every record validated, resolved to an instrument and either accepted into the current
//! batch, skipped (a weekend forward fill, when asked) or rejected with its line number and
//! reason. Full batches go to the writer through a bounded channel, so reading overlaps writing
//! and at most a few batches are in memory.
//!
//! Runs on a blocking thread (CSV parsing is CPU work).

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use chrono::NaiveDate;
use tokio::sync::mpsc;

use super::batch::Batch;
use super::layout::{Layout, LongColumns};
use super::lines::{self, Line, Lines};
use super::printable::{self, REASON_CHARS};
use super::seen_keys::SeenKeys;
use super::tickers::{Resolved, Resolver};
use super::values::{Bar, parse_date_in, parse_price, parse_volume};
use super::weekend_fill::WeekendFill;
use super::{Format, Progress, ProgressFn, Reject};
use crate::csv_header::Header;
use crate::error::Error;
use crate::partitions::DateWindow;

/// How many rejects a report lists (all are counted).
pub const MAX_LISTED_REJECTS: usize = 1000;

/// How often (in records) progress is reported.
const PROGRESS_EVERY: u64 = 16_384;

/// Everything the reading thread needs.
pub(crate) struct ParseJob {
    pub path: PathBuf,
    pub format: Option<Format>,
    pub load_id: i64,
    pub batch_size: usize,
    pub max_line_bytes: usize,
    pub window: DateWindow,
    pub skip_weekend_fill: bool,
    pub resolver: Resolver,
    pub progress: Option<ProgressFn>,
}

/// What reading found besides the accepted records.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub failed: u64,
    pub skipped: u64,
    pub rejects: Vec<Reject>,
}

/// Why reading stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The file (or its header) cannot be read.
    Unreadable(String),
    /// The database failed while registering a ticker.
    Database(Error),
}

/// Reads the whole file, sending full batches to `out`. Returns what was found even when
/// reading stopped early. Stops quietly when the writer hangs up (it reports its own error).
pub(crate) fn run(job: ParseJob, out: mpsc::Sender<Batch>) -> (Parsed, Result<(), Stop>) {
    let ParseJob {
        path,
        format,
        load_id,
        batch_size,
        max_line_bytes,
        window,
        skip_weekend_fill,
        resolver,
        progress,
    } = job;
    let mut parser = Parser {
        resolver,
        seen: SeenKeys::default(),
        fill: skip_weekend_fill.then(WeekendFill::default),
        batch: Batch::with_capacity(batch_size),
        batch_size,
        window,
        load_id,
        out,
        parsed: Parsed::default(),
    };
    let result = parser.read(&path, format, max_line_bytes, progress.as_deref());
    (parser.parsed, result)
}

struct Parser {
    resolver: Resolver,
    seen: SeenKeys,
    fill: Option<WeekendFill>,
    batch: Batch,
    batch_size: usize,
    window: DateWindow,
    load_id: i64,
    out: mpsc::Sender<Batch>,
    parsed: Parsed,
}

/// Whether to go on reading.
enum Flow {
    Continue,
    /// The writer hung up.
    Hangup,
}

/// The file's first line, read into `record`, as a header (none at all: the empty header, which
/// [`Header::parse`] refuses as an empty file).
fn read_header(
    lines: &mut Lines<BufReader<File>>,
    bytes: &mut Vec<u8>,
    record: &mut csv::StringRecord,
) -> Result<Header, Stop> {
    match lines.next_line(bytes) {
        Err(e) => return Err(Stop::Unreadable(e.to_string())),
        Ok(None) => {}
        Ok(Some((_, Line::TooLong(length)))) => {
            return Err(Stop::Unreadable(too_long(
                "header line",
                length,
                lines.max(),
            )));
        }
        Ok(Some((_, Line::Text))) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| Stop::Unreadable("the header line is not valid UTF-8".into()))?;
            lines::split(text, record)
                .map_err(|e| Stop::Unreadable(format!("the header line: {e}")))?;
        }
    }
    Header::parse(record).map_err(Stop::Unreadable)
}

fn too_long(what: &str, length: u64, max: usize) -> String {
    format!("the {what} has {length} bytes, more than the limit of {max}")
}

impl Parser {
    fn read(
        &mut self,
        path: &std::path::Path,
        format: Option<Format>,
        max_line_bytes: usize,
        progress: Option<&(dyn Fn(Progress) + Send + Sync)>,
    ) -> Result<(), Stop> {
        let unreadable = |e: &dyn std::fmt::Display| Stop::Unreadable(e.to_string());
        let file = File::open(path).map_err(|e| unreadable(&e))?;
        let mut lines = Lines::new(BufReader::with_capacity(1 << 16, file), max_line_bytes);
        let (mut bytes, mut record) = (Vec::new(), csv::StringRecord::new());
        let header = read_header(&mut lines, &mut bytes, &mut record)?;
        let layout = Layout::of(&header, format).map_err(Stop::Unreadable)?;

        let mut records = 0u64;
        while let Some((line, read)) = lines.next_line(&mut bytes).map_err(|e| unreadable(&e))? {
            // A blank line is no record (as the csv crate has it).
            if read == Line::Text && bytes.is_empty() {
                continue;
            }
            records += 1;
            if let Some(report) = progress.filter(|_| records.is_multiple_of(PROGRESS_EVERY)) {
                report(Progress {
                    bytes_read: lines.bytes_read(),
                    records_read: records,
                });
            }
            if let Line::TooLong(length) = read {
                self.reject(line, too_long("line", length, max_line_bytes));
                continue;
            }
            let Ok(text) = std::str::from_utf8(&bytes) else {
                self.reject(line, "the line is not valid UTF-8".into());
                continue;
            };
            if let Err(reason) = lines::split(text, &mut record) {
                self.reject(line, reason.into());
                continue;
            }
            if record.len() != header.len() {
                self.reject(
                    line,
                    format!("expected {} fields, found {}", header.len(), record.len()),
                );
                continue;
            }
            let flow = match &layout {
                Layout::Long(columns) => self.long_record(columns, &record, line)?,
                Layout::Wide(tickers) => self.wide_record(tickers, &record, line)?,
            };
            if let Flow::Hangup = flow {
                return Ok(());
            }
        }
        if self.batch.rows() > 0 {
            self.flush();
        }
        if let Some(report) = progress {
            report(Progress {
                bytes_read: lines.bytes_read(),
                records_read: records,
            });
        }
        Ok(())
    }

    fn long_record(
        &mut self,
        columns: &LongColumns,
        record: &csv::StringRecord,
        line: u64,
    ) -> Result<Flow, Stop> {
        let field = |i: usize| record.get(i).unwrap_or("");
        let price = |column: Option<usize>, name: &str| {
            column.map_or(Ok(None), |i| parse_price(name, field(i)))
        };
        let bar = || -> Result<(NaiveDate, Bar), String> {
            let date = parse_date_in(field(columns.trade_date), &self.window)?;
            let bar = Bar {
                open: price(columns.open, "open")?,
                high: price(columns.high, "high")?,
                low: price(columns.low, "low")?,
                close: price(Some(columns.close), "close")?.ok_or("missing close")?,
                adj_close: price(columns.adj_close, "adj_close")?,
                volume: columns
                    .volume
                    .map_or(Ok(None), |i| parse_volume(field(i)))?,
            };
            match bar.problem() {
                Some(problem) => Err(problem),
                None => Ok((date, bar)),
            }
        };
        match bar() {
            Ok((date, bar)) => self.accept(line, field(columns.ticker).trim(), date, bar),
            Err(reason) => {
                self.reject(line, reason);
                Ok(Flow::Continue)
            }
        }
    }

    /// A wide line: an unreadable date rejects the line once; each cell is its own record (an
    /// empty cell is no price, not an error).
    fn wide_record(
        &mut self,
        tickers: &[String],
        record: &csv::StringRecord,
        line: u64,
    ) -> Result<Flow, Stop> {
        let date = match parse_date_in(record.get(0).unwrap_or(""), &self.window) {
            Ok(date) => date,
            Err(reason) => {
                self.reject(line, reason);
                return Ok(Flow::Continue);
            }
        };
        for (ticker, cell) in tickers.iter().zip(record.iter().skip(1)) {
            match parse_price(ticker, cell) {
                Ok(None) => {}
                Ok(Some(price)) => {
                    if let Flow::Hangup =
                        self.accept(line, ticker, date, Bar::adjusted_close(price))?
                    {
                        return Ok(Flow::Hangup);
                    }
                }
                Err(reason) => self.reject(line, reason),
            }
        }
        Ok(Flow::Continue)
    }

    fn accept(&mut self, line: u64, ticker: &str, date: NaiveDate, bar: Bar) -> Result<Flow, Stop> {
        let instrument_id = match self.resolver.resolve(ticker).map_err(Stop::Database)? {
            Resolved::Instrument(id) => id,
            Resolved::Rejected(reason) => {
                self.reject(line, reason);
                return Ok(Flow::Continue);
            }
        };
        if let Some(fill) = &mut self.fill
            && fill.is_fill(instrument_id, date, &bar)
        {
            self.parsed.skipped += 1;
            return Ok(Flow::Continue);
        }
        if !self.seen.insert(instrument_id, date) {
            self.reject(
                line,
                format!(
                    "duplicate: {} on {date} is already on an earlier line",
                    printable::field(ticker)
                ),
            );
            return Ok(Flow::Continue);
        }
        self.batch.push(instrument_id, date, &bar, self.load_id);
        if self.batch.rows() >= self.batch_size as u64 {
            return Ok(self.flush());
        }
        Ok(Flow::Continue)
    }

    fn reject(&mut self, line: u64, reason: String) {
        self.parsed.failed += 1;
        if self.parsed.rejects.len() < MAX_LISTED_REJECTS {
            // Reasons quote fields already cut short; this bounds whatever else they echo.
            let reason = printable::bounded(&reason, REASON_CHARS);
            self.parsed.rejects.push(Reject { line, reason });
        }
    }

    fn flush(&mut self) -> Flow {
        let full = std::mem::replace(&mut self.batch, Batch::with_capacity(self.batch_size));
        match self.out.blocking_send(full) {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Hangup,
        }
    }
}
