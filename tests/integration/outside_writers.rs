//! Writers that are not descendants of `repro` (a container, a daemon, a job
//! on another host): the test itself plays them, from a thread of its own.
//! Whatever they do to `$OUT` while or after the outputs are stored, nothing
//! outside the store changes and every object keeps its bytes.
//! With the `test-hooks` feature (`make test`) the race is made
//! deterministic: `repro` pauses right after it sealed `$OUT`.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{Env, snapshot, wait_for_file};

/// Stage `many` writes `$OUT/d/s1..s40/f1..f30`, says where `$OUT` is and
/// waits (bounded) until the outside writer has taken hold of it.
const MANY: &str = r#"
stages:
  many:
    kind: cmd
    run: |
      for s in $(seq 1 40); do
        mkdir -p "$OUT/d/s$s"
        for f in $(seq 1 30); do echo "stage s$s f$f" > "$OUT/d/s$s/f$f"; done
      done
      echo "$OUT" > marks/out
      for i in $(seq 1 400); do [ -e marks/held ] && break; sleep 0.05; done
    outputs: [d]
"#;

/// A victim directory outside the store: 40 × 30 files the writer will try
/// to get stored in place of the stage's.
fn victims(env: &Env) -> PathBuf {
    let v = env.path("victim");
    for f in 1..=30 {
        env.write(&format!("victim/f{f}"), &format!("VICTIM f{f}\n"));
    }
    fs::set_permissions(v.join("f1"), fs::Permissions::from_mode(0o640)).unwrap();
    v
}

/// No object in the store is a link, and none holds a victim's bytes.
fn assert_store_holds_no_victim(env: &Env) {
    for d in env.objects() {
        let p = env.object_path(&d);
        let meta = fs::symlink_metadata(&p).unwrap();
        assert!(meta.is_file(), "{} is not a regular file", p.display());
        let bytes = fs::read(&p).unwrap();
        assert!(
            !bytes.starts_with(b"VICTIM"),
            "a victim's bytes became object {d}"
        );
    }
}

/// The project, the marks directory and the hook directory.
fn project(yaml: &str) -> (Env, PathBuf) {
    let env = Env::new();
    env.pipeline(yaml);
    fs::create_dir(env.path("marks")).unwrap();
    let hooks = env.path("hooks");
    fs::create_dir(&hooks).unwrap();
    (env, hooks)
}

fn run_with_hooks(env: &Env, hooks: &Path) -> crate::common::Running {
    let mut c = env.command(&["run", "p.yaml"]);
    c.env("REPRO_TEST_HOOKS", hooks);
    env.spawn_command(c)
}

