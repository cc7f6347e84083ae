//! A full disk, simulated through the `test-hooks` failpoints (issue 25,
//! item 6): the run fails saying so, and no temporary file is left beside
//! the pipeline or in the store. Built only with the `test-hooks` feature.

use std::fs;

use crate::common::{Env, list};

fn project() -> (Env, std::path::PathBuf) {
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  a:
    kind: cmd
    run: mkdir "$OUT/d" && echo one > "$OUT/d/1" && echo two > "$OUT/d/2"
    outputs: [d]
"#,
    );
    let hooks = env.path("hooks");
    fs::create_dir(&hooks).unwrap();
    (env, hooks)
}

fn no_temporaries(env: &Env) {
    let beside: Vec<String> = list(env.root())
        .into_iter()
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(beside.is_empty(), "left beside the pipeline: {beside:?}");
    let records: Vec<String> = env
        .records()
        .into_iter()
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(records.is_empty(), "left in records/: {records:?}");
    assert!(
        list(&env.store().join("tmp")).is_empty(),
        "left in tmp/: {:?}",
        list(&env.store().join("tmp"))
    );
}

#[test]
fn a_full_disk_while_storing_outputs_fails_the_stage_and_leaves_no_temporaries() {
    let (env, hooks) = project();
    fs::write(hooks.join("store-copy.enospc"), "").unwrap();
    let mut c = env.command(&["run", "p.yaml"]);
    c.env("REPRO_TEST_HOOKS", &hooks);
    let r = env.spawn_command(c).wait();
    r.code(1).out_has("No space left on device");
    no_temporaries(&env);
    assert!(env.objects().is_empty(), "{:?}", env.objects());
}

#[test]
fn a_full_disk_while_writing_records_and_the_lockfile_leaves_no_temporaries() {
    let (env, hooks) = project();
    fs::write(hooks.join("write-atomic.enospc"), "").unwrap();
    let mut c = env.command(&["run", "p.yaml"]);
    c.env("REPRO_TEST_HOOKS", &hooks);
    let r = env.spawn_command(c).wait();
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("No space left on device"),
        "{r:?}"
    );
    no_temporaries(&env);
}
