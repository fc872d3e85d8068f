//! `foresto portfolios set|seed`: add a portfolio version to a scenario; seed the three scenario
//! portfolios onto an instrument per asset class.

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::enums::{AssetClass, RebalanceFreq};
use foresto::scenarios::{
    self, CreatedVersion, Holding, InstrumentRef, NewAllocation, NewVersion, SeedStatus,
};

use super::Context;
use super::codes::{code, parse_code};
use super::output::{print_json, print_table};
use super::pairs::{self, pairs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Add a portfolio version to a scenario, closing the previous one the day before.
    Set {
        /// Scenario id, e.g. GROWTH.
        scenario: String,
        /// First day the version applies (YYYY-MM-DD); after the latest version's.
        #[arg(long, value_name = "DATE")]
        effective: NaiveDate,
        /// Weights as INSTRUMENT=WEIGHT pairs, e.g. SPY=0.55,TLT=0.45; an instrument is a
        /// ticker or id:<N>. At most 4 decimals, summing to at most 1 (the rest is cash).
        #[arg(long, value_name = "PAIRS")]
        weights: String,
        /// Asset classes as INSTRUMENT=CLASS pairs (EQUITY, BOND, CASH, COMMODITY, OTHER).
        #[arg(long, value_name = "PAIRS")]
        asset_classes: Option<String>,
        /// NONE, MONTHLY, QUARTERLY or ANNUAL; default: the previous version's, else NONE.
        #[arg(long, value_parser = parse_code::<RebalanceFreq>)]
        rebalance: Option<RebalanceFreq>,
        /// Portfolio name; default: <SCENARIO>_v<N>.
        #[arg(long)]
        name: Option<String>,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create version 1 of MIN_VOL, DEFENSIVE and GROWTH from the seed weights per asset class;
    /// scenarios that already have a portfolio are left alone (re-running changes nothing).
    Seed {
        /// The instrument of each asset class, e.g. EQUITY=SPY,BOND=TLT,CASH=SHY,COMMODITY=GLD,OTHER=VNQ.
        #[arg(long, value_name = "PAIRS")]
        map: String,
        /// First day the portfolios apply.
        #[arg(long, value_name = "DATE", default_value = "2000-01-01")]
        effective: NaiveDate,
        /// Rebalancing frequency of the seeded portfolios.
        #[arg(long, value_parser = parse_code::<RebalanceFreq>, default_value = "NONE")]
        rebalance: RebalanceFreq,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    match args.command {
        Command::Set {
            scenario,
            effective,
            weights,
            asset_classes,
            rebalance,
            name,
            json,
        } => {
            let allocations = allocations(&weights, asset_classes.as_deref())?;
            let version = NewVersion {
                scenario_id: scenario,
                effective_date: effective,
                allocations,
                rebalance_freq: rebalance,
                portfolio_name: name,
            };
            let db = ctx.db().await?;
            let created = scenarios::set_portfolio_version(&db, &version, &ctx.settings).await?;
            if json {
                return print_json(&created);
            }
            let holdings = scenarios::holdings(&db, created.portfolio.portfolio_id).await?;
            print_created(&created, &holdings);
            Ok(())
        }
        Command::Seed {
            map,
            effective,
            rebalance,
            json,
        } => {
            let mapping = pairs("map", &map)?
                .into_iter()
                .map(|(class, instrument)| {
                    let class = parse_code::<AssetClass>(class).map_err(anyhow::Error::msg)?;
                    Ok((class, instrument.parse::<InstrumentRef>()?))
                })
                .collect::<anyhow::Result<HashMap<_, _>>>()?;
            let db = ctx.db().await?;
            let outcomes = scenarios::seed_scenario_portfolios(
                &db,
                &mapping,
                effective,
                rebalance,
                &ctx.settings,
            )
            .await?;
            if json {
                return print_json(&outcomes);
            }
            let rows: Vec<Vec<String>> = outcomes
                .iter()
                .map(|(scenario, status)| {
                    let (id, what) = match status {
                        SeedStatus::Created { version } => {
                            (version.portfolio.portfolio_id, "created")
                        }
                        SeedStatus::AlreadySeeded { portfolio_id } => {
                            (*portfolio_id, "already seeded")
                        }
                        SeedStatus::Kept { portfolio_id } => {
                            (*portfolio_id, "kept: has other portfolio versions")
                        }
                    };
                    vec![scenario.clone(), id.to_string(), what.to_owned()]
                })
                .collect();
            print_table(&["SCENARIO", "PORTFOLIO", "STATUS"], &rows);
            Ok(())
        }
    }
}

fn allocations(weights: &str, classes: Option<&str>) -> anyhow::Result<Vec<NewAllocation>> {
    let weights = pairs::weights(weights)?;
    let mut classes: HashMap<&str, AssetClass> = pairs("asset-classes", classes.unwrap_or(""))?
        .into_iter()
        .map(|(k, v)| Ok((k, parse_code(v).map_err(anyhow::Error::msg)?)))
        .collect::<anyhow::Result<_>>()?;
    let allocations = weights
        .iter()
        .map(|&(instrument, weight)| {
            Ok(NewAllocation {
                instrument: instrument.parse()?,
                weight,
                asset_class: classes.remove(instrument),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(extra) = classes.keys().next() {
        anyhow::bail!("--asset-classes: {extra} is not in --weights");
    }
    Ok(allocations)
}

fn print_created(created: &CreatedVersion, holdings: &[Holding]) {
    let p = &created.portfolio;
    println!(
        "portfolio {} (id {}) for {}: effective {}, rebalance {}",
        p.portfolio_name,
        p.portfolio_id,
        p.scenario_id,
        p.effective_date,
        code(p.rebalance_freq)
    );
    if let Some(closed) = &created.closed {
        println!(
            "closed {} (id {}): now expires {}",
            closed.portfolio_name,
            closed.portfolio_id,
            closed.expiry_date.map_or("-".to_owned(), |d| d.to_string())
        );
    }
    if created.expired_runs > 0 {
        println!(
            "expired {} cached simulation runs computed with the previous weights",
            created.expired_runs
        );
    }
    let rows: Vec<Vec<String>> = holdings
        .iter()
        .map(|h| {
            vec![
                h.instrument.ticker.clone(),
                h.instrument.exchange.clone(),
                h.allocation.weight.to_string(),
                code(h.allocation.asset_class),
            ]
        })
        .collect();
    print_table(&["TICKER", "EXCHANGE", "WEIGHT", "ASSET CLASS"], &rows);
}
