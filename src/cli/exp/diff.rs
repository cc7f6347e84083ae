//! `repro exp diff`: what changed from A to B, with the seed-paired 2 SE
//! rule for metrics measured over seeds.

use std::io::Write;
use std::path::Path;

use super::args::pipeline_file;
use crate::cli::error::CliError;
use crate::exp::compare;
use crate::exp::table::{Query, Table};

/// Prints the diff of runs `a` and `b` (`baseline` or experiment names).
pub fn diff(
    pipeline: &Path,
    store_dir: &Path,
    a: &str,
    b: &str,
    stages: &[String],
    json: bool,
) -> Result<(), CliError> {
    let file = pipeline_file(pipeline)?;
    let t = Table::build(&Query {
        pipeline_file: file,
        store_root: store_dir,
        stages,
    })?;
    let d = compare::diff(t.row(a)?, t.row(b)?, &t.params);
    let text = if json {
        serde_json::to_string_pretty(&d).map_err(|e| CliError::Failed(e.to_string()))? + "\n"
    } else {
        compare::render(&d)
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}
