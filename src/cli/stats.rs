//! `foresto stats [--json]`: the operations view.

use foresto::stats::{Stats, collect};

use super::Context;
use super::output::{print_json, print_table};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Rows shown per table/index list (JSON always has all).
    #[arg(long, default_value_t = 15)]
    top: usize,
}

fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |r| format!("{r:.2}%"))
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let stats = collect(&db, chrono::Utc::now().date_naive()).await?;
    if args.json {
        return print_json(&stats);
    }
    print_text(&stats, args.top);
    Ok(())
}

fn print_text(s: &Stats, top: usize) {
    println!(
        "database {} — {} — heap cache hit ratio {}\n",
        s.database,
        bytes(s.database_bytes),
        ratio(s.overall_hit_ratio)
    );
    println!("Table sizes (partitioned tables include their partitions)");
    print_table(
        &["table", "relations", "total", "data", "indexes"],
        &s.tables
            .iter()
            .take(top)
            .map(|t| {
                vec![
                    t.table.clone(),
                    t.relations.to_string(),
                    bytes(t.total_bytes),
                    bytes(t.data_bytes),
                    bytes(t.index_bytes),
                ]
            })
            .collect::<Vec<_>>(),
    );
    println!("\nIndex usage");
    print_table(
        &["table", "index", "scans", "tuples read", "tuples fetched"],
        &s.indexes
            .iter()
            .take(top)
            .map(|i| {
                vec![
                    i.table.clone(),
                    i.index.clone(),
                    i.idx_scan.to_string(),
                    i.idx_tup_read.to_string(),
                    i.idx_tup_fetch.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    println!("\nCache hits (heap blocks)");
    print_table(
        &["table", "read", "hit", "hit ratio"],
        &s.cache_hits
            .iter()
            .take(top)
            .map(|c| {
                vec![
                    c.table.clone(),
                    c.heap_blks_read.to_string(),
                    c.heap_blks_hit.to_string(),
                    ratio(c.hit_ratio),
                ]
            })
            .collect::<Vec<_>>(),
    );
    println!("\nPartition coverage");
    let month = |m: Option<chrono::NaiveDate>| {
        m.map_or_else(|| "-".into(), |m| m.format("%Y-%m").to_string())
    };
    print_table(
        &[
            "parent",
            "monthly",
            "first",
            "last",
            "months ahead",
            "gaps",
            "rows in DEFAULT",
        ],
        &s.coverage
            .iter()
            .map(|c| {
                let in_default: i64 = s
                    .default_rows
                    .iter()
                    .filter(|d| d.parent == c.parent)
                    .map(|d| d.rows)
                    .sum();
                vec![
                    c.parent.table().to_owned(),
                    c.monthly_partitions.to_string(),
                    month(c.first_month),
                    month(c.last_month),
                    c.months_ahead.map_or_else(|| "-".into(), |m| m.to_string()),
                    c.gaps.len().to_string(),
                    in_default.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    let h = &s.housekeeping;
    println!(
        "\nLoads: {} STARTED, {} stale{}",
        h.loads_started,
        h.stale_load_ids.len(),
        if h.stale_load_ids.is_empty() {
            String::new()
        } else {
            format!(" {:?} (foresto loads mark-stale)", h.stale_load_ids)
        }
    );
    let runs: Vec<String> = h
        .runs_by_status
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    println!(
        "Runs: {}; {} expired (foresto runs cleanup)",
        if runs.is_empty() {
            "none".into()
        } else {
            runs.join(", ")
        },
        h.expired_runs
    );
    if !s.default_rows.is_empty() {
        println!("Rows in DEFAULT partitions: run `foresto partitions check-default --move`");
    }
}
