//! The layering rules of ARCHITECTURE.md ("Layers"), checked on the source,
//! test modules included:
//! - the libraries (train, eval, report, data, model, store, util, bench) never
//!   name the stage layer, the executor or the kind contract;
//! - the engine (spec, dag, store, exec with exec/slurm, remote, kind) never
//!   names the stage layer, the CLI or the ML libraries: it knows the kinds only
//!   through the `kind::Registry` the CLI hands it.
//!
//! The same check as `grep -rnE 'crate::(stages|exec)\b' src/{train,…}`.

use std::path::Path;

use super::common::rust_files;

const LIBRARIES: [&str; 8] = [
    "train", "eval", "report", "data", "model", "store", "util", "bench",
];
const FORBIDDEN: [&str; 3] = ["crate::stages", "crate::exec", "crate::kind"];

/// What becomes the engine crate of the workspace.
const ENGINE: [&str; 6] = ["spec", "dag", "store", "exec", "remote", "kind"];
/// The stage layer, the CLI and the ML libraries.
const ABOVE_ENGINE: [&str; 7] = [
    "crate::stages",
    "crate::cli",
    "crate::model",
    "crate::train",
    "crate::eval",
    "crate::data",
    "crate::report",
];
/// Engine files allowed to name one of `ABOVE_ENGINE` (`path under src`,
/// module), each with its reason. Keep it empty: an entry is a debt.
const ENGINE_ALLOWED: [(&str, &str); 0] = [];

/// Whether `line` names `module` as a path (`crate::exec` but not `crate::executor`).
fn names(line: &str, module: &str) -> bool {
    line.match_indices(module).any(|(i, _)| {
        line[i + module.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

/// Every line of `src/<dir>` (for each dir) that names one of `forbidden`,
/// as `file:line: text`, less the `allowed` (file under `src`, module) pairs.
fn hits(dirs: &[&str], forbidden: &[&str], allowed: &[(&str, &str)]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut hits = Vec::new();
    for dir in dirs {
        let mut files = Vec::new();
        rust_files(&src.join(dir), &mut files);
        assert!(!files.is_empty(), "src/{dir} has no Rust files");
        for f in files {
            let rel = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                for m in forbidden {
                    if names(line, m) && !allowed.contains(&(rel.as_str(), *m)) {
                        hits.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    hits
}

#[test]
fn layering_rule_holds() {
    let hits = hits(&LIBRARIES, &FORBIDDEN, &[]);
    assert!(
        hits.is_empty(),
        "libraries must not import the stage layer, the executor or the kind contract:\n{}",
        hits.join("\n")
    );
}

#[test]
fn engine_layering_rule_holds() {
    let hits = hits(&ENGINE, &ABOVE_ENGINE, &ENGINE_ALLOWED);
    assert!(
        hits.is_empty(),
        "the engine (spec, dag, store, exec, remote, kind) must not import the stage layer, \
         the CLI or the ML libraries (hand it what it needs instead: kind::Registry, \
         KindInfo::numerics, the version line):\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_checker_sees_what_it_looks_for() {
    assert!(names("use crate::exec::provenance::host;", "crate::exec"));
    assert!(names("crate::stages", "crate::stages"));
    assert!(!names("use crate::executor::x;", "crate::exec"));
    assert!(names("use crate::data::load;", "crate::data"));
    assert!(!names("use crate::database;", "crate::data"));
}
