//! Summary figures of a NAV path, one function per definition in `docs/metrics.md`.

use chrono::NaiveDate;

use super::{PathPoint, Summary};

const PERIODS_PER_YEAR: f64 = 252.0;
/// CAGR is not annualised from runs shorter than a year of rows.
const CAGR_MIN_ROWS: usize = 252;
const ONE_MONTH_ROWS: usize = 21;
const THREE_MONTH_ROWS: usize = 63;

/// All summary figures of `path` (with `NAV_0 = initial_amount`); `risk_free_rate` is annual.
pub(super) fn summarize(
    path: &[PathPoint],
    initial_amount: f64,
    risk_free_rate: f64,
    rebalance_count: u32,
) -> Summary {
    let n = path.len();
    let final_value = path.last().map_or(initial_amount, |p| p.nav);
    let growth = final_value / initial_amount;
    let returns: Vec<f64> = path.iter().map(|p| p.daily_return).collect();
    let daily_rf = risk_free_rate / PERIODS_PER_YEAR;
    let excess: Vec<f64> = returns.iter().map(|r| r - daily_rf).collect();
    let navs: Vec<f64> = std::iter::once(initial_amount)
        .chain(path.iter().map(|p| p.nav))
        .collect();
    Summary {
        trading_days: u32::try_from(n).unwrap_or(u32::MAX),
        final_value,
        total_return: (growth - 1.0) * 100.0,
        cagr: (n >= CAGR_MIN_ROWS)
            .then(|| (growth.powf(PERIODS_PER_YEAR / n as f64) - 1.0) * 100.0),
        volatility: sample_stdev(&returns).map(|s| s * PERIODS_PER_YEAR.sqrt() * 100.0),
        sharpe_ratio: sharpe(&excess),
        sortino_ratio: sortino(&excess),
        max_drawdown: max_drawdown(path),
        max_recovery_days: max_recovery_days(path),
        worst_1m_return: worst_window_return(&navs, ONE_MONTH_ROWS),
        worst_3m_return: worst_window_return(&navs, THREE_MONTH_ROWS),
        rebalance_count,
    }
}

