//! `foresto partitions …`: monthly partition upkeep — partitions ahead of time, the catalog view,
//! rows stranded in DEFAULT partitions, and retention.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use foresto::partitions::{
    self, DetachedPartition, DroppedPartition, MonthlyPartition, PartitionInfo, PartitionKind,
    Retention, RowCounting,
};
use foresto::{Error, PartitionError};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::Context;
use super::output::{print_json, print_table};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create the monthly partitions of daily_price, daily_return and simulation_path for the
    /// current month and N months ahead.
    Ensure {
        /// Months after the current one to cover.
        #[arg(long, default_value_t = 6)]
        months_ahead: u32,
        /// Report what would be created; create nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the partitions as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every partition of the three parents with row counts and total sizes.
    List {
        /// Row counts from pg_class.reltuples (instant, as of the last ANALYZE) instead of an
        /// exact count(*).
        #[arg(long)]
        estimate: bool,
        /// Print the partitions as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Report rows sitting in DEFAULT partitions, by month.
    CheckDefault {
        /// Move them into their monthly partitions (created as needed); fails when some rows
        /// cannot move (the table says why).
        #[arg(long = "move")]
        move_rows: bool,
        /// Print the months as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Drop monthly partitions whose month ended more than N whole months before the current
    /// month, optionally archiving each to DIR/<partition>.csv.gz first. DEFAULT partitions and
    /// younger partitions are never dropped. Drops that stopped part-way (see `list`) are
    /// finished.
    Drop {
        /// Keep this many whole months before the current one (at least 1).
        #[arg(long)]
        older_than_months: u32,
        /// Write each partition's rows to DIR/<partition>.csv.gz before dropping it; a partition
        /// whose archive cannot be written is not dropped.
        #[arg(long, value_name = "DIR")]
        archive: Option<PathBuf>,
        /// Only these partitions (repeatable), each still subject to the age rule.
        #[arg(long = "partition", value_name = "NAME")]
        partitions: Vec<String>,
        /// Report what would be dropped; drop nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the partitions as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Attach a partition that a drop detached and did not finish to its parent again (rows of
    /// its month that reached the DEFAULT partition meanwhile move back into it).
    Reattach {
        /// The partition's name (<parent>_YYYYMM) or its detached table's (…_detached).
        name: String,
        /// Print the partition as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let today = Utc::now().date_naive();
    match args.command {
        Command::Ensure {
            months_ahead,
            dry_run,
            json,
        } => ensure(ctx, today, months_ahead, dry_run, json).await,
        Command::List { estimate, json } => list(ctx, estimate, json).await,
        Command::CheckDefault { move_rows, json } => check_default(ctx, move_rows, json).await,
        Command::Drop {
            older_than_months,
            archive,
            partitions,
            dry_run,
            json,
        } => {
            let retention = Retention::older_than(today, older_than_months)?;
            let plan = DropPlan {
                retention,
                archive,
                names: partitions,
                dry_run,
            };
            drop_old(ctx, plan, json).await
        }
        Command::Reattach { name, json } => reattach(ctx, &name, json).await,
    }
}

fn spinner(message: &'static str) -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_message(message);
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

async fn ensure(
    ctx: &Context,
    today: NaiveDate,
    months_ahead: u32,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let progress = spinner("ensuring partitions");
    let result = if dry_run {
        partitions::missing_ahead(&db, today, months_ahead).await
    } else {
        partitions::ensure_ahead(&db, today, months_ahead).await
    };
    progress.finish_and_clear();
    let partitions = result?;

    let verb = if dry_run { "would create" } else { "created" };
    let line = format!(
        "partitions: {verb} {} (current month + {months_ahead}, 3 parents){}",
        partitions.len(),
        if dry_run { "; dry run" } else { "" }
    );
    #[derive(Serialize)]
    struct Report<'a> {
        dry_run: bool,
        months_ahead: u32,
        partitions: &'a [MonthlyPartition],
    }
    finish(
        json,
        &Report {
            dry_run,
            months_ahead,
            partitions: &partitions,
        },
        &line,
        || {
            let rows: Vec<Vec<String>> = partitions
                .iter()
                .map(|p| vec![p.parent.to_string(), p.name.clone(), month(p.month)])
                .collect();
            print_table(&["parent", "partition", "month"], &rows);
        },
    )
}

async fn list(ctx: &Context, estimate: bool, json: bool) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let counting = if estimate {
        RowCounting::Estimated
    } else {
        RowCounting::Exact
    };
    let progress = spinner("reading partitions");
    let result = partitions::list(&db, counting).await;
    let detached = partitions::detached_partitions(&db, counting).await;
    progress.finish_and_clear();
    let partitions = result?;
    // On stderr, so that the list's own output keeps its shape.
    for d in detached? {
        eprintln!("{}", detached_note(&d));
    }

    let rows: i64 = partitions.iter().filter_map(|p| p.rows).sum();
    let unknown = partitions.iter().filter(|p| p.rows.is_none()).count();
    let bytes: i64 = partitions.iter().map(|p| p.total_bytes).sum();
    let line = format!(
        "partitions: {} partitions, {}{rows} rows{}, {}",
        partitions.len(),
        if estimate { "~" } else { "" },
        if unknown > 0 {
            format!(" ({unknown} never analysed: count unknown)")
        } else {
            String::new()
        },
        human_bytes(bytes)
    );
    finish(json, &partitions, &line, || {
        let rows: Vec<Vec<String>> = partitions
            .iter()
            .map(|p| {
                vec![
                    p.parent.to_string(),
                    p.name.clone(),
                    kind(p),
                    p.rows.map_or_else(|| "?".to_owned(), |r| r.to_string()),
                    human_bytes(p.total_bytes),
                ]
            })
            .collect();
        print_table(&["parent", "partition", "range", "rows", "size"], &rows);
    })
}

async fn check_default(ctx: &Context, move_rows: bool, json: bool) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let progress = spinner(if move_rows {
        "moving rows out of DEFAULT partitions"
    } else {
        "counting rows in DEFAULT partitions"
    });
    let result = if move_rows {
        partitions::move_default_rows_report(&db)
            .await
            .map(|r| (r.moved, r.left))
    } else {
        partitions::default_rows(&db).await.map(|f| (f, Vec::new()))
    };
    progress.finish_and_clear();
    let (months, left) = result?;

    let rows: i64 = months.iter().map(|m| m.rows).sum();
    let left_rows: i64 = left.iter().map(|m| m.rows).sum();
    let mut line = match (rows, move_rows) {
        (0, _) if left.is_empty() => "partitions: DEFAULT partitions are empty".to_owned(),
        (_, true) => format!(
            "partitions: moved {rows} rows from DEFAULT into {} monthly partitions",
            months.len()
        ),
        (_, false) => format!(
            "partitions: {rows} rows of {} months in DEFAULT partitions; run with --move to move them",
            months.len()
        ),
    };
    if !left.is_empty() {
        line += &format!(
            "; {left_rows} rows of {} months stay in DEFAULT",
            left.len()
        );
    }
    #[derive(Serialize)]
    struct Report<'a> {
        moved: bool,
        rows: i64,
        months: &'a [partitions::DefaultRows],
        #[serde(skip_serializing_if = "Option::is_none")]
        left: Option<&'a [partitions::LeftInDefault]>,
    }
    finish(
        json,
        &Report {
            moved: move_rows,
            rows,
            months: &months,
            left: move_rows.then_some(&left),
        },
        &line,
        || {
            let mut header = vec!["parent", "default partition", "month", "rows"];
            let mut rows: Vec<Vec<String>> = months
                .iter()
                .map(|m| {
                    vec![
                        m.parent.to_string(),
                        m.partition.clone(),
                        month(m.month),
                        m.rows.to_string(),
                    ]
                })
                .collect();
            if move_rows {
                header.push("result");
                for row in &mut rows {
                    row.push("moved".to_owned());
                }
                rows.extend(left.iter().map(|m| {
                    vec![
                        m.parent.to_string(),
                        m.partition.clone(),
                        month(m.month),
                        m.rows.to_string(),
                        format!("left: {}", m.reason),
                    ]
                }));
            }
            print_table(&header, &rows);
        },
    )?;
    anyhow::ensure!(
        left.is_empty(),
        "{left_rows} rows of {} months could not be moved out of DEFAULT partitions (see the report)",
        left.len()
    );
    Ok(())
}

/// A partition dropped, or (dry run) that would be.
#[derive(Serialize)]
struct DropRow {
    parent: String,
    name: String,
    month: Option<NaiveDate>,
    rows: i64,
    archive: Option<PathBuf>,
}

impl DropRow {
    fn attached(p: &PartitionInfo) -> Self {
        Self {
            parent: p.parent.to_string(),
            name: p.name.clone(),
            month: p.month(),
            rows: p.rows.unwrap_or(0),
            archive: None,
        }
    }

    fn detached(d: &DetachedPartition) -> Self {
        Self {
            parent: d.parent.to_string(),
            name: d.partition.clone(),
            month: Some(d.month),
            rows: d.rows.unwrap_or(0),
            archive: None,
        }
    }
}

impl From<DroppedPartition> for DropRow {
    fn from(d: DroppedPartition) -> Self {
        Self {
            parent: d.parent.to_string(),
            name: d.name,
            month: Some(d.month),
            rows: d.rows,
            archive: d.archive,
        }
    }
}

struct DropPlan {
    retention: Retention,
    archive: Option<PathBuf>,
    names: Vec<String>,
    dry_run: bool,
}

async fn drop_old(ctx: &Context, plan: DropPlan, json: bool) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    // Drops that stopped part-way are finished like any other candidate of their month.
    let detached = partitions::detached_partitions(&db, RowCounting::Exact).await?;
    let mut candidates: Vec<DropRow> = Vec::new();
    if plan.names.is_empty() {
        let attached =
            partitions::retention_candidates(&db, &plan.retention, RowCounting::Exact).await?;
        candidates.extend(attached.iter().map(DropRow::attached));
        candidates.extend(
            detached
                .iter()
                .filter(|d| plan.retention.covers_month(d.month))
                .map(DropRow::detached),
        );
    } else {
        for name in &plan.names {
            match partitions::check_droppable(&db, name, &plan.retention, RowCounting::Exact).await
            {
                Ok(p) => candidates.push(DropRow::attached(&p)),
                Err(Error::Partition(PartitionError::UnknownPartition { name: unknown })) => {
                    let Some(d) = detached
                        .iter()
                        .find(|d| d.partition == *name || d.table == *name)
                    else {
                        return Err(Error::Partition(PartitionError::UnknownPartition {
                            name: unknown,
                        })
                        .into());
                    };
                    plan.retention.check_detached(d)?;
                    candidates.push(DropRow::detached(d));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    let archive_of = |name: &str| {
        plan.archive
            .as_ref()
            .map(|dir| dir.join(partitions::archive_file_name(name)))
    };
    let dropped: Vec<DropRow> = if plan.dry_run {
        candidates
            .into_iter()
            .map(|p| DropRow {
                archive: archive_of(&p.name),
                ..p
            })
            .collect()
    } else {
        let bar = ProgressBar::new(candidates.len() as u64).with_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .expect("the template is valid"),
        );
        let mut done = Vec::with_capacity(candidates.len());
        for p in &candidates {
            bar.set_message(p.name.clone());
            let result =
                partitions::drop_partition(&db, &p.name, &plan.retention, plan.archive.as_deref())
                    .await;
            match result {
                Ok(d) => done.push(DropRow::from(d)),
                Err(e) => {
                    bar.abandon();
                    return Err(e).with_context(|| {
                        format!(
                            "dropping {} (after dropping {} of {} partitions)",
                            p.name,
                            done.len(),
                            candidates.len()
                        )
                    });
                }
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        done
    };

    let rows: i64 = dropped.iter().map(|d| d.rows).sum();
    let line = format!(
        "partitions: {} {} partitions ({rows} rows) older than {}{}{}",
        if plan.dry_run {
            "would drop"
        } else {
            "dropped"
        },
        dropped.len(),
        plan.retention.cutoff(),
        plan.archive
            .as_ref()
            .map(|d| format!(", archived to {}", d.display()))
            .unwrap_or_default(),
        if plan.dry_run { "; dry run" } else { "" }
    );
    #[derive(Serialize)]
    struct Report<'a> {
        dry_run: bool,
        cutoff: NaiveDate,
        partitions: &'a [DropRow],
    }
    finish(
        json,
        &Report {
            dry_run: plan.dry_run,
            cutoff: plan.retention.cutoff(),
            partitions: &dropped,
        },
        &line,
        || {
            let rows: Vec<Vec<String>> = dropped
                .iter()
                .map(|d| {
                    vec![
                        d.parent.clone(),
                        d.name.clone(),
                        d.month.map(month).unwrap_or_default(),
                        d.rows.to_string(),
                        d.archive
                            .as_ref()
                            .map(|a| a.display().to_string())
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(&["parent", "partition", "month", "rows", "archive"], &rows);
        },
    )
}

async fn reattach(ctx: &Context, name: &str, json: bool) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let back = partitions::reattach_partition(&db, name).await?;
    let line = format!(
        "partitions: attached {} to {} again ({}; {} rows back from DEFAULT)",
        back.name,
        back.parent,
        month(back.month),
        back.rows_from_default
    );
    finish(json, &back, &line, || {})
}

/// The line `list` prints for a partition left detached by a drop that did not finish.
fn detached_note(d: &DetachedPartition) -> String {
    format!(
        "partitions: {} ({} {}, {} rows) was detached by a drop that did not finish: \
         `partitions drop` finishes it, `partitions reattach {}` undoes it",
        d.table,
        d.parent,
        month(d.month),
        d.rows.map_or_else(|| "?".to_owned(), |r| r.to_string()),
        d.partition
    )
}

/// JSON on stdout with the summary line on stderr, or the table and the summary on stdout.
fn finish<T: Serialize>(
    json: bool,
    value: &T,
    summary: &str,
    table: impl FnOnce(),
) -> anyhow::Result<()> {
    if json {
        print_json(value)?;
        eprintln!("{summary}");
    } else {
        table();
        println!("{summary}");
    }
    Ok(())
}

fn month(date: NaiveDate) -> String {
    date.format("%Y-%m").to_string()
}

fn kind(p: &PartitionInfo) -> String {
    match &p.kind {
        PartitionKind::Default => "DEFAULT".to_owned(),
        PartitionKind::Monthly { month: m } => month(*m),
        PartitionKind::Other { bound } => bound.clone(),
    }
}

fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
