//! `foresto demo`: the whole flow on real data. Migrates, registers the instruments, loads the
//! bundled ETF prices (skipping weekend forward fills), computes returns, seeds the three
//! scenario portfolios on US ETFs, simulates each scenario over the longest common window and the
//! 2007–09 crisis with and without monthly rebalancing, prints a comparison table and writes
//! charts. A second run recognises the loaded data and serves every simulation from the cache.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use chrono::NaiveDate;
use entity::enums::{AssetClass, LoadStatus, RebalanceFreq};
use entity::simulation_summary;
use foresto::chart::{ChartSeries, render, stored_series};
use foresto::instruments;
use foresto::load_history::{self, LoadFilter};
use foresto::prices::{LoadOptions, load_file};
use foresto::returns::{ReturnsScope, compute_returns};
use foresto::scenarios::{InstrumentRef, seed_scenario_portfolios};
use foresto::simulation::request::{SimulationRequest, Subject};
use foresto::simulation::service::simulate;
use foresto::{seed_data, series};
use rust_decimal::Decimal;
use sea_orm::DatabaseConnection;
use sha2::Digest;

use super::Context;
use super::codes::code;
use super::output::print_table;

/// The bundled sample (data/etf-prices, MIT — see its NOTICE.md), compiled in so the demo runs
/// from any directory.
const SAMPLE: &[u8] = include_bytes!("../../data/etf-prices/etf_adjusted_close_sample.csv");
const SAMPLE_NAME: &str = "etf_adjusted_close_sample.csv";

