//! `foresto loads …`: the load history, and closing loads whose process died.

use std::time::Duration;

use entity::enums::LoadStatus;
use foresto::load_history::{self, LoadFilter};
use sea_orm::ActiveEnum;

use super::Context;
use super::codes::parse_code;
use super::output::{print_json, print_table};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List loads, newest first.
    List {
        /// Only loads with this status: STARTED, SUCCESS, PARTIAL or FAILED.
        #[arg(long, value_parser = parse_code::<LoadStatus>)]
        status: Option<LoadStatus>,
        /// Only loads of this source type.
        #[arg(long)]
        source_type: Option<String>,
        /// At most this many loads.
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Print the loads as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Mark as FAILED the loads still STARTED after N minutes whose loader is gone (a loader
    /// that is still running keeps its load).
    MarkStale {
        #[arg(long)]
        older_than_minutes: u64,
        /// Print the loads marked as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    match args.command {
        Command::List {
            status,
            source_type,
            limit,
            json,
        } => {
            let filter = LoadFilter {
                status,
                source_type,
                limit: Some(limit),
                ..LoadFilter::default()
            };
            let loads = load_history::list(&db, &filter).await?;
            if json {
                return print_json(&loads);
            }
            print_loads(&loads);
        }
        Command::MarkStale {
            older_than_minutes,
            json,
        } => {
            let older_than = Duration::from_secs(older_than_minutes.saturating_mul(60));
            let marked = load_history::mark_stale_failed(&db, older_than).await?;
            if json {
                return print_json(&marked);
            }
            println!("{} stale loads marked FAILED", marked.len());
            if !marked.is_empty() {
                print_loads(&marked);
            }
        }
    }
    Ok(())
}

fn print_loads(loads: &[entity::source_load_history::Model]) {
    let time = |t: Option<sea_orm::prelude::DateTimeWithTimeZone>| {
        t.map_or_else(String::new, |t| {
            t.format("%Y-%m-%d %H:%M:%S%:z").to_string()
        })
    };
    let rows: Vec<Vec<String>> = loads
        .iter()
        .map(|l| {
            let error: String = l
                .error_message
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(60)
                .collect();
            vec![
                l.load_id.to_string(),
                l.load_status.to_value(),
                l.source_type.clone(),
                l.source_name.clone(),
                l.records_loaded.unwrap_or(0).to_string(),
                l.records_failed.unwrap_or(0).to_string(),
                time(l.started_at),
                time(l.completed_at),
                error,
            ]
        })
        .collect();
    print_table(
        &[
            "load_id",
            "status",
            "source_type",
            "source_name",
            "loaded",
            "failed",
            "started_at",
            "completed_at",
            "error",
        ],
        &rows,
    );
}
