//! Simulation engine (pure): portfolio versions + daily instrument returns → NAV path and summary
//! figures, exactly as `docs/metrics.md` defines them.
//!
//! Nothing here does I/O. The caller loads the portfolio versions and the `daily_return` rows,
//! calls [`simulate`], and stores the result through [`Summary::to_stored`] /
//! [`PathPoint::to_stored`], which round to the schema's column scales.
//!
//! Where the definitions differ on purpose from the original Python engine (sample instead of
//! population deviation, no hard-coded 3 % risk-free rate, CAGR from 252 rows, 21/63-row windows,
//! recovery measured from the running peak including unrecovered spells, rebalancing only on
//! period changes) figures computed by the two are not comparable; see `docs/metrics.md`.

mod calendar;
mod metrics;
mod path;
mod rounding;

use chrono::NaiveDate;
use entity::enums::RebalanceFreq;

pub use metrics::first_loss_breach;
pub use rounding::{StoredPathPoint, StoredSummary};

/// Tolerance on a version's weight sum, the same as the database trigger's (sum ≤ 1.0001).
pub const WEIGHT_SUM_TOLERANCE: f64 = 0.0001;

/// Target weight of one instrument in a portfolio version (fraction of NAV, 0..=1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weight {
    pub instrument_id: i64,
    pub weight: f64,
}

/// One version of a portfolio: the weights in force from `effective_date` on.
#[derive(Debug, Clone, PartialEq)]
pub struct PortfolioVersion {
    pub portfolio_id: i64,
    pub effective_date: NaiveDate,
    pub weights: Vec<Weight>,
}

/// One `daily_return` row: the simple return of an instrument on a date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReturnRow {
    pub instrument_id: i64,
    pub date: NaiveDate,
    pub daily_return: f64,
}

/// Everything a simulation depends on.
#[derive(Debug, Clone, Copy)]
pub struct SimulationInput<'a> {
    /// Versions in strictly increasing `effective_date` order. The latest one effective on or
    /// before `start_date` is the starting portfolio (so passing the whole version history is
    /// fine); later ones switch in inside the window; ones effective after `end_date` are unused.
    pub versions: &'a [PortfolioVersion],
    /// Return rows in any order; rows of other instruments or outside the range are ignored.
    pub returns: &'a [ReturnRow],
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub initial_amount: f64,
    pub rebalance: RebalanceFreq,
    /// Annual risk-free rate as a fraction (0.03 = 3 %), used by Sharpe and Sortino.
    pub risk_free_rate: f64,
}

/// One row of the NAV path (`simulation_path`); return figures are fractions, not percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathPoint {
    pub date: NaiveDate,
    pub nav: f64,
    pub daily_return: f64,
    pub cumulative_return: f64,
    pub drawdown: f64,
    pub high_water_mark: f64,
}

/// The summary figures (`simulation_summary`); percentages are in percent. `None` is a figure
/// `docs/metrics.md` defines as NULL for this path (too few rows, zero deviation, no negative day).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub trading_days: u32,
    pub final_value: f64,
    pub total_return: f64,
    pub cagr: Option<f64>,
    pub volatility: Option<f64>,
    pub sharpe_ratio: Option<f64>,
    pub sortino_ratio: Option<f64>,
    pub max_drawdown: f64,
    pub max_recovery_days: u32,
    pub worst_1m_return: Option<f64>,
    pub worst_3m_return: Option<f64>,
    pub rebalance_count: u32,
}

/// A newer portfolio version taking over on a path date (after that day's returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionSwitch {
    pub date: NaiveDate,
    pub portfolio_id: i64,
}

/// The result of [`simulate`].
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationOutput {
    /// One point per trading date, in date order; never empty.
    pub path: Vec<PathPoint>,
    pub summary: Summary,
    /// How many (date, held instrument) returns were missing and taken as 0.
    pub filled_returns: u32,
    /// Version switches inside the window, in date order (each also counts as a rebalance).
    pub switches: Vec<VersionSwitch>,
}

