//! Two runs on one store: the second exits 3 with `--no-wait`, or waits
//! with a message and then finds everything done.

use std::time::{Duration, Instant};

use crate::common::{Env, MARKER_WAIT, wait_for_file};

const PIPELINE: &str = r#"
stages:
  slow:
    kind: cmd
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

#[test]
fn a_second_run_waits_or_exits_3() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    std::fs::create_dir(env.path("marks")).unwrap();
    let first = env.spawn(&["run", "p.yaml"]);
    wait_for_file(&env.path("marks/slow-started"));

    let busy = env.repro(&["run", "p.yaml", "--no-wait"]);
    busy.code(3)
        .err_has("is busy")
        .err_has(&format!("pid {}", first.pid()));
    // Read-only commands do not need the lock.
    let s = env.repro(&["status", "p.yaml"]);
    s.ok();
    assert!(s.status_of("slow").starts_with("stale"), "{}", s.stdout);

    let second = env.spawn(&["run", "p.yaml"]);
    let deadline = Instant::now() + MARKER_WAIT;
    while !second
        .stderr_so_far()
        .contains("waiting for the store lock")
    {
        assert!(
            Instant::now() < deadline,
            "the second run never said it was waiting: {:?}",
            second.stderr_so_far()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::write(env.path("marks/go"), "").unwrap();
    let a = first.wait();
    a.ok().out_has("summary: 2 ran");
    let b = second.wait();
    b.ok().out_has("nothing to run: all 2 stage(s) fresh");
    env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
}
