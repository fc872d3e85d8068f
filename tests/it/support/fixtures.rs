//! Test data more than one area builds: dates, a migrated database with rows of its own,
//! instruments, portfolio versions and simulation requests.

use chrono::NaiveDate;
use entity::enums::{InstrumentType, RebalanceFreq};
use foresto::instruments::NewInstrument;
use foresto::scenarios::{NewAllocation, NewVersion};
use foresto::simulation::{SimulationRequest, Subject};
use rust_decimal::Decimal;

use super::{TestDatabase, count, exec, foresto_ok};

/// The calendar date `y`-`m`-`d`.
pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A fresh migrated database with the rows of `sql` added.
pub async fn migrated_with(sql: &str) -> TestDatabase {
    let t = TestDatabase::migrated().await;
    exec(t.conn(), sql).await;
    t
}

/// A fresh migrated database as `foresto demo` leaves it: the bundled real ETF prices
/// (1993-01-29 to 2023-05-18), their daily returns, the three scenario portfolios on SPY, TLT,
/// SHY, GLD and VNQ (effective 2004-11-18, never rebalanced) and the demo's 12 runs.
pub async fn real_etf_data() -> TestDatabase {
    let t = TestDatabase::migrated().await;
    let charts = tempfile::tempdir().unwrap();
    foresto_ok(&t, &["demo", "--out", charts.path().to_str().unwrap()]);
    t
}

/// An ETF listed as `ticker` on `exchange`, nothing else given.
pub fn etf(ticker: &str, exchange: &str) -> NewInstrument {
    NewInstrument::new(InstrumentType::Etf, ticker, exchange)
}

/// The id of the (one) instrument listed as `ticker`.
pub async fn instrument_id(t: &TestDatabase, ticker: &str) -> i64 {
    count(
        t.conn(),
        &format!("SELECT instrument_id FROM instrument_master WHERE ticker = '{ticker}'"),
    )
    .await
}

/// A portfolio version of `scenario` from `effective`, holding `(instrument, weight)` as written
/// (a ticker or `id:N`; a decimal), no asset classes, frequency or name given.
pub fn version(scenario: &str, effective: NaiveDate, weights: &[(&str, &str)]) -> NewVersion {
    NewVersion {
        scenario_id: scenario.into(),
        effective_date: effective,
        allocations: weights
            .iter()
            .map(|(instrument, weight)| NewAllocation {
                instrument: instrument.parse().unwrap(),
                weight: weight.parse().unwrap(),
                asset_class: None,
            })
            .collect(),
        rebalance_freq: None,
        portfolio_name: None,
    }
}

/// A request to simulate `scenario` from `start` to `end`: 1 000 000 invested, rebalanced
/// monthly, no risk-free rate, no loss limit, engine 1.0.0, no user.
pub fn request(scenario: &str, start: NaiveDate, end: NaiveDate) -> SimulationRequest {
    SimulationRequest {
        subject: Subject::Scenario {
            scenario_id: scenario.into(),
        },
        start_date: start,
        end_date: end,
        initial_amount: Decimal::new(1_000_000, 0),
        rebalance_freq: Some(RebalanceFreq::Monthly),
        risk_free_rate: Decimal::ZERO,
        max_loss_limit_pct: None,
        engine_version: "1.0.0".into(),
        user_id: None,
    }
}
