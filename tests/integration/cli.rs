//! The small commands: `dag` in its three formats, `kinds`, `--version`,
//! `show`, `diff`, and usage errors.

use crate::common::Env;

const PIPELINE: &str = r#"
name: demo
params: { n: 5 }
stages:
  make:
    kind: cmd
    with: { n: "${params.n}" }
    run: seq 1 ${params.n} > "$OUT/data.txt"
    outputs: [data.txt]
  count:
    kind: cmd
    inputs: { data: make }
    run: wc -l < "$IN_data/data.txt" | tr -d ' ' > "$OUT/count.txt"
    outputs: [count.txt]
    metrics: count.txt
"#;

#[test]
fn dag_in_text_dot_and_mermaid() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    env.repro(&["dag", "p.yaml"])
        .ok()
        .out_has("make (cmd)\ncount (cmd)\n  <- make as data\n");
    let dot = env.repro(&["dag", "p.yaml", "--format", "dot"]);
    dot.ok()
        .out_has("digraph \"demo\" {")
        .out_has("\"make\" -> \"count\" [label=\"data\"];");
    assert!(dot.stdout.trim_end().ends_with('}'), "{}", dot.stdout);
    let mm = env.repro(&["dag", "p.yaml", "--format", "mermaid"]);
    mm.ok()
        .out_has("flowchart LR")
        .out_has("[\"make (cmd)\"]")
        .out_has("-->|data|");
    env.repro(&["dag", "p.yaml", "--format", "svg"]).code(2);
    assert!(!env.store().exists(), "dag created the store");
}

#[test]
fn kinds_and_version() {
    let env = Env::new();
    env.repro(&["kinds"])
        .ok()
        .out_has("cmd")
        .out_has("outputs")
        .out_has("$IN_<")
        // The tables come from the typed structs: bounds, defaults, required.
        .out_has("eval_fraction (float in [0, 1), default 0.1): Share of each category")
        .out_has("set (\"crows-pairs\" | \"stereoset\" | \"lima\" | \"prompts\", required)")
        .out_has("top_p (float in (0, 1], default 0.9)");
    let v = env.repro(&["--version"]);
    v.ok().out_has("repro ").out_has("backends: flex");
}

#[test]
fn show_prints_the_record() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    env.repro(&["show", "p.yaml", "count"])
        .ok()
        .out_has("state:   stale (upstream stale: data)")
        .out_has("no record yet");
    env.repro(&["run", "p.yaml"]).ok();
    let key = env.lock("p.lock")["stages"]["count"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    env.repro(&["show", "p.yaml", "count"])
        .ok()
        .out_has("state:   fresh")
        .out_has(&format!("key:     {key}"))
        .out_has("\"count\": 5")
        .out_has("log (");
    env.repro(&["show", "p.yaml", "nope"])
        .code(2)
        .err_has("no stage `nope`");
}

#[test]
fn diff_shows_changed_params_and_metrics() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    env.repro(&["run", "p.yaml"]).ok();
    std::fs::copy(env.path("p.lock"), env.path("a.lock")).unwrap();
    env.repro(&["run", "p.yaml", "--set", "params.n=6"]).ok();
    std::fs::copy(
        env.store().join("experiments/p/n=6.lock"),
        env.path("b.lock"),
    )
    .unwrap();
    let d = env.repro(&["diff", "a.lock", "b.lock"]);
    d.ok()
        .out_has("make:\n")
        .out_has("  params.with.n: 5 -> 6")
        .out_has("count:\n")
        .out_has("  metrics.count: 5 -> 6");
    env.repro(&["diff", "a.lock", "a.lock"])
        .ok()
        .out_has("no differences");
}

#[test]

fn diff_and_gc_with_a_missing_lockfile_exit_2() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    env.repro(&["run", "p.yaml"]).ok();
    env.repro(&["diff", "p.lock", "nope.lock"])
        .code(2)
        .err_has("nope.lock");
    env.repro(&["gc", "nope.yaml"]).code(2).err_has("nope.lock");
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    env.repro(&["bogus"]).code(2);
    env.repro(&["run"]).code(2);
    env.repro(&["--backend", "nope", "kinds"]).code(2);
}

#[test]
fn store_location_is_the_flag_else_repro_store_else_artifacts() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    let mut c = env.bare_command(&["run", "p.yaml"]);
    c.env("REPRO_STORE", env.path("from_env"));
    env.spawn_command(c).wait().ok();
    assert!(env.path("from_env/records").is_dir());
    env.spawn_command(env.bare_command(&["run", "p.yaml"]))
        .wait()
        .ok()
        .out_has("summary: 2 ran");
    assert!(env.path("artifacts/records").is_dir());
    let mut c = env.bare_command(&["--store", "flag", "status", "p.yaml", "--check"]);
    c.env("REPRO_STORE", env.path("from_env"));
    env.spawn_command(c).wait().code(1);
    assert!(!env.store().exists());
}

#[test]
fn deps_commands_and_lockfile_are_relative_to_the_pipeline_file() {
    let env = Env::new();
    env.write("sub/scripts/gen.sh", "echo generated\n");
    env.write(
        "sub/p.yaml",
        "stages:\n  g:\n    kind: cmd\n    deps: [scripts/gen.sh]\n    run: bash scripts/gen.sh > \"$OUT/g.txt\"; pwd > \"$OUT/cwd.txt\"\n    outputs: [g.txt, cwd.txt]\n",
    );
    env.repro(&["run", "sub/p.yaml"]).ok();
    assert!(env.exists("sub/p.lock") && !env.exists("p.lock"));
    assert_eq!(env.output("sub/p.lock", "g", "g.txt"), "generated\n");
    let cwd = env.output("sub/p.lock", "g", "cwd.txt");
    assert_eq!(
        std::fs::canonicalize(cwd.trim()).unwrap(),
        std::fs::canonicalize(env.path("sub")).unwrap()
    );
    env.write("sub/scripts/gen.sh", "echo changed\n");
    let s = env.repro(&["status", "sub/p.yaml"]);
    assert!(
        s.status_of("g").ends_with("dep changed: scripts/gen.sh"),
        "{}",
        s.stdout
    );
}
