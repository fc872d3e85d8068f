//! What the report found: per instrument, a count and the first few dates of each kind of
//! problem, the flags they raise, and the totals over all instruments.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How often one kind of problem occurs, with its first occurrences (at most
/// [`EXAMPLES`](super::EXAMPLES), in date order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding<T> {
    pub count: i64,
    pub examples: Vec<T>,
}

impl<T> Finding<T> {
    /// Whether the problem occurs at all.
    pub fn found(&self) -> bool {
        self.count > 0
    }
}

/// A stretch of days: a gap (its first and last missing business day, and how many business days
/// it misses) or a forward-fill run (the dates of its first and last row, and how many rows it
/// has).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub days: i64,
}

// Spans come out of the report's SQL as JSON objects.
impl sea_orm::TryGetableFromJson for Span {}

/// A kind of problem that makes an instrument's data untrustworthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    /// Business days inside its own price span without a price.
    Gaps,
    /// No price in the last `stale_days` business days through the as-of date (or none at all).
    Stale,
    /// Runs of identical close and adjusted close at least `min_fill_run` rows long.
    FillRuns,
    /// Stored returns marked MISSING.
    MissingReturns,
    /// Stored returns marked IMPUTED.
    ImputedReturns,
    /// Stored returns beyond the jump threshold.
    Jumps,
    /// A price (open, high, low, close or adjusted close) at or below zero.
    NonPositivePrices,
    /// A high below the low of the same day.
    HighBelowLow,
    /// A close outside the day's [low, high].
    CloseOutsideRange,
}

impl Flag {
    /// Every flag, in the order the report lists them.
    pub const ALL: [Flag; 9] = [
        Flag::Gaps,
        Flag::Stale,
        Flag::FillRuns,
        Flag::MissingReturns,
        Flag::ImputedReturns,
        Flag::Jumps,
        Flag::NonPositivePrices,
        Flag::HighBelowLow,
        Flag::CloseOutsideRange,
    ];

    /// The flag's name: how it is serialised, and the report's column for it.
    pub fn name(self) -> &'static str {
        match self {
            Flag::Gaps => "gaps",
            Flag::Stale => "stale",
            Flag::FillRuns => "fill_runs",
            Flag::MissingReturns => "missing_returns",
            Flag::ImputedReturns => "imputed_returns",
            Flag::Jumps => "jumps",
            Flag::NonPositivePrices => "non_positive_prices",
            Flag::HighBelowLow => "high_below_low",
            Flag::CloseOutsideRange => "close_outside_range",
        }
    }
}

impl Serialize for Flag {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// The findings for one instrument over the examined window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstrumentQuality {
    pub instrument_id: i64,
    pub ticker: String,
    pub exchange: String,
    /// First and last price date in the window; `None` without prices there.
    pub first_price: Option<NaiveDate>,
    pub last_price: Option<NaiveDate>,
    /// Price rows in the window.
    pub price_rows: i64,
    /// Business days (Mon–Fri, exchange holidays included) between its first and last price
    /// that have no price.
    pub missing_business_days: i64,
    /// The stretches those days form, between two consecutive prices.
    pub gaps: Finding<Span>,
    /// Business days after the last price through the as-of date; `None` without prices.
    pub business_days_since_last: Option<i64>,
    /// Whether that reaches `stale_days`, or there are no prices at all.
    pub stale: bool,
    /// Runs of consecutive price rows with the same close and adjusted close, of at least
    /// `min_fill_run` rows; the examples are the runs.
    pub fill_runs: Finding<Span>,
    /// Stored returns with `data_quality` MISSING.
    pub missing_returns: Finding<NaiveDate>,
    /// Stored returns with `data_quality` IMPUTED.
    pub imputed_returns: Finding<NaiveDate>,
    /// Stored returns, other than MISSING ones, with `|daily_return|` above the threshold.
    pub jumps: Finding<NaiveDate>,
    /// Rows with a price at or below zero.
    pub non_positive_prices: Finding<NaiveDate>,
    /// Rows whose high is below their low.
    pub high_below_low: Finding<NaiveDate>,
    /// Rows whose close lies outside [low, high] (rows with both; not counting inverted ranges).
    pub close_outside_range: Finding<NaiveDate>,
    /// What is wrong, in [`Flag::ALL`] order; empty for a clean instrument.
    pub flags: Vec<Flag>,
}

impl InstrumentQuality {
    /// The flags its findings raise, in [`Flag::ALL`] order.
    pub(super) fn raised_flags(&self) -> Vec<Flag> {
        Flag::ALL
            .into_iter()
            .filter(|flag| match flag {
                Flag::Gaps => self.gaps.found(),
                Flag::Stale => self.stale,
                Flag::FillRuns => self.fill_runs.found(),
                Flag::MissingReturns => self.missing_returns.found(),
                Flag::ImputedReturns => self.imputed_returns.found(),
                Flag::Jumps => self.jumps.found(),
                Flag::NonPositivePrices => self.non_positive_prices.found(),
                Flag::HighBelowLow => self.high_below_low.found(),
                Flag::CloseOutsideRange => self.close_outside_range.found(),
            })
            .collect()
    }
}

/// Totals over the instruments of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QualitySummary {
    pub instruments: usize,
    /// Instruments without any flag.
    pub clean: usize,
    pub flagged: usize,
    /// How many instruments raise each flag (flags no instrument raises are left out).
    pub by_flag: BTreeMap<Flag, usize>,
}

impl QualitySummary {
    pub(super) fn of(instruments: &[InstrumentQuality]) -> Self {
        let mut by_flag = BTreeMap::new();
        for flag in instruments.iter().flat_map(|i| &i.flags) {
            *by_flag.entry(*flag).or_insert(0) += 1;
        }
        let clean = instruments.iter().filter(|i| i.flags.is_empty()).count();
        Self {
            instruments: instruments.len(),
            clean,
            flagged: instruments.len() - clean,
            by_flag,
        }
    }
}

/// The data-quality report: the window and thresholds it used, one entry per instrument (by
/// ticker, exchange, id) and the totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QualityReport {
    /// First date examined; `None` = each instrument's first row.
    pub from: Option<NaiveDate>,
    /// Last date examined; `None` only when there are no prices at all.
    pub as_of: Option<NaiveDate>,
    pub stale_days: i64,
    pub min_fill_run: i64,
    pub jump: Decimal,
    pub instruments: Vec<InstrumentQuality>,
    pub summary: QualitySummary,
}