/// The `$OUT` the stage announced.
fn announced_out(env: &Env) -> PathBuf {
    wait_for_file(&env.path("marks/out"));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = env.read("marks/out");
        if text.ends_with('\n') {
            return PathBuf::from(text.trim_end());
        }
        assert!(Instant::now() < deadline, "marks/out never completed");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Issue 25, item 1: a process outside the stage's tree renames each
/// `$OUT/d/sN` away and puts a link to a victim directory in its place while
/// `repro` stores the output. The path no longer leads into what is stored,
/// so nothing outside the store moves or changes mode, and the store holds
/// the stage's own bytes.
#[test]
fn a_link_swapped_in_by_path_while_outputs_are_stored_moves_nothing() {
    let (env, hooks) = project(MANY);
    let victim = victims(&env);
    let before = snapshot(&victim);
    let hooked = cfg!(feature = "test-hooks");
    fs::write(hooks.join("capture-sealed.pause"), "").unwrap();
    let run = run_with_hooks(&env, &hooks);
    let out = announced_out(&env);
    fs::write(env.path("marks/held"), "").unwrap();
    if hooked {
        wait_for_file(&hooks.join("capture-sealed.reached"));
    }
    // The issue's writer: swap every sN for a link, by path, for a while.
    let mut swapped = 0;
    let until = Instant::now() + Duration::from_millis(if hooked { 0 } else { 1500 });
    loop {
        for s in 1..=40 {
            let sn = out.join(format!("d/s{s}"));
            if fs::rename(&sn, out.join(format!("d/s{s}.away"))).is_ok() {
                swapped += 1;
                let _ = symlink(&victim, &sn);
            }
        }
        if Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    fs::write(hooks.join("capture-sealed.go"), "").unwrap();
    let r = run.wait();
    if hooked {
        assert_eq!(swapped, 0, "after the seal, $OUT's path leads nowhere");
        r.ok().out_has("summary: 1 ran, 0 fresh, 0 failed");
    }
    assert_eq!(snapshot(&victim), before, "the victim directory changed");
    assert_store_holds_no_victim(&env);
    if r.code == 0 {
        env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
        env.repro(&["export", "p.yaml", "many", "x"]).ok();
        assert_eq!(env.read("x/d/s7/f3"), "stage s7 f3\n");
    }
}

/// Item 1 through a directory the writer holds open (no path needed): a
/// link it swaps in after the seal is met by `openat(O_NOFOLLOW)` and
/// refused; it is never followed, and nothing is stored.
#[cfg(feature = "test-hooks")]
#[test]
fn a_link_swapped_in_through_a_held_directory_is_refused_not_followed() {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let (env, hooks) = project(MANY);
    let victim = victims(&env);
    let before = snapshot(&victim);
    fs::write(hooks.join("capture-sealed.pause"), "").unwrap();
    let run = run_with_hooks(&env, &hooks);
    let out = announced_out(&env);
    let held = fs::File::open(out.join("d")).unwrap();
    let s1 = fs::File::open(out.join("d/s1")).unwrap();
    fs::write(env.path("marks/held"), "").unwrap();
    wait_for_file(&hooks.join("capture-sealed.reached"));
    let at = |fd: &fs::File, from: &str, to: &str| {
        let (from, to) = (CString::new(from).unwrap(), CString::new(to).unwrap());
        use std::os::fd::AsRawFd;
        let rc =
            unsafe { libc::renameat(fd.as_raw_fd(), from.as_ptr(), fd.as_raw_fd(), to.as_ptr()) };
        assert_eq!(rc, 0, "renameat {from:?}");
    };
    let link = |fd: &fs::File, target: &Path, name: &str| {
        use std::os::fd::AsRawFd;
        let t = CString::new(target.as_os_str().as_bytes()).unwrap();
        let n = CString::new(name).unwrap();
        let rc = unsafe { libc::symlinkat(t.as_ptr(), fd.as_raw_fd(), n.as_ptr()) };
        assert_eq!(rc, 0, "symlinkat {name}");
    };
    // A file of s1 becomes a link to a victim file, s40 a link to the victim.
    at(&s1, "f2", "f2.away");
    link(&s1, &victim.join("f1"), "f2");
    at(&held, "s40", "s40.away");
    link(&held, &victim, "s40");
    fs::write(hooks.join("capture-sealed.go"), "").unwrap();
    let r = run.wait();
    r.code(1).out_has("symbolic link").out_has("d/s1/f2");
    assert_eq!(snapshot(&victim), before, "the victim directory changed");
    assert_store_holds_no_victim(&env);
    assert!(env.records().is_empty());
}

/// Issue 25, item 2: a process outside the tree holds `$OUT/o` open for
/// append and writes after the run; the object is the store's own copy, so
/// `verify` stays ok. An output hard-linked to a file outside leaves that
/// file's bytes and mode as they were.
#[test]
fn a_writer_holding_an_output_open_cannot_change_the_object() {
    let (env, _hooks) = project(
        r#"
stages:
  dd:
    kind: cmd
    run: |
      echo data > "$OUT/o"
      ln sentinel/keep "$OUT/h"
      echo "$OUT" > marks/out
      for i in $(seq 1 400); do [ -e marks/held ] && break; sleep 0.05; done
    outputs: [o, h]
"#,
    );
    env.write("sentinel/keep", "kept\n");
    fs::set_permissions(env.path("sentinel/keep"), fs::Permissions::from_mode(0o664)).unwrap();
    let before = snapshot(&env.path("sentinel"));
    let run = env.spawn(&["run", "p.yaml"]);
    let out = announced_out(&env);
    let mut held = fs::OpenOptions::new()
        .append(true)
        .open(out.join("o"))
        .unwrap();
    fs::write(env.path("marks/held"), "").unwrap();
    run.wait().ok().out_has("summary: 1 ran, 0 fresh, 0 failed");
    let ended = Instant::now();
    use std::io::Write;
    held.write_all(b"EVIL").unwrap();
    env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
    std::thread::sleep(Duration::from_secs(5).saturating_sub(ended.elapsed()));
    held.write_all(b"EVIL").unwrap();
    env.repro(&["verify", "p.yaml"]).ok().out_lacks("CORRUPT");
    assert_eq!(env.output("p.lock", "dd", "o"), "data\n");
    assert_eq!(snapshot(&env.path("sentinel")), before);
}
