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
use entity::enums::{AssetClass, InstrumentType, LoadStatus, RebalanceFreq};
use entity::{simulation_summary, source_load_history};
use foresto::chart::{ChartSeries, render, stored_series};
use foresto::instruments::{self, NewInstrument};
use foresto::prices::{LoadOptions, load_file};
use foresto::returns::{ReturnsScope, compute_returns};
use foresto::scenarios::{InstrumentRef, seed_scenario_portfolios};
use foresto::simulation::CachePolicy;
use foresto::simulation::request::{SimulationRequest, Subject};
use foresto::simulation::service::simulate;
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Statement,
};
use sha2::Digest;

use super::Context;
use super::codes::code;
use super::output::print_table;

/// The bundled sample (data/etf-prices, MIT — see its NOTICE.md), compiled in so the demo runs
/// from any directory.
const SAMPLE: &[u8] = include_bytes!("../../data/etf-prices/etf_adjusted_close_sample.csv");
const SAMPLE_NAME: &str = "etf_adjusted_close_sample.csv";

/// Asset class → ticker of the bundled data (seed-data.md's mapping for US ETFs).
const MAPPING: [(AssetClass, &str); 5] = [
    (AssetClass::Equity, "SPY"),
    (AssetClass::Bond, "TLT"),
    (AssetClass::Cash, "SHY"),
    (AssetClass::Commodity, "GLD"),
    (AssetClass::Other, "VNQ"),
];

/// Sample tickers the original universe lacks: (ticker, exchange, name).
const EXTRA_INSTRUMENTS: [(&str, &str, &str); 2] = [
    ("SHY", "NASDAQ", "iShares 1-3 Year Treasury Bond ETF"),
    ("BND", "NASDAQ", "Vanguard Total Bond Market ETF"),
];

const SCENARIOS: [&str; 3] = ["MIN_VOL", "DEFENSIVE", "GROWTH"];
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
    let returns = compute_returns(&db, &ReturnsScope::default()).await?;
    println!(
        "4/6 returns: {} computed, {} written, {} unchanged, {} missing",
        returns.computed, returns.written, returns.unchanged, returns.missing
    );

    let (common_start, common_end) = common_window(&db).await?;
    let mapping = MAPPING
        .iter()
        .map(|(class, ticker)| (*class, InstrumentRef::Ticker((*ticker).to_owned())))
        .collect();
    let seeded = seed_scenario_portfolios(&db, &mapping, common_start, RebalanceFreq::None).await?;
    println!(
        "5/6 scenario portfolios on {} (effective {common_start}): {}",
        MAPPING.map(|(c, t)| format!("{c:?}={t}")).join(","),
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
    let policy = CachePolicy::from_config()?;
    let engine_version = foresto::config::engine_version()?;
    let mut rows = Vec::new();
    let mut charts: HashMap<&str, Vec<ChartSeries>> = HashMap::new();
    let mut hits = 0;
    for (window, start, end) in windows {
        for scenario in SCENARIOS {
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
                    engine_version: engine_version.clone(),
                    user_id: None,
                };
                let outcome = simulate(&db, &request, &policy)
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
    for (ticker, exchange, name) in EXTRA_INSTRUMENTS {
        let mut instrument = NewInstrument::new(InstrumentType::Etf, ticker, exchange);
        instrument.name_en = Some(name.to_owned());
        instrument.currency = Some("USD".to_owned());
        instrument.data_source = Some("demo".to_owned());
        instruments::upsert(db, &instrument).await?;
    }
    println!(
        "2/6 instruments: original universe seeded ({} new, {} updated) + {}",
        seeded.inserted,
        seeded.updated,
        EXTRA_INSTRUMENTS.map(|(t, ..)| t).join(", ")
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
    let previous = source_load_history::Entity::find()
        .filter(source_load_history::Column::SourceType.eq("demo"))
        .filter(source_load_history::Column::SourceName.eq(source_name.clone()))
        .filter(source_load_history::Column::LoadStatus.eq(LoadStatus::Success))
        .order_by_desc(source_load_history::Column::LoadId)
        .one(db)
        .await?;
    if let Some(load) = previous
        && load_has_rows(db, load.load_id).await?
    {
        println!(
            "3/6 prices: already loaded ({} rows, load {}, {})",
            load.records_loaded.unwrap_or_default(),
            load.load_id,
            source_name
        );
        return Ok(());
    }
    let file = std::env::temp_dir().join(format!("foresto-demo-{}.csv", std::process::id()));
    std::fs::write(&file, SAMPLE).with_context(|| format!("writing {}", file.display()))?;
    let options = LoadOptions {
        source_type: "demo".into(),
        source_name: Some(source_name),
        loaded_by: Some("demo".into()),
        skip_weekend_fill: true,
        ..LoadOptions::default()
    };
    let started = Instant::now();
    let report = load_file(db, &file, &options).await;
    let _ = std::fs::remove_file(&file);
    let report = report?;
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

async fn load_has_rows(db: &DatabaseConnection, load_id: i64) -> anyhow::Result<bool> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT EXISTS (SELECT 1 FROM daily_price WHERE load_id = $1) AS present",
            [load_id.into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<bool>("", "present"))
        .transpose()?
        .unwrap_or(false))
}

/// The window in which all five mapped instruments have prices: from the latest first price
/// to the earliest last price.
async fn common_window(db: &DatabaseConnection) -> anyhow::Result<(NaiveDate, NaiveDate)> {
    let tickers: Vec<sea_orm::Value> = MAPPING.iter().map(|(_, t)| (*t).into()).collect();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT max(first_date) AS start_date, min(last_date) AS end_date, count(*) AS n
               FROM (SELECT p.instrument_id, min(p.trade_date) AS first_date,
                            max(p.trade_date) AS last_date
                       FROM daily_price p JOIN instrument_master i USING (instrument_id)
                      WHERE i.ticker IN ($1, $2, $3, $4, $5)
                      GROUP BY p.instrument_id) t",
            tickers,
        ))
        .await?
        .context("no prices")?;
    let n: i64 = row.try_get("", "n")?;
    anyhow::ensure!(n == 5, "prices are missing for some of {MAPPING:?}");
    Ok((row.try_get("", "start_date")?, row.try_get("", "end_date")?))
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
