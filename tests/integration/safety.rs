//! Data safety (issue 9), through the real binary: outputs that are links,
//! FIFOs or hard links never move, change or expose files outside the store;
//! leftover and orphaned processes die with their stage or with repro;
//! damaged objects and untrusted records heal on the next run.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{Env, list, wait_for_file};

/// Every entry below `dir`: relative path → (kind, mode, bytes), links not followed.
fn snapshot(dir: &Path) -> BTreeMap<String, (String, u32, Vec<u8>)> {
    fn go(root: &Path, p: &Path, out: &mut BTreeMap<String, (String, u32, Vec<u8>)>) {
        for e in fs::read_dir(p).unwrap().flatten() {
            let path = e.path();
            let m = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let (kind, bytes) = if m.file_type().is_symlink() {
                (
                    "link",
                    fs::read_link(&path)
                        .unwrap()
                        .display()
                        .to_string()
                        .into_bytes(),
                )
            } else if m.is_dir() {
                ("dir", Vec::new())
            } else {
                ("file", fs::read(&path).unwrap())
            };
            out.insert(rel, (kind.into(), m.mode(), bytes));
            if m.is_dir() {
                go(root, &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    go(dir, dir, &mut out);
    out
}

/// A sentinel directory outside the project, with a file, a subdirectory and a link.
fn victim() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let v = t.path().join("victim");
    fs::create_dir_all(v.join("sub")).unwrap();
    fs::write(v.join("f1.txt"), "precious\n").unwrap();
    fs::write(v.join("sub/f2.txt"), "also precious\n").unwrap();
    std::os::unix::fs::symlink("f1.txt", v.join("inner-link")).unwrap();
    (t, v)
}

fn one_stage(env: &Env, run: &str, outputs: &str) {
    env.pipeline(&format!(
        "name: sym\nstages:\n  s:\n    kind: cmd\n    run: '{run}'\n    outputs: [{outputs}]\n"
    ));
}

#[test]
fn a_link_output_is_refused_and_the_sentinel_outside_is_unchanged() {
    let (_t, v) = victim();
    let before = snapshot(&v);
    let vs = v.display().to_string();
    let cases = [
        (format!("ln -s {vs} \"$OUT/d\""), "d", "d"),
        (format!("ln -s {vs}/f1.txt \"$OUT/f\""), "f", "f"),
        (
            "mkdir \"$OUT/d\"; echo a > \"$OUT/d/f\"; ln -s f \"$OUT/d/inlink\"".to_string(),
            "d",
            "d/inlink",
        ),
        (
            format!("mkdir \"$OUT/d\"; echo a > \"$OUT/d/a\"; ln -s {vs}/sub \"$OUT/d/z\""),
            "d",
            "d/z",
        ),
        (
            "mkdir \"$OUT/d\"; ln -s /nonexistent/x \"$OUT/d/dangling\"".to_string(),
            "d",
            "d/dangling",
        ),
        (
            format!("mkdir \"$OUT/p\"; ln -s {vs} \"$OUT/p/q\""),
            "p/q/f1.txt",
            "p/q",
        ),
    ];
    for (run, output, named) in cases {
        let env = Env::new();
        one_stage(&env, &run, output);
        let r = env.repro(&["run", "p.yaml"]);
        r.code(1)
            .out_has("FAILED  s")
            .out_has(&format!("storing output `{output}`"))
            .out_has(named)
            .out_has("symbolic link");
        assert!(env.records().is_empty(), "{run}: a record was written");
        assert!(env.objects().is_empty(), "{run}: objects were stored");
        assert!(
            list(&env.store().join("tmp")).is_empty(),
            "{run}: staging left behind"
        );
        assert_eq!(
            snapshot(&v),
            before,
            "{run}: the sentinel directory changed"
        );
    }
}

#[test]
fn a_hard_linked_output_is_copied_never_moved_or_made_read_only() {
    let (_t, v) = victim();
    let before = snapshot(&v);
    let env = Env::new();
    let vs = v.display().to_string();
    one_stage(
        &env,
        &format!("ln {vs}/f1.txt \"$OUT/h\"; mkdir \"$OUT/d\"; ln {vs}/sub/f2.txt \"$OUT/d/g\""),
        "h, d",
    );
    env.repro(&["run", "p.yaml"]).ok();
    assert_eq!(snapshot(&v), before, "the sentinel directory changed");
    assert_eq!(env.output("p.lock", "s", "h"), "precious\n");
    for d in env.objects() {
        let m = fs::metadata(env.object_path(&d)).unwrap();
        assert_eq!(
            m.nlink(),
            1,
            "object {d} shares its inode with a file outside"
        );
    }
    // Editing the outside file cannot reach the object.
    fs::write(v.join("f1.txt"), "edited\n").unwrap();
    env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
}

#[test]
fn fifo_outputs_and_deps_fail_fast_instead_of_hanging() {
    let env = Env::new();
    one_stage(&env, "mkfifo \"$OUT/p\"", "p");
    let r = env
        .spawn(&["run", "p.yaml"])
        .wait_at_most(Duration::from_secs(20));
    r.code(1).out_has("FIFO");
    let env = Env::new();
    let st = std::process::Command::new("mkfifo")
        .arg(env.path("pipe"))
        .status()
        .unwrap();
    assert!(st.success());
    env.pipeline("stages:\n  s:\n    kind: cmd\n    deps: [pipe]\n    run: echo > \"$OUT/o\"\n    outputs: [o]\n");
    let r = env
        .spawn(&["status", "p.yaml"])
        .wait_at_most(Duration::from_secs(20));
    assert_ne!(r.code, 0, "status: {r:?}");
    r.err_has("pipe").err_has("FIFO");
    // A run fails the stage whose dep it is (issue 25, item 11).
    let r = env
        .spawn(&["run", "p.yaml"])
        .wait_at_most(Duration::from_secs(20));
    r.code(1).out_has("FAILED  s: dep `./pipe`").out_has("FIFO");
}

#[test]
fn a_leftover_process_cannot_rewrite_a_published_object() {
    let env = Env::new();
    one_stage(
        &env,
        "echo ok > \"$OUT/o\"; exec 3>>\"$OUT/o\"; (sleep 2; echo EVIL >&3) &",
        "o",
    );
    let r = env.repro(&["run", "p.yaml"]);
    r.ok();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(env.output("p.lock", "s", "o"), "ok\n");
    env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
    let log = fs::read_dir(env.store().join("logs/s"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let text = fs::read_to_string(log).unwrap();
    assert!(
        text.contains("process(es) the command left running"),
        "{text}"
    );
}

fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

fn gone_within(pid: i32, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

#[test]
fn setsid_grandchildren_die_when_repro_is_killed() {
    // KILL, and a signal repro does not handle whose default action kills
    // it. Not HUP: under `nohup` (a CI runner, a detached shell) HUP is
    // ignored and that disposition is inherited, so repro would not die.
    for how in ["KILL", "USR1"] {
        let env = Env::new();
        fs::create_dir(env.path("marks")).unwrap();
        env.pipeline(
            "stages:\n  s:\n    kind: cmd\n    run: |\n      setsid sleep 600 &\n      echo $! > marks/grandchild\n      sleep 600\n    outputs: [o]\n",
        );
        let mut run = env.spawn(&["run", "p.yaml"]);
        wait_for_file(&env.path("marks/grandchild"));
        std::thread::sleep(Duration::from_millis(100));
        let pid: i32 = env.read("marks/grandchild").trim().parse().unwrap();
        assert!(alive(pid), "the grandchild did not start");
        if how == "KILL" {
            run.kill9();
        } else {
            run.signal(how);
        }
        let _ = run.wait();
        assert!(
            gone_within(pid, Duration::from_secs(2)),
            "{how}: setsid grandchild {pid} still alive 2 s after repro died"
        );
    }
}

#[test]
fn a_finished_stage_leaves_no_process_behind() {
    let env = Env::new();
    fs::create_dir(env.path("marks")).unwrap();
    env.pipeline(
        "stages:\n  s:\n    kind: cmd\n    run: |\n      setsid sleep 600 &\n      echo $! > marks/grandchild\n      echo done > \"$OUT/o\"\n    outputs: [o]\n",
    );
    env.repro(&["run", "p.yaml"]).ok();
    let pid: i32 = env.read("marks/grandchild").trim().parse().unwrap();
    assert!(
        gone_within(pid, Duration::from_secs(2)),
        "{pid} outlived its stage"
    );
}

fn flip_a_byte(path: &Path) {
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    let mut b = fs::read(path).unwrap();
    b[0] ^= 1;
    fs::write(path, b).unwrap();
}

#[test]
fn a_corrupt_object_is_replaced_by_the_next_run_that_makes_it() {
    let env = Env::new();
    one_stage(&env, "echo hello > \"$OUT/o\"", "o");
    env.repro(&["run", "p.yaml"]).ok();
    let d = env.output_digest("p.lock", "s", "o");
    flip_a_byte(&env.object_path(&d));
    env.repro(&["verify", "p.yaml"]).code(1).out_has("CORRUPT");
    env.repro(&["run", "p.yaml", "--force", "s"]).ok();
    env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
    assert_eq!(env.output("p.lock", "s", "o"), "hello\n");
}

#[test]
fn a_corrupt_manifest_makes_the_stage_stale_once_and_then_heals() {
    let env = Env::new();
    env.pipeline(
        "stages:\n  s:\n    kind: cmd\n    run: mkdir \"$OUT/d\"; echo a > \"$OUT/d/a\"\n    outputs: [d]\n  t:\n    kind: cmd\n    inputs: { i: s }\n    run: cat \"$IN_i/d/a\" > \"$OUT/o\"\n    outputs: [o]\n",
    );
    env.repro(&["run", "p.yaml"]).ok();
    let m = env.output_digest("p.lock", "s", "d");
    flip_a_byte(&env.object_path(&m));
    let st = env.repro(&["status", "p.yaml", "--check"]);
    st.code(1);
    assert!(
        st.status_of("s").contains("record not trusted"),
        "{}",
        st.stdout
    );
    env.repro(&["run", "p.yaml"]).ok();
    env.repro(&["status", "p.yaml", "--check"]).ok();
    env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
}

/// The record file of a stage, via its lock entry.
fn record_path(env: &Env, stage: &str) -> PathBuf {
    let key = env.lock("p.lock")["stages"][stage]["key"]
        .as_str()
        .unwrap()
        .to_string();
    env.store().join("records").join(format!("{key}.json"))
}

#[test]
fn a_record_that_disagrees_is_never_laundered_into_the_lockfile() {
    let env = Env::new();
    env.pipeline(
        "stages:\n  a:\n    kind: cmd\n    run: echo aaaa > \"$OUT/o\"\n    outputs: [o]\n  b:\n    kind: cmd\n    run: echo bb > \"$OUT/o\"\n    outputs: [o]\n",
    );
    env.repro(&["run", "p.yaml"]).ok();
    let lock_before = env.read("p.lock");
    let da = env.output_digest("p.lock", "a", "o");
    let db = env.output_digest("p.lock", "b", "o");
    let rp = record_path(&env, "a");
    let text = fs::read_to_string(&rp).unwrap().replace(&da, &db);
    fs::write(&rp, text).unwrap();
    env.repro(&["verify", "p.yaml"]).code(1).out_has("MISMATCH");
    let st = env.repro(&["status", "p.yaml"]);
    assert!(
        st.status_of("a").contains("record not trusted"),
        "{}",
        st.stdout
    );
    env.repro(&["run", "p.yaml"]).ok().out_has("running a");
    assert_eq!(
        env.read("p.lock"),
        lock_before,
        "the lock took the tampered record"
    );
    env.repro(&["verify", "p.yaml"]).ok();

    // Without a lock to compare with, the sizes still catch a swap.
    fs::remove_file(env.path("p.lock")).unwrap();
    let text = fs::read_to_string(&rp).unwrap();
    let mut rec: serde_json::Value = serde_json::from_str(&text).unwrap();
    rec["outputs"]["o"]["digest"] = db.clone().into();
    fs::write(&rp, serde_json::to_string(&rec).unwrap()).unwrap();
    let st = env.repro(&["status", "p.yaml"]);
    assert!(
        st.status_of("a").contains("record not trusted"),
        "{}",
        st.stdout
    );
    env.repro(&["run", "p.yaml"]).ok();
    assert_eq!(env.output("p.lock", "a", "o"), "aaaa\n");
}

#[test]
fn a_malformed_record_counts_as_none_and_leftover_temp_records_are_cleaned() {
    let env = Env::new();
    one_stage(&env, "echo x > \"$OUT/o\"", "o");
    env.repro(&["run", "p.yaml"]).ok();
    let rp = record_path(&env, "s");
    fs::write(&rp, "{ not json").unwrap();
    let stray = env.store().join("records/abc.tmp123-4");
    fs::write(&stray, "half").unwrap();
    let st = env.repro(&["status", "p.yaml"]);
    st.ok();
    assert!(
        st.status_of("s").contains("malformed record"),
        "{}",
        st.stdout
    );
    env.repro(&["run", "p.yaml"]).ok().out_has("running s");
    assert!(!stray.exists(), "records/*.tmp* left behind");
    env.repro(&["verify", "p.yaml"]).ok();
}

#[test]
fn commands_get_absolute_paths_whatever_the_store_path() {
    let env = Env::new();
    env.write(
        "sub/p.yaml",
        "stages:\n  a:\n    kind: cmd\n    run: echo a > \"$OUT/o\"\n    outputs: [o]\n  b:\n    kind: cmd\n    inputs: { x: a }\n    with: { k: 1 }\n    run: |\n      for v in \"$OUT\" \"$IN_x\" \"$PARAMS\" \"$TMPDIR\"; do case \"$v\" in /*) ;; *) echo \"relative: $v\"; exit 3;; esac; done\n      cat \"$IN_x/o\" \"$PARAMS\" > \"$OUT/o\"\n    outputs: [o]\n",
    );
    let r = env.bare_command(&["--store", "rel-store", "run", "sub/p.yaml"]);
    let out = env.spawn_command(r).wait();
    out.ok();
    assert!(env.path("rel-store/objects").is_dir());
}

#[test]
fn a_noisy_stage_log_is_bounded_and_gc_prunes_old_logs() {
    let env = Env::new();
    env.pipeline(
        "params: { n: 0 }\nstages:\n  s:\n    kind: cmd\n    with: { n: \"${params.n}\" }\n    run: head -c 12000000 /dev/zero | tr '\\0' 'x'; echo; echo LAST; exit 1\n    outputs: [o]\n",
    );
    for n in 0..7 {
        let r = env.repro(&["run", "p.yaml", "--set", &format!("params.n={n}")]);
        r.code(1).out_has("| LAST");
    }
    let logs = list(&env.store().join("logs/s"));
    assert_eq!(logs.len(), 7, "{logs:?}");
    for l in &logs {
        let len = fs::metadata(env.store().join("logs/s").join(l))
            .unwrap()
            .len();
        assert!(len <= (5 << 20) + 4096, "{l}: {len} bytes");
        assert!(l.ends_with(".failed.log"), "{l}");
    }
    env.pipeline("stages:\n  s:\n    kind: cmd\n    run: echo > \"$OUT/o\"\n    outputs: [o]\n");
    env.repro(&["run", "p.yaml"]).ok();
    env.repro(&["gc", "p.yaml"]).ok().out_has("2 log(s)");
    let logs = list(&env.store().join("logs/s"));
    assert_eq!(logs.len(), 6, "5 failed + the record's: {logs:?}");
}

#[test]
fn verify_rerun_leaves_no_orphan_objects() {
    let env = Env::new();
    one_stage(&env, "date +%s%N > \"$OUT/o\"", "o");
    env.repro(&["run", "p.yaml"]).ok();
    let before = env.objects();
    env.repro(&["verify", "p.yaml", "--rerun", "s"])
        .code(1)
        .out_has("DIFFERS");
    assert_eq!(
        env.objects(),
        before,
        "the rerun's outputs stayed in the store"
    );
    assert!(list(&env.store().join("tmp")).is_empty());
}