/// Why a simulation could not be computed or stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("end date {end_date} is not after start date {start_date}")]
    InvalidDateRange {
        start_date: NaiveDate,
        end_date: NaiveDate,
    },
    #[error("initial amount must be a positive number, got {amount}")]
    InvalidAmount { amount: f64 },
    #[error("risk-free rate must be a finite number, got {rate}")]
    InvalidRiskFreeRate { rate: f64 },
    #[error("no portfolio version given")]
    NoVersions,
    #[error(
        "portfolio versions are not in strictly increasing effective-date order at index {index}"
    )]
    VersionsNotSorted { index: usize },
    #[error(
        "no portfolio version is in force on {start_date}: the first takes effect on {first_effective_date}"
    )]
    NoVersionInForce {
        start_date: NaiveDate,
        first_effective_date: NaiveDate,
    },
    #[error(
        "portfolio {portfolio_id}: weight {weight} of instrument {instrument_id} is not within 0..=1"
    )]
    InvalidWeight {
        portfolio_id: i64,
        instrument_id: i64,
        weight: f64,
    },
    #[error("portfolio {portfolio_id}: instrument {instrument_id} has more than one weight")]
    DuplicateWeight {
        portfolio_id: i64,
        instrument_id: i64,
    },
    #[error("portfolio {portfolio_id}: weight sum {sum} exceeds 1.0")]
    WeightSumExceeded { portfolio_id: i64, sum: f64 },
    #[error("the portfolio's instruments have no return on or before the end date")]
    NoReturns,
    #[error("no trading date between {start_date} and {end_date}")]
    NoTradingDays {
        start_date: NaiveDate,
        end_date: NaiveDate,
    },
    #[error("instrument {instrument_id} has more than one return on {date}")]
    DuplicateReturn { instrument_id: i64, date: NaiveDate },
    #[error("instrument {instrument_id} has an impossible return {value} on {date}")]
    InvalidReturn {
        instrument_id: i64,
        date: NaiveDate,
        value: f64,
    },
    #[error("{figure} = {value} does not fit its column")]
    FigureOutOfRange { figure: &'static str, value: f64 },
}

/// Simulates the portfolio over `[start_date, end_date]` and computes the path and summary.
///
/// The trading calendar is every date in the range on which at least one instrument of any
/// version *used* in the window (the starting one and those that switch in) has a return row.
/// Using the union keeps the calendar independent of when a switch happens (a switch date is
/// itself a calendar date, so defining the calendar by it would be circular); on a date where only
/// a formerly or later held instrument trades, the held ones count as fills and NAV is unchanged.
/// Fills are counted only for instruments actually held that day.
///
/// Rebalancing follows `docs/metrics.md`. The first-date exemption covers scheduled rebalances only: a
/// version effective after `start_date` but by the first path date switches in on that date
/// (after its returns) and counts. Every given version's weights are checked, used or not.
///
/// # Errors
/// [`EngineError::InvalidDateRange`], [`EngineError::InvalidAmount`],
/// [`EngineError::InvalidRiskFreeRate`], the version/weight errors ([`EngineError::NoVersions`],
/// [`EngineError::VersionsNotSorted`], [`EngineError::NoVersionInForce`],
/// [`EngineError::InvalidWeight`], [`EngineError::DuplicateWeight`],
/// [`EngineError::WeightSumExceeded`]) and the data errors ([`EngineError::NoReturns`],
/// [`EngineError::NoTradingDays`], [`EngineError::DuplicateReturn`],
/// [`EngineError::InvalidReturn`]). It never returns an empty path.
pub fn simulate(input: &SimulationInput) -> Result<SimulationOutput, EngineError> {
    validate_scalars(input)?;
    let versions = versions_used(input.versions, input.start_date, input.end_date)?;
    let calendar = calendar::Calendar::build(
        input.returns,
        instruments_of(versions),
        input.start_date,
        input.end_date,
    )?;
    let run = path::run(&calendar, versions, input.initial_amount, input.rebalance);
    let path = path::points(calendar.dates(), &run.navs, input.initial_amount);
    let summary = metrics::summarize(
        &path,
        input.initial_amount,
        input.risk_free_rate,
        run.rebalance_count,
    );
    Ok(SimulationOutput {
        path,
        summary,
        filled_returns: run.filled_returns,
        switches: run.switches,
    })
}

