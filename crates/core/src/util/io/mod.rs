//! Files the stages exchange, written and read in one place: JSON ([`json`]:
//! one canonical writer, sorted keys). Parquet tables live with the ML code
//! (`repro_ml::parquet`), so the engine's tree has no polars.

pub mod json;
