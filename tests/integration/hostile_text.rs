//! Text a terminal would hide (issue 25, item 11): control characters (NUL,
//! ESC) and invisible ones (U+200B, U+202E, U+2028, a mid-file U+FEFF) in
//! stage names and matrix values are refused with the right reason, and
//! every message shows them escaped, never raw.

use crate::common::{Env, Out};

/// A one-stage pipeline whose matrix axis `x` holds `value` as written
/// (inside double quotes: YAML escapes like `\0` apply).
fn with_matrix_value(value: &str) -> String {
    format!(
        "stages:\n  a:\n    kind: cmd\n    matrix:\n      x: [\"{value}\"]\n    run: echo ${{matrix.x}} > \"$OUT/o\"\n    outputs: [o]\n"
    )
}

/// Exit 2, the message contains every `want`, and nothing hidden reaches
/// the terminal.
#[track_caller]
fn refused(r: &Out, want: &[&str]) {
    r.code(2);
    for w in want {
        r.err_has(w);
    }
    let shown = format!("{}{}", r.stdout, r.stderr);
    let hidden: Vec<char> = shown
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{200B}' | '\u{202E}' | '\u{2028}' | '\u{FEFF}')
        })
        .collect();
    assert!(hidden.is_empty(), "raw {hidden:?} in\n{shown}");
}

#[test]
fn a_matrix_value_holding_nul_is_refused_as_a_control_character_and_shown_escaped() {
    let env = Env::new();
    env.pipeline(&with_matrix_value("a\\0b"));
    refused(
        &env.repro(&["status", "p.yaml"]),
        &["control character", "`a\\0b`", "stages.a.matrix.x.0"],
    );
}

#[test]
fn a_matrix_value_holding_esc_is_refused_as_a_control_character_and_shown_escaped() {
    let env = Env::new();
    // A raw ESC byte starting a colour sequence (its `[` is reserved too: the
    // reason must still be the control character).
    env.pipeline(&with_matrix_value("a\x1b[31mred"));
    refused(
        &env.repro(&["run", "p.yaml"]),
        &["control character", "`a\\u{1b}[31mred`"],
    );
    assert!(!env.exists("p.lock"));
}

/// Invisible characters and their code points as the messages escape them.
const INVISIBLE: [(char, &str); 4] = [
    ('\u{200B}', "200b"),
    ('\u{202E}', "202e"),
    ('\u{2028}', "2028"),
    ('\u{FEFF}', "feff"),
];

#[test]
fn invisible_characters_in_matrix_values_are_refused_and_shown_escaped() {
    for (c, code) in INVISIBLE {
        let env = Env::new();
        env.pipeline(&with_matrix_value(&format!("a{c}b")));
        let r = env.repro(&["status", "p.yaml"]);
        refused(
            &r,
            &[
                "invisible character",
                &format!("`a\\u{{{code}}}b`"),
                &format!("U+{}", code.to_uppercase()),
            ],
        );
    }
}

#[test]
fn invisible_characters_in_stage_names_are_refused_and_shown_escaped() {
    for (c, code) in INVISIBLE {
        let env = Env::new();
        env.pipeline(&format!(
            "stages:\n  ok:\n    kind: cmd\n    run: echo > \"$OUT/o\"\n    outputs: [o]\n  a{c}b:\n    kind: cmd\n    run: echo > \"$OUT/o\"\n    outputs: [o]\n"
        ));
        let r = env.repro(&["status", "p.yaml"]);
        refused(&r, &["bad stage name", &format!("`a\\u{{{code}}}b`")]);
    }
}
