//! Silent defaults, checked on the source (issue 27): every `unwrap_or_default()` in `src/`
//! and `crates/*/src/`
//! outside test code carries a `// default: <why>` comment on its line or in the comment
//! lines just above it, so a default that hides a failure (a corrupt index read as an
//! empty one, a tensor read back as an empty vector) cannot come back unnoticed.
//!
//! Test code is what `#[cfg(test)]` marks: a `mod tests { … }` block (at the bottom of its
//! file, as the house style has it; everything after it is skipped) or a file declared
//! `#[cfg(test)] mod name;`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::common::{rust_files, source_dirs};

const NEEDLE: &str = "unwrap_or_default()";
const MARK: &str = "// default:";

/// `name` of a line `mod name;` (with or without `pub`/`pub(crate)`).
fn out_of_line_mod(line: &str) -> Option<&str> {
    let rest = line.trim();
    let rest = rest
        .strip_prefix("pub(crate) ")
        .or_else(|| rest.strip_prefix("pub "))
        .unwrap_or(rest);
    let name = rest.strip_prefix("mod ")?.strip_suffix(';')?;
    name.chars()
        .all(|c| c.is_alphanumeric() || c == '_')
        .then_some(name)
}

/// The files (and directories) that `#[cfg(test)] mod name;` in `file` declares.
fn test_only_children(file: &Path, text: &str) -> Vec<PathBuf> {
    let lines: Vec<&str> = text.lines().collect();
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let parent = file.parent().unwrap_or(Path::new(""));
    let dir = if matches!(stem, "mod" | "lib" | "main") {
        parent.to_path_buf()
    } else {
        parent.join(stem)
    };
    let mut out = Vec::new();
    for w in lines.windows(2) {
        if w[0].trim() == "#[cfg(test)]"
            && let Some(name) = out_of_line_mod(w[1])
        {
            out.push(dir.join(format!("{name}.rs")));
            out.push(dir.join(name));
        }
    }
    out
}

/// Whether `line` opens an inline test module (`mod tests {`), given the line above.
fn opens_test_module(above: &str, line: &str) -> bool {
    let l = line.trim();
    let l = l.strip_prefix("pub ").unwrap_or(l);
    above.trim() == "#[cfg(test)]" && l.starts_with("mod ") && l.ends_with('{')
}

/// The `line:text` of each `unwrap_or_default()` in `text` (non-test part) with no
/// `// default:` comment on its line or in the run of comment lines right above it.
fn unjustified(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut hits = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 && opens_test_module(lines[i - 1], line) {
            break;
        }
        if !line.contains(NEEDLE) || line.trim_start().starts_with("//") {
            continue;
        }
        let mut ok = line.contains(MARK);
        let mut j = i;
        while !ok && j > 0 && lines[j - 1].trim_start().starts_with("//") {
            j -= 1;
            ok = lines[j].contains(MARK);
        }
        if !ok {
            hits.push(format!("{}: {}", i + 1, line.trim()));
        }
    }
    hits
}

#[test]
fn every_unwrap_or_default_outside_tests_says_why() {
    let mut files = Vec::new();
    for dir in source_dirs() {
        rust_files(&dir, &mut files);
    }
    assert!(
        files.len() > 50,
        "found only {} files under src/ and crates/*/src/",
        files.len()
    );
    let texts: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|f| {
            let t = std::fs::read_to_string(&f).unwrap();
            (f, t)
        })
        .collect();
    let test_only: BTreeSet<PathBuf> = texts
        .iter()
        .flat_map(|(f, t)| test_only_children(f, t))
        .collect();
    let mut hits = Vec::new();
    let mut seen = 0;
    for (f, text) in &texts {
        if test_only.iter().any(|t| f.starts_with(t)) {
            continue;
        }
        seen += text.matches(NEEDLE).count();
        for h in unjustified(text) {
            hits.push(format!("{}:{h}", f.display()));
        }
    }
    assert!(
        seen > 0,
        "no `{NEEDLE}` at all: is the scan looking at the sources?"
    );
    assert!(
        hits.is_empty(),
        "an `{NEEDLE}` outside tests needs `{MARK} <why>` on its line or the comment \
         line(s) above it, or an error that names what failed:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_default_checker_sees_what_it_looks_for() {
    // Unjustified, on its line and in a chain.
    assert_eq!(unjustified("let x = y.unwrap_or_default();").len(), 1);
    assert_eq!(
        unjustified("let x = y\n    .ok()\n    .unwrap_or_default();").len(),
        1
    );
    // A comment two code lines up does not count.
    assert_eq!(
        unjustified("// default: far\nlet x = y\n    .unwrap_or_default();").len(),
        1
    );
    // Justified: same line, the line above, a comment block above.
    assert!(unjustified("y.unwrap_or_default() // default: none means empty").is_empty());
    assert!(unjustified("// default: none\ny.unwrap_or_default();").is_empty());
    assert!(
        unjustified("// default: none means\n// an empty list\ny.unwrap_or_default();").is_empty()
    );
    // Test modules are skipped.
    assert!(
        unjustified("fn f() {}\n#[cfg(test)]\nmod tests {\n    y.unwrap_or_default();\n}")
            .is_empty()
    );
    // Out-of-line test modules are found.
    let kids = test_only_children(
        Path::new("src/train/ppo/mod.rs"),
        "#[cfg(test)]\nmod tests;\nmod step;",
    );
    assert!(kids.contains(&PathBuf::from("src/train/ppo/tests.rs")));
    assert!(!kids.contains(&PathBuf::from("src/train/ppo/step.rs")));
}
