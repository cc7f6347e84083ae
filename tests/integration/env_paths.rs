//! The paths `repro` exports to a stage (`$OUT`, `$IN_<slot>`, `$PARAMS`,
//! `TMPDIR`) are absolute and normalised even when the store and pipeline
//! are given as `../..` paths from a deeper directory (issue 25, item 11).

use std::process::Command;

use crate::common::Env;

#[test]
fn environment_paths_are_normalised() {
    let env = Env::new();
    env.write(
        "proj/p.yaml",
        r#"
stages:
  a:
    kind: cmd
    run: echo hi > "$OUT/o"
    outputs: [o]
  b:
    kind: cmd
    inputs: {i: a}
    run: |
      printf '%s\n' "$OUT" "$IN_i" "$PARAMS" "$TMPDIR" "$PWD" > "$OUT/env"
    outputs: [env]
"#,
    );
    std::fs::create_dir_all(env.path("proj/deeper/x")).unwrap();
    let r = Command::new(env!("CARGO_BIN_EXE_repro"))
        .args(["--store", "../../../st", "run", "../../p.yaml"])
        .current_dir(env.path("proj/deeper/x"))
        .env_remove("REPRO_STORE")
        .output()
        .expect("repro");
    assert!(r.status.success(), "{r:?}");
    let lock: serde_json::Value =
        serde_yaml_ng::from_str(&env.read("proj/p.lock")).expect("lockfile");
    let digest = lock["stages"]["b"]["outputs"]["env"]["digest"]
        .as_str()
        .expect("digest");
    let obj = env.path("st/objects").join(&digest[..2]).join(&digest[2..]);
    let text = std::fs::read_to_string(obj).expect("object");
    let root = std::fs::canonicalize(env.root()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    for l in &lines[..4] {
        assert!(l.starts_with(&format!("{}/st/tmp/", root.display())), "{l}");
    }
    assert_eq!(lines[4], format!("{}/proj", root.display()));
    for l in lines {
        assert!(!l.contains("/../") && !l.contains("/./"), "{l}");
    }
}