const REBALANCES: [RebalanceFreq; 2] = [RebalanceFreq::None, RebalanceFreq::Monthly];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for the charts.
    #[arg(long, default_value = "demo-output")]
    out: PathBuf,
    /// Initial amount of every simulation.
    #[arg(long, default_value = "1000000")]
    amount: Decimal,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let started = Instant::now();
    let db = ctx.db_unchecked().await?;
    foresto::db::migrate(&db).await?;
    println!("1/6 schema migrated");

    register_instruments(&db).await?;
    load_sample(&db).await?;
    let returns = compute_returns(&db, &ReturnsScope::default(), &ctx.settings).await?;
    println!(
        "4/6 returns: {} computed, {} written, {} unchanged, {} missing",
        returns.computed, returns.written, returns.unchanged, returns.missing
    );

    let demo_mapping = seed_data::demo_mapping();
    let (common_start, common_end) = common_window(&db, &demo_mapping).await?;
    let mapping = demo_mapping
        .iter()
        .map(|(class, ticker)| (*class, InstrumentRef::Ticker(ticker.clone())))
        .collect();
    let seeded = seed_scenario_portfolios(
        &db,
        &mapping,
        common_start,
        RebalanceFreq::None,
        &ctx.settings,
    )
    .await?;
    println!(
        "5/6 scenario portfolios on {} (effective {common_start}): {}",
        demo_mapping
            .iter()
            .map(|(c, t)| format!("{c:?}={t}"))
            .collect::<Vec<_>>()
            .join(","),
        seeded
            .iter()
            .map(|(s, status)| format!("{s} {}", seed_word(status)))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let windows = [
        (
            "full",
            common_start.succ_opt().unwrap_or(common_start),
            common_end,
        ),
        (
            "crisis",
            NaiveDate::from_ymd_opt(2007, 10, 1).expect("valid date"),
            NaiveDate::from_ymd_opt(2009, 12, 31).expect("valid date"),
        ),
    ];
    let settings = &ctx.settings;
    let engine_version = settings.engine_version();
    let mut rows = Vec::new();
    let mut charts: HashMap<&str, Vec<ChartSeries>> = HashMap::new();
    let mut hits = 0;
    let scenarios: Vec<String> = seeded.iter().map(|(id, _)| id.clone()).collect();
    for (window, start, end) in windows {
        for scenario in &scenarios {
            for rebalance in REBALANCES {
                let request = SimulationRequest {
                    subject: Subject::Scenario {
                        scenario_id: scenario.to_owned(),
                    },
                    start_date: start,
                    end_date: end,
                    initial_amount: args.amount,
                    rebalance_freq: Some(rebalance),
                    risk_free_rate: Decimal::ZERO,
                    max_loss_limit_pct: None,
                    engine_version: engine_version.to_owned(),
                    user_id: None,
                };
                let outcome = simulate(&db, &request, settings)
                    .await
                    .with_context(|| format!("simulating {scenario} {start}..{end}"))?;
                hits += usize::from(outcome.cache_hit);
                let run = &outcome.stored.run;
                rows.push(table_row(
                    scenario,
                    window,
                    rebalance,
                    &outcome.stored.summary,
                    outcome.cache_hit,
                ));
                charts
                    .entry(window)
                    .or_default()
                    .push(stored_series(&db, run, &outcome.stored.path).await?);
            }
        }
    }
    println!(
        "6/6 simulations: {} runs, {hits} served from the cache, {} computed\n",
        rows.len(),
        rows.len() - hits
    );
    print_table(
        &[
            "scenario",
            "window",
            "rebalance",
            "total %",
            "CAGR %",
            "vol %",
            "MDD %",
            "recovery d",
            "worst 1M %",
            "worst 3M %",
            "Sharpe",
            "Sortino",
            "final value",
            "source",
        ],
        &rows,
    );

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    println!();
    for (window, start, end) in windows {
        let series = &charts[window];
        let title = format!("Foresto scenarios, {start} to {end} (rf 0, no costs)");
        for ext in ["svg", "png"] {
            let file = args.out.join(format!("demo-{window}.{ext}"));
            render(series, &title, &file)?;
            println!("chart: {}", file.display());
        }
    }
    println!(
        "\nPrices: {SAMPLE_NAME} (data/etf-prices, MIT, see NOTICE.md). Metrics: see README \
         (\"Metrics\"). Done in {:.1}s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn register_instruments(db: &DatabaseConnection) -> anyhow::Result<()> {
    let seeded = instruments::seed(db).await?;
    let extra = instruments::demo_instruments();
    for instrument in &extra {
        instruments::upsert(db, instrument).await?;
    }
    println!(
        "2/6 instruments: original universe seeded ({} new, {} updated) + {}",
        seeded.inserted,
        seeded.updated,
        extra
            .iter()
            .map(|i| i.ticker.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// The bundled file's load is named after its content, so a changed sample is loaded again.
fn sample_source_name() -> String {
    let digest = hex::encode(sha2::Sha256::digest(SAMPLE));
    format!("{SAMPLE_NAME}#{}", &digest[..12])
}

async fn load_sample(db: &DatabaseConnection) -> anyhow::Result<()> {
    let source_name = sample_source_name();
    let previous = load_history::list(
        db,
        &LoadFilter {
            status: Some(LoadStatus::Success),
            source_type: Some("demo".into()),
            source_name: Some(source_name.clone()),
            limit: Some(1),
        },
    )
    .await?;
    if let Some(load) = previous.first()
        && series::load_has_prices(db, load.load_id).await?
    {
        println!(
            "3/6 prices: already loaded ({} rows, load {}, {})",
            load.records_loaded.unwrap_or_default(),
            load.load_id,
            source_name
        );
        return Ok(());
    }
    // A file of our own (created exclusively, under a random name, removed on drop): never one
    // another user could have planted at a predictable path.
    let mut file = tempfile::Builder::new()
        .prefix("foresto-demo-")
        .suffix(".csv")
        .tempfile()
        .context("creating a temporary file for the bundled prices")?;
    std::io::Write::write_all(&mut file, SAMPLE)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("writing {}", file.path().display()))?;
    let options = LoadOptions {
        source_type: "demo".into(),
        source_name: Some(source_name),
        loaded_by: Some("demo".into()),
        skip_weekend_fill: true,
        ..LoadOptions::default()
    };
    let started = Instant::now();
    let report = load_file(db, file.path(), &options).await?;
    drop(file);
    anyhow::ensure!(
        report.status == LoadStatus::Success,
        "the bundled prices loaded with status {:?}: {:?}",
        report.status,
        report.rejects
    );
    println!(
        "3/6 prices: loaded {} rows ({} weekend forward fills skipped) in {:.1}s, load {}",
        report.records_loaded,
        report.records_skipped,
        started.elapsed().as_secs_f64(),
        report.load_id
    );
    Ok(())
}

/// The window in which all mapped instruments have prices: from the latest first price to the
/// earliest last price.
async fn common_window(
    db: &DatabaseConnection,
    mapping: &[(AssetClass, String)],
) -> anyhow::Result<(NaiveDate, NaiveDate)> {
    let mut ids = Vec::with_capacity(mapping.len());
    for (_, ticker) in mapping {
        ids.push(
            instruments::find_by_ticker(db, ticker, None)
                .await?
                .instrument_id,
        );
    }
    let coverage = series::price_coverage(db, &ids).await?;
    anyhow::ensure!(
        coverage.len() == ids.len(),
        "prices are missing for some of {mapping:?}"
    );
    let start = coverage.iter().map(|c| c.first_date).max();
    let end = coverage.iter().map(|c| c.last_date).min();
    start.zip(end).context("no prices")
}

fn seed_word(status: &foresto::scenarios::SeedStatus) -> &'static str {
    use foresto::scenarios::SeedStatus;
    match status {
        SeedStatus::Created { .. } => "created",
        SeedStatus::AlreadySeeded { .. } => "already seeded",
        SeedStatus::Kept { .. } => "kept (has other versions)",
    }
}

fn table_row(
    scenario: &str,
    window: &str,
    rebalance: RebalanceFreq,
    s: &simulation_summary::Model,
    cache_hit: bool,
) -> Vec<String> {
    let fixed = |d: Option<Decimal>, places: u32| {
        d.map_or_else(|| "-".to_owned(), |d| d.round_dp(places).to_string())
    };
    vec![
        scenario.to_owned(),
        window.to_owned(),
        code(Some(rebalance)),
        fixed(Some(s.total_return), 2),
        fixed(s.cagr, 2),
        fixed(s.volatility, 2),
        fixed(Some(s.max_drawdown), 2),
        s.max_recovery_days
            .map_or_else(|| "-".into(), |d| d.to_string()),
        fixed(s.worst_1m_return, 2),
        fixed(s.worst_3m_return, 2),
        fixed(s.sharpe_ratio, 2),
        fixed(s.sortino_ratio, 2),
        fixed(s.final_value, 0),
        if cache_hit { "cache" } else { "computed" }.to_owned(),
    ]
}
