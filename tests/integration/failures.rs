//! Failed stages: exit 1, `FAILED` with the log tail, nothing cached,
//! dependents not run, `--keep-going`, running stages still recorded, and a
//! command that exits 0 without its declared output.

use crate::common::{Env, list};

const PIPELINE: &str = r#"
stages:
  bad:
    kind: cmd
    run: echo "about to fail"; echo "boom on stderr" >&2; exit 3
    outputs: [x.txt]
  child:
    kind: cmd
    inputs: { x: bad }
    run: cp "$IN_x/x.txt" "$OUT/y.txt"
    outputs: [y.txt]
  other:
    kind: cmd
    run: echo ok > "$OUT/o.txt"
    outputs: [o.txt]
"#;

#[test]
fn a_failed_stage_is_reported_with_its_log_and_not_cached() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    let r = env.repro(&["run", "p.yaml"]);
    r.code(1)
        .out_has("FAILED  bad: command failed (exit code 3)")
        .out_has("  | about to fail")
        .out_has("  | boom on stderr")
        .out_has("summary: 0 ran, 0 fresh, 1 failed, 2 not run")
        .err_has("1 stage(s) failed: bad");
    assert_eq!(
        r.ran(),
        ["bad"],
        "a stage ran after the failure without --keep-going"
    );
    assert!(
        env.records().is_empty(),
        "a failure was recorded: {:?}",
        env.records()
    );
    assert_eq!(
        list(&env.store().join("logs").join("bad")).len(),
        1,
        "the failed run's log was not kept"
    );
    let s = env.repro(&["status", "p.yaml", "--check"]);
    s.code(1);
    assert!(s.status_of("bad").ends_with("no record"), "{}", s.stdout);

    // Failures are never cached: the next run tries again.
    let again = env.repro(&["run", "p.yaml"]);
    again.code(1).out_has("running bad (no record)");
    assert_eq!(list(&env.store().join("logs").join("bad")).len(), 2);
}

#[test]
fn keep_going_runs_what_does_not_depend_on_the_failure() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    let r = env.repro(&["run", "p.yaml", "--keep-going"]);
    r.code(1)
        .out_has("FAILED  bad")
        .out_has("summary: 1 ran, 0 fresh, 1 failed, 1 not run");
    assert_eq!(r.ran(), ["bad", "other"]);
    let s = env.repro(&["status", "p.yaml"]);
    assert!(s.status_of("other").starts_with("fresh"), "{}", s.stdout);
    assert!(s.status_of("child").starts_with("stale"), "{}", s.stdout);

    // Fixed: only the failed stage and its dependent run.
    env.pipeline(&PIPELINE.replace("exit 3", "echo x > \"$OUT/x.txt\""));
    let r = env.repro(&["run", "p.yaml"]);
    r.ok().out_has("summary: 2 ran, 1 fresh");
    assert_eq!(r.ran(), ["bad", "child"]);
}

#[test]
fn stages_already_running_finish_and_are_recorded() {
    let env = Env::new();
    std::fs::create_dir(env.path("marks")).unwrap();
    env.pipeline(
        r#"
stages:
  bad:
    kind: cmd
    run: touch marks/bad; exit 1
    outputs: [x.txt]
  slow:
    kind: cmd
    run: |
      for i in $(seq 1 400); do [ -e marks/bad ] && break; sleep 0.05; done
      sleep 0.3
      echo done > "$OUT/s.txt"
    outputs: [s.txt]
  later:
    kind: cmd
    run: echo later > "$OUT/l.txt"
    outputs: [l.txt]
"#,
    );
    let r = env.repro(&["run", "p.yaml", "-j", "2"]);
    r.code(1)
        .out_has("FAILED  bad")
        .out_has("ok      slow")
        .out_has("summary: 1 ran, 0 fresh, 1 failed, 1 not run");
    assert!(
        !r.ran().contains(&"later".to_string()),
        "a new stage started after the failure:\n{}",
        r.stdout
    );
    let s = env.repro(&["status", "p.yaml"]);
    assert!(s.status_of("slow").starts_with("fresh"), "{}", s.stdout);
}

#[test]
fn exit_zero_without_the_declared_output_fails() {
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  m:
    kind: cmd
    run: echo "forgot to write it"; echo other > "$OUT/other.txt"
    outputs: [x.txt]
"#,
    );
    let r = env.repro(&["run", "p.yaml"]);
    r.code(1)
        .out_has("FAILED  m: declared output `x.txt` is missing from $OUT")
        .out_has("  | forgot to write it");
    assert!(env.records().is_empty());
    env.repro(&["status", "p.yaml", "--check"]).code(1);
}

#[test]
fn a_bad_metrics_file_fails_the_stage() {
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  m:
    kind: cmd
    run: echo "not a number" > "$OUT/m.txt"
    outputs: [m.txt]
    metrics: m.txt
"#,
    );
    env.repro(&["run", "p.yaml"])
        .code(1)
        .out_has("FAILED  m: metrics file `m.txt` is neither a JSON object nor a single number");
    assert!(env.records().is_empty());
}
