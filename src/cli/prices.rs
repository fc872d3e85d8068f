//! `foresto prices load …`: bulk price loads from CSV files.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use entity::enums::{InstrumentType, LoadStatus};
use foresto::load_history;
use foresto::prices::{self, Format, LoadOptions, LoadReport, Progress, Reject, TickerMatch};
use foresto::{Error, IngestError};
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{ActiveEnum, DatabaseConnection};
use serde::Serialize;

use super::Context;
use super::codes::parse_code;
use super::limits::LimitArgs;
use super::output::print_json;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Load a price CSV into daily_price (upsert; one transaction per batch). Long format:
    /// ticker,trade_date,open,high,low,close,adj_close,volume (header required; ticker,
    /// trade_date and close required, other columns may be empty or absent). Wide format:
    /// Date,<TICKER>,<TICKER>… with one adjusted close per cell (loaded as close and adjusted
    /// close; an empty cell is no price).
    Load(LoadArgs),
}

#[derive(Debug, clap::Args)]
struct LoadArgs {
    /// The CSV file.
    csv: PathBuf,
    /// The file's shape, long or wide; told from the header when not given.
    #[arg(long, value_parser = |s: &str| s.parse::<Format>())]
    format: Option<Format>,
    /// Recorded as the load's source type.
    #[arg(long, default_value = "manual")]
    source_type: String,
    /// Recorded as the load's source name [default: the file name].
    #[arg(long)]
    source_name: Option<String>,
    /// Recorded as who ran the load (e.g. batch, admin).
    #[arg(long)]
    loaded_by: Option<String>,
    /// Register unknown tickers as instruments of --type on --exchange in --currency (else
    /// their rows are rejected).
    #[arg(long, requires_all = ["instrument_type", "exchange", "currency"])]
    auto_register: bool,
    /// Instrument type of registered tickers: STOCK, ETF, BOND, INDEX or FX.
    #[arg(long = "type", value_parser = parse_code::<InstrumentType>, requires = "auto_register")]
    instrument_type: Option<InstrumentType>,
    /// Only match instruments on this exchange (needed for tickers listed on several).
    #[arg(long)]
    exchange: Option<String>,
    /// Currency of registered tickers (e.g. USD).
    #[arg(long, requires = "auto_register")]
    currency: Option<String>,
    /// Skip weekend rows that repeat an instrument's previous values (forward fills); they are
    /// counted as skipped.
    #[arg(long)]
    skip_weekend_fill: bool,
    /// Records per batch (and per transaction), at most 1000000.
    #[arg(long, default_value_t = prices::DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// Longest line accepted, in bytes; a longer line is rejected and the next one read.
    #[arg(long, value_name = "BYTES", default_value_t = prices::DEFAULT_MAX_LINE_BYTES)]
    max_line_bytes: usize,
    /// Database sessions written on at once (1 to 16; fewer when the pool cannot spare them).
    #[arg(long, default_value_t = prices::DEFAULT_STREAMS)]
    streams: usize,
    #[command(flatten)]
    limits: LimitArgs,
    /// Print one JSON object (load_id, status, counts, rejects) on stdout; the summary line goes
    /// to stderr.
    #[arg(long)]
    json: bool,
}

