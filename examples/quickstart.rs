//! How an application crate uses Foresto: connect, migrate, register instruments, bulk-load
//! prices, compute returns, define a scenario portfolio, simulate it (cached by request hash),
//! and read the stored result back — with typed errors throughout.
//!
//! ```sh
//! DATABASE_URL=postgres://user@localhost/foresto_dev cargo run --example quickstart
//! cargo run --example quickstart        # no DATABASE_URL: the managed local server
//! ```

use anyhow::Context;
use chrono::NaiveDate;
use entity::enums::{AssetClass, InstrumentType, RebalanceFreq, RiskLevel};
use entity::scenario_definition;
use foresto::ScenarioError;
use foresto::prices::{LoadOptions, TickerMatch, load_file};
use foresto::returns::{ReturnsScope, compute_returns};
use foresto::scenarios::{InstrumentRef, NewAllocation, NewVersion, set_portfolio_version};
use foresto::simulation::request::{SimulationRequest, Subject};
use foresto::simulation::{RunKey, runs, simulate};
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

const SCENARIO: &str = "EXAMPLE_60_40";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // 1. Settings are a value the application builds (here: from the environment), then
    //    connect and bring the schema up to date.
    let settings = foresto::Settings::from_env()?;
    let url = match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => url,
        None => {
            foresto::db::managed::ManagedServer::new(foresto::db::managed::default_root())?
                .ensure_database()
                .await?
        }
    };
    let db = foresto::db::connect_and_migrate(&url, &settings.pool).await?;

    // 2. Bulk-load the bundled prices (wide CSV of adjusted closes), registering unknown
    //    tickers as US ETFs; the load is recorded in source_load_history.
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/etf-prices/etf_adjusted_close_sample.csv"
    );
    let report = load_file(
        &db,
        file.as_ref(),
        &LoadOptions {
            source_type: "example".into(),
            tickers: TickerMatch::Register {
                instrument_type: InstrumentType::Etf,
                exchange: "NYSE".into(),
                currency: "USD".into(),
            },
            skip_weekend_fill: true,
            ..LoadOptions::default()
        },
    )
    .await?;
    println!(
        "load {}: {:?}, {} rows ({} unchanged)",
        report.load_id, report.status, report.records_loaded, report.records_unchanged
    );

    // 3. Daily returns, computed in the database.
    let returns = compute_returns(&db, &ReturnsScope::default(), &settings).await?;
    println!(
        "returns: {} written, {} unchanged",
        returns.written, returns.unchanged
    );

    // 4. A scenario of our own through its entity, and a portfolio version by ticker.
    if scenario_definition::Entity::find_by_id(SCENARIO)
        .one(&db)
        .await?
        .is_none()
    {
        scenario_definition::ActiveModel {
            scenario_id: Set(SCENARIO.into()),
            name_ko: Set("60/40 예시".into()),
            name_en: Set(Some("60/40 example".into())),
            risk_level: Set(Some(RiskLevel::Medium)),
            disclaimer: Set("Example only; not investment advice.".into()),
            display_order: Set(Some(99)),
            ..Default::default()
        }
        .insert(&db)
        .await?;
        let weight = |ticker: &str, w: &str, class| NewAllocation {
            instrument: InstrumentRef::Ticker(ticker.into()),
            weight: w.parse().expect("decimal literal"),
            asset_class: Some(class),
        };
        set_portfolio_version(
            &db,
            &NewVersion {
                scenario_id: SCENARIO.into(),
                effective_date: date(2003, 1, 2),
                allocations: vec![
                    weight("SPY", "0.6", AssetClass::Equity),
                    weight("TLT", "0.4", AssetClass::Bond),
                ],
                rebalance_freq: Some(RebalanceFreq::Quarterly),
                portfolio_name: None,
            },
            &settings,
        )
        .await?;
    }

    // 5. Simulate; an identical request later is served from the store.
    let request = SimulationRequest {
        subject: Subject::Scenario {
            scenario_id: SCENARIO.into(),
        },
        start_date: date(2003, 1, 2),
        end_date: date(2022, 12, 30),
        initial_amount: Decimal::from(10_000),
        rebalance_freq: None,
        risk_free_rate: Decimal::ZERO,
        max_loss_limit_pct: Some(Decimal::from(20)),
        engine_version: settings.engine_version().to_owned(),
        user_id: None,
    };
    let outcome = match simulate(&db, &request, &settings).await {
        Ok(outcome) => outcome,
        // Typed errors a caller can branch on.
        Err(foresto::Error::Scenario(ScenarioError::NoPortfolioInForce { scenario_id, date })) => {
            anyhow::bail!("{scenario_id} has no portfolio on {date}")
        }
        Err(other) => return Err(other).context("simulating"),
    };
    let summary = &outcome.stored.summary;
    println!(
        "run {} ({}): total {}%, CAGR {:?}%, MDD {}%, 20% loss limit breached on {:?}",
        outcome.stored.run.run_id,
        if outcome.cache_hit {
            "cache hit"
        } else {
            "computed"
        },
        summary.total_return,
        summary.cagr,
        summary.max_drawdown,
        outcome.first_breach_date,
    );

    // 6. Read it back by hash, as another service would.
    let hash = outcome.stored.run.request_hash.clone();
    let run = runs::find(&db, &RunKey::Hash(hash)).await?;
    let path = runs::path(&db, run.run_id).await?;
    println!(
        "stored path: {} days, last NAV {}",
        path.len(),
        path.last().map(|p| p.nav).unwrap_or_default()
    );
    Ok(())
}
