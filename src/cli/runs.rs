//! `foresto runs list|show|cleanup|chart`: stored simulation runs.

use std::path::PathBuf;

use chrono::NaiveDate;
use entity::enums::RunStatus;
use entity::{simulation_run, simulation_summary};
use foresto::engine::StoredPathPoint;
use foresto::simulation::cleanup::{CleanupOptions, cleanup_expired};
use foresto::simulation::{RunFilter, RunKey, runs};
use serde::Serialize;

use super::Context;
use super::codes::{code, parse_code};
use super::output::{print_json, print_table};
use super::simulate::summary_rows;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Stored runs, newest first.
    List {
        /// Only runs of this scenario.
        #[arg(long)]
        scenario: Option<String>,
        /// Only runs of this user id.
        #[arg(long)]
        user: Option<i64>,
        /// Only runs in this status: RUNNING, COMPLETED or FAILED.
        #[arg(long, value_parser = parse_code::<RunStatus>)]
        status: Option<RunStatus>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One run: request parameters, summary, and optionally its path.
    Show {
        /// Run id or 64-digit request hash.
        run: String,
        /// Include the daily path.
        #[arg(long)]
        path: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete expired runs (path and summary go with them), in batches.
    Cleanup {
        /// Count what would be deleted; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only runs that expired before this date (YYYY-MM-DD, midnight UTC).
        #[arg(long, value_name = "DATE")]
        before: Option<NaiveDate>,
        /// Runs per transaction.
        #[arg(long, default_value_t = 500)]
        batch_size: u64,
        /// Write each run to DIR/run-<id>-<hash>.json.gz before deleting it.
        #[arg(long, value_name = "DIR")]
        archive: Option<PathBuf>,
    },
    /// Chart runs on one time axis: cumulative return above, drawdown beneath (SVG or PNG).
    Chart {
        /// Run ids or request hashes.
        #[arg(required = true)]
        runs: Vec<String>,
        /// Output file; the extension (.svg or .png) picks the format.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Chart title.
        #[arg(long, default_value = "Foresto simulation runs")]
        title: String,
    },
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    match args.command {
        Command::List {
            scenario,
            user,
            status,
            limit,
            json,
        } => {
            let filter = RunFilter {
                scenario_id: scenario,
                user_id: user,
                status,
                limit: Some(limit),
            };
            let list = runs::list(&db, &filter).await?;
            if json {
                return print_json(&list);
            }
            let rows: Vec<Vec<String>> = list.iter().map(list_row).collect();
            print_table(
                &[
                    "RUN", "HASH", "SCENARIO", "USER", "START", "END", "AMOUNT", "STATUS",
                    "CREATED", "EXPIRES",
                ],
                &rows,
            );
            Ok(())
        }
        Command::Show { run, path, json } => {
            let key: RunKey = run.parse()?;
            let run = runs::find(&db, &key).await?;
            let summary = runs::summary(&db, run.run_id).await?;
            let path = if path {
                Some(runs::path(&db, run.run_id).await?)
            } else {
                None
            };
            if json {
                return print_json(&Shown {
                    run: &run,
                    summary: summary.as_ref(),
                    path: path
                        .as_deref()
                        .map(|p| p.iter().map(PathJson::from).collect()),
                });
            }
            print_run(&run, summary.as_ref(), path.as_deref())
        }
        Command::Chart { runs, out, title } => {
            let mut series = Vec::with_capacity(runs.len());
            for run in &runs {
                series.push(foresto::chart::run_series(&db, &run.parse()?).await?);
            }
            foresto::chart::render(&series, &title, &out)?;
            println!("wrote {} ({} runs)", out.display(), series.len());
            Ok(())
        }
        Command::Cleanup {
            dry_run,
            before,
            batch_size,
            archive,
        } => {
            let options = CleanupOptions {
                dry_run,
                before,
                batch_size,
                archive_dir: archive,
            };
            let report = cleanup_expired(&db, &options).await?;
            if dry_run {
                println!("{} expired runs would be deleted", report.expired);
            } else {
                println!(
                    "deleted {} expired runs in {} batches{}",
                    report.deleted,
                    report.batches,
                    if report.archived.is_empty() {
                        String::new()
                    } else {
                        format!(", archived {} files", report.archived.len())
                    }
                );
            }
            Ok(())
        }
    }
}

fn list_row(r: &simulation_run::Model) -> Vec<String> {
    let time = |t: Option<sea_orm::prelude::DateTimeWithTimeZone>| {
        t.map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        )
    };
    vec![
        r.run_id.to_string(),
        r.request_hash.chars().take(12).collect(),
        r.scenario_id.clone().unwrap_or_else(|| "-".into()),
        r.user_id.map_or_else(|| "-".into(), |u| u.to_string()),
        r.start_date.to_string(),
        r.end_date.to_string(),
        r.initial_amount.to_string(),
        code(r.run_status),
        time(r.created_at),
        time(r.expires_at),
    ]
}

