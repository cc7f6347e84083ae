//! Text shown on a terminal with nothing hidden (issue 25, item 11): control
//! characters (NUL, ESC, …) and characters that print as nothing or reorder
//! what follows (U+200B, U+202E, U+2028, a mid-text U+FEFF, …) are written
//! as escapes, so a message never moves the cursor, recolours the terminal
//! or makes two different names look the same.

use std::borrow::Cow;

/// Whether `c` is invisible or changes how the text around it is shown:
/// the Unicode format characters (category Cf) a pipeline could plausibly
/// hold — zero-width spaces and joiners, bidirectional marks, embeddings,
/// overrides and isolates, invisible operators, the byte-order mark — and
/// the line and paragraph separators (which a terminal may break a line on).
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// Whether `c` must not be shown raw: a control character or an invisible one.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// `s` with every control and invisible character escaped (`\0`, `\u{1b}`,
/// `\u{200b}`, `\n`, `\t`); backslashes are left as they are. Borrowed when
/// nothing needs escaping.
pub fn visible(s: &str) -> Cow<'_, str> {
    escape(s, |_| false)
}

/// Like [`visible`], but keeps newlines and tabs (for messages that span
/// several lines, such as a whole error printed at the command line's edge).
pub fn visible_lines(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\n' || c == '\t')
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_hidden(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_hidden(c) || keep(c) {
            out.push(c);
            continue;
        }
        match c {
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invisible_characters_are_escaped() {
        assert_eq!(visible("a\0b"), "a\\0b");
        assert_eq!(visible("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(visible("a\u{200B}b\u{202E}c"), "a\\u{200b}b\\u{202e}c");
        assert_eq!(visible("x\u{2028}y\u{FEFF}"), "x\\u{2028}y\\u{feff}");
        assert_eq!(visible("two\nlines"), "two\\nlines");
        assert_eq!(visible_lines("two\n\tlines\x07"), "two\n\tlines\\u{7}");
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(visible("rm[lambda=0.2] é ü 中"), Cow::Borrowed(_)));
    }
}
