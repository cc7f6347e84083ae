//! `verify --repair` (from a remote, or by rerunning the stage) and
//! `verify --rerun --rtol` (bytes that differ, metrics that agree).

use std::os::unix::fs::PermissionsExt;

use crate::common::Env;

fn flip(env: &Env, digest: &str) {
    let p = env.object_path(digest);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut b = std::fs::read(&p).unwrap();
    b[0] ^= 1;
    std::fs::write(&p, b).unwrap();
}

const PIPE: &str = "stages:\n  s:\n    kind: cmd\n    run: mkdir \"$OUT/d\"; echo hello > \"$OUT/d/a\"; echo top > \"$OUT/o\"\n    outputs: [o, d]\n";

#[test]
fn repair_restores_a_damaged_object_from_the_remote() {
    let env = Env::new();
    env.pipeline(PIPE);
    env.repro(&["run", "p.yaml"]).ok();
    let remote = env.path("remote");
    let r = remote.to_str().unwrap();
    env.repro(&["push", "p.yaml", "--remote", r]).ok();
    let d = env.output_digest("p.lock", "s", "o");
    flip(&env, &d);
    env.repro(&["verify", "p.yaml"]).code(1).out_has("CORRUPT");
    env.repro(&["verify", "p.yaml", "--repair", "--remote", r])
        .ok()
        .out_has("REPAIRED  s: object")
        .out_has("verify: ok");
    env.repro(&["verify", "p.yaml"]).ok();
    assert_eq!(env.output("p.lock", "s", "o"), "top\n");
}

#[test]
fn repair_without_a_remote_reruns_the_stage_that_made_the_object() {
    let env = Env::new();
    env.pipeline(PIPE);
    env.repro(&["run", "p.yaml"]).ok();
    let d = env.output_digest("p.lock", "s", "o");
    flip(&env, &d);
    std::fs::remove_file(env.object_path(&env.output_digest("p.lock", "s", "d"))).unwrap();
    env.repro(&["verify", "p.yaml", "--repair"])
        .ok()
        .out_has("rerunning s")
        .out_has("REPAIRED  s: rerun, same bytes");
    env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
}

#[test]
fn rtol_accepts_bytes_that_differ_when_the_metrics_agree() {
    let env = Env::new();
    env.pipeline(
        "stages:\n  s:\n    kind: cmd\n    run: |\n      date +%s%N > \"$OUT/t\"\n      echo '{\"acc\": 0.75}' > \"$OUT/m.json\"\n    outputs: [t, m.json]\n    metrics: m.json\n",
    );
    env.repro(&["run", "p.yaml"]).ok();
    env.repro(&["verify", "p.yaml", "--rerun", "s"])
        .code(1)
        .out_has("DIFFERS   s t")
        .out_has("metrics agree to 0.0e0");
    env.repro(&["verify", "p.yaml", "--rerun", "s", "--rtol", "1e-6"])
        .ok()
        .out_has("WITHIN    s: differs in bytes, metrics agree to 0.0e0");
    env.repro(&["verify", "p.yaml", "--rerun", "s", "--rtol", "-1"])
        .code(2);
}
