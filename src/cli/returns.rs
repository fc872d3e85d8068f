//! `foresto returns compute`: daily returns from prices, for all or chosen tickers and a range.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::NaiveDate;
use foresto::returns::{ReturnsScope, ReturnsSummary, compute_returns};
use sea_orm::DatabaseConnection;

use super::Context;
use super::limits::LimitArgs;
use super::output::{print_json, print_table};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Compute (or re-compute) daily returns from prices; idempotent.
    ///
    /// Re-computes every return that depends on a price dated in the range: the returns dated
    /// in it (the first one from the last price before --from) and each instrument's first
    /// return after --to. Cached simulation runs that read a rewritten return are expired.
    Compute(ComputeArgs),
}

#[derive(Debug, clap::Args)]
struct ComputeArgs {
    /// First return date (YYYY-MM-DD); default: each instrument's first price.
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last price date (YYYY-MM-DD); default: the latest price.
    #[arg(long)]
    to: Option<NaiveDate>,
    /// Only this ticker (repeatable; exact match). A ticker listed on several exchanges selects
    /// all of its instruments, with a note on stderr.
    #[arg(long = "ticker", value_name = "T")]
    tickers: Vec<String>,
    /// Print the summary as JSON on stdout (the one-line summary goes to stderr).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Compute(args) => compute(args, ctx).await,
    }
}

async fn compute(args: ComputeArgs, ctx: &Context) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let instruments = if args.tickers.is_empty() {
        None
    } else {
        Some(resolve_tickers(&db, &args.tickers).await?)
    };
    let scope = ReturnsScope {
        instruments,
        from: args.from,
        to: args.to,
    };
    let mut settings = ctx.settings.clone();
    settings.partitions = args.limits.apply(&ctx.settings.partitions)?;
    let spinner = indicatif::ProgressBar::new_spinner().with_message("computing daily returns");
    spinner.enable_steady_tick(Duration::from_millis(120));
    let summary = compute_returns(&db, &scope, &settings).await;
    spinner.finish_and_clear();
    let summary = summary?;

    for instrument in &summary.instruments {
        for date in &instrument.out_of_range {
            eprintln!(
                "warning: instrument {} on {date}: return does not fit NUMERIC(12,8); recorded as MISSING",
                instrument.instrument_id
            );
        }
    }
    if args.json {
        print_json(&summary)?;
        eprintln!("{}", summary_line(&summary));
    } else {
        if scope.instruments.is_some() {
            print_instruments(&summary);
        }
        println!("{}", summary_line(&summary));
    }
    Ok(())
}

/// Instrument ids of `tickers`. An unknown ticker is an error; a ticker on several exchanges
/// selects all of them (computing a few extra returns is harmless, guessing one is not).
async fn resolve_tickers(db: &DatabaseConnection, tickers: &[String]) -> anyhow::Result<Vec<i64>> {
    use foresto::{Error, InstrumentError};
    let found = match foresto::instruments::find_all_by_tickers(db, tickers).await {
        Err(Error::Instrument(InstrumentError::UnknownInstrument { instrument })) => {
            anyhow::bail!("unknown ticker {instrument:?} (no instrument_master row has it)")
        }
        found => found?,
    };
    for ticker in tickers {
        let several: Vec<String> = found
            .iter()
            .filter(|i| &i.ticker == ticker)
            .map(|i| format!("{} id {}", i.exchange, i.instrument_id))
            .collect();
        if several.len() > 1 {
            eprintln!(
                "note: ticker {ticker} is listed on {} exchanges ({}); computing all of them",
                several.len(),
                several.join(", ")
            );
        }
    }
    let ids: BTreeSet<i64> = found.iter().map(|i| i.instrument_id).collect();
    Ok(ids.into_iter().collect())
}

fn print_instruments(summary: &ReturnsSummary) {
    let rows: Vec<Vec<String>> = summary
        .instruments
        .iter()
        .map(|i| {
            vec![
                i.instrument_id.to_string(),
                i.first_date.to_string(),
                i.last_date.to_string(),
                i.computed.to_string(),
                i.written.to_string(),
                i.missing.to_string(),
            ]
        })
        .collect();
    print_table(
        &[
            "instrument",
            "first",
            "last",
            "computed",
            "written",
            "missing",
        ],
        &rows,
    );
}

fn summary_line(s: &ReturnsSummary) -> String {
    let range = match (s.first_date, s.last_date) {
        (Some(first), Some(last)) => format!("{first}..{last}"),
        _ => "no prices in range".to_owned(),
    };
    format!(
        "returns: {} computed, {} written, {} unchanged, {} MISSING; {} instruments, {range}; \
         engine {}; {} partitions created; {} cached runs expired",
        s.computed,
        s.written,
        s.unchanged,
        s.missing,
        s.instruments.len(),
        s.engine_version,
        s.partitions_created,
        s.runs_expired
    )
}
