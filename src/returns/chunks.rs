//! Splitting a run's dates into ranges that each span a bounded number of `daily_price`
//! partitions, so that no statement of the run plans (and locks) more than that many, however
//! many the table has.
//!
//! A statement's ranges are written into its text as date literals, not bound as parameters:
//! PostgreSQL prunes partitions while planning only against constants, and a generic plan of a
//! parameterised statement would lock every partition at each execution.

use chrono::{Months, NaiveDate};

/// `daily_price` monthly partitions one statement of a run reads at most (besides DEFAULT and
/// partitions not named by month).
pub(super) const MONTHS_PER_STATEMENT: usize = 12;

/// The trade dates from `start` (inclusive) to `end` (exclusive); `None` is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Range {
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

impl Range {
    /// The range as a condition on `trade_date`, with literal dates.
    pub(super) fn condition(&self) -> String {
        // A NaiveDate prints as digits and dashes only: nothing of the caller's text reaches SQL.
        let mut parts = Vec::new();
        if let Some(start) = self.start {
            parts.push(format!("trade_date >= DATE '{start}'"));
        }
        if let Some(end) = self.end {
            parts.push(format!("trade_date < DATE '{end}'"));
        }
        if parts.is_empty() {
            "TRUE".to_owned()
        } else {
            parts.join(" AND ")
        }
    }
}

/// The prices of `range` (`adj_close_price`, else `close_price`) of the run's instruments
/// (`$1`, NULL = all), as `instrument_id, trade_date, price`.
pub(super) fn prices_in(range: &Range) -> String {
    format!(
        "SELECT instrument_id, trade_date, coalesce(adj_close_price, close_price) AS price
           FROM daily_price
          WHERE {} AND ($1::bigint[] IS NULL OR instrument_id = ANY ($1::bigint[]))",
        range.condition()
    )
}

/// `range` cut into consecutive ranges, in date order, each holding at most `per_range` of
/// `months` (the sorted first days of the monthly partitions): the cuts fall on partition
/// boundaries, the first range keeps `range`'s start and the last its end, so together they
/// cover exactly `range`, DEFAULT rows included.
pub(super) fn split(months: &[NaiveDate], range: Range, per_range: usize) -> Vec<Range> {
    let inside: Vec<NaiveDate> = months
        .iter()
        .copied()
        .filter(|&m| {
            range.start.is_none_or(|start| {
                m.checked_add_months(Months::new(1))
                    .is_none_or(|next| next > start)
            }) && range.end.is_none_or(|end| m < end)
        })
        .collect();
    let cuts = inside
        .iter()
        .copied()
        .skip(per_range.max(1))
        .step_by(per_range.max(1));
    let mut ranges = Vec::new();
    let mut start = range.start;
    for cut in cuts {
        ranges.push(Range {
            start,
            end: Some(cut),
        });
        start = Some(cut);
    }
    ranges.push(Range {
        start,
        end: range.end,
    });
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(y: i32, m: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, 1).unwrap()
    }

    fn months(first: NaiveDate, count: u32) -> Vec<NaiveDate> {
        (0..count).map(|i| first + Months::new(i)).collect()
    }

    const OPEN: Range = Range {
        start: None,
        end: None,
    };

    #[test]
    fn ranges_hold_at_most_the_given_partitions_and_cover_the_whole_range() {
        let all = months(month(1900, 1), 1640);
        let ranges = split(&all, OPEN, 12);
        assert_eq!(ranges.len(), 137);
        assert_eq!(
            ranges[0],
            Range {
                start: None,
                end: Some(month(1901, 1))
            }
        );
        assert_eq!(
            ranges[136],
            Range {
                start: Some(month(2036, 1)),
                end: None
            }
        );
        for pair in ranges.windows(2) {
            assert_eq!(
                pair[0].end, pair[1].start,
                "consecutive, no gap, no overlap"
            );
        }
        for r in &ranges {
            let held = all
                .iter()
                .filter(|m| r.start.is_none_or(|s| **m >= s) && r.end.is_none_or(|e| **m < e))
                .count();
            assert!(held <= 12, "{r:?} holds {held}");
        }
    }

    #[test]
    fn a_bounded_range_keeps_its_ends_and_counts_the_partition_it_starts_in() {
        let all = months(month(2000, 1), 48);
        let range = Range {
            start: Some(NaiveDate::from_ymd_opt(2000, 3, 15).unwrap()),
            end: Some(NaiveDate::from_ymd_opt(2001, 3, 2).unwrap()),
        };
        // 2000-03 through 2001-03: thirteen partitions, so one cut after twelve.
        assert_eq!(
            split(&all, range, 12),
            [
                Range {
                    start: range.start,
                    end: Some(month(2001, 3))
                },
                Range {
                    start: Some(month(2001, 3)),
                    end: range.end
                },
            ]
        );
        assert_eq!(split(&[], range, 12), [range], "only DEFAULT: one range");
    }

    #[test]
    fn gaps_between_partitions_cost_no_extra_range() {
        let sparse = [month(1995, 3), month(1995, 4), month(2031, 7)];
        assert_eq!(split(&sparse, OPEN, 12), [OPEN]);
        assert_eq!(
            split(&sparse, OPEN, 2),
            [
                Range {
                    start: None,
                    end: Some(month(2031, 7))
                },
                Range {
                    start: Some(month(2031, 7)),
                    end: None
                },
            ]
        );
    }

    #[test]
    fn conditions_use_literal_dates() {
        assert_eq!(OPEN.condition(), "TRUE");
        let r = Range {
            start: Some(month(1993, 1)),
            end: Some(month(1994, 1)),
        };
        assert_eq!(
            r.condition(),
            "trade_date >= DATE '1993-01-01' AND trade_date < DATE '1994-01-01'"
        );
    }
}
