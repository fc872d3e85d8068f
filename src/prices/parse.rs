//! Reading a price file, in two passes over one open file.
//!
//! - **First pass** ([`open`]): the months the file's records fall in, so that the load can
//!   hold its partition cap against the whole file before it writes anything. Only each
//!   record's date is parsed (no reason is written, nothing is allocated per record), and only
//!   into a set of months, so memory stays bounded by the date window, not the file. A record
//!   whose line or date the loading pass would reject is left out; one it would reject for
//!   another reason (a bad price, an unknown ticker, …) counts, so the months found are all
//!   the load may need, never fewer. A file that is not a regular file (a pipe, a device) can
//!   be read only once: it gets no first pass.
//! - **Loading pass** ([`run`]): every record validated, resolved to an instrument and either
//!   accepted into the current batch, skipped (a weekend forward fill, when asked) or rejected
//!   with its line number and reason. Full batches go to the writer through a bounded channel,
//!   so reading overlaps writing and at most a few batches are in memory.
//!
//! Both passes read records alike ([`Records`]: one CSV record per line, see `csv_lines`). They
//! run on a blocking thread (reading and CSV parsing are blocking and CPU work).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek as _};
use std::path::Path;

use chrono::NaiveDate;
use tokio::sync::mpsc;

use super::batch::Batch;
use super::layout::{Layout, LongColumns};
use super::seen_keys::SeenKeys;
use super::tickers::{Resolved, Resolver};
use super::values::{Bar, date_in, parse_date_in, parse_price, parse_volume};
use super::weekend_fill::WeekendFill;
use super::{Format, Progress, ProgressFn, Reject};
use crate::csv_header::Header;
use crate::csv_lines::{self as lines, Line, Lines};
use crate::error::Error;
use crate::partitions::{DateWindow, month_start};
use crate::printable::{self, REASON_CHARS};

/// How many rejects a report lists (all are counted).
pub const MAX_LISTED_REJECTS: usize = 1000;

/// How often (in records) progress is reported.
const PROGRESS_EVERY: u64 = 16_384;

/// Bytes read from the file at a time.
const READ_BUFFER: usize = 1 << 16;

/// The file to load, opened once for both passes and back at its start.
#[derive(Debug)]
pub(crate) struct Opened {
    pub file: File,
    /// The first days of the months the file's records fall in (see the module
    /// documentation); `None` for a file that can be read only once.
    pub months: Option<BTreeSet<NaiveDate>>,
}

/// Opens the file at `path` and, when it is a regular file, runs the first pass over it (see
/// the module documentation) and rewinds it for the loading pass.
///
/// # Errors
/// [`Stop::Unreadable`] when the file cannot be opened or read, or its header is unusable: as
/// the loading pass would say it.
pub(crate) fn open(
    path: &Path,
    format: Option<Format>,
    max_line_bytes: usize,
    window: &DateWindow,
) -> Result<Opened, Stop> {
    let unreadable = |e: std::io::Error| Stop::Unreadable(e.to_string());
    let file = File::open(path).map_err(unreadable)?;
    if !file.metadata().map_err(unreadable)?.is_file() {
        return Ok(Opened { file, months: None });
    }
    let months = months(
        BufReader::with_capacity(READ_BUFFER, &file),
        format,
        max_line_bytes,
        window,
    )?;
    (&file).rewind().map_err(unreadable)?;
    Ok(Opened {
        file,
        months: Some(months),
    })
}

/// The first pass: the first days of the months of every record in `reader` whose line is
/// usable and whose date lies in `window`.
fn months(
    reader: impl BufRead,
    format: Option<Format>,
    max_line_bytes: usize,
    window: &DateWindow,
) -> Result<BTreeSet<NaiveDate>, Stop> {
    let mut records = Records::open(reader, format, max_line_bytes)?;
    let column = records.layout().date_column();
    let (mut months, mut last) = (BTreeSet::new(), None);
    while let Some((_, usable)) = records.next()? {
        let Some(date) = usable
            .ok()
            .and_then(|()| date_in(records.record().get(column)?, window))
        else {
            continue;
        };
        // Files are mostly in date order within an instrument: skip the set for repeats.
        let month = month_start(date);
        if last != Some(month) {
            months.insert(month);
            last = Some(month);
        }
    }
    Ok(months)
}

