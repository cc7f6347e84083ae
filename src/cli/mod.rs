//! The command line: argument parsing and one file per command. `main.rs`
//! only calls [`main`].

pub mod args;
pub mod context;
pub mod error;

mod dag_cmd;
mod diff;
mod export;
mod gc;
mod holders;
mod kinds;
mod pull;
mod push;
mod run;
mod show;
mod status;
mod transfer;
mod verify;

use clap::Parser;

pub use args::{Cli, Command};
pub use error::CliError;

/// `repro 0.1.0 (backends: flex)`.
pub fn version_line() -> &'static str {
    static LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LINE.get_or_init(|| {
        let b: Vec<&str> = crate::backend::Backend::available()
            .iter()
            .map(|b| b.name())
            .collect();
        format!("{} (backends: {})", env!("CARGO_PKG_VERSION"), b.join(", "))
    })
}

/// Parses the command line, runs the command, returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            if !matches!(e, CliError::Failed(_) | CliError::Interrupted) {
                eprintln!("error: {e}");
            } else {
                eprintln!("repro: {e}");
            }
            e.exit_code()
        }
    }
}

fn dispatch(cli: Cli) -> Result<(), CliError> {
    let store = cli.store.as_deref();
    let backend = cli.backend;
    match cli.command {
        Command::Run {
            p,
            targets,
            jobs,
            keep_going,
            force,
            dry_run,
            no_wait,
        } => run::run(
            &p,
            store,
            backend,
            &targets,
            jobs as usize,
            keep_going,
            &force,
            dry_run,
            no_wait,
        ),
        Command::Status { p, json, check } => status::status(&p, store, backend, json, check),
        Command::Dag { p, format } => dag_cmd::dag(&p, store, format),
        Command::Show { p, stage } => show::show(&p, store, backend, &stage),
        Command::Verify { p, rerun } => verify::verify(&p, store, backend, &rerun),
        Command::Push {
            p,
            targets,
            remote,
            jobs,
        } => push::push(&p, store, &targets, remote.as_deref(), jobs as usize),
        Command::Pull {
            p,
            targets,
            remote,
            jobs,
        } => pull::pull(&p, store, &targets, remote.as_deref(), jobs as usize),
        Command::Export { p, stage, rest } => export::export(&p, store, backend, &stage, &rest),
        Command::Diff { a, b } => diff::diff(&a, &b),
        Command::Gc { pipelines, dry_run } => gc::gc(store, &pipelines, dry_run),
        Command::Kinds => kinds::kinds(),
        Command::Model { cmd } => {
            crate::model::cli::run(cmd, backend.unwrap_or_default()).map_err(CliError::from)
        }
    }
}