/// The `runs show --json` document.
#[derive(Serialize)]
struct Shown<'a> {
    run: &'a simulation_run::Model,
    summary: Option<&'a simulation_summary::Model>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<Vec<PathJson>>,
}

/// A path point in JSON: decimals as exact strings, like every other decimal the CLI prints.
#[derive(Serialize)]
struct PathJson {
    date: NaiveDate,
    nav: String,
    daily_return: Option<String>,
    cumulative_return: Option<String>,
    drawdown: Option<String>,
    high_water_mark: Option<String>,
}

impl From<&StoredPathPoint> for PathJson {
    fn from(p: &StoredPathPoint) -> Self {
        let text = |v: Option<rust_decimal::Decimal>| v.map(|d| d.to_string());
        Self {
            date: p.date,
            nav: p.nav.to_string(),
            daily_return: text(p.daily_return),
            cumulative_return: text(p.cumulative_return),
            drawdown: text(p.drawdown),
            high_water_mark: text(p.high_water_mark),
        }
    }
}

fn print_run(
    run: &simulation_run::Model,
    summary: Option<&simulation_summary::Model>,
    path: Option<&[StoredPathPoint]>,
) -> anyhow::Result<()> {
    println!("run {} — {}", run.run_id, code(run.run_status));
    println!("request hash {}", run.request_hash);
    println!(
        "scenario {}, portfolio {}, user {}, engine {}",
        run.scenario_id.as_deref().unwrap_or("-"),
        run.portfolio_id
            .map_or_else(|| "-".into(), |p| p.to_string()),
        run.user_id.map_or_else(|| "-".into(), |u| u.to_string()),
        run.engine_version
    );
    println!(
        "window {} to {}, amount {}, rebalance {}, loss limit {}",
        run.start_date,
        run.end_date,
        run.initial_amount,
        code(run.rebalance_freq),
        run.max_loss_limit_pct
            .map_or_else(|| "-".into(), |p| format!("{p} %"))
    );
    println!(
        "created {}, expires {}",
        run.created_at
            .map_or_else(|| "-".into(), |t| t.to_rfc3339()),
        run.expires_at
            .map_or_else(|| "never".into(), |t| t.to_rfc3339())
    );
    if let Some(error) = &run.error_message {
        println!("error: {error}");
    }
    if let Some(params) = &run.request_params {
        println!("request {}", serde_json::to_string(params)?);
    }
    println!();
    match summary {
        Some(summary) => print_table(&["FIGURE", "VALUE"], &summary_rows(summary)),
        None => println!("no summary"),
    }
    if let Some(path) = path {
        println!();
        let text =
            |v: Option<rust_decimal::Decimal>| v.map_or_else(|| "-".into(), |d| d.to_string());
        let rows: Vec<Vec<String>> = path
            .iter()
            .map(|p| {
                vec![
                    p.date.to_string(),
                    p.nav.to_string(),
                    text(p.daily_return),
                    text(p.cumulative_return),
                    text(p.drawdown),
                    text(p.high_water_mark),
                ]
            })
            .collect();
        print_table(
            &["DATE", "NAV", "DAILY", "CUMULATIVE", "DRAWDOWN", "HWM"],
            &rows,
        );
    }
    Ok(())
}
