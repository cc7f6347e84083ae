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

/// Issue 25, item 11: a failure whose last line is longer than the 64 KiB
/// tail window still prints it, cut visibly, ending with the stage's words.
#[test]
fn a_failure_tail_whose_last_line_is_over_64_kib_still_prints() {
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  long:
    kind: cmd
    run: |
      echo "first line"
      head -c 100000 /dev/zero | tr '\0' x
      printf ' the last words'
      exit 3
    outputs: [o]
"#,
    );
    let r = env.repro(&["run", "p.yaml"]);
    r.code(1)
        .out_has("FAILED  long: command failed (exit code 3)");
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("  | "))
        .unwrap_or_else(|| panic!("no tail line in\n{}", r.stdout));
    assert!(line.contains("bytes of this line left out"), "{line}");
    assert!(line.ends_with("xx the last words"), "{line}");
    assert!(line.len() < 4 << 10, "{} bytes", line.len());
}

/// The same long last line read back from a log (`show` of a run that
/// succeeded prints its log's tail): shown cut, not dropped.
#[test]
fn a_log_tail_whose_last_line_is_over_64_kib_still_prints() {
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  long:
    kind: cmd
    run: |
      head -c 100000 /dev/zero | tr '\0' x
      printf ' the last words'
      echo > "$OUT/o"
    outputs: [o]
"#,
    );
    env.repro(&["run", "p.yaml"]).ok();
    let s = env.repro(&["show", "p.yaml", "long"]);
    s.ok()
        .out_has("bytes of this line left out")
        .out_has("xx the last words");
}

/// Issue 25, item 11: a dep found unreadable only when its stage's turn
/// comes fails that stage and blocks its dependants; under `--keep-going`
/// the rest of the run goes on, and the exit code is a stage failure's (1),
/// not a spec error's (2).
#[test]
fn a_bad_dep_found_at_run_time_fails_only_its_stage_under_keep_going() {
    let env = Env::new();
    env.write("dep.txt", "d\n");
    env.pipeline(
        r#"
stages:
  a:
    kind: cmd
    run: rm dep.txt; echo a > "$OUT/o"
    outputs: [o]
  b:
    kind: cmd
    inputs: {i: a}
    deps: [dep.txt]
    run: cat "$IN_i/o" > "$OUT/o"
    outputs: [o]
  c:
    kind: cmd
    inputs: {i: b}
    run: cat "$IN_i/o" > "$OUT/o"
    outputs: [o]
  other:
    kind: cmd
    inputs: {i: a}
    run: cat "$IN_i/o" > "$OUT/o"
    outputs: [o]
"#,
    );
    let r = env.repro(&["run", "p.yaml", "--keep-going", "-j", "1"]);
    r.code(1)
        .out_has("FAILED  b: dep `")
        .out_has("dep.txt`: No such file or directory")
        .out_has("ok      other");
    assert_eq!(r.ran(), ["a", "other"], "{}", r.stdout);
    let lock = env.lock("p.lock");
    assert!(lock["stages"]["other"].is_object(), "{lock}");
    assert!(lock["stages"]["c"].is_null(), "{lock}");
    // Without --keep-going it is the same stage failure, exit 1.
    env.write("dep.txt", "d\n");
    let r = env.repro(&["run", "p.yaml", "--force", "a", "-j", "1"]);
    assert_eq!(r.code, 1, "{r:?}");
}
