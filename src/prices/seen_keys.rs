//! Which `(instrument, trade date)` keys a file has already given: one bit per day per
//! instrument, so that finding duplicates costs a few kilobytes per instrument instead of a
//! hash entry per row.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

/// The keys seen so far.
#[derive(Debug, Default)]
pub(crate) struct SeenKeys {
    by_instrument: HashMap<i64, DaySet>,
}

impl SeenKeys {
    /// Records the key; `false` when it was already recorded.
    pub(crate) fn insert(&mut self, instrument_id: i64, date: NaiveDate) -> bool {
        self.by_instrument
            .entry(instrument_id)
            .or_default()
            .insert(i64::from(date.num_days_from_ce()))
    }
}

/// A set of day numbers: bit `day % 64` of word `day / 64 - first_word`.
#[derive(Debug, Default)]
struct DaySet {
    first_word: i64,
    words: Vec<u64>,
}

impl DaySet {
    fn insert(&mut self, day: i64) -> bool {
        let word = day.div_euclid(64);
        if self.words.is_empty() {
            self.first_word = word;
        } else if word < self.first_word {
            let grow = (self.first_word - word) as usize;
            self.words.splice(0..0, std::iter::repeat_n(0, grow));
            self.first_word = word;
        }
        let index = (word - self.first_word) as usize;
        if index >= self.words.len() {
            self.words.resize(index + 1, 0);
        }
        let bit = 1u64 << day.rem_euclid(64);
        let new = self.words[index] & bit == 0;
        self.words[index] |= bit;
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_new_once_whatever_the_order() {
        let mut seen = SeenKeys::default();
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(seen.insert(1, day(2020, 1, 2)));
        assert!(seen.insert(1, day(1995, 6, 30)));
        assert!(seen.insert(1, day(2031, 12, 31)));
        assert!(seen.insert(2, day(2020, 1, 2)));
        assert!(!seen.insert(1, day(2020, 1, 2)));
        assert!(!seen.insert(1, day(1995, 6, 30)));
        assert!(!seen.insert(1, day(2031, 12, 31)));
        assert!(seen.insert(1, day(2020, 1, 3)));
        assert!(seen.insert(1, day(1, 1, 1)));
        assert!(!seen.insert(1, day(1, 1, 1)));
    }
}
