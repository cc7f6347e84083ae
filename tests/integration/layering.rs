//! The layering rule of ARCHITECTURE.md ("Layers"), checked on the source:
//! the libraries (train, eval, report, data, model, store, util, bench) never name
//! the stage layer, the executor or the kind contract — test modules included.
//! The same check as `grep -rnE 'crate::(stages|exec)\b' src/{train,…}`.

use std::path::Path;

const LIBRARIES: [&str; 8] = [
    "train", "eval", "report", "data", "model", "store", "util", "bench",
];
const FORBIDDEN: [&str; 3] = ["crate::stages", "crate::exec", "crate::kind"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Whether `line` names `module` as a path (`crate::exec` but not `crate::executor`).
fn names(line: &str, module: &str) -> bool {
    line.match_indices(module).any(|(i, _)| {
        line[i + module.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

#[test]
fn layering_rule_holds() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut hits = Vec::new();
    for lib in LIBRARIES {
        let mut files = Vec::new();
        rust_files(&src.join(lib), &mut files);
        assert!(!files.is_empty(), "src/{lib} has no Rust files");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                for m in FORBIDDEN {
                    if names(line, m) {
                        hits.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "libraries must not import the stage layer, the executor or the kind contract:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_checker_sees_what_it_looks_for() {
    assert!(names("use crate::exec::provenance::host;", "crate::exec"));
    assert!(names("crate::stages", "crate::stages"));
    assert!(!names("use crate::executor::x;", "crate::exec"));
}
