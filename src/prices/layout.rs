//! The two shapes of a price file, told apart by their header.
//!
//! - **long**: `ticker,trade_date,open,high,low,close,adj_close,volume` in any order; `ticker`,
//!   `trade_date` and `close` are required, the other columns may be absent.
//! - **wide**: `Date,<TICKER>,<TICKER>…`: one adjusted close per cell, loaded as both
//!   `close_price` and `adj_close_price`.

use std::fmt;
use std::str::FromStr;

use crate::csv_header::Header;

/// The shape of a price file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One bar per line: `ticker,trade_date,open,high,low,close,adj_close,volume`.
    Long,
    /// One date per line, one column of adjusted closes per ticker.
    Wide,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "long" => Ok(Format::Long),
            "wide" => Ok(Format::Wide),
            _ => Err(format!("unknown format '{s}': expected long or wide")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Long => "long",
            Format::Wide => "wide",
        })
    }
}

/// The columns of a long file.
pub const LONG_COLUMNS: [&str; 8] = [
    "ticker",
    "trade_date",
    "open",
    "high",
    "low",
    "close",
    "adj_close",
    "volume",
];

/// Where each field of a long file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LongColumns {
    pub ticker: usize,
    pub trade_date: usize,
    pub open: Option<usize>,
    pub high: Option<usize>,
    pub low: Option<usize>,
    pub close: usize,
    pub adj_close: Option<usize>,
    pub volume: Option<usize>,
}

/// How to read the rows of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    Long(LongColumns),
    /// The tickers of columns 1.. (column 0 is the date).
    Wide(Vec<String>),
}

impl Layout {
    /// The layout `header` describes, in `format` when given, else in the format its header
    /// shows (a `ticker` column: long; a first column `Date`: wide).
    pub(crate) fn of(header: &Header, format: Option<Format>) -> Result<Self, String> {
        let format = match format {
            Some(f) => f,
            None if header.find("ticker").is_some() => Format::Long,
            None if header.names()[0].eq_ignore_ascii_case("date") => Format::Wide,
            None => {
                return Err(format!(
                    "cannot tell the format from the header '{}': expected a 'ticker' column \
                     (long) or a first column 'Date' (wide)",
                    header.names().join(",")
                ));
            }
        };
        match format {
            Format::Long => long(header).map(Layout::Long),
            Format::Wide => wide(header).map(Layout::Wide),
        }
    }

    /// The column of a record's date (a wide line's date is its first field).
    pub(crate) fn date_column(&self) -> usize {
        match self {
            Layout::Long(columns) => columns.trade_date,
            Layout::Wide(_) => 0,
        }
    }
}

fn long(header: &Header) -> Result<LongColumns, String> {
    if let Some(unknown) = header.unknown(&LONG_COLUMNS) {
        return Err(format!(
            "unknown column '{unknown}' in a long file (columns: {})",
            LONG_COLUMNS.join(",")
        ));
    }
    let required = |name: &str| {
        header
            .find(name)
            .ok_or_else(|| format!("a long file needs a '{name}' column"))
    };
    Ok(LongColumns {
        ticker: required("ticker")?,
        trade_date: required("trade_date")?,
        open: header.find("open"),
        high: header.find("high"),
        low: header.find("low"),
        close: required("close")?,
        adj_close: header.find("adj_close"),
        volume: header.find("volume"),
    })
}

fn wide(header: &Header) -> Result<Vec<String>, String> {
    let names = header.names();
    if !names[0].eq_ignore_ascii_case("date") {
        return Err(format!(
            "a wide file's first column must be 'Date', not '{}'",
            names[0]
        ));
    }
    if names.len() < 2 {
        return Err("a wide file needs at least one ticker column after 'Date'".into());
    }
    Ok(names[1..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(fields: &[&str], format: Option<Format>) -> Result<Layout, String> {
        let header = Header::parse(&csv::StringRecord::from(fields.to_vec())).unwrap();
        Layout::of(&header, format)
    }

    #[test]
    fn the_header_tells_the_format() {
        let Layout::Long(cols) = layout(&["trade_date", "Ticker", "close"], None).unwrap() else {
            panic!("not long");
        };
        assert_eq!((cols.ticker, cols.trade_date, cols.close), (1, 0, 2));
        assert_eq!(cols.volume, None);
        let long = layout(&["ticker", "close", "trade_date"], None).unwrap();
        assert_eq!(long.date_column(), 2);
        assert_eq!(
            layout(&["Date", "SPY", "QQQ"], None).unwrap(),
            Layout::Wide(vec!["SPY".into(), "QQQ".into()])
        );
        assert_eq!(layout(&["Date", "SPY"], None).unwrap().date_column(), 0);
        assert!(
            layout(&["when", "SPY"], None)
                .unwrap_err()
                .contains("cannot tell")
        );
    }

    #[test]
    fn a_given_format_is_checked_against_the_header() {
        assert!(
            layout(&["Date", "SPY"], Some(Format::Long))
                .unwrap_err()
                .contains("unknown column 'Date'")
        );
        assert!(
            layout(&["ticker", "trade_date"], Some(Format::Long))
                .unwrap_err()
                .contains("'close'")
        );
        assert!(
            layout(&["ticker", "close"], Some(Format::Wide))
                .unwrap_err()
                .contains("first column")
        );
        assert!(
            layout(&["Date"], Some(Format::Wide))
                .unwrap_err()
                .contains("at least one ticker")
        );
    }

    #[test]
    fn formats_parse_in_any_case() {
        assert_eq!("WIDE".parse::<Format>(), Ok(Format::Wide));
        assert!("tall".parse::<Format>().is_err());
    }
}
