//! The `repro` command line.
fn main() {}
