//! HH-RLHF transcripts (`{"chosen","rejected"}`, `\n\nHuman: … \n\nAssistant: …`).
//!
//! The prompt is the longest common prefix of the two transcripts, cut back to the
//! end of its last `\n\nAssistant:`; the responses are what follows, trimmed. This
//! (rather than splitting each transcript at its own last `\n\nAssistant:`) is
//! right when a response itself contains a turn marker. Two cases are dropped and
//! counted:
//! - a response that still contains `\n\nHuman:` or `\n\nAssistant:`: the two
//!   transcripts diverge before the final turn (one has more turns), so there is
//!   no shared prompt with single final responses. On the harmless-base test split
//!   these are 5 of 2,312 pairs;
//! - an empty final response (4 of 2,312 there, all on the chosen side).
//!
//! With `keep_multi_turn` the first case is kept with the tails as responses.

use super::load::Parsed;
use super::pair::PreferencePair;
use super::row::{RowError, str_field};

/// The assistant turn marker.
pub const ASSISTANT: &str = "\n\nAssistant:";
/// The human turn marker.
pub const HUMAN: &str = "\n\nHuman:";

/// Drop reason: a response holds further turns.
pub const DIVERGE_EARLY: &str = "transcripts diverge before the final assistant turn";
/// Drop reason: a final response is empty.
pub const EMPTY_RESPONSE: &str = "empty final response";
/// Drop reason: the two transcripts are identical.
pub const IDENTICAL: &str = "chosen and rejected transcripts are identical";

/// Options of the HH-RLHF format.
#[derive(Debug, Clone, Default)]
pub struct HhOptions {
    /// Keep pairs whose transcripts diverge before the final turn.
    pub keep_multi_turn: bool,
}

/// The pieces of one pair of transcripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HhSplit<'a> {
    /// Shared conversation up to and including the final `\n\nAssistant:`.
    pub prompt: &'a str,
    /// Final chosen response, trimmed.
    pub chosen: &'a str,
    /// Final rejected response, trimmed.
    pub rejected: &'a str,
}

fn common_prefix_len(a: &str, b: &str) -> usize {
    let mut n = 0;
    for ((i, ca), cb) in a.char_indices().zip(b.chars()) {
        if ca != cb {
            return i;
        }
        n = i + ca.len_utf8();
    }
    n
}

/// Splits two transcripts into shared prompt and final responses.
///
/// Errors (a malformed row) when the shared part holds no `\n\nAssistant:`.
pub fn split<'a>(chosen: &'a str, rejected: &'a str) -> Result<HhSplit<'a>, RowError> {
    let k = common_prefix_len(chosen, rejected);
    let end = match chosen[..k].rfind(ASSISTANT) {
        Some(p) => p + ASSISTANT.len(),
        None if !chosen.contains(ASSISTANT) => {
            return Err(RowError::new(
                "chosen",
                "no `\\n\\nAssistant:` turn in the transcript",
            ));
        }
        None if !rejected.contains(ASSISTANT) => {
            return Err(RowError::new(
                "rejected",
                "no `\\n\\nAssistant:` turn in the transcript",
            ));
        }
        None => {
            return Err(RowError::new(
                "rejected",
                "transcripts share no conversation up to an `\\n\\nAssistant:` turn",
            ));
        }
    };
    Ok(HhSplit {
        prompt: &chosen[..end],
        chosen: chosen[end..].trim(),
        rejected: rejected[end..].trim(),
    })
}

fn has_turn(s: &str) -> bool {
    s.contains(HUMAN) || s.contains(ASSISTANT)
}

