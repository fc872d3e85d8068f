//! `foresto scenarios list|show`: the managed scenarios and the portfolio in force on a date.

use chrono::NaiveDate;
use foresto::scenarios::{self, ScenarioDetail};

use super::Context;
use super::codes::code;
use super::output::{print_json, print_table};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Active scenarios in display order.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One scenario with the portfolio version in force on a date and its holdings.
    Show {
        /// Scenario id, e.g. GROWTH.
        id: String,
        /// Date the portfolio must be in force on (YYYY-MM-DD); default: today (UTC).
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    match args.command {
        Command::List { json } => {
            let list = scenarios::list_active(&db).await?;
            if json {
                return print_json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .into_iter()
                .map(|s| {
                    vec![
                        s.display_order.map(|o| o.to_string()).unwrap_or_default(),
                        s.scenario_id,
                        s.name_ko,
                        s.name_en.unwrap_or_default(),
                        code(s.risk_level),
                    ]
                })
                .collect();
            print_table(&["ORDER", "ID", "NAME_KO", "NAME_EN", "RISK"], &rows);
            Ok(())
        }
        Command::Show { id, as_of, json } => {
            let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let detail = scenarios::detail(&db, &id, as_of).await?;
            if json {
                print_json(&detail)
            } else {
                print_detail(&detail);
                Ok(())
            }
        }
    }
}

fn print_detail(detail: &ScenarioDetail) {
    let s = &detail.scenario;
    println!(
        "{} — {} / {}",
        s.scenario_id,
        s.name_ko,
        s.name_en.as_deref().unwrap_or("-")
    );
    for (label, value) in [
        ("risk level", Some(code(s.risk_level))),
        ("active", s.is_active.map(|a| a.to_string())),
        ("description", s.description.clone()),
        ("objective", s.objective.clone()),
        ("target investor", s.target_investor.clone()),
    ] {
        println!("{label}: {}", value.as_deref().unwrap_or("-"));
    }
    println!("disclaimer: {}", s.disclaimer);
    println!();
    let Some(version) = &detail.portfolio else {
        println!("no portfolio version in force on {}", detail.as_of);
        return;
    };
    let p = &version.portfolio;
    println!(
        "portfolio {} (id {}) in force on {}: effective {}, expires {}, rebalance {}",
        p.portfolio_name,
        p.portfolio_id,
        detail.as_of,
        p.effective_date,
        p.expiry_date.map_or("never".to_owned(), |d| d.to_string()),
        code(p.rebalance_freq),
    );
    let rows: Vec<Vec<String>> = version
        .holdings
        .iter()
        .map(|h| {
            vec![
                h.instrument.ticker.clone(),
                h.instrument.exchange.clone(),
                h.instrument
                    .name_en
                    .clone()
                    .or_else(|| h.instrument.name_ko.clone())
                    .unwrap_or_default(),
                code(h.allocation.asset_class),
                h.allocation.weight.to_string(),
            ]
        })
        .collect();
    print_table(
        &["TICKER", "EXCHANGE", "NAME", "ASSET CLASS", "WEIGHT"],
        &rows,
    );
}
