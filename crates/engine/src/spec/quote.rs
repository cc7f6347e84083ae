//! Shell quoting of values substituted into a `cmd` stage's `run:` (issue
//! 25, item 10): a value is data, not code. One that needs no quoting (only
//! letters, digits and `_ @ % + = : , . / -`, the set Python's `shlex.quote`
//! leaves alone) is pasted byte for byte, so `0.2`, `baseline` or
//! `data/x.parquet` — and every key and lockfile made before — stay as they
//! were; anything else is wrapped in single quotes. `${params.x:raw}` pastes
//! the value unquoted, for the rare value that is meant as shell code.

/// The suffix of a reference that asks for the value unquoted.
pub const RAW_SUFFIX: &str = ":raw";

/// Whether `s` is pasted as it is (non-empty, every byte in the safe set).
pub fn needs_no_quoting(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'@' | b'%' | b'+' | b'=' | b':' | b',' | b'.' | b'/' | b'-'
                )
        })
}

/// `s` as one shell word: itself when it needs no quoting, else in single
/// quotes (a `'` inside becomes `'"'"'`).
pub fn shell_word(s: &str) -> std::borrow::Cow<'_, str> {
    if needs_no_quoting(s) {
        s.into()
    } else {
        format!("'{}'", s.replace('\'', r#"'"'"'"#)).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_left_byte_for_byte_and_the_rest_become_one_word() {
        for s in [
            "0.2",
            "baseline",
            "1e-05",
            "data/x.parquet",
            "a=b,c:d",
            "-3",
        ] {
            assert_eq!(shell_word(s), s);
        }
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("$(touch X)"), "'$(touch X)'");
        assert_eq!(shell_word("`touch X`"), "'`touch X`'");
        assert_eq!(shell_word("; touch X"), "'; touch X'");
        assert_eq!(shell_word("it's"), r#"'it'"'"'s'"#);
        // bash agrees: each quoted value comes back as the same single word.
        for s in ["$(touch X)", "it's a \"test\"", "a  b", "*", "~", "\\"] {
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!("printf %s {}", shell_word(s)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), s);
        }
    }
}
