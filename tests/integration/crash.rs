//! kill -9 and Ctrl-C in the middle of a stage: the store stays consistent
//! and the next run redoes only the interrupted stage (and what follows).

use crate::common::{Env, list, wait_for_file};

/// `slow` announces itself, then waits (bounded) for `marks/go`.
const PIPELINE: &str = r#"
stages:
  first:
    kind: cmd
    run: echo 1 > "$OUT/1.txt"
    outputs: [1.txt]
  slow:
    kind: cmd
    inputs: { f: first }
    run: |
      touch marks/slow-started
      for i in $(seq 1 400); do [ -e marks/go ] && break; sleep 0.05; done
      [ -e marks/go ] && echo 2 > "$OUT/2.txt"
    outputs: [2.txt]
  last:
    kind: cmd
    inputs: { s: slow }
    run: cp "$IN_s/2.txt" "$OUT/3.txt"
    outputs: [3.txt]
"#;

fn project() -> Env {
    let env = Env::new();
    env.pipeline(PIPELINE);
    std::fs::create_dir(env.path("marks")).unwrap();
    env
}

/// After an interrupted run: no CORRUPT, `first` kept, `slow` not recorded;
/// then the rerun redoes only `slow` and `last`.
fn check_recovery(env: &Env) {
    let v = env.repro(&["verify", "p.yaml"]);
    v.code(1)
        .out_lacks("CORRUPT")
        .out_lacks("MISMATCH")
        .out_has("STALE     slow");
    assert_eq!(
        env.records().len(),
        1,
        "only `first` may have a record: {:?}",
        env.records()
    );
    let s = env.repro(&["status", "p.yaml"]);
    assert!(s.status_of("first").starts_with("fresh"), "{}", s.stdout);
    assert!(s.status_of("slow").ends_with("no record"), "{}", s.stdout);

    std::fs::write(env.path("marks/go"), "").unwrap();
    // --no-wait: the dead run's lock must be gone.
    let r = env.repro(&["run", "p.yaml", "--no-wait"]);
    r.ok().out_has("summary: 2 ran, 1 fresh");
    assert_eq!(r.ran(), ["slow", "last"]);
    assert!(
        list(&env.store().join("tmp")).is_empty(),
        "tmp/ not cleaned: {:?}",
        list(&env.store().join("tmp"))
    );
    env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
}

#[test]
fn kill_9_mid_stage_then_rerun_redoes_only_that_stage() {
    let env = project();
    let mut run = env.spawn(&["run", "p.yaml"]);
    wait_for_file(&env.path("marks/slow-started"));
    run.kill9();
    let out = run.wait();
    assert_eq!(out.code, -1, "repro was not killed: {out:?}");
    check_recovery(&env);
}

#[test]
fn sigint_mid_stage_exits_130_and_leaves_the_store_consistent() {
    for sig in ["INT", "TERM"] {
        let env = project();
        let run = env.spawn(&["run", "p.yaml"]);
        wait_for_file(&env.path("marks/slow-started"));
        run.signal(sig);
        let out = run.wait();
        out.code(130).out_has("stopped slow (interrupted)");
        assert!(
            !out.stdout.contains("running last"),
            "{sig}: a stage started after the interrupt:\n{}",
            out.stdout
        );
        assert!(
            list(&env.store().join("tmp")).is_empty(),
            "{sig}: tmp/ not cleaned"
        );
        assert!(
            env.lock("p.lock")["stages"]["first"].is_object(),
            "{sig}: the finished stage is not in the lockfile"
        );
        check_recovery(&env);
    }
}
