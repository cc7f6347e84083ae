//! `exp show --html DIR`: the table and a figure as a page (`exp::page`
//! builds it, `report::experiments` draws it).

use std::path::{Path, PathBuf};

use crate::cli::error::CliError;
use crate::exp::page;
use crate::exp::table::Table;
use crate::report::experiments::{Against, write as write_page};

/// The figure `--plot METRIC --against KEY` asks for, checked against the table.
pub fn figure_of(
    t: &Table,
    plot: Option<&str>,
    against: Option<&str>,
) -> Result<Option<Against>, CliError> {
    match (plot, against) {
        (Some(m), Some(k)) => Ok(Some(page::figure(t, m, k)?)),
        _ => Ok(None),
    }
}

/// Writes the page into `dir`; returns its path.
pub fn write(t: &Table, figure: Option<Against>, dir: &Path) -> Result<PathBuf, CliError> {
    write_page(dir, &page::page(t, figure)).map_err(|e| CliError::Failed(e.to_string()))
}
