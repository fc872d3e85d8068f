//! The trading calendar: the path dates, and each instrument's return on them (or a gap to fill).

use chrono::NaiveDate;

use super::{EngineError, ReturnRow};

/// Path dates × instruments, with the return of each instrument on each date when it has one.
#[derive(Debug)]
pub(super) struct Calendar {
    dates: Vec<NaiveDate>,
    /// Sorted, distinct; a column index is a position in this list.
    instruments: Vec<i64>,
    /// Row-major `dates.len() × instruments.len()`; `None` = no return row that day.
    cells: Vec<Option<f64>>,
}

impl Calendar {
    /// Builds the calendar of `[start, end]` for `instruments` (sorted, distinct) from `returns`
    /// (any order; rows of other instruments or dates are ignored).
    ///
    /// # Errors
    /// [`EngineError::NoReturns`] when none of the instruments has a row on or before `end`,
    /// [`EngineError::NoTradingDays`] when they have rows but none in the range,
    /// [`EngineError::DuplicateReturn`] / [`EngineError::InvalidReturn`] for an in-range row that
    /// repeats an (instrument, date) or is not a possible simple return (non-finite or < −1).
    pub(super) fn build(
        returns: &[ReturnRow],
        instruments: Vec<i64>,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Self, EngineError> {
        let mut relevant: Vec<(usize, &ReturnRow)> = Vec::new();
        let mut any_until_end = false;
        for row in returns {
            let Ok(column) = instruments.binary_search(&row.instrument_id) else {
                continue;
            };
            any_until_end |= row.date <= end;
            if (start..=end).contains(&row.date) {
                relevant.push((column, row));
            }
        }
        if !any_until_end {
            return Err(EngineError::NoReturns);
        }
        let mut dates: Vec<NaiveDate> = relevant.iter().map(|(_, row)| row.date).collect();
        dates.sort_unstable();
        dates.dedup();
        if dates.is_empty() {
            return Err(EngineError::NoTradingDays {
                start_date: start,
                end_date: end,
            });
        }

        let width = instruments.len();
        let mut cells = vec![None; dates.len() * width];
        for (column, row) in relevant {
            // A return below −100 % would make a long holding negative.
            if !row.daily_return.is_finite() || row.daily_return < -1.0 {
                return Err(EngineError::InvalidReturn {
                    instrument_id: row.instrument_id,
                    date: row.date,
                    value: row.daily_return,
                });
            }
            let day = dates
                .binary_search(&row.date)
                .expect("every in-range row's date is on the calendar");
            let cell = &mut cells[day * width + column];
            if cell.is_some() {
                return Err(EngineError::DuplicateReturn {
                    instrument_id: row.instrument_id,
                    date: row.date,
                });
            }
            *cell = Some(row.daily_return);
        }
        Ok(Self {
            dates,
            instruments,
            cells,
        })
    }

    pub(super) fn dates(&self) -> &[NaiveDate] {
        &self.dates
    }

    /// Column of an instrument the calendar was built for.
    ///
    /// # Panics
    /// If the instrument was not passed to [`Calendar::build`], which would be a bug in the caller.
    pub(super) fn column(&self, instrument_id: i64) -> usize {
        self.instruments
            .binary_search(&instrument_id)
            .expect("calendar built for every instrument of the versions used")
    }

    /// The return of the instrument in `column` on path day `day`, `None` when it has no row.
    pub(super) fn return_at(&self, day: usize, column: usize) -> Option<f64> {
        self.cells[day * self.instruments.len() + column]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tests::{d, row};

    #[test]
    fn dates_are_the_union_of_instrument_dates_within_range() {
        // Instrument 9 is not in the portfolio; Jan 1 and Jan 9 are outside the range.
        let returns = [
            row(2, d(2024, 1, 4), 0.02),
            row(1, d(2024, 1, 1), 0.5),
            row(9, d(2024, 1, 3), 0.1),
            row(1, d(2024, 1, 2), 0.01),
            row(1, d(2024, 1, 9), 0.5),
        ];
        let cal = Calendar::build(&returns, vec![1, 2], d(2024, 1, 2), d(2024, 1, 8)).unwrap();
        assert_eq!(cal.dates(), [d(2024, 1, 2), d(2024, 1, 4)]);
        let (x, y) = (cal.column(1), cal.column(2));
        assert_eq!(cal.return_at(0, x), Some(0.01));
        assert_eq!(cal.return_at(0, y), None);
        assert_eq!(cal.return_at(1, x), None);
        assert_eq!(cal.return_at(1, y), Some(0.02));
    }

    #[test]
    fn no_rows_at_all_differs_from_no_rows_in_range() {
        let before = [row(1, d(2023, 12, 29), 0.01)];
        assert_eq!(
            Calendar::build(&before, vec![1], d(2024, 1, 1), d(2024, 1, 31)).unwrap_err(),
            EngineError::NoTradingDays {
                start_date: d(2024, 1, 1),
                end_date: d(2024, 1, 31)
            }
        );
        let after = [row(1, d(2024, 2, 1), 0.01), row(2, d(2024, 1, 2), 0.01)];
        assert_eq!(
            Calendar::build(&after, vec![1], d(2024, 1, 1), d(2024, 1, 31)).unwrap_err(),
            EngineError::NoReturns
        );
    }

    #[test]
    fn duplicate_and_impossible_returns_are_errors() {
        let dup = [row(1, d(2024, 1, 2), 0.01), row(1, d(2024, 1, 2), 0.02)];
        assert_eq!(
            Calendar::build(&dup, vec![1], d(2024, 1, 1), d(2024, 1, 31)).unwrap_err(),
            EngineError::DuplicateReturn {
                instrument_id: 1,
                date: d(2024, 1, 2)
            }
        );
        for value in [-1.5, f64::INFINITY] {
            let bad = [row(1, d(2024, 1, 2), value)];
            assert!(matches!(
                Calendar::build(&bad, vec![1], d(2024, 1, 1), d(2024, 1, 31)).unwrap_err(),
                EngineError::InvalidReturn {
                    instrument_id: 1,
                    ..
                }
            ));
        }
        // −100 % is possible (a total loss).
        let total_loss = [row(1, d(2024, 1, 2), -1.0)];
        assert!(Calendar::build(&total_loss, vec![1], d(2024, 1, 1), d(2024, 1, 31)).is_ok());
    }
}
