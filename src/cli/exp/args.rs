//! The `repro exp` subcommands and their dispatch.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::cli::error::CliError;

/// What `exp show` prints and how.
#[derive(Debug, Args, Clone)]
pub struct ShowArgs {
    /// The pipeline YAML file.
    pub pipeline: PathBuf,
    /// Stages whose metrics to show (base names; default: every stage with `metrics:`).
    #[arg(long = "stage", value_name = "STAGE")]
    pub stages: Vec<String>,
    /// Only the params and metrics that differ between rows.
    #[arg(long)]
    pub only_changed: bool,
    /// Sort the experiments by a metric (`score:acc`, or `acc` when unique); the baseline stays first.
    #[arg(long, value_name = "METRIC")]
    pub sort: Option<String>,
    /// With --sort: largest first.
    #[arg(long, requires = "sort")]
    pub desc: bool,
    /// Print JSON.
    #[arg(long, conflicts_with_all = ["md", "csv", "long"])]
    pub json: bool,
    /// Print a Markdown table.
    #[arg(long, conflicts_with = "csv")]
    pub md: bool,
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
    /// One row per experiment × metric (readable with dozens of metrics).
    #[arg(long)]
    pub long: bool,
    /// Also write an experiments page (HTML, with a figure) into DIR.
    #[arg(long, value_name = "DIR")]
    pub html: Option<PathBuf>,
    /// The page's figure: this metric ...
    #[arg(long, value_name = "METRIC", requires_all = ["html", "against"])]
    pub plot: Option<String>,
    /// ... against this override (`params.limit`, or `limit` when unique).
    #[arg(long, value_name = "KEY", requires = "plot")]
    pub against: Option<String>,
}

/// The experiment commands.
#[derive(Debug, Subcommand)]
pub enum ExpCommand {
    /// One row per experiment plus the baseline: overrides and headline metrics
    /// (mean ± sd across seeds for a `seed` matrix axis). Reads only; never waits for a run.
    Show(ShowArgs),
    /// Params and metrics that differ from A to B (`baseline` is the pipeline's own lock),
    /// with the 2 SE seed-paired rule for metrics measured over seeds.
    Diff {
        /// The pipeline YAML file.
        pipeline: PathBuf,
        /// From (`baseline`, or an experiment).
        a: String,
        /// To (default: A, compared against `baseline`).
        b: Option<String>,
        /// Stages whose metrics to compare (default: every stage with `metrics:`).
        #[arg(long = "stage", value_name = "STAGE")]
        stages: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make an experiment the pipeline's run: its overrides are written into
    /// the pipeline file and its lockfile becomes `<stem>.lock`.
    Apply {
        /// The pipeline YAML file.
        pipeline: PathBuf,
        /// The experiment.
        name: String,
    },
    /// Delete experiments (what only they reach goes at the next `gc`).
    Remove {
        /// The pipeline YAML file.
        pipeline: PathBuf,
        /// The experiments.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// The pipeline file, refused (exit 2) when it is not a file.
pub(super) fn pipeline_file(p: &Path) -> Result<&Path, CliError> {
    if p.is_file() {
        Ok(p)
    } else {
        Err(CliError::Usage(format!(
            "{}: no such pipeline file",
            p.display()
        )))
    }
}

impl ExpCommand {
    /// Runs the command against the store at `--store` (or the default).
    pub fn run(self, store: Option<&Path>) -> Result<(), CliError> {
        let dir = crate::cli::context::checked_store_dir(store)?;
        match self {
            ExpCommand::Show(a) => super::show::show(&a, &dir),
            ExpCommand::Diff {
                pipeline,
                a,
                b,
                stages,
                json,
            } => {
                let (a, b) = match b {
                    Some(b) => (a, b),
                    None => (crate::exp::name::BASELINE.to_string(), a),
                };
                super::diff::diff(&pipeline, &dir, &a, &b, &stages, json)
            }
            ExpCommand::Apply { pipeline, name } => super::apply::apply(&pipeline, &dir, &name),
            ExpCommand::Remove { pipeline, names } => {
                super::remove::remove(&pipeline, &dir, &names)
            }
        }
    }
}
