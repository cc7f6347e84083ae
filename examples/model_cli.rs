//! Stand-alone front end for the `repro model …` commands (until the main
//! binary wires them): `cargo run --release --example model_cli -- info MODEL`.

use clap::Parser;

/// `repro model` inspection commands.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: repro::model::cli::ModelCommand,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = repro::model::cli::run(cli.cmd) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
