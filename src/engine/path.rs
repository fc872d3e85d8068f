//! Positions, rebalancing and version switches over the calendar; the NAV path built from them.

use chrono::{Datelike, NaiveDate};
use entity::enums::RebalanceFreq;

use super::calendar::Calendar;
use super::{PathPoint, PortfolioVersion, VersionSwitch, weight_sum};

/// NAV after each calendar date, and what happened on the way.
#[derive(Debug)]
pub(super) struct Run {
    pub navs: Vec<f64>,
    pub rebalance_count: u32,
    pub filled_returns: u32,
    pub switches: Vec<VersionSwitch>,
}

/// Holdings of the version currently held, by calendar column, plus cash.
struct Book {
    positions: Vec<(usize, f64)>,
    cash: f64,
}

impl Book {
    fn allocate(calendar: &Calendar, version: &PortfolioVersion, value: f64) -> Self {
        Self {
            positions: version
                .weights
                .iter()
                .map(|w| (calendar.column(w.instrument_id), value * w.weight))
                .collect(),
            cash: value * (1.0 - weight_sum(version)),
        }
    }

    fn nav(&self) -> f64 {
        self.positions.iter().map(|(_, h)| h).sum::<f64>() + self.cash
    }
}

/// Runs `versions` (the first is held from the start; each later one switches in on the first
/// date on or after its effective date) over the calendar.
///
/// Each day: apply the held instruments' returns (a missing one is a fill with return 0), record
/// NAV, then reset holdings to the target weights if a version switches in or a new rebalance
/// period begins. A switch coinciding with a scheduled rebalance is one reset and counts once;
/// several versions becoming effective before the same path date switch straight to the latest.
pub(super) fn run(
    calendar: &Calendar,
    versions: &[PortfolioVersion],
    initial_amount: f64,
    freq: RebalanceFreq,
) -> Run {
    let dates = calendar.dates();
    let mut held = 0;
    let mut book = Book::allocate(calendar, &versions[held], initial_amount);
    let mut run = Run {
        navs: Vec::with_capacity(dates.len()),
        rebalance_count: 0,
        filled_returns: 0,
        switches: Vec::new(),
    };
    for (day, &date) in dates.iter().enumerate() {
        for (column, holding) in &mut book.positions {
            match calendar.return_at(day, *column) {
                Some(r) => *holding *= 1.0 + r,
                None => run.filled_returns += 1,
            }
        }
        let nav = book.nav();
        run.navs.push(nav);

        let before = held;
        while versions
            .get(held + 1)
            .is_some_and(|next| next.effective_date <= date)
        {
            held += 1;
        }
        let switched = held != before;
        if switched {
            run.switches.push(VersionSwitch {
                date,
                portfolio_id: versions[held].portfolio_id,
            });
        }
        let scheduled = day > 0 && starts_new_period(freq, dates[day - 1], date);
        if switched || scheduled {
            book = Book::allocate(calendar, &versions[held], nav);
            run.rebalance_count += 1;
        }
    }
    run
}

/// Whether `date` falls in a later rebalance period than `previous` (never for NONE).
fn starts_new_period(freq: RebalanceFreq, previous: NaiveDate, date: NaiveDate) -> bool {
    let period = |d: NaiveDate| match freq {
        RebalanceFreq::None => None,
        RebalanceFreq::Monthly => Some((d.year(), d.month0())),
        RebalanceFreq::Quarterly => Some((d.year(), d.month0() / 3)),
        RebalanceFreq::Annual => Some((d.year(), 0)),
    };
    period(previous) != period(date)
}

/// The path columns from the NAVs, with `NAV_0 = initial_amount`.
pub(super) fn points(dates: &[NaiveDate], navs: &[f64], initial_amount: f64) -> Vec<PathPoint> {
    let mut previous = initial_amount;
    let mut high_water_mark = initial_amount;
    dates
        .iter()
        .zip(navs)
        .map(|(&date, &nav)| {
            high_water_mark = high_water_mark.max(nav);
            let point = PathPoint {
                date,
                nav,
                daily_return: nav / previous - 1.0,
                cumulative_return: nav / initial_amount - 1.0,
                drawdown: nav / high_water_mark - 1.0,
                high_water_mark,
            };
            previous = nav;
            point
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tests::{assert_close, d};

    #[test]
    fn period_boundaries() {
        use RebalanceFreq::{Annual, Monthly, Quarterly};
        let (jan31, feb1, mar29, apr1) =
            (d(2024, 1, 31), d(2024, 2, 1), d(2024, 3, 29), d(2024, 4, 1));
        let (dec31, jan2) = (d(2023, 12, 31), d(2024, 1, 2));
        assert!(starts_new_period(Monthly, jan31, feb1));
        assert!(!starts_new_period(Monthly, feb1, d(2024, 2, 29)));
        assert!(!starts_new_period(Quarterly, jan31, mar29));
        assert!(starts_new_period(Quarterly, mar29, apr1));
        assert!(!starts_new_period(Annual, jan2, d(2024, 12, 31)));
        assert!(starts_new_period(Annual, dec31, jan2));
        // Same month number in another year is a new month.
        assert!(starts_new_period(Monthly, d(2023, 1, 31), d(2024, 1, 2)));
        assert!(!starts_new_period(RebalanceFreq::None, dec31, jan2));
    }

    #[test]
    fn path_columns_follow_the_definitions() {
        // A = 100, NAV 110, 99, 121:
        // daily:      110/100−1 = 0.1,  99/110−1 = −0.1,  121/99−1 = 0.2222…
        // cumulative: 0.1, −0.01, 0.21
        // HWM:        110, 110, 121;   drawdown: 0, 99/110−1 = −0.1, 0
        let dates = [d(2024, 1, 2), d(2024, 1, 3), d(2024, 1, 4)];
        let p = points(&dates, &[110.0, 99.0, 121.0], 100.0);
        let expected = [
            (0.1, 0.1, 110.0, 0.0),
            (-0.1, -0.01, 110.0, -0.1),
            (22.0 / 99.0, 0.21, 121.0, 0.0),
        ];
        for (point, (daily, cumulative, hwm, drawdown)) in p.iter().zip(expected) {
            assert_close(point.daily_return, daily);
            assert_close(point.cumulative_return, cumulative);
            assert_close(point.high_water_mark, hwm);
            assert_close(point.drawdown, drawdown);
        }
        assert_eq!(p[2].date, d(2024, 1, 4));
    }

    #[test]
    fn high_water_mark_starts_at_the_initial_amount() {
        // A = 100, NAV 90: HWM = max(100, 90) = 100, drawdown = 90/100 − 1 = −0.1.
        let p = points(&[d(2024, 1, 2)], &[90.0], 100.0);
        assert_close(p[0].high_water_mark, 100.0);
        assert_close(p[0].drawdown, -0.1);
    }
}
