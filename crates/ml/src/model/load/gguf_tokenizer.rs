//! Builds a `tokenizers::Tokenizer` from GGUF tokenizer metadata
//! (`tokenizer.ggml.*`, keys as written by llama.cpp's gguf-py).
//!
//! Only byte-level BPE (`tokenizer.ggml.model = gpt2`) is supported. The
//! pre-tokenizer follows `tokenizer.ggml.pre`, as llama.cpp's
//! `llama-vocab.cpp` does: `smollm` splits digits one by one before the GPT-2
//! byte-level regex (the same as SmolLM2's own `tokenizer.json`), `gpt2` and
//! `default` use the GPT-2 regex alone, the Llama-3 family its own split regex.
//! Tokens typed CONTROL (3) become special added tokens, USER_DEFINED (4)
//! plain added tokens (gguf-py `TokenType`).

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

use super::gguf::{GgufError, GgufFile};

/// gguf-py `TokenType.CONTROL`.
const TOKEN_CONTROL: i64 = 3;
/// gguf-py `TokenType.USER_DEFINED`.
const TOKEN_USER_DEFINED: i64 = 4;

/// Llama-3's split regex (llama.cpp `LLAMA_VOCAB_PRE_TYPE_LLAMA3`).
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// An error building the tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum GgufTokenizerError {
    /// A metadata key is missing or malformed.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// A tokenizer model other than `gpt2`.
    #[error("{path}: tokenizer.ggml.model `{model}` is not supported (only `gpt2` byte-level BPE)")]
    Model {
        /// The file.
        path: String,
        /// The model named in the file.
        model: String,
    },
    /// A pre-tokenizer we do not know.
    #[error(
        "{path}: tokenizer.ggml.pre `{pre}` is not supported (known: default, gpt2, smollm, llama3, llama-bpe)"
    )]
    Pre {
        /// The file.
        path: String,
        /// The pre-tokenizer named in the file.
        pre: String,
    },
    /// A merge that is not `left right`.
    #[error(
        "{path}: tokenizer.ggml.merges[{index}] = {merge:?} is not two tokens separated by a space"
    )]
    Merge {
        /// The file.
        path: String,
        /// Index in the merges array.
        index: usize,
        /// The merge.
        merge: String,
    },
    /// A special token id past the vocabulary.
    #[error("{path}: {key} = {id} is outside the vocabulary of {n} tokens")]
    SpecialId {
        /// The file.
        path: String,
        /// The key.
        key: String,
        /// The id.
        id: u64,
        /// Vocabulary size.
        n: usize,
    },
    /// The tokenizers crate refused the pieces.
    #[error("{path}: building the tokenizer: {message}")]
    Build {
        /// The file.
        path: String,
        /// The error from the tokenizers crate.
        message: String,
    },
}

/// Special token ids read from the GGUF metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SpecialTokens {
    /// `tokenizer.ggml.bos_token_id`.
    pub bos: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos: Option<u32>,
    /// `tokenizer.ggml.padding_token_id`.
    pub pad: Option<u32>,
    /// `tokenizer.ggml.unknown_token_id`.
    pub unk: Option<u32>,
}

/// Builds the tokenizer described by `file`'s metadata, with its special ids.
pub fn tokenizer_from_gguf(
    file: &GgufFile,
) -> Result<(Tokenizer, SpecialTokens), GgufTokenizerError> {
    let path = file.path.display().to_string();
    let model = file.get_str("tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(GgufTokenizerError::Model {
            path,
            model: model.to_string(),
        });
    }
    let tokens = file.get_strings("tokenizer.ggml.tokens")?;
    let merges_raw = file.get_strings("tokenizer.ggml.merges")?;
    let types = file.get_ints("tokenizer.ggml.token_type")?;
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), i as u32))
        .collect();
    let mut merges = Vec::with_capacity(merges_raw.len());
    for (index, m) in merges_raw.iter().enumerate() {
        match m.split_once(' ') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains(' ') => {
                merges.push((a.to_string(), b.to_string()))
            }
            _ => {
                return Err(GgufTokenizerError::Merge {
                    path,
                    index,
                    merge: m.to_string(),
                });
            }
        }
    }
    let build = |message: String| GgufTokenizerError::Build {
        path: path.clone(),
        message,
    };
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| build(e.to_string()))?;

    let pre = file
        .get("tokenizer.ggml.pre")
        .and_then(|v| v.as_str())
        .unwrap_or("default");
    let byte_level = ByteLevel::new(false, true, true);
    let pre_tokenizer: PreTokenizerWrapper = match pre {
        "default" | "gpt2" => byte_level.into(),
        "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into(),
        "llama3" | "llama-v3" | "llama-bpe" => {
            let split = Split::new(
                SplitPattern::Regex(LLAMA3_SPLIT.to_string()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(|e| build(e.to_string()))?;
            Sequence::new(vec![
                split.into(),
                ByteLevel::new(false, true, false).into(),
            ])
            .into()
        }
        other => {
            return Err(GgufTokenizerError::Pre {
                path,
                pre: other.to_string(),
            });
        }
    };

    let mut tok = Tokenizer::new(bpe);
    tok.with_pre_tokenizer(Some(pre_tokenizer));
    tok.with_decoder(Some(ByteLevelDecoder::default()));

    let n = tokens.len();
    let special_id = |key: &str| -> Result<Option<u32>, GgufTokenizerError> {
        match file.get(key).and_then(|v| v.as_u64()) {
            None => Ok(None),
            Some(id) if (id as usize) < n => Ok(Some(id as u32)),
            Some(id) => Err(GgufTokenizerError::SpecialId {
                path: path.clone(),
                key: key.to_string(),
                id,
                n,
            }),
        }
    };
    let specials = SpecialTokens {
        bos: special_id("tokenizer.ggml.bos_token_id")?,
        eos: special_id("tokenizer.ggml.eos_token_id")?,
        pad: special_id("tokenizer.ggml.padding_token_id")?,
        unk: special_id("tokenizer.ggml.unknown_token_id")?,
    };

    if let Some(types) = types {
        let control: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t == TOKEN_CONTROL)
            .map(|(s, _)| AddedToken::from(s.to_string(), true))
            .collect();
        let user: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t == TOKEN_USER_DEFINED)
            .map(|(s, _)| AddedToken::from(s.to_string(), false))
            .collect();
        tok.add_special_tokens(&control);
        tok.add_tokens(&user);
    }

    let add_bos = matches!(
        file.get("tokenizer.ggml.add_bos_token"),
        Some(super::gguf::MetaValue::Bool(true))
    );
    if let (true, Some(bos)) = (add_bos, specials.bos) {
        let bos_tok = tokens[bos as usize].to_string();
        let post = TemplateProcessing::builder()
            .try_single(format!("{bos_tok} $A"))
            .map_err(build)?
            .try_pair(format!("{bos_tok} $A $B"))
            .map_err(build)?
            .special_tokens(vec![(bos_tok.clone(), bos)])
            .build()
            .map_err(|e| build(e.to_string()))?;
        tok.with_post_processor(Some(post));
    }
    Ok((tok, specials))
}