/// Everything the reading thread needs.
pub(crate) struct ParseJob {
    /// At its start (see [`open`]).
    pub file: File,
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

/// Why reading (or the load) stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The file (or its header) cannot be read.
    Unreadable(String),
    /// The database failed (e.g. while registering a ticker) or refused the load (its
    /// partition cap).
    Database(Error),
}

/// Reads the whole file, sending full batches to `out`. Returns what was found even when
/// reading stopped early. Stops quietly when the writer hangs up (it reports its own error).
pub(crate) fn run(job: ParseJob, out: mpsc::Sender<Batch>) -> (Parsed, Result<(), Stop>) {
    let ParseJob {
        file,
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
    let result = parser.read(file, format, max_line_bytes, progress.as_deref());
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

/// Why a line is no record. The reason is written only when asked: the first pass ignores
/// such lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unusable {
    /// Longer than the limit: this many bytes.
    TooLong(u64),
    NotUtf8,
    /// Its fields cannot be told apart (a broken quote).
    Split(&'static str),
    /// Not as many fields as the header.
    Fields {
        expected: usize,
        found: usize,
    },
}

impl Unusable {
    fn reason(self, max_line_bytes: usize) -> String {
        match self {
            Unusable::TooLong(length) => too_long("line", length, max_line_bytes),
            Unusable::NotUtf8 => "the line is not valid UTF-8".into(),
            Unusable::Split(reason) => reason.into(),
            Unusable::Fields { expected, found } => {
                format!("expected {expected} fields, found {found}")
            }
        }
    }
}

/// What [`Records::next`] read: the record's line, and whether it is usable.
type RecordAt = (u64, Result<(), Unusable>);

/// A price file's records after its header, one line each: how both passes read a file.
struct Records<R> {
    lines: Lines<R>,
    bytes: Vec<u8>,
    record: csv::StringRecord,
    fields: usize,
    layout: Layout,
    /// Records read so far (blank lines are none).
    count: u64,
}

impl<R: BufRead> Records<R> {
    /// Reads the header (the first line) and tells the layout from it.
    fn open(reader: R, format: Option<Format>, max_line_bytes: usize) -> Result<Self, Stop> {
        let mut lines = Lines::new(reader, max_line_bytes);
        let (mut bytes, mut record) = (Vec::new(), csv::StringRecord::new());
        let header = read_header(&mut lines, &mut bytes, &mut record)?;
        let layout = Layout::of(&header, format).map_err(Stop::Unreadable)?;
        Ok(Self {
            lines,
            bytes,
            record,
            fields: header.len(),
            layout,
            count: 0,
        })
    }

    /// Reads the next record (skipping blank lines): its line number, and whether it is usable
    /// (then its fields are in [`Records::record`]); `None` at the end of the file.
    fn next(&mut self) -> Result<Option<RecordAt>, Stop> {
        loop {
            let Some((line, read)) = self
                .lines
                .next_line(&mut self.bytes)
                .map_err(|e| Stop::Unreadable(e.to_string()))?
            else {
                return Ok(None);
            };
            // A blank line is no record (as the csv crate has it).
            if read == Line::Text && self.bytes.is_empty() {
                continue;
            }
            self.count += 1;
            return Ok(Some((line, self.split(read))));
        }
    }

    fn split(&mut self, read: Line) -> Result<(), Unusable> {
        if let Line::TooLong(length) = read {
            return Err(Unusable::TooLong(length));
        }
        let text = std::str::from_utf8(&self.bytes).map_err(|_| Unusable::NotUtf8)?;
        lines::split(text, &mut self.record).map_err(Unusable::Split)?;
        if self.record.len() != self.fields {
            return Err(Unusable::Fields {
                expected: self.fields,
                found: self.record.len(),
            });
        }
        Ok(())
    }

    /// The fields of the record [`Records::next`] last found usable.
    fn record(&self) -> &csv::StringRecord {
        &self.record
    }

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn progress(&self) -> Progress {
        Progress {
            bytes_read: self.lines.bytes_read(),
            records_read: self.count,
        }
    }
}

/// The file's first line, read into `record`, as a header (none at all: the empty header, which
/// [`Header::parse`] refuses as an empty file).
fn read_header<R: BufRead>(
    lines: &mut Lines<R>,
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
        file: File,
        format: Option<Format>,
        max_line_bytes: usize,
        progress: Option<&(dyn Fn(Progress) + Send + Sync)>,
    ) -> Result<(), Stop> {
        let reader = BufReader::with_capacity(READ_BUFFER, file);
        let mut records = Records::open(reader, format, max_line_bytes)?;
        while let Some((line, usable)) = records.next()? {
            if let Some(report) = progress.filter(|_| records.count.is_multiple_of(PROGRESS_EVERY))
            {
                report(records.progress());
            }
            if let Err(unusable) = usable {
                self.reject(line, unusable.reason(max_line_bytes));
                continue;
            }
            let flow = match records.layout() {
                Layout::Long(columns) => self.long_record(columns, records.record(), line)?,
                Layout::Wide(tickers) => self.wide_record(tickers, records.record(), line)?,
            };
            if let Flow::Hangup = flow {
                return Ok(());
            }
        }
        if self.batch.rows() > 0 {
            self.flush();
        }
        if let Some(report) = progress {
            report(records.progress());
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
        if let Err(e) = self.batch.push(instrument_id, date, &bar, self.load_id) {
            self.reject(line, format!("cannot be encoded for COPY: {e}"));
            return Ok(Flow::Continue);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn month(y: i32, m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, 1).unwrap()
    }

    fn window() -> DateWindow {
        DateWindow::new(month(1900, 1), month(2036, 12)).unwrap()
    }

    fn months_of(text: &str) -> Result<Vec<NaiveDate>, String> {
        match months(text.as_bytes(), None, 40, &window()) {
            Ok(months) => Ok(months.into_iter().collect()),
            Err(Stop::Unreadable(reason)) => Err(reason),
            Err(Stop::Database(e)) => panic!("{e}"),
        }
    }

    #[test]
    fn the_first_pass_finds_the_months_of_long_records_the_loading_pass_could_accept() {
        let text = "close,ticker,trade_date\n\
                    1,SPY,2024-01-02\n\
                    1,SPY,2024-01-03\n\
                    \n\
                    x,NOPE,1990-05-31\n\
                    1,SPY,2024-01-04,extra\n\
                    1,\"SPY,1991-01-01\n\
                    1,SPY,1899-12-31\n\
                    1,SPY,2037-01-01\n\
                    1,SPY,2024-02-30\n\
                    1,SPY,0000-01-06\n\
                    1,SPY,                                         1992-01-01\n\
                    1,SPY,\"2031-12-31\"\r\n\
                    1,SPY,1900-01-01";
        assert_eq!(
            months_of(text).unwrap(),
            [
                month(1900, 1),
                month(1990, 5),
                month(2024, 1),
                month(2031, 12)
            ],
            "bad prices and tickers count; bad lines, field counts, dates and dates outside \
             the window do not"
        );
    }

    #[test]
    fn the_first_pass_reads_a_wide_files_dates() {
        let text = "Date,SPY,QQQ\n2024-03-01,1,\n1993-01-29,,\n2024-03-28,x,2\nsoon,1,2\n";
        assert_eq!(months_of(text).unwrap(), [month(1993, 1), month(2024, 3)]);
    }

    #[test]
    fn the_first_pass_refuses_an_unusable_header_as_the_loading_pass_does() {
        assert!(
            months_of("")
                .unwrap_err()
                .contains("header row is required")
        );
        assert!(
            months_of("when,what\n")
                .unwrap_err()
                .contains("cannot tell")
        );
        assert_eq!(months_of("ticker,trade_date,close\n").unwrap(), []);
    }
}
