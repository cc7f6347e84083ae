//! Sizes first (issue 25, item 4): a download stops one byte past the size
//! the lock gives, and a size that disagrees with the lock is refused before
//! anything is stored.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use repro::remote::layout::index_key;
use repro::store::Lockfile;

use crate::common::Env;

fn pushed() -> (Env, tempfile::TempDir, String) {
    let a = Env::ran_hello();
    let remote = tempfile::tempdir().unwrap();
    let r = remote.path().display().to_string();
    a.repro(&["push", "p.yaml", "--remote", &r]).ok();
    (a, remote, r)
}

fn clone_of(a: &Env) -> Env {
    let b = Env::new();
    for f in ["p.yaml", "p.lock"] {
        fs::copy(a.path(f), b.path(f)).unwrap();
    }
    b
}

fn writable(p: &Path) {
    fs::set_permissions(p, fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn an_object_grown_on_the_remote_is_refused_after_one_byte_more_than_the_lock_gives() {
    let (a, remote, r) = pushed();
    let d = a.output_digest("p.lock", "a", "a.txt");
    let obj = remote.path().join("objects").join(&d[..2]).join(&d[2..]);
    writable(&obj);
    fs::write(&obj, vec![b'x'; 8 << 20]).unwrap();
    let b = clone_of(&a);
    b.repro(&["pull", "p.yaml", "--remote", &r])
        .code(1)
        .err_has("larger than the 6 bytes the lock gives (stopped after 7)");
    assert!(b.objects().is_empty(), "{:?}", b.objects());
}

#[test]
fn a_size_the_lock_and_the_remote_record_both_inflate_is_refused_before_anything_is_stored() {
    let (a, remote, r) = pushed();
    let b = clone_of(&a);
    let huge = "1000000000000000";
    b.write(
        "p.lock",
        &b.read("p.lock")
            .replace("size: 6", &format!("size: {huge}")),
    );
    let key = b.lock("p.lock")["stages"]["a"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let rec = remote.path().join("records").join(format!("{key}.json"));
    writable(&rec);
    let text = fs::read_to_string(&rec)
        .unwrap()
        .replace("\"size\": 6", &format!("\"size\": {huge}"));
    fs::write(&rec, text).unwrap();
    // The index of the edited lock, as a push of it would have written.
    let old = fs::read_dir(remote.path().join("index"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let new = remote
        .path()
        .join(index_key(&Lockfile::load(&b.path("p.lock")).unwrap()));
    fs::copy(old, new).unwrap();
    b.repro(&["pull", "p.yaml", "--remote", &r])
        .code(1)
        .err_has(&format!("has 6 bytes, the lock gives {huge}"));
    assert!(b.objects().is_empty(), "{:?}", b.objects());
    assert!(b.records().is_empty(), "{:?}", b.records());
}
