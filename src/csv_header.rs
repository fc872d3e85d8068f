//! A CSV header row: column names as written, looked up case-insensitively.

/// The columns of a CSV file's header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    names: Vec<String>,
}

impl Header {
    /// Reads a header row: names are trimmed (and a UTF-8 byte-order mark dropped); an empty
    /// row, an empty name or a name given twice (in any case) is refused with the reason.
    pub(crate) fn parse(record: &csv::StringRecord) -> Result<Self, String> {
        let names: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let n = if i == 0 {
                    n.trim_start_matches('\u{feff}')
                } else {
                    n
                };
                n.trim().to_owned()
            })
            .collect();
        if names.is_empty() || names.iter().all(String::is_empty) {
            return Err("the file is empty: a header row is required".into());
        }
        if let Some(i) = names.iter().position(String::is_empty) {
            return Err(format!("header column {} has no name", i + 1));
        }
        for (i, name) in names.iter().enumerate() {
            if names[..i].iter().any(|n| n.eq_ignore_ascii_case(name)) {
                return Err(format!("header names column '{name}' twice"));
            }
        }
        Ok(Self { names })
    }

    /// How many columns the header has (every row must have as many fields).
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// The names as written.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// The index of column `name` (case-insensitive).
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name))
    }

    /// The first column whose name is not in `allowed` (case-insensitive).
    pub(crate) fn unknown(&self, allowed: &[&str]) -> Option<&str> {
        self.names
            .iter()
            .find(|n| !allowed.iter().any(|a| a.eq_ignore_ascii_case(n)))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fields: &[&str]) -> Result<Header, String> {
        Header::parse(&csv::StringRecord::from(fields.to_vec()))
    }

    #[test]
    fn names_are_trimmed_and_found_in_any_case() {
        let h = header(&["\u{feff}Ticker", " trade_date ", "CLOSE"]).unwrap();
        assert_eq!(h.names(), ["Ticker", "trade_date", "CLOSE"]);
        assert_eq!(h.find("ticker"), Some(0));
        assert_eq!(h.find("close"), Some(2));
        assert_eq!(h.find("open"), None);
        assert_eq!(h.unknown(&["ticker", "trade_date"]), Some("CLOSE"));
        assert_eq!(h.unknown(&["ticker", "trade_date", "close"]), None);
    }

    #[test]
    fn empty_missing_and_repeated_names_are_refused() {
        assert!(header(&[]).unwrap_err().contains("empty"));
        assert!(header(&["a", " "]).unwrap_err().contains("column 2"));
        assert!(header(&["SPY", "spy"]).unwrap_err().contains("twice"));
    }
}
