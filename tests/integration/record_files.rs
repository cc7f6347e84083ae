//! Broken record files (issue 25, item 11): a truncated record is named by
//! the stage that owns it, not blamed on a downstream stage; a directory
//! where a record file should be is a malformed record that `status`, `run`
//! and `verify` report and work past, and the run that replaces it removes
//! nothing outside the store.

use std::fs;

use crate::common::{Env, make_removable, snapshot};

fn two_stages() -> Env {
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  a:
    kind: cmd
    run: echo hi > "$OUT/o"
    outputs: [o]
  b:
    kind: cmd
    inputs: {i: a}
    run: cat "$IN_i/o" > "$OUT/o"
    outputs: [o]
"#,
    );
    env.repro(&["run", "p.yaml"]).ok();
    env
}

/// `records/<key>.json` of stage `a`, as the lockfile names it.
fn record_of_a(env: &Env) -> std::path::PathBuf {
    let key = env.lock("p.lock")["stages"]["a"]["key"]
        .as_str()
        .expect("a's key")
        .to_string();
    env.store().join("records").join(format!("{key}.json"))
}

#[test]
fn verify_names_the_stage_that_owns_a_truncated_record() {
    let env = two_stages();
    let rec = record_of_a(&env);
    let bytes = fs::read(&rec).unwrap();
    make_removable(&rec);
    fs::write(&rec, &bytes[..50]).unwrap();
    let r = env.repro(&["verify", "p.yaml"]);
    r.code(1)
        .out_has("MALFORMED a: record records/")
        .out_has("STALE     b: upstream `a`: malformed record");
    // b is not blamed on its own: the only reason given for it is a's record.
    r.out_lacks("b: upstream stale");
}

#[test]
fn a_directory_where_a_record_should_be_is_a_malformed_record() {
    let env = two_stages();
    let rec = record_of_a(&env);
    // A sentinel outside the store, reached from inside the directory by a
    // link: replacing the record must not follow it.
    env.write("sentinel/keep", "kept\n");
    let before = snapshot(&env.path("sentinel"));
    make_removable(&rec);
    fs::remove_file(&rec).unwrap();
    fs::create_dir(&rec).unwrap();
    std::os::unix::fs::symlink(env.path("sentinel"), rec.join("link")).unwrap();
    fs::write(rec.join("junk"), "x").unwrap();

    let s = env.repro(&["status", "p.yaml"]);
    s.ok();
    assert!(
        s.status_of("a").contains("malformed record records/"),
        "{}",
        s.stdout
    );
    let v = env.repro(&["verify", "p.yaml"]);
    v.code(1)
        .out_has("MALFORMED a: record records/")
        .out_has("a directory where the file should be");
    let r = env.repro(&["run", "p.yaml"]);
    r.ok().out_has("running a (malformed record");
    assert!(rec.is_file(), "the run wrote a's record in its place");
    env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
    assert_eq!(snapshot(&env.path("sentinel")), before);
}
