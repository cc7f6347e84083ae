//! `push` to a directory remote never follows a link inside it, and replaces
//! a remote object whose size differs (issue 25, item 5).

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};

use crate::common::{Env, list};

#[test]
fn push_refuses_links_inside_a_directory_remote() {
    let a = Env::ran_hello();
    let d = a.output_digest("p.lock", "a", "a.txt");
    for planted in ["records", "objects"] {
        let remote = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let at = if planted == "objects" {
            fs::create_dir(remote.path().join("objects")).unwrap();
            remote.path().join("objects").join(&d[..2])
        } else {
            remote.path().join(planted)
        };
        symlink(elsewhere.path(), &at).unwrap();
        let r = remote.path().display().to_string();
        a.repro(&["push", "p.yaml", "--remote", &r])
            .code(1)
            .err_has("is a symbolic link inside the directory remote");
        assert!(
            list(elsewhere.path()).is_empty(),
            "{planted}: {:?}",
            list(elsewhere.path())
        );
    }
}

#[test]
fn push_replaces_a_remote_object_whose_size_differs() {
    let a = Env::ran_hello();
    let remote = tempfile::tempdir().unwrap();
    let r = remote.path().display().to_string();
    a.repro(&["push", "p.yaml", "--remote", &r]).ok();
    let d = a.output_digest("p.lock", "a", "a.txt");
    let obj = remote.path().join("objects").join(&d[..2]).join(&d[2..]);
    fs::set_permissions(&obj, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&obj, b"hell").unwrap();
    a.repro(&["push", "p.yaml", "--remote", &r])
        .ok()
        .out_has("1 uploaded");
    assert_eq!(fs::read(&obj).unwrap(), b"hello\n");
}
