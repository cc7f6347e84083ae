//! The README's commands as written, from the root of a fresh copy of the
//! repository (its tracked files only, as a clone has them): `make demo` with
//! the default, relative store (`./artifacts`) and `repro status` after it.
//! The build step is the one thing not repeated (`CARGO=true`, `REPRO=` the
//! binary under test): a fresh release build would take half an hour.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::HANG_GUARD;

/// Copies the tracked files of the repository into `dest`.
fn fresh_copy(dest: &Path) -> bool {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Ok(out) = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["ls-files", "-z"])
        .output()
    else {
        return false;
    };
    if !out.status.success() || out.stdout.is_empty() {
        return false;
    }
    for rel in out.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rel = String::from_utf8_lossy(rel).into_owned();
        let from = repo.join(&rel);
        if !from.is_file() {
            continue; // deleted in the work tree
        }
        let to = dest.join(&rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    true
}

fn data_dir() -> Option<PathBuf> {
    std::env::var_os("REPRO_DATA")
        .map(PathBuf::from)
        .or_else(|| Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")))
        .filter(|d| d.join("hh-rlhf").is_dir())
}

#[test]
fn make_demo_and_status_work_as_written_from_a_fresh_copy() {
    let Some(data) = data_dir() else {
        assert!(
            std::env::var_os("REPRO_REQUIRE_DATA").is_none(),
            "REPRO_REQUIRE_DATA is set but no data directory was found"
        );
        eprintln!("skipped: no $REPRO_DATA with hh-rlhf (set REPRO_DATA to run this test)");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("repro");
    if !fresh_copy(&root) {
        eprintln!("skipped: not a git checkout");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_repro");
    let run = |cmd: &mut Command| {
        cmd.current_dir(&root)
            .env("REPRO_DATA", &data)
            .env_remove("REPRO_STORE")
            .env_remove("CARGO_TARGET_DIR")
            .stdin(Stdio::null());
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < HANG_GUARD * 4, "{cmd:?} hangs");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{cmd:?} failed:\n{text}");
        text
    };
    let text = run(Command::new("make").args(["demo", "CARGO=true", &format!("REPRO={bin}")]));
    assert!(text.contains("summary: 5 ran"), "{text}");
    assert!(
        root.join("artifacts/objects").is_dir(),
        "the default store is ./artifacts"
    );
    assert!(root.join("pipelines/demo.lock").is_file());
    let text = run(Command::new(bin).args(["status", "pipelines/demo.yaml"]));
    assert!(text.contains("5 fresh, 0 stale"), "{text}");
    let text = run(Command::new(bin).args(["verify", "pipelines/demo.yaml"]));
    assert!(text.contains("verify: ok"), "{text}");
}

/// The README block marked `<!-- readme-test: NAME -->`: its command lines.
fn readme_block(name: &str) -> Vec<String> {
    let text = include_str!("../../README.md");
    let marker = format!("<!-- readme-test: {name} -->");
    let start = text
        .find(&marker)
        .expect("the README lost its tested block");
    let body = &text[start + marker.len()..];
    let open = body
        .find("```sh\n")
        .expect("a ```sh block after the marker")
        + 6;
    let close = body[open..].find("```").expect("the block's end") + open;
    body[open..close]
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_experiments_example_runs_as_written_and_leaves_committed_locks_byte_identical() {
    let Some(data) = data_dir() else {
        assert!(
            std::env::var_os("REPRO_REQUIRE_DATA").is_none(),
            "REPRO_REQUIRE_DATA is set but no data directory was found"
        );
        eprintln!("skipped: no $REPRO_DATA with hh-rlhf (set REPRO_DATA to run this test)");
        return;
    };
    let lines = readme_block("experiments");
    assert!(
        lines[0].starts_with("R=./target/release/repro"),
        "{lines:?}"
    );
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("repro");
    if !fresh_copy(&root) {
        eprintln!("skipped: not a git checkout");
        return;
    }
    // The binary under test where the README says it is (no rebuild).
    std::fs::create_dir_all(root.join("target/release")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_repro"),
        root.join("target/release/repro"),
    )
    .unwrap();
    let committed: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(root.join("pipelines"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "lock"))
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    assert!(!committed.is_empty(), "no committed lockfile in pipelines/");
    let demo_lock = root.join("pipelines/demo.lock");
    let mut baseline: Option<Vec<u8>> = None;
    let mut outputs = Vec::new();
    for line in &lines[1..] {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("set -e; {}; {line}", lines[0]))
            .current_dir(&root)
            .env("REPRO_DATA", &data)
            .env_remove("REPRO_STORE")
            .env_remove("REPRO_REMOTE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{line} failed:\n{text}");
        // Until `exp apply`, no experiment touches the pipeline's lock.
        if line.contains("exp apply") {
            baseline = None;
        } else if let Some(b) = &baseline {
            assert_eq!(
                &std::fs::read(&demo_lock).unwrap(),
                b,
                "`{line}` rewrote demo.lock"
            );
        } else if outputs.is_empty() {
            baseline = Some(std::fs::read(&demo_lock).unwrap());
        }
        outputs.push(text);
    }
    let all = outputs.join("\n");
    for want in [
        "experiment limit=1000: pipelines/demo.lock stays as it is",
        "params.limit: 2312 -> 100",
        "applied experiment small",
        "verify: ok",
        "removed experiment limit=1000",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
    assert!(
        std::fs::read_to_string(root.join("pipelines/demo.yaml"))
            .unwrap()
            .contains("params: { limit: 100 }")
    );
    for (p, b) in &committed {
        assert_eq!(&std::fs::read(p).unwrap(), b, "{} changed", p.display());
    }
}
