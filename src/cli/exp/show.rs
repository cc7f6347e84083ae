//! `repro exp show`: the comparison table. Reads the lockfiles and the
//! experiment files only (each replaced atomically), never the store lock,
//! so it answers while a run holds the store.

use std::io::Write;
use std::path::Path;

use super::args::{ShowArgs, pipeline_file};
use super::render::{self, Cells};
use crate::cli::error::CliError;
use crate::exp::table::{Query, Table};

/// Prints the table (and writes the page with `--html`).
pub fn show(a: &ShowArgs, store_dir: &Path) -> Result<(), CliError> {
    let file = pipeline_file(&a.pipeline)?;
    let mut t = Table::build(&Query {
        pipeline_file: file,
        store_root: store_dir,
        stages: &a.stages,
    })?;
    if let Some(s) = &a.sort {
        let col = t.metric_column(s)?;
        t.sort_by(&col, a.desc);
    }
    // The page's figure needs its columns whatever --only-changed drops.
    let page = match &a.html {
        Some(dir) => Some((
            dir,
            super::page::figure_of(&t, a.plot.as_deref(), a.against.as_deref())?,
        )),
        None => None,
    };
    if a.only_changed {
        t.only_changed();
    }
    let text = if a.json {
        serde_json::to_string_pretty(&t).map_err(|e| CliError::Failed(e.to_string()))? + "\n"
    } else if a.csv {
        render::csv(&render::grid(&t, a.long, Cells::Split))
    } else if a.md {
        render::markdown(&render::grid(&t, a.long, Cells::Joined))
    } else {
        render::text(&render::grid(&t, a.long, Cells::Joined))
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = out.write_all(text.as_bytes());
    if let Some((dir, figure)) = page {
        let path = super::page::write(&t, figure, dir)?;
        let _ = writeln!(out, "page: {}", path.display());
    }
    Ok(())
}
