//! `foresto quality`: the data-quality report, one row per instrument.

use std::collections::BTreeSet;
use std::fmt::Display;

use chrono::NaiveDate;
use foresto::quality::{
    DEFAULT_JUMP, DEFAULT_MIN_FILL_RUN, DEFAULT_STALE_DAYS, Finding, Flag, InstrumentQuality,
    QualityOptions, QualityReport, Span, report,
};
use rust_decimal::Decimal;

use super::Context;
use super::output::{print_json, print_table};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this ticker (repeatable; exact match; every exchange it is listed on).
    #[arg(long = "ticker", value_name = "T")]
    tickers: Vec<String>,
    /// First date examined (YYYY-MM-DD); default: each instrument's first row.
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last date examined, and the day staleness is measured to (YYYY-MM-DD); default: the
    /// latest price of any instrument.
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Business days without a price through --as-of that make an instrument stale.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_STALE_DAYS, allow_negative_numbers = true)]
    stale_days: i64,
    /// Shortest run of rows with identical close and adjusted close flagged as a forward fill.
    #[arg(long, value_name = "K", default_value_t = DEFAULT_MIN_FILL_RUN, allow_negative_numbers = true)]
    fill_run: i64,
    /// Flag stored returns whose |daily_return| is above this fraction.
    #[arg(long, value_name = "X", default_value_t = DEFAULT_JUMP, allow_negative_numbers = true)]
    jump: Decimal,
    /// Print the report as one JSON document.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let instruments = if args.tickers.is_empty() {
        None
    } else {
        let found = foresto::instruments::find_all_by_tickers(&db, &args.tickers).await?;
        let ids: BTreeSet<i64> = found.iter().map(|i| i.instrument_id).collect();
        Some(ids.into_iter().collect())
    };
    let options = QualityOptions {
        instruments,
        from: args.from,
        as_of: args.as_of,
        stale_days: args.stale_days,
        min_fill_run: args.fill_run,
        jump: args.jump,
    };
    let report = report(&db, &options).await?;
    if args.json {
        return print_json(&report);
    }
    print_text(&report);
    Ok(())
}

/// The column heading of each flag.
fn heading(flag: Flag) -> &'static str {
    match flag {
        Flag::Gaps => "gaps",
        Flag::Stale => "stale",
        Flag::FillRuns => "fills",
        Flag::MissingReturns => "missing",
        Flag::ImputedReturns => "imputed",
        Flag::Jumps => "jumps",
        Flag::NonPositivePrices => "<=0",
        Flag::HighBelowLow => "high<low",
        Flag::CloseOutsideRange => "close∉[low,high]",
    }
}

fn span(s: &Span) -> String {
    if s.first == s.last {
        format!("{} ({})", s.first, s.days)
    } else {
        format!("{}..{} ({})", s.first, s.last, s.days)
    }
}

fn date(d: &NaiveDate) -> String {
    d.to_string()
}

/// A finding's cell ("-" when clean) and its examples (with "…" when there are more).
fn shown<T>(f: &Finding<T>, example: fn(&T) -> String) -> (String, String) {
    if !f.found() {
        return ("-".into(), String::new());
    }
    let mut examples: Vec<String> = f.examples.iter().map(example).collect();
    if f.count > f.examples.len() as i64 {
        examples.push("…".into());
    }
    (f.count.to_string(), examples.join(", "))
}

/// What the table shows for `flag` and what the detail line lists.
fn cell(i: &InstrumentQuality, flag: Flag) -> (String, String) {
    match flag {
        // The cell counts the missing days, the details list the gaps they form.
        Flag::Gaps => match shown(&i.gaps, span) {
            (_, gaps) if i.gaps.found() => (i.missing_business_days.to_string(), gaps),
            clean => clean,
        },
        Flag::Stale => match (i.stale, i.business_days_since_last) {
            (false, _) => ("-".into(), String::new()),
            (true, Some(days)) => (
                days.to_string(),
                format!("{days} business days without a price"),
            ),
            (true, None) => ("none".into(), "no prices in the window".into()),
        },
        Flag::FillRuns => shown(&i.fill_runs, span),
        Flag::MissingReturns => shown(&i.missing_returns, date),
        Flag::ImputedReturns => shown(&i.imputed_returns, date),
        Flag::Jumps => shown(&i.jumps, date),
        Flag::NonPositivePrices => shown(&i.non_positive_prices, date),
        Flag::HighBelowLow => shown(&i.high_below_low, date),
        Flag::CloseOutsideRange => shown(&i.close_outside_range, date),
    }
}

fn or_dash(value: Option<impl Display>) -> String {
    value.map_or_else(|| "-".into(), |v| v.to_string())
}

fn print_text(r: &QualityReport) {
    println!(
        "Data quality {}, as of {}: stale after {} business days, fill runs of {}+ rows, jumps above {}\n",
        r.from
            .map_or_else(|| "over all rows".to_owned(), |f| format!("from {f}")),
        or_dash(r.as_of),
        r.stale_days,
        r.min_fill_run,
        r.jump
    );
    let mut header = vec!["ticker", "exchange", "id", "first", "last", "rows"];
    header.extend(Flag::ALL.map(heading));
    let rows: Vec<Vec<String>> = r
        .instruments
        .iter()
        .map(|i| {
            let mut row = vec![
                i.ticker.clone(),
                i.exchange.clone(),
                i.instrument_id.to_string(),
                or_dash(i.first_price),
                or_dash(i.last_price),
                i.price_rows.to_string(),
            ];
            row.extend(Flag::ALL.map(|flag| cell(i, flag).0));
            row
        })
        .collect();
    print_table(&header, &rows);

    let flagged: Vec<&InstrumentQuality> = r
        .instruments
        .iter()
        .filter(|i| !i.flags.is_empty())
        .collect();
    if !flagged.is_empty() {
        println!();
    }
    for i in flagged {
        let details: Vec<String> = i
            .flags
            .iter()
            .map(|&flag| format!("{}: {}", flag.name(), cell(i, flag).1))
            .collect();
        println!(
            "{} on {} (id {}) — {}",
            i.ticker,
            i.exchange,
            i.instrument_id,
            details.join("; ")
        );
    }
    println!("\n{}", summary_line(r));
}

fn summary_line(r: &QualityReport) -> String {
    let s = &r.summary;
    let by_flag: Vec<String> = s
        .by_flag
        .iter()
        .map(|(flag, n)| format!("{} {n}", flag.name()))
        .collect();
    format!(
        "quality: {} instruments, {} clean, {} flagged{}; as of {}",
        s.instruments,
        s.clean,
        s.flagged,
        if by_flag.is_empty() {
            String::new()
        } else {
            format!(" ({})", by_flag.join(", "))
        },
        or_dash(r.as_of)
    )
}
