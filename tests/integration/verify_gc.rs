//! `repro verify` (keys vs lockfile, lockfile vs records, rehash, `--rerun`)
//! and `repro gc`.

use std::os::unix::fs::PermissionsExt;

use crate::common::Env;

const PIPELINE: &str = r#"
params: { n: 1 }
stages:
  make:
    kind: cmd
    with: { n: "${params.n}" }
    run: seq 1 ${params.n} | sed 's/^/line /' > "$OUT/data.txt"
    outputs: [data.txt]
  count:
    kind: cmd
    inputs: { data: make }
    run: wc -l < "$IN_data/data.txt" | tr -d ' ' > "$OUT/count.txt"
    outputs: [count.txt]
    metrics: count.txt
  clock:
    kind: cmd
    run: date +%s%N > "$OUT/t.txt"
    outputs: [t.txt]
"#;

fn flip_a_byte(path: &std::path::Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    bytes[0] ^= 1;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn verify_passes_then_catches_a_flipped_byte() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    env.repro(&["verify", "p.yaml"])
        .code(1)
        .err_has("no lockfile");
    env.repro(&["run", "p.yaml"]).ok();
    let v = env.repro(&["verify", "p.yaml"]);
    v.ok()
        .out_has("verify: ok")
        .out_has("checked 3 stage(s), 3 lock entries")
        .out_lacks("CORRUPT");

    let digest = env.output_digest("p.lock", "make", "data.txt");
    flip_a_byte(&env.object_path(&digest));
    let v = env.repro(&["verify", "p.yaml"]);
    v.code(1)
        .out_has("CORRUPT")
        .out_has(&digest)
        .out_has("verify: 1 problem(s)");

    // A stage reading the corrupt object refuses it.
    let r = env.repro(&["run", "p.yaml", "--force", "count"]);
    r.code(1).out_has("FAILED  count").out_has("corrupt");
}

#[test]
fn verify_names_stale_stages_and_missing_records() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    env.repro(&["run", "p.yaml"]).ok();
    env.pipeline(&PIPELINE.replace("n: 1 }", "n: 2 }"));
    env.repro(&["verify", "p.yaml"])
        .code(1)
        .out_has("STALE     make: params changed: run, with.n");
    env.pipeline(PIPELINE);
    let key = env.lock("p.lock")["stages"]["count"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(env.store().join("records").join(format!("{key}.json"))).unwrap();
    env.repro(&["verify", "p.yaml"])
        .code(1)
        .out_has(&format!("MISSING   count: no record for key {key}"));
}

#[test]
fn verify_rerun_compares_bytes() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    env.repro(&["run", "p.yaml"]).ok();
    let lock = env.read("p.lock");
    let records = env.records();

    let digest = env.output_digest("p.lock", "make", "data.txt");
    let v = env.repro(&["verify", "p.yaml", "--rerun", "make"]);
    v.ok()
        .out_has(&format!("same      make data.txt {digest}"))
        .out_has("verify: ok");

    let v = env.repro(&["verify", "p.yaml", "--rerun", "clock"]);
    v.code(1)
        .out_has("DIFFERS   clock t.txt: recorded")
        .out_has("verify: 1 problem(s)");

    // Reruns in scratch leave the lockfile and the records alone.
    assert_eq!(env.read("p.lock"), lock);
    assert_eq!(env.records(), records);
    assert!(crate::common::list(&env.store().join("tmp")).is_empty());
    env.repro(&["verify", "p.yaml", "--rerun", "nope"]).code(2);
}

#[test]
fn gc_drops_what_the_lockfile_no_longer_reaches() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    env.repro(&["run", "p.yaml"]).ok();
    env.pipeline(&PIPELINE.replace("n: 1 }", "n: 2 }"));
    env.repro(&["run", "p.yaml"])
        .ok()
        .out_has("summary: 2 ran, 1 fresh");
    let (records, objects) = (env.records(), env.objects());
    assert_eq!(records.len(), 5);

    let d = env.repro(&["gc", "p.yaml", "--dry-run"]);
    d.ok().out_has("would remove 2 record(s), 2 object(s)");
    assert_eq!(
        (env.records(), env.objects()),
        (records.clone(), objects.clone()),
        "--dry-run removed something"
    );

    let g = env.repro(&["gc", "p.yaml"]);
    g.ok().out_has("removed 2 record(s), 2 object(s)");
    assert_eq!(env.records().len(), 3);
    assert_eq!(env.objects().len(), objects.len() - 2);
    env.repro(&["status", "p.yaml", "--check"]).ok();
    env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
    env.repro(&["run", "p.yaml"]).ok().out_has("nothing to run");
    env.repro(&["gc", "p.yaml"])
        .ok()
        .out_has("removed 0 record(s), 0 object(s)");

    // The old value is gone from the store: going back reruns.
    env.pipeline(PIPELINE);
    let r = env.repro(&["run", "p.yaml"]);
    r.ok();
    assert_eq!(r.ran(), ["make", "count"]);
}

#[test]
fn gc_keeps_every_given_lockfile_and_defaults_to_pipelines_dir() {
    let env = Env::new();
    env.write(
        "pipelines/a.yaml",
        "stages:\n  a:\n    kind: cmd\n    run: echo a > \"$OUT/a.txt\"\n    outputs: [a.txt]\n",
    );
    env.write(
        "pipelines/b.yaml",
        "stages:\n  b:\n    kind: cmd\n    run: echo b > \"$OUT/b.txt\"\n    outputs: [b.txt]\n",
    );
    env.repro(&["run", "pipelines/a.yaml"]).ok();
    env.repro(&["run", "pipelines/b.yaml"]).ok();
    env.repro(&["gc", "--dry-run"])
        .ok()
        .out_has("would remove 0 record(s), 0 object(s)");
    env.repro(&["gc", "pipelines/a.yaml", "pipelines/b.lock"])
        .ok()
        .out_has("removed 0 record(s)");
    env.repro(&["gc", "pipelines/a.yaml"])
        .ok()
        .out_has("removed 1 record(s), 1 object(s)");
    env.repro(&["status", "pipelines/a.yaml", "--check"]).ok();
    env.repro(&["status", "pipelines/b.yaml", "--check"])
        .code(1);

    // No lockfile anywhere: refuse rather than delete everything.
    let empty = Env::new();
    empty.write(
        "p.yaml",
        "stages:\n  a:\n    kind: cmd\n    run: echo a > \"$OUT/a.txt\"\n    outputs: [a.txt]\n",
    );
    empty.repro(&["run", "p.yaml"]).ok();
    empty
        .repro(&["gc"])
        .code(2)
        .err_has("refusing to delete everything");
    assert_eq!(empty.records().len(), 1);
}
