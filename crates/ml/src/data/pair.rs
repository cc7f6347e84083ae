//! A preference pair, the row type of `pairs.parquet`.

/// One (prompt, chosen, rejected) comparison with its category and provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferencePair {
    /// Stable id: `<file name>:<line>` for file sources, `<stage input>/<id>` once merged.
    pub id: String,
    /// The prompt; for HH-RLHF the whole conversation up to the final `\n\nAssistant:`.
    pub prompt: String,
    /// The preferred response.
    pub chosen: String,
    /// The dispreferred response.
    pub rejected: String,
    /// Category label (`helpful`, `harmless`, a PKU harm category…).
    pub category: String,
    /// Where the pair came from (`<format>:<source>`).
    pub source: String,
}
