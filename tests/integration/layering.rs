//! The crate graph of ARCHITECTURE.md ("Crates"), checked on what cargo itself
//! resolves:
//! - every edge between the workspace's crates is in [`ALLOWED`] (a new crate, or
//!   an import that runs the wrong way, fails here before review);
//! - the engine and the core carry no Burn, no polars and no tokenizers in their
//!   dependency trees (`cargo tree -p repro-engine -e normal`), so a user who
//!   embeds the runner does not build the ML stack.
//!
//! The compiler enforces the rest: a crate cannot name one it does not depend on.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Each workspace crate and the workspace crates it may depend on (normal, build
/// or dev dependencies alike).
const ALLOWED: [(&str, &[&str]); 5] = [
    ("repro-core", &[]),
    ("repro-engine", &["repro-core"]),
    ("repro-ml", &["repro-core"]),
    ("repro-kinds", &["repro-core", "repro-engine", "repro-ml"]),
    (
        "repro",
        &["repro-core", "repro-engine", "repro-ml", "repro-kinds"],
    ),
];

/// Crates whose trees must stay free of the ML stack.
const ML_FREE: [&str; 2] = ["repro-core", "repro-engine"];

/// Package name prefixes of the ML stack: Burn (and its cubecl kernels),
/// polars, tokenizers, and the GEMM the fused kernels call.
const ML_STACK: [&str; 6] = [
    "burn",
    "cubecl",
    "polars",
    "tokenizers",
    "gemm",
    "safetensors",
];

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Every workspace crate and the workspace crates it depends on, from
/// `cargo metadata --no-deps` (its `packages[].dependencies`).
fn workspace_edges(metadata: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let packages = metadata["packages"].as_array().expect("packages");
    let members: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["name"].as_str())
                .filter(|d| members.contains(d))
                .map(str::to_string)
                .collect();
            (p["name"].as_str().unwrap_or("?").to_string(), deps)
        })
        .collect()
}

/// The edges of `edges` outside [`ALLOWED`], and the crates it does not list,
/// one line each.
fn violations(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.into_iter().collect();
    let mut out = Vec::new();
    for (krate, deps) in edges {
        let Some(ok) = allowed.get(krate.as_str()) else {
            out.push(format!(
                "{krate}: a workspace crate the table does not list"
            ));
            continue;
        };
        for d in deps {
            if !ok.contains(&d.as_str()) {
                out.push(format!("{krate} -> {d}: not an allowed edge"));
            }
        }
    }
    out
}

/// The packages of `cargo tree` lines (`name vX.Y.Z …`) that belong to the ML stack.
fn ml_packages(tree: &str) -> BTreeSet<String> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| ML_STACK.iter().any(|p| name.starts_with(p)))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_edge_between_the_crates_is_in_the_table() {
    let out = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let edges = workspace_edges(&metadata);
    assert_eq!(
        edges.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "repro",
            "repro-core",
            "repro-engine",
            "repro-kinds",
            "repro-ml"
        ],
        "the workspace's crates"
    );
    let bad = violations(&edges);
    assert!(
        bad.is_empty(),
        "crate edges outside ARCHITECTURE.md's table (\"Crates\"):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_engine_and_the_core_build_without_the_ml_stack() {
    for krate in ML_FREE {
        let out = cargo()
            .args([
                "tree",
                "-p",
                krate,
                "-e",
                "normal,build",
                "--prefix",
                "none",
            ])
            .args(["--format", "{p}", "--offline"])
            .output()
            .expect("cargo tree runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(
            tree.lines().count() > 1,
            "cargo tree -p {krate} printed nothing:\n{tree}"
        );
        let ml = ml_packages(&tree);
        assert!(ml.is_empty(), "{krate} depends on the ML stack: {ml:?}");
    }
}

#[test]
fn the_checkers_see_what_they_look_for() {
    let edges = |pairs: &[(&str, &[&str])]| -> BTreeMap<String, BTreeSet<String>> {
        pairs
            .iter()
            .map(|(k, d)| (k.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect()
    };
    // The table itself passes.
    assert!(violations(&edges(&ALLOWED)).is_empty());
    // The engine reaching into the ML code, the ML code into the engine, and a
    // crate the table does not know each fail.
    assert_eq!(
        violations(&edges(&[("repro-engine", &["repro-core", "repro-ml"])])),
        ["repro-engine -> repro-ml: not an allowed edge"]
    );
    assert_eq!(
        violations(&edges(&[("repro-ml", &["repro-engine"])])).len(),
        1
    );
    assert_eq!(violations(&edges(&[("repro-extra", &[])])).len(), 1);
    // Metadata is read the way cargo writes it: only workspace crates count.
    let metadata = serde_json::json!({"packages": [
        {"name": "repro-core", "dependencies": [{"name": "serde"}]},
        {"name": "repro-engine", "dependencies": [{"name": "repro-core"}, {"name": "repro-kinds"}]},
        {"name": "repro-kinds", "dependencies": []},
    ]});
    assert_eq!(
        violations(&workspace_edges(&metadata)),
        ["repro-engine -> repro-kinds: not an allowed edge"]
    );
    // cargo tree lines.
    let tree = "repro-engine v0.1.0 (/x)\nburn-tensor v0.21.0\nserde v1.0.0\npolars v0.55.2\n";
    assert_eq!(
        ml_packages(tree).into_iter().collect::<Vec<_>>(),
        ["burn-tensor", "polars"]
    );
}
