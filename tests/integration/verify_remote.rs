//! `verify PIPELINE --remote URL` (issue 25, item 5): every locked output's
//! published copy read back from the remote and rehashed, nothing stored
//! locally; each bad object named by stage and output; a FIFO refused at once.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::Env;

/// Longer than any of these commands takes, far shorter than a hang.
const PROMPT: Duration = Duration::from_secs(20);

/// A file output `a` and a directory output `b` pushed to a directory remote.
fn pushed() -> (Env, tempfile::TempDir, String) {
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  a:
    kind: cmd
    run: echo hello > "$OUT/a.txt"
    outputs: [a.txt]
  b:
    kind: cmd
    run: mkdir -p "$OUT/d/sub" && echo one > "$OUT/d/x.txt" && echo two > "$OUT/d/sub/y.txt"
    outputs: [d]
"#,
    );
    env.repro(&["run", "p.yaml"]).ok();
    let remote = tempfile::tempdir().unwrap();
    let r = remote.path().display().to_string();
    env.repro(&["push", "p.yaml", "--remote", &r]).ok();
    (env, remote, r)
}

/// The remote's object file of `digest`, made writable.
fn remote_object(remote: &Path, digest: &str) -> PathBuf {
    let p = remote.join("objects").join(&digest[..2]).join(&digest[2..]);
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    p
}

/// The digest of `rel` inside directory output `d` of stage `b`.
fn file_in_dir(env: &Env, rel: &str) -> String {
    let m = env.output_digest("p.lock", "b", "d");
    let bytes = fs::read(env.object_path(&m)).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["files"][rel]["digest"].as_str().unwrap().to_string()
}

#[test]
fn verify_remote_passes_on_a_fresh_push_and_stores_nothing_here() {
    let (a, _remote, r) = pushed();
    a.repro(&["verify", "p.yaml", "--remote", &r])
        .ok()
        .out_has("2 output(s) of 2 stage(s)")
        .out_has(": 4 object(s), 14 B read and rehashed")
        .out_has("verify --remote: ok");
    // A reviewer's clone with an empty store: nothing is written there.
    let b = Env::new();
    for f in ["p.yaml", "p.lock"] {
        fs::copy(a.path(f), b.path(f)).unwrap();
    }
    b.repro(&["verify", "p.yaml", "--remote", &format!("file://{r}")])
        .ok()
        .out_has("verify --remote: ok");
    assert!(b.objects().is_empty(), "{:?}", b.objects());
    assert!(b.records().is_empty(), "{:?}", b.records());
}

#[test]
fn verify_remote_names_the_stage_and_output_of_damaged_bytes() {
    let (a, remote, r) = pushed();
    let d = a.output_digest("p.lock", "a", "a.txt");
    fs::write(remote_object(remote.path(), &d), "jello\n").unwrap();
    let y = file_in_dir(&a, "sub/y.txt");
    fs::write(remote_object(remote.path(), &y), "tw0\n").unwrap();
    let out = a.repro(&["verify", "p.yaml", "--remote", &r]);
    out.code(1)
        .out_has(&format!(
            "CORRUPT   a output a.txt: remote copy has digest {}, the lock gives {d}",
            blake3::hash(b"jello\n").to_hex()
        ))
        .out_has("CORRUPT   b output d file sub/y.txt: remote copy has digest")
        .out_has("verify --remote: 2 problem(s)")
        .err_has("verification failed");
    // A grown object: stopped one byte past the lock's size.
    fs::write(remote_object(remote.path(), &d), vec![b'x'; 8 << 20]).unwrap();
    a.repro(&["verify", "p.yaml", "--remote", &r])
        .code(1)
        .out_has("a output a.txt: remote copy is larger than the 6 bytes the lock gives (stopped after 7)");
}

#[test]
fn verify_remote_names_a_missing_object_and_a_damaged_manifest() {
    let (a, remote, r) = pushed();
    let d = a.output_digest("p.lock", "a", "a.txt");
    fs::remove_file(remote_object(remote.path(), &d)).unwrap();
    let m = a.output_digest("p.lock", "b", "d");
    fs::write(remote_object(remote.path(), &m), "{not json").unwrap();
    a.repro(&["verify", "p.yaml", "--remote", &r])
        .code(1)
        .out_has(&format!(
            "MISSING   a output a.txt: object {d} is not on the remote"
        ))
        .out_has("CORRUPT   b output d: remote copy has digest")
        .out_has("verify --remote: 2 problem(s)");
}

#[test]
fn verify_remote_refuses_a_fifo_without_waiting() {
    let (a, remote, r) = pushed();
    let d = a.output_digest("p.lock", "a", "a.txt");
    let p = remote_object(remote.path(), &d);
    fs::remove_file(&p).unwrap();
    let c = CString::new(p.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    let out = a
        .spawn(&["verify", "p.yaml", "--remote", &r])
        .wait_at_most(PROMPT);
    out.code(1)
        .out_has("REFUSED   a output a.txt:")
        .out_has("not a regular file")
        .out_has("verify --remote: 1 problem(s)");
}

#[test]
fn verify_remote_refuses_a_manifest_whose_path_leaves_the_output() {
    let (a, remote, r) = pushed();
    let y = file_in_dir(&a, "sub/y.txt");
    let text = format!(r#"{{"files":{{"../escape":{{"digest":"{y}","size":8}}}}}}"#);
    let evil = blake3::hash(text.as_bytes()).to_hex().to_string();
    let dir = remote.path().join("objects").join(&evil[..2]);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(&evil[2..]), &text).unwrap();
    let m = a.output_digest("p.lock", "b", "d");
    a.write("p.lock", &a.read("p.lock").replace(&m, &evil));
    a.repro(&["verify", "p.yaml", "--remote", &r])
        .code(1)
        .out_has(&format!(
            "MALFORMED b output d: manifest {evil}: path `../escape` leaves the output"
        ))
        .out_has("verify --remote: 1 problem(s)");
}
