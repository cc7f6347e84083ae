//! Caching: what a second run, a `--set`, an edited dep or a lost object
//! reruns, the reason `status` gives for each, early cutoff, and the store and
//! lockfile a run leaves.

use std::os::unix::fs::PermissionsExt;

use crate::common::Env;

const PIPELINE: &str = r#"
params: { n: 3 }
stages:
  make:
    kind: cmd
    run: bash scripts/make.sh ${params.n} > "$OUT/data.txt"
    deps: [scripts/make.sh]
    outputs: [data.txt]
  count:
    kind: cmd
    inputs: { data: make }
    run: wc -l < "$IN_data/data.txt" | tr -d ' ' > "$OUT/count.txt"
    outputs: [count.txt]
    metrics: count.txt
  side:
    kind: cmd
    with: { k: 1 }
    run: cat "$PARAMS" > "$OUT/p.json"
    outputs: [p.json]
"#;

fn project() -> Env {
    let env = Env::new();
    env.pipeline(PIPELINE);
    env.write("scripts/make.sh", "seq 1 \"$1\"\n");
    env
}

#[test]
fn second_run_runs_nothing() {
    let env = project();
    let first = env.repro(&["run", "p.yaml"]);
    first
        .ok()
        .out_has("summary: 3 ran, 0 fresh, 0 failed, 0 not run");
    assert_eq!(first.ran(), ["make", "count", "side"]);
    assert_eq!(env.output("p.lock", "count", "count.txt").trim(), "3");
    let lock = env.read("p.lock");

    let second = env.repro(&["run", "p.yaml"]);
    second.ok().out_has("nothing to run: all 3 stage(s) fresh");
    assert!(second.ran().is_empty(), "{}", second.stdout);
    assert_eq!(env.read("p.lock"), lock, "a no-op run rewrote the lockfile");
    assert_eq!(env.records().len(), 3);
}

#[test]
fn one_set_reruns_exactly_the_affected_stages() {
    let env = project();
    env.repro(&["run", "p.yaml"]).ok();
    let r = env.repro(&["run", "p.yaml", "--set", "params.n=5"]);
    r.ok()
        .out_has("running make (params changed: run)")
        .out_has("summary: 2 ran, 1 fresh");
    assert_eq!(r.ran(), ["make", "count"]);
    // An experiment (issue 26): its own lockfile, the pipeline's untouched.
    let exp = "store/experiments/p/n=5.lock";
    assert_eq!(env.output(exp, "count", "count.txt").trim(), "5");
    assert_eq!(env.lock(exp)["stages"]["count"]["metrics"]["count"], 5);
    assert_eq!(env.output("p.lock", "count", "count.txt").trim(), "3");
    env.repro(&["status", "p.yaml", "--set", "params.n=5", "--check"])
        .ok();
    env.repro(&["status", "p.yaml", "--exp", "n=5", "--check"])
        .ok();

    // Going back to a value already in the store is a cache hit.
    let back = env.repro(&["run", "p.yaml"]);
    back.ok().out_has("nothing to run");
    assert_eq!(env.output("p.lock", "count", "count.txt").trim(), "3");
}

