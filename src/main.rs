//! The `repro` command line: parse, run, map the result to an exit code.

fn main() {
    repro::util::alloc::keep_freed_memory();
    std::process::exit(repro::cli::main());
}