/// Parses one HH-RLHF row into a pair of `category`.
pub fn parse_row(
    obj: &serde_json::Map<String, serde_json::Value>,
    id: String,
    category: &str,
    source: &str,
    opts: &HhOptions,
) -> Result<Parsed<PreferencePair>, RowError> {
    let c = str_field(obj, "chosen")?;
    let r = str_field(obj, "rejected")?;
    if c == r {
        return Ok(Parsed::Drop(IDENTICAL.into()));
    }
    let s = split(c, r)?;
    if !opts.keep_multi_turn && (has_turn(s.chosen) || has_turn(s.rejected)) {
        return Ok(Parsed::Drop(DIVERGE_EARLY.into()));
    }
    if s.chosen.is_empty() || s.rejected.is_empty() {
        return Ok(Parsed::Drop(EMPTY_RESPONSE.into()));
    }
    Ok(Parsed::Keep(vec![PreferencePair {
        id,
        prompt: s.prompt.to_string(),
        chosen: s.chosen.to_string(),
        rejected: s.rejected.to_string(),
        category: category.to_string(),
        source: source.to_string(),
    }]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::drops::OnBadRows;
    use crate::data::load::load_jsonl;

    fn row(c: &str, r: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::json!({"chosen": c, "rejected": r})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn prompt_keeps_history_and_ends_at_the_final_assistant_marker() {
        let c = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how?\n\nAssistant: Like this.";
        let r = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how?\n\nAssistant: No.";
        let s = split(c, r).unwrap();
        assert_eq!(
            s.prompt,
            "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how?\n\nAssistant:"
        );
        assert_eq!((s.chosen, s.rejected), ("Like this.", "No."));
    }

    #[test]
    fn a_response_that_contains_a_turn_marker_does_not_move_the_prompt() {
        // Splitting each side at its own last marker would cut inside the chosen response.
        let c = "\n\nHuman: q\n\nAssistant: I said\n\nAssistant: twice";
        let r = "\n\nHuman: q\n\nAssistant: Once.";
        let s = split(c, r).unwrap();
        assert_eq!(s.prompt, "\n\nHuman: q\n\nAssistant:");
        let p = parse_row(
            &row(c, r),
            "x:1".into(),
            "harmless",
            "t",
            &HhOptions::default(),
        )
        .unwrap();
        assert!(
            matches!(p, Parsed::Drop(ref why) if why == DIVERGE_EARLY),
            "{p:?}"
        );
        let keep = HhOptions {
            keep_multi_turn: true,
        };
        let Parsed::Keep(v) = parse_row(&row(c, r), "x:1".into(), "harmless", "t", &keep).unwrap()
        else {
            panic!()
        };
        assert_eq!(v[0].chosen, "I said\n\nAssistant: twice");
    }

    #[test]
    fn shared_response_prefix_stays_in_the_responses() {
        let c = "\n\nHuman: q\n\nAssistant: I can help.";
        let r = "\n\nHuman: q\n\nAssistant: I cannot.";
        let s = split(c, r).unwrap();
        assert_eq!(
            (s.prompt, s.chosen, s.rejected),
            ("\n\nHuman: q\n\nAssistant:", "I can help.", "I cannot.")
        );
    }

    #[test]
    fn empty_and_malformed_rows() {
        let o = HhOptions::default();
        let p = parse_row(
            &row(
                "\n\nHuman: q\n\nAssistant: ",
                "\n\nHuman: q\n\nAssistant: no",
            ),
            "i".into(),
            "h",
            "t",
            &o,
        );
        assert!(matches!(p, Ok(Parsed::Drop(ref w)) if w == EMPTY_RESPONSE));
        let e = parse_row(
            &row("\n\nHuman: q", "\n\nHuman: r\n\nAssistant: x"),
            "i".into(),
            "h",
            "t",
            &o,
        )
        .unwrap_err();
        assert_eq!(e.field, "chosen");
        let obj = serde_json::json!({"chosen": 3, "rejected": "x"})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            parse_row(&obj, "i".into(), "h", "t", &o).unwrap_err().field,
            "chosen"
        );
    }

    #[test]
    fn file_errors_name_file_line_and_field_and_skip_counts() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hh.jsonl");
        let good = serde_json::json!({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"});
        std::fs::write(
            &p,
            format!("{good}\n{{\"chosen\": \"x\"}}\nnot json\n{good}\n"),
        )
        .unwrap();
        let parse = |line: usize, o: &serde_json::Map<_, _>| {
            parse_row(
                o,
                format!("hh.jsonl:{line}"),
                "harmless",
                "t",
                &HhOptions::default(),
            )
        };
        let err = load_jsonl(&p, OnBadRows::Error, parse)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("hh.jsonl:2: field `rejected`: missing field"),
            "{err}"
        );
        let (pairs, st) = load_jsonl(&p, OnBadRows::Skip, parse).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(st.bad_rows.total(), 2);
        assert_eq!(st.rows_read, 4);
        std::fs::write(&p, "\n\n").unwrap();
        let err = load_jsonl(&p, OnBadRows::Skip, parse).unwrap_err();
        assert!(matches!(err, crate::data::error::DataError::Empty { .. }));
    }
}
