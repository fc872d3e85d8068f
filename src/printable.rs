//! Text from a file, made fit to echo: reject reasons quote fields and messages go to the load
//! history and to terminals (price loads, instrument imports), so what a file says must not be
//! able to break either. Control
//! characters (NUL, which PostgreSQL's `text` cannot hold; ESC, which starts terminal escape
//! sequences; line breaks; bidirectional overrides, which reorder what a terminal shows) are
//! written as escapes, and the length is bounded.

/// The most characters of a field a reason quotes.
pub(crate) const FIELD_CHARS: usize = 80;

/// The most characters of one reject reason.
pub(crate) const REASON_CHARS: usize = 400;

/// The most characters of a message stored in the load history.
pub(crate) const MESSAGE_CHARS: usize = 4000;

/// `field` to quote in a reason: escaped, and cut to [`FIELD_CHARS`] characters.
pub(crate) fn field(text: &str) -> String {
    bounded(text, FIELD_CHARS)
}

/// `text` escaped and cut to at most `max` characters of its own, with a note of how much was
/// left out.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    let mut chars = text.chars();
    for (shown, c) in chars.by_ref().enumerate() {
        if shown == max {
            let rest = 1 + chars.count();
            out.push_str(&format!("… ({rest} more characters)"));
            return out;
        }
        escape_into(&mut out, c);
    }
    out
}

/// Whether `text` holds a character [`bounded`] would escape.
pub(crate) fn has_control(text: &str) -> bool {
    text.chars().any(needs_escape)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\0' => out.push_str("\\0"),
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_nothing_else() {
        assert_eq!(field("SPY"), "SPY");
        assert_eq!(field("Zürich 株"), "Zürich 株");
        assert_eq!(
            field("a\0b\u{1b}[31mred\r\n\t\u{202e}"),
            "a\\0b\\u{1b}[31mred\\r\\n\\t\\u{202e}"
        );
        assert!(has_control("x\u{7f}") && !has_control("plain, text"));
    }

    #[test]
    fn long_text_is_cut_with_a_count_of_the_rest() {
        let long = "x".repeat(1_000_000);
        let shown = field(&long);
        assert_eq!(
            shown,
            format!("{}… (999920 more characters)", "x".repeat(80))
        );
        assert_eq!(field(&"y".repeat(80)), "y".repeat(80));
        assert_eq!(bounded("ab\0cd", 3), "ab\\0… (2 more characters)");
    }
}