#[test]
fn status_names_each_reason() {
    let env = project();
    let s = env.repro(&["status", "p.yaml"]);
    s.ok().out_has("3 stage(s): 0 fresh, 3 stale");
    for stage in ["make", "side"] {
        assert!(s.status_of(stage).ends_with("no record"), "{}", s.stdout);
    }
    assert!(!env.store().exists(), "status created the store");
    env.repro(&["status", "p.yaml", "--check"]).code(1);

    env.repro(&["run", "p.yaml"]).ok();
    env.repro(&["status", "p.yaml", "--check"])
        .ok()
        .out_has("3 stage(s): 3 fresh, 0 stale");

    // An edited dep.
    env.write("scripts/make.sh", "seq 1 \"$1\"  # edited\n");
    let s = env.repro(&["status", "p.yaml"]);
    assert!(
        s.status_of("make")
            .ends_with("dep changed: scripts/make.sh"),
        "{}",
        s.stdout
    );
    env.write("scripts/make.sh", "seq 1 \"$1\"\n");
    env.repro(&["status", "p.yaml", "--check"]).ok();

    let s = env.repro(&["status", "p.yaml", "--set", "stages.side.with.k=2"]);
    assert!(
        s.status_of("side").ends_with("params changed: with.k"),
        "{}",
        s.stdout
    );
    assert!(s.status_of("make").starts_with("fresh"), "{}", s.stdout);
    let s = env.repro(&[
        "status",
        "p.yaml",
        "--set",
        "stages.side.run=echo hi > $OUT/p.json",
    ]);
    assert!(
        s.status_of("side").ends_with("params changed: run"),
        "{}",
        s.stdout
    );

    // Rerun only the upstream stage (a target): the consumer sees a new input.
    let r = env.repro(&["run", "p.yaml", "make", "--set", "params.n=4"]);
    r.ok();
    assert_eq!(r.ran(), ["make"]);
    let s = env.repro(&["status", "p.yaml", "--set", "params.n=4"]);
    assert!(
        s.status_of("count").ends_with("input changed: data"),
        "{}",
        s.stdout
    );
    assert!(s.status_of("make").starts_with("fresh"), "{}", s.stdout);

    // A lost object.
    let obj = env.object_path(&env.output_digest("p.lock", "count", "count.txt"));
    std::fs::remove_file(&obj).unwrap();
    let s = env.repro(&["status", "p.yaml", "--check"]);
    s.code(1);
    assert!(
        s.status_of("count").ends_with("output missing"),
        "{}",
        s.stdout
    );
    let r = env.repro(&["run", "p.yaml"]);
    r.ok().out_has("running count (output missing)");
    assert_eq!(r.ran(), ["count"]);
    assert!(obj.is_file(), "the rerun did not restore the object");

    // Forced.
    let d = env.repro(&["run", "p.yaml", "--force", "count", "--dry-run"]);
    d.ok()
        .out_has("would run  count  (forced)")
        .out_has("fresh      make")
        .out_has("dry run: 1 stage(s) would run");
    let r = env.repro(&["run", "p.yaml", "--force", "count"]);
    r.ok().out_has("running count (forced)");
    assert_eq!(r.ran(), ["count"]);
}

#[test]
fn status_json_parses() {
    let env = project();
    env.repro(&["run", "p.yaml", "make"]).ok();
    let s = env.repro(&["status", "p.yaml", "--json"]);
    s.ok();
    let v: serde_json::Value =
        serde_json::from_str(&s.stdout).unwrap_or_else(|e| panic!("{e}: {}", s.stdout));
    assert_eq!(v["stale"], 2);
    let stages = v["stages"].as_array().unwrap();
    let get = |n: &str| {
        stages
            .iter()
            .find(|s| s["stage"] == n)
            .unwrap_or_else(|| panic!("no {n} in {v}"))
    };
    assert_eq!(get("make")["fresh"], true);
    assert_eq!(get("make")["kind"], "cmd");
    assert!(get("make")["key"].as_str().is_some_and(|k| k.len() == 64));
    assert_eq!(get("side")["fresh"], false);
    assert_eq!(get("side")["reason"], "no record");
    assert_eq!(get("count")["fresh"], false);
    assert!(get("count")["reason"].is_string());
    // --json --check still prints JSON, then exits 1.
    let s = env.repro(&["status", "p.yaml", "--json", "--check"]);
    s.code(1);
    serde_json::from_str::<serde_json::Value>(&s.stdout).expect("JSON with --check");
}

