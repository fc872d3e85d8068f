//! Which `(instrument, trade date)` keys a file has already given, to find duplicates.
//!
//! Keys are kept as bits in blocks of [`BLOCK_DAYS`] days, one block per instrument and stretch
//! of days that holds a key: a daily series costs about a bit per day, and a scattered one at
//! most a block per key, so memory grows with the keys, never with the span of their dates.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

/// Days per block: 512 bits, 64 bytes.
const BLOCK_DAYS: i32 = 512;

type Block = [u64; BLOCK_DAYS as usize / 64];

/// The keys seen so far.
#[derive(Debug, Default)]
pub(crate) struct SeenKeys {
    blocks: HashMap<(i64, i32), Block>,
}

impl SeenKeys {
    /// Records the key; `false` when it was already recorded.
    pub(crate) fn insert(&mut self, instrument_id: i64, date: NaiveDate) -> bool {
        let day = date.num_days_from_ce();
        let offset = day.rem_euclid(BLOCK_DAYS) as usize;
        let block = self
            .blocks
            .entry((instrument_id, day.div_euclid(BLOCK_DAYS)))
            .or_default();
        let bit = 1u64 << (offset % 64);
        let new = block[offset / 64] & bit == 0;
        block[offset / 64] |= bit;
        new
    }

    /// How many blocks are held: at most one per key recorded.
    #[cfg(test)]
    fn blocks(&self) -> usize {
        self.blocks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_key_is_new_once_whatever_the_order() {
        let mut seen = SeenKeys::default();
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
        assert!(
            seen.insert(1, day(0, 12, 31)),
            "the day before day 1 of the era"
        );
        assert!(!seen.insert(1, day(0, 12, 31)));
    }

    #[test]
    fn memory_follows_the_keys_not_the_span_of_their_dates() {
        // Two keys per instrument, centuries apart, for many instruments: a dense set over
        // each span (a bit a day) would take 3,700 instruments × 23 KB = 85 MB.
        let mut seen = SeenKeys::default();
        for id in 0..3_700 {
            assert!(seen.insert(id, day(1700, 1, 1)));
            assert!(seen.insert(id, day(2199, 12, 31)));
        }
        assert_eq!(seen.blocks(), 7_400);

        // A daily series shares blocks: 30 years of days in at most 23.
        let mut daily = SeenKeys::default();
        let mut date = day(1994, 1, 1);
        while date < day(2024, 1, 1) {
            assert!(daily.insert(1, date));
            date = date.succ_opt().unwrap();
        }
        assert!(daily.blocks() <= 23, "{}", daily.blocks());
    }
}