/// How many rejects the summary lists.
const SHOWN_REJECTS: usize = 10;

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let Command::Load(args) = args.command;
    let db = ctx.db().await?;
    let tickers = match (
        args.auto_register,
        args.instrument_type,
        &args.exchange,
        &args.currency,
    ) {
        (true, Some(instrument_type), Some(exchange), Some(currency)) => TickerMatch::Register {
            instrument_type,
            exchange: exchange.clone(),
            currency: currency.clone(),
        },
        (_, _, Some(exchange), _) => TickerMatch::OnExchange(exchange.clone()),
        _ => TickerMatch::Any,
    };
    let bar = progress_bar(&args.csv);
    let options = LoadOptions {
        format: args.format,
        source_type: args.source_type.clone(),
        source_name: args.source_name.clone(),
        loaded_by: args.loaded_by.clone(),
        tickers,
        skip_weekend_fill: args.skip_weekend_fill,
        batch_size: args.batch_size,
        max_line_bytes: args.max_line_bytes,
        streams: args.streams,
        partitions: args.limits.apply(&ctx.settings.partitions)?,
        progress: bar.clone().map(|bar| {
            Arc::new(move |p: Progress| bar.set_position(p.bytes_read)) as prices::ProgressFn
        }),
        ..LoadOptions::default()
    };
    let started = Instant::now();
    let result = prices::load_file(&db, &args.csv, &options).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(report) => conclude(&report, started.elapsed(), args.json),
        Err(
            err @ Error::Ingest(
                IngestError::UnreadableFile { load_id, .. }
                | IngestError::LoadFailed { load_id, .. },
            ),
        ) => {
            if args.json {
                print_json(&failed_load(&db, load_id, &err).await)?;
            }
            Err(err.into())
        }
        Err(err) => Err(err.into()),
    }
}

/// A bar over the file's bytes, when stderr is a terminal.
fn progress_bar(path: &Path) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let len = std::fs::metadata(path).ok()?.len();
    let style =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("the template is valid");
    Some(ProgressBar::new(len).with_style(style))
}

fn conclude(report: &LoadReport, elapsed: Duration, json: bool) -> anyhow::Result<()> {
    let summary = summary_line(report, elapsed);
    if json {
        print_json(report)?;
        eprintln!("{summary}");
    } else {
        println!("{summary}");
        for line in reject_lines(&report.rejects, report.records_failed) {
            println!("{line}");
        }
    }
    anyhow::ensure!(
        report.status != LoadStatus::Failed,
        "load {} FAILED: nothing could be loaded ({} records rejected)",
        report.load_id,
        report.records_failed
    );
    Ok(())
}

/// One line: status, counts, speed, load id.
fn summary_line(r: &LoadReport, elapsed: Duration) -> String {
    let records = r.records_loaded + r.records_failed + r.records_skipped;
    let per_second = records as f64 / elapsed.as_secs_f64().max(1e-9);
    format!(
        "load {} {}: {} records loaded ({} new, {} updated, {} unchanged), {} rejected, {} skipped \
         in {:.1} s ({:.0} records/s)",
        r.load_id,
        r.status.to_value(),
        r.records_loaded,
        r.records_inserted,
        r.records_updated,
        r.records_unchanged,
        r.records_failed,
        r.records_skipped,
        elapsed.as_secs_f64(),
        per_second
    )
}

fn reject_lines(rejects: &[Reject], failed: u64) -> Vec<String> {
    let mut lines: Vec<String> = rejects
        .iter()
        .take(SHOWN_REJECTS)
        .map(|r| format!("  line {}: {}", r.line, r.reason))
        .collect();
    let shown = lines.len() as u64;
    if failed > shown {
        lines.push(format!(
            "  … and {} more rejected (--json lists up to {})",
            failed - shown,
            prices::MAX_LISTED_REJECTS
        ));
    }
    lines
}

/// The `--json` object of a load that stopped with an error.
#[derive(Debug, Serialize)]
struct FailedLoad {
    load_id: i64,
    status: LoadStatus,
    records_loaded: u64,
    records_failed: u64,
    /// Not recorded in the load history: unknown once a load has stopped.
    records_skipped: Option<u64>,
    rejects: Vec<Reject>,
    error: String,
}

async fn failed_load(db: &DatabaseConnection, load_id: i64, err: &Error) -> FailedLoad {
    let row = load_history::get(db, load_id).await.ok();
    let count = |n: Option<i32>| n.map_or(0, |n| n.max(0) as u64);
    FailedLoad {
        load_id,
        status: row.as_ref().map_or(LoadStatus::Failed, |r| r.load_status),
        records_loaded: count(row.as_ref().and_then(|r| r.records_loaded)),
        records_failed: count(row.as_ref().and_then(|r| r.records_failed)),
        records_skipped: None,
        rejects: Vec::new(),
        error: err.to_string(),
    }
}
