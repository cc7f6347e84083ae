//! The command line: argument parsing and one file per command. `main.rs`
//! only calls [`main`].

pub mod args;
pub mod context;
pub mod error;

mod bench;
mod dag_cmd;
mod diff;
mod executor;
pub mod exp;
mod export;
mod gc;
mod kinds;
pub mod model;
mod pull;
mod push;
mod repair;
mod run;
mod show;
mod status;
mod transfer;
mod verify;
mod verify_remote;

use clap::Parser;

pub use args::{Cli, Command};
pub use error::CliError;

pub use crate::backend::version_line;

/// Parses the command line, runs the command, returns the exit code.
pub fn main() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args
        .get(1)
        .is_some_and(|a| a == crate::exec::supervise::SUBCOMMAND)
    {
        return crate::exec::supervise::main(&args[2..]);
    }
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
            // Messages quote names, values and paths from files a user may
            // not have written: nothing in them reaches the terminal raw.
            let text = e.to_string();
            let text = crate::util::visible::visible_lines(&text);
            if !matches!(e, CliError::Failed(_) | CliError::Interrupted) {
                eprintln!("error: {text}");
            } else {
                eprintln!("repro: {text}");
            }
            e.exit_code()
        }
    }
}

/// Whether a command reads or writes the store (and so takes `--store`).
fn command_uses_store(c: &Command) -> bool {
    match c {
        Command::Run(_)
        | Command::Status { .. }
        | Command::Dag { .. }
        | Command::Show { .. }
        | Command::Verify { .. }
        | Command::Push { .. }
        | Command::Pull { .. }
        | Command::Export { .. }
        | Command::Gc { .. }
        | Command::Exp { .. } => true,
        Command::Diff { .. }
        | Command::Kinds
        | Command::Bench { .. }
        | Command::Model { .. }
        | Command::ExecStage { .. } => false,
    }
}

fn dispatch(cli: Cli) -> Result<(), CliError> {
    let store = cli.store.as_deref();
    let backend = cli.backend;
    if command_uses_store(&cli.command) {
        context::checked_store_dir(store)?;
    }
    match cli.command {
        Command::Run(args) => run::run(&args, store, backend),
        Command::ExecStage { job_file } => std::process::exit(
            crate::exec::slurm::inside::exec_stage(&job_file, crate::stages::registry::builtin()),
        ),
        Command::Status {
            p,
            exp,
            json,
            check,
        } => {
            let p = exp::with_exp(p, &exp, store)?;
            status::status(&p, store, backend, json, check)
        }
        Command::Dag { p, format } => dag_cmd::dag(&p, store, format),
        Command::Show { p, exp, stage } => {
            let p = exp::with_exp(p, &exp, store)?;
            show::show(&p, store, backend, &stage)
        }
        Command::Verify {
            p,
            exp,
            rerun,
            rtol,
            repair,
            remote,
        } => verify::verify(
            &exp::with_exp(p, &exp, store)?,
            store,
            backend,
            &verify::VerifyOptions {
                rerun,
                rtol,
                repair,
                remote,
            },
        ),
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
        Command::Export {
            p,
            exp,
            stage,
            rest,
        } => {
            let p = exp::with_exp(p, &exp, store)?;
            export::export(&p, store, backend, &stage, &rest)
        }
        Command::Diff { a, b } => diff::diff(&a, &b),
        Command::Gc { pipelines, dry_run } => gc::gc(store, &pipelines, dry_run),
        Command::Exp { cmd } => cmd.run(store),
        Command::Kinds => kinds::kinds(),
        Command::Bench {
            row,
            seeded,
            configs,
            llama_dir,
            shapes,
        } => bench::bench(
            &row,
            bench::Options {
                seeded,
                configs,
                llama_dir,
                shapes,
            },
            // default: no --backend: the default backend (flex), as --help says.
            backend.unwrap_or_default(),
        ),
        Command::Model { cmd } => {
            // default: no --backend: the default backend (flex).
            model::run(cmd, backend.unwrap_or_default()).map_err(CliError::from)
        }
    }
}
