//! A CSV file read line by line, each line parsed as one CSV record: how price files
//! (`prices`) and instrument files (`instruments`) are read.
//!
//! Neither kind of file holds a line break inside a field, so a record is a line: line numbers
//! are exact (whether lines end in LF or CRLF), and a stray quote spoils its own line only, where
//! a CSV reader would run on to the end of the file looking for the closing quote. A line longer
//! than the limit is skipped without being kept, so memory stays bounded by the limit.

use std::io::{self, BufRead};

/// What [`Lines::next_line`] read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// The line, without its line break, is in the caller's buffer.
    Text,
    /// Longer than the limit; this many bytes (skipped, the buffer holds no meaning).
    TooLong(u64),
}

/// Reads lines of at most `max` bytes (line break excluded).
pub(crate) struct Lines<R> {
    reader: R,
    max: usize,
    number: u64,
    bytes_read: u64,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(reader: R, max: usize) -> Self {
        Self {
            reader,
            max,
            number: 0,
            bytes_read: 0,
        }
    }

    /// Reads the next line into `buffer` (cleared first); returns its number (the first line is
    /// 1), or `None` at the end of the file.
    ///
    /// # Errors
    /// When reading the file fails.
    pub(crate) fn next_line(&mut self, buffer: &mut Vec<u8>) -> io::Result<Option<(u64, Line)>> {
        buffer.clear();
        let mut length: u64 = 0;
        let mut any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let (part, ends) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], true),
                None => (available, false),
            };
            length += part.len() as u64;
            // One byte over the limit is kept, for the CR of a CRLF line of exactly `max` bytes.
            if length <= self.max as u64 + 1 {
                buffer.extend_from_slice(part);
            }
            let used = part.len() + usize::from(ends);
            self.reader.consume(used);
            self.bytes_read += used as u64;
            if ends {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        if buffer.last() == Some(&b'\r') && length <= self.max as u64 + 1 {
            buffer.pop();
            length -= 1;
        }
        let line = if length > self.max as u64 {
            Line::TooLong(length)
        } else {
            Line::Text
        };
        Ok(Some((self.number, line)))
    }

    /// The longest line accepted, in bytes.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Bytes consumed so far, line breaks included.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.bytes_read
    }
}

/// Splits one line into its fields into `record` (cleared first): fields are separated by
/// commas; a field that starts with `"` is quoted, ends at the next lone `"`, and writes `"` as
/// `""`. A quote inside an unquoted field is an ordinary character.
///
/// # Errors
/// When a quoted field is not closed, or text follows its closing quote.
pub(crate) fn split(line: &str, record: &mut csv::StringRecord) -> Result<(), &'static str> {
    record.clear();
    let mut rest = line;
    let mut quoted = String::new();
    loop {
        if let Some(after_quote) = rest.strip_prefix('"') {
            quoted.clear();
            let mut inner = after_quote;
            loop {
                let close = inner.find('"').ok_or("a quoted field is not closed")?;
                quoted.push_str(&inner[..close]);
                inner = &inner[close + 1..];
                match inner.strip_prefix('"') {
                    Some(after_doubled) => {
                        quoted.push('"');
                        inner = after_doubled;
                    }
                    None => break,
                }
            }
            record.push_field(&quoted);
            if inner.is_empty() {
                return Ok(());
            }
            rest = inner
                .strip_prefix(',')
                .ok_or("text follows the closing quote of a field")?;
        } else {
            match rest.find(',') {
                Some(comma) => {
                    record.push_field(&rest[..comma]);
                    rest = &rest[comma + 1..];
                }
                None => {
                    record.push_field(rest);
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8], max: usize) -> Vec<(u64, Result<String, u64>)> {
        // A tiny buffer, so that lines straddle refills.
        let mut lines = Lines::new(io::BufReader::with_capacity(3, text), max);
        let (mut out, mut buffer) = (Vec::new(), Vec::new());
        while let Some((n, line)) = lines.next_line(&mut buffer).unwrap() {
            out.push((
                n,
                match line {
                    Line::Text => Ok(String::from_utf8(buffer.clone()).unwrap()),
                    Line::TooLong(len) => Err(len),
                },
            ));
        }
        assert_eq!(lines.bytes_read(), text.len() as u64);
        out
    }

    #[test]
    fn lf_and_crlf_lines_are_numbered_alike() {
        let expected = vec![
            (1, Ok("a,b".to_owned())),
            (2, Ok(String::new())),
            (3, Ok("c".to_owned())),
        ];
        assert_eq!(lines(b"a,b\n\nc\n", 10), expected);
        assert_eq!(lines(b"a,b\r\n\r\nc\r\n", 10), expected);
        assert_eq!(lines(b"a,b\n\nc", 10), expected, "no line break at the end");
        assert!(lines(b"", 10).is_empty());
    }

    #[test]
    fn a_line_over_the_limit_is_skipped_and_the_next_one_read() {
        assert_eq!(
            lines(b"12345\n123456\r\n1234567\nok\r\n", 6),
            [
                (1, Ok("12345".to_owned())),
                (2, Ok("123456".to_owned())),
                (3, Err(7)),
                (4, Ok("ok".to_owned())),
            ]
        );
    }

    fn fields(line: &str) -> Result<Vec<String>, &'static str> {
        let mut record = csv::StringRecord::new();
        split(line, &mut record).map(|()| record.iter().map(str::to_owned).collect())
    }

    #[test]
    fn fields_split_on_commas_and_quotes_are_honoured() {
        assert_eq!(fields("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(fields("").unwrap(), [""]);
        assert_eq!(
            fields(r#""x, y","say ""hi""",z"#).unwrap(),
            ["x, y", r#"say "hi""#, "z"]
        );
        assert_eq!(fields(r#"a,"""#).unwrap(), ["a", ""]);
        assert_eq!(fields(r#"5"7,b"#).unwrap(), [r#"5"7"#, "b"]);
    }

    #[test]
    fn broken_quotes_spoil_the_line() {
        assert_eq!(
            fields(r#"SPY,"2024-01-03,1"#),
            Err("a quoted field is not closed")
        );
        assert_eq!(
            fields(r#""SPY"x,1"#),
            Err("text follows the closing quote of a field")
        );
    }
}
