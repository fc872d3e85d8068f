//! `foresto simulate`: simulate a scenario, or a portfolio given as weights, over a date range,
//! served from the result cache when an identical request is stored.

use chrono::NaiveDate;
use entity::enums::RebalanceFreq;
use entity::simulation_summary;
use foresto::simulation::request::InstrumentWeight;
use foresto::simulation::{self, SimulationOutcome, SimulationRequest, Subject};
use rust_decimal::Decimal;
use serde::Serialize;

use super::Context;
use super::codes::{code, parse_code};
use super::limits::LimitArgs;
use super::output::{print_json, print_table};
use super::pairs;

// Numeric options accept a leading minus sign, so that `--amount -5` reaches the service and
// gets its message rather than clap's "unexpected argument".
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario id, e.g. GROWTH.
    #[arg(long, required_unless_present = "weights", conflicts_with = "weights")]
    scenario: Option<String>,
    /// A portfolio given directly instead of a scenario, as INSTRUMENT=WEIGHT pairs, e.g.
    /// SPY=0.6,TLT=0.4; an instrument is a ticker or id:<N>. At most 4 decimals, summing to at
    /// most 1 (the rest is cash).
    #[arg(long, value_name = "PAIRS")]
    weights: Option<String>,
    /// First day of the window (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    start: NaiveDate,
    /// Last day of the window (YYYY-MM-DD), after --start.
    #[arg(long, value_name = "DATE")]
    end: NaiveDate,
    /// Initial amount (positive, at most 2 decimals).
    #[arg(long, allow_negative_numbers = true)]
    amount: Decimal,
    /// NONE, MONTHLY, QUARTERLY or ANNUAL; default: the scenario portfolio's own, NONE with
    /// --weights.
    #[arg(long, value_parser = parse_code::<RebalanceFreq>)]
    rebalance: Option<RebalanceFreq>,
    /// Annual risk-free rate as a fraction (0.03 = 3 %), for Sharpe and Sortino.
    #[arg(long, default_value = "0", allow_negative_numbers = true)]
    rf: Decimal,
    /// Tolerable loss from the high-water mark, in percent (e.g. 20); the result says whether
    /// and when the path breached it.
    #[arg(long, value_name = "PCT", allow_negative_numbers = true)]
    max_loss: Option<Decimal>,
    /// Days the stored result stays valid (0 or none: forever); default:
    /// $FORESTO_RESULT_TTL_DAYS, else 30.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    ttl_days: Option<String>,
    /// User id recorded on a newly computed run (not part of the request hash).
    #[arg(long, allow_negative_numbers = true)]
    user: Option<i64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    // The window and cap for the `simulation_path` partitions a computed run needs.
    #[command(flatten)]
    limits: LimitArgs,
}

/// The `--json` document.
#[derive(Serialize)]
struct Report<'a> {
    run_id: i64,
    request_hash: &'a str,
    cache_hit: bool,
    engine_version: &'a str,
    summary: &'a simulation_summary::Model,
    loss_limit_breached: Option<bool>,
    first_breach_date: Option<NaiveDate>,
    filled_returns: Option<u32>,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let mut settings = ctx.settings.clone();
    if let Some(days) = &args.ttl_days {
        settings.cache.ttl = foresto::settings::parse_ttl_days(days)?;
    }
    settings.partitions = args.limits.apply(&ctx.settings.partitions)?;
    let request = SimulationRequest {
        subject: subject(args.scenario, args.weights.as_deref())?,
        start_date: args.start,
        end_date: args.end,
        initial_amount: args.amount,
        rebalance_freq: args.rebalance,
        risk_free_rate: args.rf,
        max_loss_limit_pct: args.max_loss,
        engine_version: settings.engine_version().to_owned(),
        user_id: args.user,
    };
    let db = ctx.db().await?;
    let outcome = simulation::simulate(&db, &request, &settings).await?;
    let run = &outcome.stored.run;
    let report = Report {
        run_id: run.run_id,
        request_hash: &run.request_hash,
        cache_hit: outcome.cache_hit,
        engine_version: &run.engine_version,
        summary: &outcome.stored.summary,
        loss_limit_breached: outcome.loss_limit_breached,
        first_breach_date: outcome.first_breach_date,
        filled_returns: outcome.filled_returns,
    };
    if args.json {
        return print_json(&report);
    }
    print_text(&request.subject, &outcome, &report);
    Ok(())
}

