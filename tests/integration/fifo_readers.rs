//! A FIFO where an object should be — in a directory remote or in the local
//! store — is refused at once by every reader (pull, verify, verify
//! --repair, export), never waited on (issue 25, item 3).

use std::ffi::CString;
use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::common::Env;

/// Longer than any of these commands takes, far shorter than a hang.
const PROMPT: Duration = Duration::from_secs(20);

fn mkfifo(p: &Path) {
    let _ = fs::remove_file(p);
    let c = CString::new(p.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

#[test]
fn a_fifo_in_a_directory_remote_is_refused_by_pull_and_repair_without_waiting() {
    let a = Env::ran_hello();
    let remote = tempfile::tempdir().unwrap();
    let r = remote.path().display().to_string();
    a.repro(&["push", "p.yaml", "--remote", &r]).ok();
    let d = a.output_digest("p.lock", "a", "a.txt");
    mkfifo(&remote.path().join("objects").join(&d[..2]).join(&d[2..]));
    let b = Env::new();
    for f in ["p.yaml", "p.lock"] {
        fs::copy(a.path(f), b.path(f)).unwrap();
    }
    let out = b
        .spawn(&["pull", "p.yaml", "--remote", &r])
        .wait_at_most(PROMPT);
    out.code(1).err_has("not a regular file");
    assert!(b.objects().is_empty(), "{:?}", b.objects());
    // verify --repair from that remote: the local object is gone, the
    // remote's is a FIFO; it says so and does not wait.
    fs::remove_file(a.object_path(&d)).unwrap();
    let out = a
        .spawn(&["verify", "p.yaml", "--repair", "--remote", &r])
        .wait_at_most(PROMPT);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("not a regular file"),
        "{out:?}"
    );
}

#[test]
fn a_fifo_in_the_local_store_is_refused_by_verify_and_export_without_waiting() {
    let env = Env::ran_hello();
    let d = env.output_digest("p.lock", "a", "a.txt");
    mkfifo(&env.object_path(&d));
    env.spawn(&["verify", "p.yaml"])
        .wait_at_most(PROMPT)
        .code(1)
        .out_has("CORRUPT")
        .out_has("not a regular file");
    let out = env
        .spawn(&["export", "p.yaml", "a", "x"])
        .wait_at_most(PROMPT);
    out.code(1);
    assert!(!env.path("x/a.txt").exists());
}
