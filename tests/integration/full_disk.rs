//! A full disk, simulated through the `test-hooks` failpoints (issue 25,
//! item 6): the run fails saying so, and no temporary file is left beside
//! the pipeline or in the store. Built only with the `test-hooks` feature.

use std::fs;
use std::path::Path;

use crate::common::{Env, Out, list};

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

/// `repro run p.yaml` with the failpoint `point` failing as a full disk.
fn run_disk_full_at(env: &Env, hooks: &Path, point: &str) -> Out {
    fs::write(hooks.join(format!("{point}.enospc")), "").unwrap();
    let mut c = env.command(&["run", "p.yaml"]);
    c.env("REPRO_TEST_HOOKS", hooks);
    env.spawn_command(c).wait()
}

/// The run failed and said the disk is full.
fn failed_disk_full(r: &Out) {
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("No space left on device"),
        "{r:?}"
    );
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
    let r = run_disk_full_at(&env, &hooks, "store-copy");
    r.code(1).out_has("No space left on device");
    no_temporaries(&env);
    assert!(env.objects().is_empty(), "{:?}", env.objects());
}

#[test]
fn a_full_disk_while_writing_records_and_the_lockfile_leaves_no_temporaries() {
    let (env, hooks) = project();
    let r = run_disk_full_at(&env, &hooks, "write-atomic");
    failed_disk_full(&r);
    no_temporaries(&env);
}

/// Issue 25, item 6: with the log unwritable (the store's disk full), the
/// log stays empty, yet `FAILED` shows the stage's own last words from the
/// tail kept in memory.
#[test]
fn a_failure_keeps_its_last_words_when_the_log_cannot_be_written() {
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  big:
    kind: cmd
    run: |
      echo "writing 50 MB"
      echo "head: error writing '$OUT/o': No space left on device" >&2
      exit 1
    outputs: [o]
"#,
    );
    let hooks = env.path("hooks");
    fs::create_dir(&hooks).unwrap();
    let r = run_disk_full_at(&env, &hooks, "log-write");
    r.code(1)
        .out_has("FAILED  big: command failed (exit code 1)")
        .out_has("  | writing 50 MB")
        .out_has("No space left on device");
    let logs = env.store().join("logs/big");
    let names = list(&logs);
    assert_eq!(names.len(), 1, "{names:?}");
    let log = fs::metadata(logs.join(&names[0])).unwrap();
    assert_eq!(log.len(), 0, "the simulated full disk left the log empty");
}

/// Issue 25, item 6: the lockfile beside the pipeline cannot be written (its
/// directory is full): the run says so and leaves no `p.tmp<pid>-<n>` there.
#[test]
fn a_full_pipeline_directory_leaves_no_temporary_lockfile_beside_the_pipeline() {
    let (env, hooks) = project();
    let r = run_disk_full_at(&env, &hooks, "write-atomic-lock");
    failed_disk_full(&r);
    // The record was saved before the lockfile failed: only the lock is missing.
    assert_eq!(env.records().len(), 1, "{:?}", env.records());
    assert!(!env.exists("p.lock"));
    no_temporaries(&env);
}