/// What `--scenario` or `--weights` (clap makes sure exactly one is given) names.
fn subject(scenario: Option<String>, weights: Option<&str>) -> anyhow::Result<Subject> {
    match (scenario, weights) {
        (Some(scenario_id), _) => Ok(Subject::Scenario { scenario_id }),
        (None, Some(weights)) => Ok(Subject::Portfolio {
            weights: pairs::weights(weights)?
                .into_iter()
                .map(|(instrument, weight)| InstrumentWeight {
                    instrument: instrument.to_owned(),
                    weight,
                })
                .collect(),
        }),
        (None, None) => anyhow::bail!("give --scenario or --weights"),
    }
}

fn print_text(subject: &Subject, outcome: &SimulationOutcome, report: &Report) {
    let run = &outcome.stored.run;
    println!(
        "run {} ({}) — request hash {}",
        run.run_id,
        if report.cache_hit {
            "cache hit"
        } else {
            "computed"
        },
        run.request_hash
    );
    let simulated = match subject {
        Subject::Scenario { scenario_id } => format!("scenario {scenario_id}"),
        Subject::Portfolio { weights } => {
            let listed: Vec<String> = weights
                .iter()
                .map(|w| format!("{}={}", w.instrument, w.weight))
                .collect();
            format!("portfolio {}", listed.join(","))
        }
    };
    println!(
        "{simulated} from {} to {}, amount {}, rebalance {}, engine {}, expires {}",
        run.start_date,
        run.end_date,
        run.initial_amount,
        code(run.rebalance_freq),
        run.engine_version,
        run.expires_at
            .map_or("never".to_owned(), |t| t.to_rfc3339()),
    );
    let mut rows = summary_rows(report.summary);
    if let Some(breached) = report.loss_limit_breached {
        let verdict = match report.first_breach_date {
            Some(date) if breached => format!("breached, first on {date}"),
            _ => "not breached".to_owned(),
        };
        rows.push(vec![
            format!(
                "loss limit {} %",
                run.max_loss_limit_pct.unwrap_or_default()
            ),
            verdict,
        ]);
    }
    if let Some(filled) = report.filled_returns {
        rows.push(vec![
            "missing returns taken as 0".into(),
            filled.to_string(),
        ]);
    }
    print_table(&["FIGURE", "VALUE"], &rows);
}

/// The summary figures as label/value rows; NULL shows as `-`.
pub(super) fn summary_rows(s: &simulation_summary::Model) -> Vec<Vec<String>> {
    let decimal = |v: Option<Decimal>| v.map_or_else(|| "-".to_owned(), |d| d.to_string());
    let int = |v: Option<i32>| v.map_or_else(|| "-".to_owned(), |n| n.to_string());
    [
        ("final value", decimal(s.final_value)),
        ("total return %", s.total_return.to_string()),
        ("CAGR %", decimal(s.cagr)),
        ("volatility %", decimal(s.volatility)),
        ("Sharpe", decimal(s.sharpe_ratio)),
        ("Sortino", decimal(s.sortino_ratio)),
        ("max drawdown %", s.max_drawdown.to_string()),
        ("max recovery days", int(s.max_recovery_days)),
        ("worst 1m return %", decimal(s.worst_1m_return)),
        ("worst 3m return %", decimal(s.worst_3m_return)),
        ("trading days", int(s.trading_days)),
        ("rebalances", int(s.rebalance_count)),
    ]
    .into_iter()
    .map(|(label, value)| vec![label.to_owned(), value])
    .collect()
}
