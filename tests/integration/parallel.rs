//! `-j N` proven by a rendezvous: two independent stages each create a
//! marker and wait for the other's, so only a parallel run can finish them.

use crate::common::Env;

/// `wait` is in steps of 50 ms.
fn rendezvous(wait: u32) -> String {
    let stage = |me: &str, other: &str| {
        format!(
            r#"  {me}:
    kind: cmd
    run: |
      touch marks/{me}
      for i in $(seq 1 ${{params.wait}}); do [ -e marks/{other} ] && break; sleep 0.05; done
      [ -e marks/{other} ] && echo {me} > "$OUT/{me}.txt"
    outputs: [{me}.txt]
"#
        )
    };
    format!(
        "params: {{ wait: {wait} }}\nstages:\n{}{}  join:\n    kind: cmd\n    inputs: {{ a: a, b: b }}\n    run: cat \"$IN_a/a.txt\" \"$IN_b/b.txt\" > \"$OUT/j.txt\"\n    outputs: [j.txt]\n",
        stage("a", "b"),
        stage("b", "a")
    )
}

#[test]
fn two_jobs_meet_at_a_rendezvous() {
    let env = Env::new();
    env.pipeline(&rendezvous(400));
    std::fs::create_dir(env.path("marks")).unwrap();
    let r = env.repro(&["run", "p.yaml", "-j", "2"]);
    r.ok()
        .out_has("summary: 3 ran, 0 fresh, 0 failed, 0 not run");
    assert_eq!(env.output("p.lock", "join", "j.txt"), "a\nb\n");
}

#[test]
fn one_job_cannot_meet_itself() {
    let env = Env::new();
    env.pipeline(&rendezvous(40));
    std::fs::create_dir(env.path("marks")).unwrap();
    let r = env.repro(&["run", "p.yaml", "-j", "1"]);
    r.code(1)
        .out_has("FAILED  a")
        .out_has("summary: 0 ran, 0 fresh, 1 failed, 2 not run");
    assert!(
        !env.exists("marks/b"),
        "b started although -j 1 and a was running"
    );
}

#[test]
fn jobs_must_be_at_least_one() {
    let env = Env::new();
    env.pipeline(&rendezvous(1));
    env.repro(&["run", "p.yaml", "-j", "0"]).code(2);
}
