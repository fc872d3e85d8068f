//! `foresto instruments …`: import a CSV, seed the original universe, find by ticker.

use std::path::PathBuf;

use foresto::instruments::{self, ImportReport};
use sea_orm::ActiveEnum;

use super::Context;
use super::output::{print_json, print_table};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Upsert the instruments of a CSV file, all or nothing. The header is required; columns
    /// (any order): instrument_type, ticker, exchange (required); name_ko, name_en, currency,
    /// sector, is_active, data_source (optional, may be absent; empty keeps the stored value).
    /// A record is one line of at most 65536 bytes; a bad line fails the import with its number.
    Import {
        /// The CSV file.
        csv: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Upsert the original project's universe (KRX ETFs, US ETFs, indices, FX). Idempotent.
    Seed {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the instrument with a ticker.
    Find {
        ticker: String,
        /// The exchange, when the ticker is listed on several.
        #[arg(long)]
        exchange: Option<String>,
        /// Print the instrument as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    match args.command {
        Command::Import { csv, json } => {
            let report = instruments::import_csv(&db, &csv).await?;
            print_report(&format!("imported {}", csv.display()), &report, json)
        }
        Command::Seed { json } => {
            let report = instruments::seed(&db).await?;
            print_report("seeded the instrument universe", &report, json)
        }
        Command::Find {
            ticker,
            exchange,
            json,
        } => {
            let i = instruments::find_by_ticker(&db, &ticker, exchange.as_deref()).await?;
            if json {
                return print_json(&i);
            }
            let text = |v: &Option<String>| v.clone().unwrap_or_default();
            print_table(
                &[
                    "id", "type", "ticker", "exchange", "currency", "name_ko", "name_en", "active",
                ],
                &[vec![
                    i.instrument_id.to_string(),
                    i.instrument_type.to_value(),
                    i.ticker.clone(),
                    i.exchange.clone(),
                    i.currency.clone(),
                    text(&i.name_ko),
                    text(&i.name_en),
                    i.is_active.map_or_else(String::new, |a| a.to_string()),
                ]],
            );
            Ok(())
        }
    }
}

fn print_report(what: &str, report: &ImportReport, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(report);
    }
    println!(
        "{what}: {} inserted, {} updated, {} unchanged (load {})",
        report.inserted, report.updated, report.unchanged, report.load_id
    );
    Ok(())
}