fn validate_scalars(input: &SimulationInput) -> Result<(), EngineError> {
    if input.end_date <= input.start_date {
        return Err(EngineError::InvalidDateRange {
            start_date: input.start_date,
            end_date: input.end_date,
        });
    }
    if !input.initial_amount.is_finite() || input.initial_amount <= 0.0 {
        return Err(EngineError::InvalidAmount {
            amount: input.initial_amount,
        });
    }
    if !input.risk_free_rate.is_finite() {
        return Err(EngineError::InvalidRiskFreeRate {
            rate: input.risk_free_rate,
        });
    }
    Ok(())
}

/// Checks every given version and returns the ones the window uses: from the one in force on
/// `start` through the last one effective on or before `end`.
/// The instruments held by any of `versions`, ascending, each once: the instruments whose daily
/// returns a simulation of them needs.
pub fn instruments_of(versions: &[PortfolioVersion]) -> Vec<i64> {
    let mut instruments: Vec<i64> = versions
        .iter()
        .flat_map(|v| v.weights.iter().map(|w| w.instrument_id))
        .collect();
    instruments.sort_unstable();
    instruments.dedup();
    instruments
}

fn versions_used(
    versions: &[PortfolioVersion],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<&[PortfolioVersion], EngineError> {
    let first = versions.first().ok_or(EngineError::NoVersions)?;
    if let Some(i) = versions
        .windows(2)
        .position(|pair| pair[0].effective_date >= pair[1].effective_date)
    {
        return Err(EngineError::VersionsNotSorted { index: i + 1 });
    }
    versions.iter().try_for_each(validate_weights)?;
    let in_force = versions.partition_point(|v| v.effective_date <= start);
    if in_force == 0 {
        return Err(EngineError::NoVersionInForce {
            start_date: start,
            first_effective_date: first.effective_date,
        });
    }
    let used_end = versions.partition_point(|v| v.effective_date <= end);
    Ok(&versions[in_force - 1..used_end])
}

fn validate_weights(version: &PortfolioVersion) -> Result<(), EngineError> {
    let mut seen: Vec<i64> = Vec::with_capacity(version.weights.len());
    for w in &version.weights {
        if !(0.0..=1.0).contains(&w.weight) {
            return Err(EngineError::InvalidWeight {
                portfolio_id: version.portfolio_id,
                instrument_id: w.instrument_id,
                weight: w.weight,
            });
        }
        if seen.contains(&w.instrument_id) {
            return Err(EngineError::DuplicateWeight {
                portfolio_id: version.portfolio_id,
                instrument_id: w.instrument_id,
            });
        }
        seen.push(w.instrument_id);
    }
    let sum = weight_sum(version);
    if sum > 1.0 + WEIGHT_SUM_TOLERANCE {
        return Err(EngineError::WeightSumExceeded {
            portfolio_id: version.portfolio_id,
            sum,
        });
    }
    Ok(())
}

fn weight_sum(version: &PortfolioVersion) -> f64 {
    version.weights.iter().map(|w| w.weight).sum()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    pub(crate) fn assert_close(actual: f64, expected: f64) {
        let tolerance = 1e-12 * expected.abs().max(1.0);
        assert!(
            (actual - expected).abs() <= tolerance,
            "expected {expected}, got {actual}"
        );
    }

    pub(crate) fn version(
        portfolio_id: i64,
        effective: NaiveDate,
        weights: &[(i64, f64)],
    ) -> PortfolioVersion {
        PortfolioVersion {
            portfolio_id,
            effective_date: effective,
            weights: weights
                .iter()
                .map(|&(instrument_id, weight)| Weight {
                    instrument_id,
                    weight,
                })
                .collect(),
        }
    }

    pub(crate) fn row(instrument_id: i64, date: NaiveDate, daily_return: f64) -> ReturnRow {
        ReturnRow {
            instrument_id,
            date,
            daily_return,
        }
    }

    pub(crate) fn input<'a>(
        versions: &'a [PortfolioVersion],
        returns: &'a [ReturnRow],
        start_date: NaiveDate,
        end_date: NaiveDate,
        rebalance: RebalanceFreq,
    ) -> SimulationInput<'a> {
        SimulationInput {
            versions,
            returns,
            start_date,
            end_date,
            initial_amount: 1000.0,
            rebalance,
            risk_free_rate: 0.0,
        }
    }

    fn navs(output: &SimulationOutput) -> Vec<f64> {
        output.path.iter().map(|p| p.nav).collect()
    }

    fn assert_navs(output: &SimulationOutput, expected: &[f64]) {
        let actual = navs(output);
        assert_eq!(actual.len(), expected.len(), "{actual:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert_close(*a, *e);
        }
    }

    /// Two instruments at 50/50 over the end of January, February and into April:
    /// 1: X +20 %, Y 0      2: both 0      3: X −10 %, Y +10 %      4: X +10 %, Y 0      5: both 0
    fn two_asset_case(freq: RebalanceFreq) -> SimulationOutput {
        let versions = [version(7, d(2023, 1, 1), &[(1, 0.5), (2, 0.5)])];
        let dates = [
            d(2024, 1, 30),
            d(2024, 1, 31),
            d(2024, 2, 1),
            d(2024, 2, 2),
            d(2024, 4, 1),
        ];
        let x = [0.2, 0.0, -0.1, 0.1, 0.0];
        let y = [0.0, 0.0, 0.1, 0.0, 0.0];
        let returns: Vec<ReturnRow> = dates
            .iter()
            .zip(x.iter().zip(&y))
            .flat_map(|(&date, (&rx, &ry))| [row(1, date, rx), row(2, date, ry)])
            .collect();
        // Starting in December makes the first path date (in January) a new month, quarter and
        // year relative to the start date: it must still not rebalance.
        simulate(&input(
            &versions,
            &returns,
            d(2023, 12, 15),
            d(2024, 4, 30),
            freq,
        ))
        .unwrap()
    }

    #[test]
    fn buy_and_hold_drifts() {
        // h = 500/500 → X 600 (1100) → 1100 → X 540, Y 550 (1090) → X 594 (1144) → 1144
        let out = two_asset_case(RebalanceFreq::None);
        assert_navs(&out, &[1100.0, 1100.0, 1090.0, 1144.0, 1144.0]);
        assert_eq!(out.summary.rebalance_count, 0);
        assert_eq!(out.filled_returns, 0);
        assert!(out.switches.is_empty());
    }

    #[test]
    fn monthly_rebalances_after_the_first_day_of_a_new_month() {
        // Day 3 (Feb 1): 1090 after returns, then reset to X 545, Y 545.
        // Day 4: X 545·1.1 = 599.5 → 1144.5. Day 5 (Apr 1): new month again, NAV unchanged.
        let out = two_asset_case(RebalanceFreq::Monthly);
        assert_navs(&out, &[1100.0, 1100.0, 1090.0, 1144.5, 1144.5]);
        assert_eq!(out.summary.rebalance_count, 2);
    }

    #[test]
    fn quarterly_and_annual_count_period_changes_only() {
        // Jan→Feb is the same quarter; Feb→Apr is Q1→Q2; no year change among path dates.
        let quarterly = two_asset_case(RebalanceFreq::Quarterly);
        assert_navs(&quarterly, &[1100.0, 1100.0, 1090.0, 1144.0, 1144.0]);
        assert_eq!(quarterly.summary.rebalance_count, 1);
        assert_eq!(
            two_asset_case(RebalanceFreq::Annual)
                .summary
                .rebalance_count,
            0
        );
    }

    #[test]
    fn cash_remainder_earns_nothing_and_is_rebalanced() {
        // 60 % X, 40 % cash, A = 1000: h = 600, c = 400.
        // Jan 31: X +10 % → 660 + 400 = 1060.
        // Feb 1:  X +10 % → 726 + 400 = 1126, new month → h = 675.6, c = 450.4.
        // Feb 2:  X −50 % → 337.8 + 450.4 = 788.2.
        let versions = [version(1, d(2024, 1, 1), &[(1, 0.6)])];
        let returns = [
            row(1, d(2024, 1, 31), 0.1),
            row(1, d(2024, 2, 1), 0.1),
            row(1, d(2024, 2, 2), -0.5),
        ];
        let out = simulate(&input(
            &versions,
            &returns,
            d(2024, 1, 31),
            d(2024, 2, 2),
            RebalanceFreq::Monthly,
        ))
        .unwrap();
        assert_navs(&out, &[1060.0, 1126.0, 788.2]);
        assert_eq!(out.summary.rebalance_count, 1);
        // 788.2 / 1000 − 1 = −21.18 %
        assert_close(out.summary.total_return, -21.18);
    }

    #[test]
    fn newer_version_switches_in_on_first_path_date_on_or_after_its_effective_date() {
        // v1 = 100 % X from Jan 1, v2 = 100 % Y from Jan 3 (no row that day), A = 100.
        // Jan 2: hold X, +10 % → 110.      Jan 4: still X (switch after returns), +10 % → 121,
        // then all into Y. Jan 5: Y +10 % → 133.1.  Jan 6: only X has a row; Y is held → a fill,
        // NAV stays 133.1. Y's −50 % on Jan 2 and X's −50 % on Jan 5 are never held.
        let versions = [
            version(1, d(2024, 1, 1), &[(1, 1.0)]),
            version(2, d(2024, 1, 3), &[(2, 1.0)]),
        ];
        let returns = [
            row(1, d(2024, 1, 2), 0.1),
            row(2, d(2024, 1, 2), -0.5),
            row(1, d(2024, 1, 4), 0.1),
            row(2, d(2024, 1, 4), 0.3),
            row(1, d(2024, 1, 5), -0.5),
            row(2, d(2024, 1, 5), 0.1),
            row(1, d(2024, 1, 6), 0.2),
        ];
        let mut inp = input(
            &versions,
            &returns,
            d(2024, 1, 1),
            d(2024, 1, 6),
            RebalanceFreq::None,
        );
        inp.initial_amount = 100.0;
        let out = simulate(&inp).unwrap();
        assert_navs(&out, &[110.0, 121.0, 133.1, 133.1]);
        assert_eq!(
            out.switches,
            vec![VersionSwitch {
                date: d(2024, 1, 4),
                portfolio_id: 2
            }]
        );
        assert_eq!(out.summary.rebalance_count, 1);
        assert_eq!(out.filled_returns, 1);
    }

    #[test]
    fn version_effective_before_the_first_path_date_switches_on_it() {
        // v2 takes effect Jan 2, after the start (Jan 1) and before the first path date (Jan 3):
        // Jan 3 applies v1's X +10 % → 1100, then switches to Y (a rebalance despite being the
        // first date). Jan 4: Y +10 % → 1210; X's −50 % is no longer held.
        let versions = [
            version(1, d(2024, 1, 1), &[(1, 1.0)]),
            version(2, d(2024, 1, 2), &[(2, 1.0)]),
        ];
        let returns = [
            row(1, d(2024, 1, 3), 0.1),
            row(2, d(2024, 1, 3), 0.5),
            row(1, d(2024, 1, 4), -0.5),
            row(2, d(2024, 1, 4), 0.1),
        ];
        let out = simulate(&input(
            &versions,
            &returns,
            d(2024, 1, 1),
            d(2024, 1, 4),
            RebalanceFreq::Monthly,
        ))
        .unwrap();
        assert_navs(&out, &[1100.0, 1210.0]);
        assert_eq!(out.summary.rebalance_count, 1);
        assert_eq!(out.switches[0].date, d(2024, 1, 3));
    }

    #[test]
    fn starts_from_the_latest_version_in_force_and_ignores_future_ones() {
        // v0 (100 % X) was replaced by v1 (100 % Y) before the start; v2 starts after the end.
        // Only Y is held: Y +5 % → 1050. X's and Z's rows do not put dates on the calendar
        // (neither is used), so the path has one row.
        let versions = [
            version(1, d(2023, 1, 1), &[(1, 1.0)]),
            version(2, d(2024, 1, 1), &[(2, 1.0)]),
            version(3, d(2024, 3, 1), &[(3, 1.0)]),
        ];
        let returns = [
            row(1, d(2024, 2, 1), 0.5),
            row(2, d(2024, 2, 2), 0.05),
            row(3, d(2024, 2, 5), 0.5),
        ];
        let out = simulate(&input(
            &versions,
            &returns,
            d(2024, 2, 1),
            d(2024, 2, 29),
            RebalanceFreq::None,
        ))
        .unwrap();
        assert_navs(&out, &[1050.0]);
        assert!(out.switches.is_empty());
    }

    #[test]
    fn missing_returns_are_filled_with_zero_and_counted() {
        // 50/50, A = 1000. Jan 2: X +10 %, Y +10 % → 550 + 550 = 1100.
        // Jan 3: only X (+10 %) → Y filled: 605 + 550 = 1155. Jan 4: only Y (−20 %) → X filled:
        // 605 + 440 = 1045. Two fills.
        let versions = [version(1, d(2024, 1, 1), &[(1, 0.5), (2, 0.5)])];
        let returns = [
            row(2, d(2024, 1, 4), -0.2),
            row(1, d(2024, 1, 3), 0.1),
            row(2, d(2024, 1, 2), 0.1),
            row(1, d(2024, 1, 2), 0.1),
        ];
        let out = simulate(&input(
            &versions,
            &returns,
            d(2024, 1, 1),
            d(2024, 1, 31),
            RebalanceFreq::None,
        ))
        .unwrap();
        assert_navs(&out, &[1100.0, 1155.0, 1045.0]);
        assert_eq!(out.filled_returns, 2);
        let dates: Vec<NaiveDate> = out.path.iter().map(|p| p.date).collect();
        assert_eq!(dates, [d(2024, 1, 2), d(2024, 1, 3), d(2024, 1, 4)]);
    }

    #[test]
    fn one_day_simulation_has_a_single_point() {
        // A = 1000, X −10 % → 900: drawdown −0.1, total −10 %, recovery spell open for 1 row.
        let versions = [version(1, d(2024, 1, 1), &[(1, 1.0)])];
        let returns = [row(1, d(2024, 1, 2), -0.1), row(1, d(2024, 1, 3), 0.5)];
        let out = simulate(&input(
            &versions,
            &returns,
            d(2024, 1, 1),
            d(2024, 1, 2),
            RebalanceFreq::Monthly,
        ))
        .unwrap();
        assert_eq!(out.path.len(), 1);
        let p = out.path[0];
        assert_close(p.nav, 900.0);
        assert_close(p.daily_return, -0.1);
        assert_close(p.drawdown, -0.1);
        assert_close(p.high_water_mark, 1000.0);
        assert_eq!(out.summary.trading_days, 1);
        assert_close(out.summary.max_drawdown, 10.0);
        assert_eq!(out.summary.max_recovery_days, 1);
        assert_eq!(out.summary.volatility, None);
    }

    #[test]
    fn input_errors_are_distinct() {
        let ok = [version(1, d(2024, 1, 1), &[(1, 1.0)])];
        let returns = [row(1, d(2024, 1, 2), 0.01)];
        let run = |versions: &[PortfolioVersion],
                   returns: &[ReturnRow],
                   f: &dyn Fn(&mut SimulationInput)| {
            let mut inp = input(
                versions,
                returns,
                d(2024, 1, 1),
                d(2024, 1, 31),
                RebalanceFreq::None,
            );
            f(&mut inp);
            simulate(&inp).unwrap_err()
        };
        assert!(matches!(
            run(&ok, &returns, &|i| i.end_date = i.start_date),
            EngineError::InvalidDateRange { .. }
        ));
        assert!(matches!(
            run(&ok, &returns, &|i| i.initial_amount = 0.0),
            EngineError::InvalidAmount { .. }
        ));
        assert!(matches!(
            run(&ok, &returns, &|i| i.initial_amount = f64::NAN),
            EngineError::InvalidAmount { .. }
        ));
        assert!(matches!(
            run(&ok, &returns, &|i| i.risk_free_rate = f64::INFINITY),
            EngineError::InvalidRiskFreeRate { .. }
        ));
        assert_eq!(run(&[], &returns, &|_| ()), EngineError::NoVersions);
        let unsorted = [
            version(1, d(2024, 1, 1), &[(1, 1.0)]),
            version(2, d(2024, 1, 1), &[(1, 1.0)]),
        ];
        assert_eq!(
            run(&unsorted, &returns, &|_| ()),
            EngineError::VersionsNotSorted { index: 1 }
        );
        let late = [version(1, d(2024, 1, 2), &[(1, 1.0)])];
        assert!(matches!(
            run(&late, &returns, &|_| ()),
            EngineError::NoVersionInForce { .. }
        ));
        for bad in [-0.1, 1.1, f64::NAN] {
            let v = [version(1, d(2024, 1, 1), &[(1, bad)])];
            assert!(matches!(
                run(&v, &returns, &|_| ()),
                EngineError::InvalidWeight {
                    instrument_id: 1,
                    ..
                }
            ));
        }
        let dup = [version(1, d(2024, 1, 1), &[(1, 0.5), (1, 0.5)])];
        assert!(matches!(
            run(&dup, &returns, &|_| ()),
            EngineError::DuplicateWeight { .. }
        ));
        let heavy = [version(1, d(2024, 1, 1), &[(1, 0.6), (2, 0.4002)])];
        assert!(matches!(
            run(&heavy, &returns, &|_| ()),
            EngineError::WeightSumExceeded { .. }
        ));
        // Weight errors are caught in every version, not only the used ones.
        let bad_future = [
            version(1, d(2024, 1, 1), &[(1, 1.0)]),
            version(2, d(2025, 1, 1), &[(1, 2.0)]),
        ];
        assert!(matches!(
            run(&bad_future, &returns, &|_| ()),
            EngineError::InvalidWeight { .. }
        ));
    }

    #[test]
    fn weight_sum_within_tolerance_is_accepted() {
        // Σw = 1.00005 ≤ 1.0001: cash is −0.00005·A, exactly as the definition says.
        let v = [version(1, d(2024, 1, 1), &[(1, 0.60005), (2, 0.4)])];
        let returns = [row(1, d(2024, 1, 2), 0.0), row(2, d(2024, 1, 2), 0.0)];
        let out = simulate(&input(
            &v,
            &returns,
            d(2024, 1, 1),
            d(2024, 1, 2),
            RebalanceFreq::None,
        ))
        .unwrap();
        assert_close(out.summary.final_value, 1000.0);
    }
}
