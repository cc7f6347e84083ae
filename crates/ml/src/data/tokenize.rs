//! Tokenizing rendered transcripts with a `tokenizer.json`, truncating the
//! prompt from the left so the response survives (App. A.4: 1,024 tokens).
//!
//! The tokenizer's own truncation and padding settings are switched off:
//! padding happens at batch time, and truncation is ours. Special tokens the
//! tokenizer adds (`[CLS]`/`[SEP]`, `<s>`) are kept at both ends. When a
//! sequence is longer than `max_len`, prompt tokens are removed from the left;
//! only if the response alone (plus special tokens) does not fit is the
//! response cut too, from the right (counted as `response_truncated`).

use std::path::Path;

use tokenizers::Tokenizer;

use super::error::DataError;
use super::template::render;

/// Loads `tokenizer.json` with truncation and padding switched off.
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer, DataError> {
    let terr = |m: String| DataError::Tokenizer {
        file: path.to_path_buf(),
        message: m,
    };
    let mut t = Tokenizer::from_file(path).map_err(|e| terr(e.to_string()))?;
    t.with_truncation(None).map_err(|e| terr(e.to_string()))?;
    t.with_padding(None);
    Ok(t)
}

/// One encoded transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Token ids, special tokens included, at most `max_len`.
    pub ids: Vec<u32>,
    /// Index of the first response token in `ids`.
    pub response_start: usize,
    /// Length before truncation.
    pub full_len: usize,
    /// Whether prompt tokens were removed.
    pub truncated: bool,
    /// Whether response tokens were removed (the response alone exceeded `max_len`).
    pub response_truncated: bool,
}

/// Renders and encodes one (prompt, response), truncating to `max_len` tokens.
pub fn encode(
    tok: &Tokenizer,
    prompt: &str,
    response: &str,
    max_len: usize,
    file: &Path,
) -> Result<Encoded, DataError> {
    let (text, resp_byte) = render(prompt, response);
    let enc = tok
        .encode(text.as_str(), true)
        .map_err(|e| DataError::Tokenizer {
            file: file.to_path_buf(),
            message: e.to_string(),
        })?;
    let ids = enc.get_ids();
    let special = enc.get_special_tokens_mask();
    let offsets = enc.get_offsets();
    let n = ids.len();
    let lead = special.iter().take_while(|&&s| s == 1).count();
    let trail = if lead == n {
        0
    } else {
        special.iter().rev().take_while(|&&s| s == 1).count()
    };
    let body = lead..n - trail;
    // A token belongs to the response if it ends after the response starts
    // (byte-level BPE may attach the separating space to the first response token).
    let resp = body
        .clone()
        .find(|&i| offsets[i].1 > resp_byte)
        .unwrap_or(body.end);
    let (prompt_len, resp_len) = (resp - lead, body.end - resp);
    let budget = max_len.saturating_sub(lead + trail);
    if prompt_len + resp_len <= budget {
        return Ok(Encoded {
            ids: ids.to_vec(),
            response_start: resp,
            full_len: n,
            truncated: false,
            response_truncated: false,
        });
    }
    let keep_resp = resp_len.min(budget);
    let keep_prompt = budget - keep_resp;
    let mut out = Vec::with_capacity(max_len);
    out.extend_from_slice(&ids[..lead]);
    out.extend_from_slice(&ids[resp - keep_prompt..resp]);
    out.extend_from_slice(&ids[resp..resp + keep_resp]);
    out.extend_from_slice(&ids[n - trail..]);
    Ok(Encoded {
        ids: out,
        response_start: lead + keep_prompt,
        full_len: n,
        truncated: keep_prompt < prompt_len,
        response_truncated: keep_resp < resp_len,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) use crate::testing::tiny_tokenizer;

    #[test]
    fn truncation_cuts_the_prompt_from_the_left_and_keeps_specials() {
        let dir = tempfile::tempdir().unwrap();
        let p = tiny_tokenizer(dir.path());
        let tok = load_tokenizer(&p).unwrap();
        // "Human: a b c d\n\nAssistant: yes no" → [CLS] human : a b c d assistant : yes no [SEP]
        let full = encode(&tok, "a b c d", "yes no", 100, &p).unwrap();
        assert_eq!(
            full.ids,
            vec![1, 3, 4, 6, 7, 8, 9, 5, 4, 11, 12, 2],
            "the file's max_length 4 is ignored"
        );
        assert_eq!(full.response_start, 9);
        assert!(!full.truncated);
        let cut = encode(&tok, "a b c d", "yes no", 7, &p).unwrap();
        assert_eq!(cut.ids, vec![1, 9, 5, 4, 11, 12, 2]);
        assert_eq!(
            (
                cut.response_start,
                cut.full_len,
                cut.truncated,
                cut.response_truncated
            ),
            (4, 12, true, false)
        );
        let tiny = encode(&tok, "a b c d", "yes no", 3, &p).unwrap();
        assert_eq!(tiny.ids, vec![1, 11, 2]);
        assert!(tiny.response_truncated);
        assert_eq!(tiny.response_start, 1);
    }
}
