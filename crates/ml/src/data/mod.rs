//! The data half of the paper (App. A.4): preference sources, preparation,
//! tokenization and evaluation probes. The stage kinds are thin
//! glue over these.

pub mod crows_pairs;
pub mod drops;
pub mod error;
pub mod fetch;
pub mod hh_rlhf;
pub mod lima;
pub mod lines;
pub mod load;
pub mod pair;
pub mod pin;
pub mod pku_parquet;
pub mod pku_saferlhf;
pub mod preference_jsonl;
pub mod preferences;
pub mod prepare;
pub mod probe;
pub mod probe_items;
pub mod prompt_set;
pub mod row;
pub mod source;
pub mod stereoset;
pub mod synthetic;
pub mod table;
pub mod template;
pub mod token_table;
pub mod tokenize;

pub use drops::{Drops, OnBadRows};
pub use error::DataError;
pub use pair::PreferencePair;
