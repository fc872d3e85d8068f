//! The tests' data set: the bundled ETF sample's 2020 rows (nine US ETFs, one trading year),
//! their returns, and the three scenario portfolios on them — the demo's flow on a slice small
//! enough to load in a moment.

use std::io::{BufRead, Write};

use chrono::NaiveDate;
use entity::enums::{LoadStatus, RebalanceFreq};
use entity::simulation_run;
use foresto::Settings;
use foresto::prices::{LoadOptions, load_file};
use foresto::returns::{ReturnsScope, compute_returns};
use foresto::scenarios::{InstrumentRef, seed_scenario_portfolios};
use foresto::testing::TestDatabase;
use foresto::{instruments, seed_data};
use sea_orm::{DatabaseConnection, EntityTrait, QuerySelect};

/// The bundled sample (data/etf-prices, MIT).
const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/etf-prices/etf_adjusted_close_sample.csv"
);

/// The first and last trade dates of the slice; the scenario portfolios take effect on the first.
pub const FIRST_DAY: NaiveDate = date(2020, 1, 2);
pub const LAST_DAY: NaiveDate = date(2020, 12, 31);

/// The calendar date `y`-`m`-`d`.
const fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

/// A fresh migrated database with the instrument universe, the sample's 2020 prices and returns,
/// and the MIN_VOL, DEFENSIVE and GROWTH portfolios (EQUITY=SPY, BOND=TLT, CASH=SHY,
/// COMMODITY=GLD, OTHER=VNQ) in force from [`FIRST_DAY`].
pub async fn loaded() -> TestDatabase {
    let t = TestDatabase::migrated().await;
    let db = t.conn();
    let settings = Settings::default();
    instruments::seed(db)
        .await
        .expect("seeding the instrument universe");
    for instrument in instruments::demo_instruments() {
        instruments::upsert(db, &instrument)
            .await
            .expect("registering the demo instruments");
    }
    let slice = year_of_sample("2020-");
    let report = load_file(
        db,
        slice.path(),
        &LoadOptions {
            skip_weekend_fill: true,
            ..LoadOptions::default()
        },
    )
    .await
    .expect("loading the 2020 prices");
    assert_eq!(report.status, LoadStatus::Success, "{:?}", report.rejects);
    compute_returns(db, &ReturnsScope::default(), &settings)
        .await
        .expect("computing returns");
    let mapping = seed_data::demo_mapping()
        .into_iter()
        .map(|(class, ticker)| (class, InstrumentRef::Ticker(ticker)))
        .collect();
    seed_scenario_portfolios(db, &mapping, FIRST_DAY, RebalanceFreq::None, &settings)
        .await
        .expect("seeding the scenario portfolios");
    t
}

/// The sample's header and the rows whose date starts with `prefix`, in a file of their own.
fn year_of_sample(prefix: &str) -> tempfile::NamedTempFile {
    let sample = std::fs::File::open(SAMPLE).expect("the bundled sample");
    let mut lines = std::io::BufReader::new(sample).lines();
    let mut slice = tempfile::NamedTempFile::new().expect("a temporary file");
    let header = lines.next().expect("a header").expect("readable");
    writeln!(slice, "{header}").expect("writing the slice");
    for line in lines {
        let line = line.expect("readable");
        if line.starts_with(prefix) {
            writeln!(slice, "{line}").expect("writing the slice");
        }
    }
    slice.flush().expect("writing the slice");
    slice
}

/// The request hash of every stored run.
pub async fn stored_hashes(db: &DatabaseConnection) -> Vec<String> {
    simulation_run::Entity::find()
        .select_only()
        .column(simulation_run::Column::RequestHash)
        .into_tuple()
        .all(db)
        .await
        .expect("reading simulation_run")
}
