//! The seed data, read from the files in `data/seed/` (compiled in, so it travels with the
//! crate): the one place that says which instruments, weights and mappings are seeded. See
//! `docs/seed-data.md`.
//!
//! | file | what | read by |
//! |---|---|---|
//! | `instruments.csv` | the original instrument universe | [`INSTRUMENTS`], parsed by `instruments::seed_universe` |
//! | `scenario_weights.csv` | weights by asset class of the three scenarios | [`scenario_weights`] |
//! | `demo_mapping.csv` | asset class → bundled US ETF of the demo | [`demo_mapping`] |
//! | `demo_instruments.csv` | bundled ETFs the universe lacks | [`DEMO_INSTRUMENTS`], parsed by `instruments::demo_instruments` |
//!
//! The instrument files are in the format `instruments::import_csv` reads, and are parsed by
//! the same code.
//!
//! The scenario rows themselves (names, texts, disclaimer) and the model version are written
//! by the migration step `m20260115_000007_seed`, which as an applied step stays as it is.

use entity::enums::AssetClass;
use rust_decimal::Decimal;
use sea_orm::ActiveEnum;

/// `data/seed/instruments.csv`: the original instrument universe (KRX ETFs in KRW, US ETFs in
/// USD, indices and FX rates, with their exchanges and names).
pub const INSTRUMENTS: &str = include_str!("../data/seed/instruments.csv");
/// `data/seed/demo_instruments.csv`: the bundled sample's US ETFs that the universe lacks.
pub const DEMO_INSTRUMENTS: &str = include_str!("../data/seed/demo_instruments.csv");
const SCENARIO_WEIGHTS: &str = include_str!("../data/seed/scenario_weights.csv");
const DEMO_MAPPING: &str = include_str!("../data/seed/demo_mapping.csv");

/// One seeded scenario portfolio: its weights by asset class, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedPortfolio {
    pub scenario_id: String,
    pub weights: Vec<(AssetClass, Decimal)>,
}

/// The three scenarios' weights by asset class, in file order of their first row.
pub fn scenario_weights() -> Vec<SeedPortfolio> {
    let mut portfolios: Vec<SeedPortfolio> = Vec::new();
    for [scenario_id, class, weight] in rows::<3>(SCENARIO_WEIGHTS, "scenario_weights.csv") {
        let weight: Decimal = weight
            .parse()
            .unwrap_or_else(|e| panic!("scenario_weights.csv: weight {weight:?}: {e}"));
        let entry = (asset_class(&class), weight);
        match portfolios.iter_mut().find(|p| p.scenario_id == scenario_id) {
            Some(portfolio) => portfolio.weights.push(entry),
            None => portfolios.push(SeedPortfolio {
                scenario_id,
                weights: vec![entry],
            }),
        }
    }
    portfolios
}

/// Asset class → ticker of the bundled ETF that stands for it in the demo.
pub fn demo_mapping() -> Vec<(AssetClass, String)> {
    rows::<2>(DEMO_MAPPING, "demo_mapping.csv")
        .map(|[class, ticker]| (asset_class(&class), ticker))
        .collect()
}

/// The records of a bundled file with `N` columns and a header. The files are part of the
/// crate and checked by its tests, so a malformed one is a build defect, not an input error.
fn rows<const N: usize>(text: &str, name: &str) -> impl Iterator<Item = [String; N]> {
    let name = name.to_owned();
    csv::Reader::from_reader(text.as_bytes())
        .into_records()
        .map(move |record| {
            let record = record.unwrap_or_else(|e| panic!("{name}: {e}"));
            std::array::from_fn(|i| {
                record
                    .get(i)
                    .unwrap_or_else(|| panic!("{name}: a record has fewer than {N} fields"))
                    .trim()
                    .to_owned()
            })
        })
}

fn asset_class(text: &str) -> AssetClass {
    AssetClass::try_from_value(&text.to_owned())
        .unwrap_or_else(|_| panic!("unknown asset class {text:?} in data/seed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_portfolio_covers_the_five_classes_and_sums_to_one() {
        let portfolios = scenario_weights();
        let ids: Vec<&str> = portfolios.iter().map(|p| p.scenario_id.as_str()).collect();
        assert_eq!(ids, ["MIN_VOL", "DEFENSIVE", "GROWTH"]);
        for p in &portfolios {
            assert_eq!(p.weights.len(), 5, "{}", p.scenario_id);
            let sum: Decimal = p.weights.iter().map(|(_, w)| *w).sum();
            assert_eq!(sum, Decimal::ONE, "{}", p.scenario_id);
        }
        assert_eq!(
            portfolios[0].weights[1],
            (AssetClass::Bond, "0.45".parse().unwrap())
        );
    }

    #[test]
    fn the_demo_maps_every_class_to_a_bundled_etf() {
        let mapping = demo_mapping();
        assert_eq!(mapping.len(), 5);
        assert_eq!(mapping[0], (AssetClass::Equity, "SPY".to_owned()));
    }
}
