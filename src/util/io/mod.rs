//! Files the stages exchange, written and read in one place: Parquet tables
//! ([`parquet`]) and JSON ([`json`]: one canonical writer, sorted keys).

pub mod json;
pub mod parquet;