#[test]
fn early_cutoff_keeps_downstream_fresh() {
    let env = Env::new();
    let p = |run: &str| {
        format!(
            "stages:\n  make:\n    kind: cmd\n    run: {run}\n    outputs: [data.txt]\n  count:\n    kind: cmd\n    inputs: {{ data: make }}\n    run: wc -l < \"$IN_data/data.txt\" > \"$OUT/count.txt\"\n    outputs: [count.txt]\n"
        )
    };
    env.pipeline(&p(r#"printf 'a\nb\n' > "$OUT/data.txt""#));
    env.repro(&["run", "p.yaml"]).ok();
    let count_key = env.lock("p.lock")["stages"]["count"]["key"].clone();

    // Another command, the same bytes.
    env.pipeline(&p(r#"echo a > "$OUT/data.txt"; echo b >> "$OUT/data.txt""#));
    let r = env.repro(&["run", "p.yaml"]);
    r.ok()
        .out_has("running make (params changed: run)")
        .out_has("summary: 1 ran, 1 fresh");
    assert_eq!(r.ran(), ["make"]);
    assert_eq!(env.lock("p.lock")["stages"]["count"]["key"], count_key);
    env.repro(&["status", "p.yaml", "--check"]).ok();

    // Different bytes do reach the consumer.
    env.pipeline(&p(r#"printf 'a\nb\nc\n' > "$OUT/data.txt""#));
    let r = env.repro(&["run", "p.yaml"]);
    r.ok();
    assert_eq!(r.ran(), ["make", "count"]);
}

#[test]
fn a_run_leaves_records_logs_read_only_objects_and_a_deterministic_lockfile() {
    let env = project();
    env.repro(&["run", "p.yaml"]).ok();
    let lock = env.lock("p.lock");
    for stage in ["make", "count", "side"] {
        let key = lock["stages"][stage]["key"].as_str().unwrap();
        let rec: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(env.store().join("records").join(format!("{key}.json")))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(rec["stage"], stage);
        assert_eq!(rec["outputs"], lock["stages"][stage]["outputs"]);
        let log = rec["provenance"]["log"].as_str().unwrap();
        assert!(env.store().join(log).is_file(), "no log {log}");
        // The CPU in full (issue 24): its name and the kernels' ISA, beside the old field.
        let cpu = &rec["provenance"]["cpu_id"];
        assert_eq!(cpu["model_name"], rec["provenance"]["cpu"]);
        assert!(cpu["isa"].as_str().is_some_and(|s| !s.is_empty()), "{cpu}");
        let text = std::fs::read_to_string(env.path("p.lock")).unwrap();
        assert!(
            !text.contains("cpu_id") && !text.contains("model_name"),
            "{text}"
        );
        assert!(!crate::common::list(&env.store().join("logs").join(stage)).is_empty());
    }
    assert!(
        crate::common::list(&env.store().join("tmp")).is_empty(),
        "tmp/ not cleaned"
    );
    for d in env.objects() {
        let mode = std::fs::metadata(env.object_path(&d))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o222, 0, "object {d} is writable ({mode:o})");
    }
    // No timings or hosts in the lockfile: a second fresh store gives the same bytes.
    let text = env.read("p.lock");
    std::fs::remove_file(env.path("p.lock")).unwrap();
    crate::common::make_removable(&env.store());
    std::fs::remove_dir_all(env.store()).unwrap();
    env.repro(&["run", "p.yaml"]).ok().out_has("summary: 3 ran");
    assert_eq!(env.read("p.lock"), text);
}

#[test]

fn a_lost_file_inside_a_directory_output_makes_the_stage_stale() {
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  a:
    kind: cmd
    run: mkdir "$OUT/d"; echo one > "$OUT/d/f1"; echo two > "$OUT/d/f2"
    outputs: [d]
  b:
    kind: cmd
    inputs: { x: a }
    run: cat "$IN_x"/d/* > "$OUT/y"
    outputs: [y]
"#,
    );
    env.repro(&["run", "p.yaml"]).ok();
    let one = blake3_of(b"one\n");
    std::fs::remove_file(env.object_path(&one)).unwrap();
    let s = env.repro(&["status", "p.yaml"]);
    assert!(s.status_of("a").ends_with("output missing"), "{}", s.stdout);
    env.repro(&["run", "p.yaml", "--force", "b"]).ok();
    env.repro(&["verify", "p.yaml"]).ok();
}

/// The store's name for some bytes: their blake3 digest (ARCHITECTURE.md, "The store").
fn blake3_of(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}
