//! A batch of accepted price records, encoded as `COPY … FROM STDIN` text, with what the writer
//! needs to know about its keys (partitions, instruments, key ranges).

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;

use super::values::Bar;
use crate::partitions::month_start;
use chrono::{Datelike, NaiveDate};

/// The columns every batch carries, in COPY order.
pub(crate) const COLUMNS: &str = "instrument_id, trade_date, open_price, high_price, low_price, \
                                  close_price, adj_close_price, volume, load_id";

/// About the COPY text of one record.
const BYTES_PER_ROW: usize = 72;

/// The most records a batch reserves room for up front.
const PREALLOCATED_ROWS: usize = 100_000;

/// Records ready to write in one transaction.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    data: Vec<u8>,
    rows: u64,
    /// Per instrument, its first and last trade date in this batch.
    spans: HashMap<i64, (NaiveDate, NaiveDate)>,
    months: BTreeSet<NaiveDate>,
    last_month: Option<NaiveDate>,
}

impl Batch {
    /// An empty batch with room for about `rows` records (at most [`PREALLOCATED_ROWS`]: the
    /// rest grows as records come, so a large batch size costs memory only when a file fills
    /// it).
    pub(crate) fn with_capacity(rows: usize) -> Self {
        Self {
            data: Vec::with_capacity(rows.min(PREALLOCATED_ROWS) * BYTES_PER_ROW),
            ..Self::default()
        }
    }

    /// Appends one record (written by load `load_id`).
    pub(crate) fn push(&mut self, instrument_id: i64, date: NaiveDate, bar: &Bar, load_id: i64) {
        // Writing into a Vec cannot fail.
        let _ = write!(
            self.data,
            "{instrument_id}\t{:04}-{:02}-{:02}\t",
            date.year(),
            date.month(),
            date.day()
        );
        for price in [bar.open, bar.high, bar.low, Some(bar.close), bar.adj_close] {
            self.field(price);
            self.data.push(b'\t');
        }
        self.field(bar.volume);
        let _ = writeln!(self.data, "\t{load_id}");

        self.rows += 1;
        self.spans
            .entry(instrument_id)
            .and_modify(|(first, last)| {
                *first = (*first).min(date);
                *last = (*last).max(date);
            })
            .or_insert((date, date));
        // Files are mostly in date order within an instrument: skip the set for repeats.
        let month = month_start(date);
        if self.last_month != Some(month) {
            self.months.insert(month);
            self.last_month = Some(month);
        }
    }

    fn field<T: std::fmt::Display>(&mut self, value: Option<T>) {
        match value {
            Some(v) => {
                let _ = write!(self.data, "{v}");
            }
            None => self.data.extend_from_slice(b"\\N"),
        }
    }

    /// How many records the batch holds.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// The COPY text of the records.
    pub(crate) fn data(&self) -> &[u8] {
        &self.data
    }

    /// The first days of the months the records fall in, in order.
    pub(crate) fn months(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.months.iter().copied()
    }

    /// The earliest and latest trade date of the batch.
    pub(crate) fn date_range(&self) -> Option<(NaiveDate, NaiveDate)> {
        self.spans
            .values()
            .copied()
            .reduce(|(f1, l1), (f2, l2)| (f1.min(f2), l1.max(l2)))
    }

    /// Instrument ids with, for each, its first and last trade date in this batch (three
    /// parallel arrays, ready to bind to `unnest`).
    pub(crate) fn spans(&self) -> (Vec<i64>, Vec<NaiveDate>, Vec<NaiveDate>) {
        let mut ids = Vec::with_capacity(self.spans.len());
        let mut firsts = Vec::with_capacity(self.spans.len());
        let mut lasts = Vec::with_capacity(self.spans.len());
        for (id, (first, last)) in &self.spans {
            ids.push(*id);
            firsts.push(*first);
            lasts.push(*last);
        }
        (ids, firsts, lasts)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn records_are_encoded_as_copy_text_with_nulls() {
        let mut batch = Batch::with_capacity(2);
        let full = Bar {
            open: Some("10.5".parse().unwrap()),
            high: Some("11".parse().unwrap()),
            low: Some("10".parse().unwrap()),
            close: "10.7500".parse().unwrap(),
            adj_close: None,
            volume: Some(1200),
        };
        batch.push(7, day(1995, 3, 1), &full, 42);
        batch.push(
            8,
            day(2031, 12, 31),
            &Bar::adjusted_close("2".parse().unwrap()),
            42,
        );
        assert_eq!(
            String::from_utf8(batch.data().to_vec()).unwrap(),
            "7\t1995-03-01\t10.5\t11\t10\t10.7500\t\\N\t1200\t42\n\
             8\t2031-12-31\t\\N\t\\N\t\\N\t2\t2\t\\N\t42\n"
        );
        assert_eq!(batch.rows(), 2);
    }

    #[test]
    fn keys_are_summarised_per_instrument_and_month() {
        let mut batch = Batch::with_capacity(4);
        let bar = Bar::adjusted_close(Decimal::ONE);
        for (id, date) in [
            (1, day(2020, 1, 31)),
            (1, day(2020, 3, 2)),
            (2, day(2019, 12, 31)),
            (1, day(2020, 1, 2)),
        ] {
            batch.push(id, date, &bar, 1);
        }
        assert_eq!(
            batch.months().collect::<Vec<_>>(),
            [day(2019, 12, 1), day(2020, 1, 1), day(2020, 3, 1)]
        );
        assert_eq!(
            batch.date_range(),
            Some((day(2019, 12, 31), day(2020, 3, 2)))
        );
        let (ids, firsts, lasts) = batch.spans();
        let mut spans: Vec<_> = ids.into_iter().zip(firsts).zip(lasts).collect();
        spans.sort();
        assert_eq!(
            spans,
            [
                ((1, day(2020, 1, 2)), day(2020, 3, 2)),
                ((2, day(2019, 12, 31)), day(2019, 12, 31))
            ]
        );
    }
}