/// The first date on which the loss from the high-water mark exceeds the limit:
/// `−drawdown · 100 > max_loss_limit_pct` (strictly; a loss exactly at the limit is no breach).
/// `None` when the path never breaches it.
pub fn first_loss_breach(path: &[PathPoint], max_loss_limit_pct: f64) -> Option<NaiveDate> {
    path.iter()
        .find(|p| -p.drawdown * 100.0 > max_loss_limit_pct)
        .map(|p| p.date)
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample standard deviation (ddof = 1); `None` below 2 values. Exactly 0 for a constant series,
/// which the two-pass formula would not guarantee (the mean of equal values can be off by an ulp),
/// so that "deviation is 0" means what it says.
fn sample_stdev(xs: &[f64]) -> Option<f64> {
    let (first, rest) = xs.split_first()?;
    if rest.is_empty() {
        return None;
    }
    if rest.iter().all(|x| x == first) {
        return Some(0.0);
    }
    let m = mean(xs);
    let squares: f64 = xs.iter().map(|x| (x - m).powi(2)).sum();
    Some((squares / (xs.len() - 1) as f64).sqrt())
}

/// `mean(e) / stdev(e) · √252`; NULL when the deviation is 0 or undefined (one row).
fn sharpe(excess: &[f64]) -> Option<f64> {
    sample_stdev(excess)
        .filter(|&s| s != 0.0)
        .map(|s| mean(excess) / s * PERIODS_PER_YEAR.sqrt())
}

/// `mean(e) · 252 / (√mean(min(e, 0)²) · √252)` with the mean of squares over all rows. A
/// "negative day" is one with negative *excess* return: the downside deviation is 0 exactly when
/// there is none.
fn sortino(excess: &[f64]) -> Option<f64> {
    if !excess.iter().any(|&e| e < 0.0) {
        return None;
    }
    let downside: Vec<f64> = excess.iter().map(|e| e.min(0.0).powi(2)).collect();
    Some(mean(excess) * PERIODS_PER_YEAR / (mean(&downside).sqrt() * PERIODS_PER_YEAR.sqrt()))
}

/// `−min(drawdown) · 100`, as +0 (not −0) when the path never falls below its high-water mark.
fn max_drawdown(path: &[PathPoint]) -> f64 {
    let deepest = path.iter().map(|p| p.drawdown).fold(0.0, f64::min);
    if deepest < 0.0 { -deepest * 100.0 } else { 0.0 }
}

/// Longest spell, in rows, from a peak to the first row back at or above it; an open spell
/// counts with its length so far.
///
/// A peak is the latest row (or the start, k = 0) whose drawdown is 0, i.e. whose NAV is at the
/// high-water mark; a row merely equal to the previous high is a peak too, so a later fall is
/// measured from it. Being "in drawdown" is read from the `drawdown` column, so this and
/// `max_drawdown` never disagree on whether there was one.
fn max_recovery_days(path: &[PathPoint]) -> u32 {
    let mut peak = 0;
    let mut in_drawdown = false;
    let mut longest = 0;
    for (k, point) in (1..).zip(path) {
        if point.drawdown < 0.0 {
            in_drawdown = true;
            longest = longest.max(k - peak);
        } else {
            if in_drawdown {
                longest = longest.max(k - peak);
                in_drawdown = false;
            }
            peak = k;
        }
    }
    longest
}

/// `min over k ≥ rows of (NAV_k / NAV_{k−rows} − 1) · 100` over `navs = [NAV_0 = A, NAV_1, …]`;
/// `None` when the path has fewer than `rows` rows.
fn worst_window_return(navs: &[f64], rows: usize) -> Option<f64> {
    navs.windows(rows + 1)
        .map(|w| (w[rows] / w[0] - 1.0) * 100.0)
        .reduce(f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::path::points;
    use crate::engine::tests::{assert_close, d};

    /// The path of NAVs on consecutive days, `NAV_0 = a`.
    fn path_of(a: f64, navs: &[f64]) -> Vec<PathPoint> {
        let dates: Vec<NaiveDate> = (0..navs.len())
            .map(|k| d(2024, 1, 1) + chrono::Days::new(k as u64))
            .collect();
        points(&dates, navs, a)
    }

    fn summary(a: f64, navs: &[f64], rf: f64) -> Summary {
        summarize(&path_of(a, navs), a, rf, 0)
    }

    #[test]
    fn one_rising_day() {
        // A = 100, NAV_1 = 110: total (110/100 − 1)·100 = 10; r = [0.1] has no deviation,
        // no negative day, no drawdown; every length-dependent figure is NULL.
        let s = summary(100.0, &[110.0], 0.0);
        assert_eq!(s.trading_days, 1);
        assert_close(s.final_value, 110.0);
        assert_close(s.total_return, 10.0);
        assert_eq!(s.cagr, None);
        assert_eq!(s.volatility, None);
        assert_eq!(s.sharpe_ratio, None);
        assert_eq!(s.sortino_ratio, None);
        assert_eq!(s.max_drawdown, 0.0);
        assert_eq!(s.max_recovery_days, 0);
        assert_eq!(s.worst_1m_return, None);
        assert_eq!(s.worst_3m_return, None);
    }

    #[test]
    fn one_falling_day() {
        // A = 100, NAV_1 = 90: e = [−0.1]; sortino = −0.1·252 / (√(0.01/1)·√252) = −√252
        // = −15.874507866387544. Drawdown −0.1 → 10 %; the spell is open for 1 row.
        let s = summary(100.0, &[90.0], 0.0);
        assert_close(s.sortino_ratio.unwrap(), -252f64.sqrt());
        assert_close(s.sortino_ratio.unwrap(), -15.874507866387544);
        assert_eq!(s.sharpe_ratio, None);
        assert_close(s.max_drawdown, 10.0);
        assert_eq!(s.max_recovery_days, 1);
    }

    #[test]
    fn every_figure_with_a_risk_free_rate() {
        // A = 100, NAV 101, 98.98, 101.9494 → r = 0.01, −0.02, 0.03; rf = 0.0252 → rf/252 = 0.0001
        // e = 0.0099, −0.0201, 0.0299; mean(e) = 0.0197/3 = 0.00656667
        // deviations 0.00333333, −0.02666667, 0.02333333 → Σ² = 0.00126667 → /2 → sd = 0.02516611
        // volatility = 0.02516611·√252·100 = 39.9499687108763 (sd of r = sd of e)
        // sharpe  = 0.00656667 / 0.02516611 · 15.87450787 = 4.14218096633823
        // sortino = 0.00656667·252 / (√(0.0201²/3)·√252) = 1.65480 / (0.01160460·15.87450787)
        //         = 8.98276031747563
        // total = 1.9494 %; drawdown 98.98/101 − 1 = −0.02 → 2 %; peak k=1, back above at k=3 → 2.
        let s = summary(100.0, &[101.0, 98.98, 101.9494], 0.0252);
        assert_eq!(s.trading_days, 3);
        assert_close(s.final_value, 101.9494);
        assert_close(s.total_return, 1.9494);
        assert_close(s.volatility.unwrap(), 39.9499687108763);
        assert_close(s.sharpe_ratio.unwrap(), 4.14218096633823);
        assert_close(s.sortino_ratio.unwrap(), 8.98276031747563);
        assert_close(s.max_drawdown, 2.0);
        assert_eq!(s.max_recovery_days, 2);
        assert_eq!(s.cagr, None);
        assert_eq!(s.worst_1m_return, None);
    }

    #[test]
    fn risk_free_rate_changes_sharpe_and_sortino_only() {
        // Same path with rf = 0: mean(r) = 0.02/3 = 0.00666667, sd unchanged 0.02516611
        // sharpe = 0.00666667/0.02516611·15.87450787 = 4.20525986; r has one negative day
        // sortino = 0.00666667·252 / (√(0.02²/3)·√252) = 1.68 / (0.01154701·15.87450787) = 9.16515139
        let s = summary(100.0, &[101.0, 98.98, 101.9494], 0.0);
        assert_close(s.sharpe_ratio.unwrap(), 4.20525986430281);
        assert_close(s.sortino_ratio.unwrap(), 9.16515138991168);
        assert_close(s.volatility.unwrap(), 39.9499687108763);
    }

    #[test]
    fn no_drawdown() {
        // A = 100, NAV 101, 102, 103: r = 0.01, 1/101, 1/102, all positive → sortino NULL,
        // max_drawdown 0 (and +0, not −0), recovery 0.
        // mean(r) = 0.00990164; sd = 9.80398e-5 → volatility = sd·√252·100 = 0.155634972806158
        let s = summary(100.0, &[101.0, 102.0, 103.0], 0.0);
        assert_eq!(s.sortino_ratio, None);
        assert!(s.max_drawdown == 0.0 && s.max_drawdown.is_sign_positive());
        assert_eq!(s.max_recovery_days, 0);
        assert_close(s.volatility.unwrap(), 0.155634972806158);
        assert_close(s.total_return, 3.0);
    }

    #[test]
    fn zero_volatility() {
        // A = 100, NAV flat: r = 0 every day → volatility 0, sharpe NULL, no negative day.
        let s = summary(100.0, &[100.0, 100.0, 100.0], 0.0);
        assert_eq!(s.volatility, Some(0.0));
        assert_eq!(s.sharpe_ratio, None);
        assert_eq!(s.sortino_ratio, None);
        // With rf = 0.0252: e = −0.0001 every day → still no deviation (sharpe NULL), but every
        // day is a negative excess day: sortino = −0.0001·252 / (0.0001·√252) = −√252.
        let s = summary(100.0, &[100.0, 100.0, 100.0], 0.0252);
        assert_eq!(s.sharpe_ratio, None);
        assert_close(s.sortino_ratio.unwrap(), -15.874507866387544);
    }

    #[test]
    fn recovery_example_from_the_definition() {
        // NAV 100 (start), 90, 95, 100, 101 → peak k=0, recovered at k=3: 3 rows. MDD 10 %.
        let s = summary(100.0, &[90.0, 95.0, 100.0, 101.0], 0.0);
        assert_eq!(s.max_recovery_days, 3);
        assert_close(s.max_drawdown, 10.0);
    }

    #[test]
    fn unrecovered_spell_counts_with_its_length_so_far() {
        // A = 100, NAV 100, 90, 95, 80: k=1 equals the high (a peak); never back → open 4−1 = 3.
        // MDD = (1 − 80/100)·100 = 20.
        let s = summary(100.0, &[100.0, 90.0, 95.0, 80.0], 0.0);
        assert_eq!(s.max_recovery_days, 3);
        assert_close(s.max_drawdown, 20.0);
    }

    #[test]
    fn longest_of_several_spells() {
        // A = 100: 90 100 | 110 100 105 111 | 100
        // spell 1: k=0 → k=2 (2 rows); spell 2: k=3 → k=6 (3 rows); open spell k=6 → 7 (1 row).
        // deepest: 90/100 − 1 = −0.1 (others −0.0909, −0.0991) → MDD 10.
        let s = summary(
            100.0,
            &[90.0, 100.0, 110.0, 100.0, 105.0, 111.0, 100.0],
            0.0,
        );
        assert_eq!(s.max_recovery_days, 3);
        assert_close(s.max_drawdown, 10.0);
    }

    #[test]
    fn window_returns_need_21_and_63_rows_and_start_from_the_initial_amount() {
        // 20 rows → no 1M window.
        assert_eq!(summary(100.0, &[90.0; 20], 0.0).worst_1m_return, None);
        // 21 rows of 90: the only window is NAV_21 / NAV_0 = 90/100 → −10 %.
        let s = summary(100.0, &[90.0; 21], 0.0);
        assert_close(s.worst_1m_return.unwrap(), -10.0);
        assert_eq!(s.worst_3m_return, None);
        assert_eq!(summary(100.0, &[90.0; 62], 0.0).worst_3m_return, None);
        // 63 rows of 100, except NAV_42 = 95 and NAV_63 = 90.
        // 1M windows: k=42: 95/100 − 1 = −5 %; k=63: 90/NAV_42 = 90/95 − 1 = −5.263157894736842 %.
        // 3M: only k=63: 90/NAV_0 = 90/100 → −10 %.
        let mut navs = [100.0; 63];
        navs[41] = 95.0;
        navs[62] = 90.0;
        let s = summary(100.0, &navs, 0.0);
        assert_close(s.worst_1m_return.unwrap(), -5.263157894736842);
        assert_close(s.worst_3m_return.unwrap(), -10.0);
    }

    #[test]
    fn cagr_needs_252_rows() {
        let mut navs = vec![100.0; 251];
        navs[250] = 121.0;
        assert_eq!(summary(100.0, &navs, 0.0).cagr, None);
        // 252 rows ending at 121: (1.21^(252/252) − 1)·100 = 21.
        navs.push(121.0);
        assert_close(summary(100.0, &navs, 0.0).cagr.unwrap(), 21.0);
        // 504 rows ending at 121: (1.21^(252/504) − 1)·100 = (1.1 − 1)·100 = 10.
        navs.resize(504, 121.0);
        assert_close(summary(100.0, &navs, 0.0).cagr.unwrap(), 10.0);
    }

    #[test]
    fn rebalance_count_is_passed_through() {
        assert_eq!(
            summarize(&path_of(100.0, &[100.0]), 100.0, 0.0, 4).rebalance_count,
            4
        );
    }

    #[test]
    fn loss_breach_is_strictly_beyond_the_limit() {
        // A = 100: 95, 50, 40, 100 → losses from the high-water mark 5, 50 (exact), 60, 0.
        // Limit 50: day 2 is exactly at it, no breach → day 3. Limit 0 → day 1. Limit 61 → none.
        let path = path_of(100.0, &[95.0, 50.0, 40.0, 100.0]);
        assert_eq!(first_loss_breach(&path, 50.0), Some(d(2024, 1, 3)));
        assert_eq!(first_loss_breach(&path, 0.0), Some(d(2024, 1, 1)));
        assert_eq!(first_loss_breach(&path, 61.0), None);
    }
}
