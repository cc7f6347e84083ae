//! The `repro` command line: parse, run, map the result to an exit code.

fn main() {
    std::process::exit(repro::cli::main());
}
