//! `extends:` (deep merge, list replace, `null` deletes) and `--set` on
//! params and stage fields, including the refusals (exit 2).

use crate::common::Env;

const BASE: &str = r#"
name: base
params: { n: 1, opts: { a: 1, b: 2 } }
stages:
  a:
    kind: cmd
    with: { opts: "${params.opts}", l: [1, 2, 3], n: "${params.n}" }
    run: cat "$PARAMS" > "$OUT/p.json"
    outputs: [p.json]
  b:
    kind: cmd
    run: echo b > "$OUT/b.txt"
    outputs: [b.txt]
  c:
    kind: cmd
    run: echo x > "$OUT/x.txt"; echo y > "$OUT/y.txt"
    outputs: [x.txt, y.txt]
"#;

const CHILD: &str = r#"
extends: base.yaml
name: child
params: { opts: { b: 3 } }
stages:
  a:
    with: { l: [9] }
  b: null
  c:
    run: echo y > "$OUT/y.txt"
    outputs: [y.txt]
"#;

#[test]
fn extends_merges_maps_replaces_lists_and_deletes_with_null() {
    let env = Env::new();
    env.write("base.yaml", BASE);
    env.write("child.yaml", CHILD);
    let dag = env.repro(&["dag", "child.yaml"]);
    dag.ok()
        .out_has("a (cmd)")
        .out_has("c (cmd)")
        .out_lacks("b (cmd)");

    // c's outputs list is replaced whole: its command no longer writes x.txt.
    let r = env.repro(&["run", "child.yaml"]);
    r.ok().out_has("summary: 2 ran");
    assert_eq!(r.ran(), ["a", "c"]);
    let p: serde_json::Value =
        serde_json::from_str(&env.output("child.lock", "a", "p.json")).unwrap();
    assert_eq!(
        p,
        serde_json::json!({"opts": {"a": 1, "b": 3}, "l": [9], "n": 1})
    );
    let lock = env.lock("child.lock");
    assert_eq!(lock["pipeline"], "child");
    assert_eq!(
        lock["stages"]["c"]["outputs"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["y.txt"]
    );
    assert!(
        !env.exists("base.lock"),
        "running the child wrote the base's lockfile"
    );

    // The base is still its own pipeline, with its own lockfile.
    env.repro(&["run", "base.yaml"])
        .ok()
        .out_has("summary: 3 ran");
    assert!(env.exists("base.lock"));
    env.repro(&["status", "child.yaml", "--check"]).ok();
}

#[test]
fn extends_errors_exit_2() {
    let env = Env::new();
    env.write("a.yaml", "extends: b.yaml\nstages: {}\n");
    env.write("b.yaml", "extends: a.yaml\n");
    env.repro(&["status", "a.yaml"])
        .code(2)
        .err_has("extends cycle");
    env.write("c.yaml", "extends: nope.yaml\n");
    env.repro(&["status", "c.yaml"])
        .code(2)
        .err_has("c.yaml:1:")
        .err_has("nope.yaml");
    // Deleting every stage leaves nothing to run: a spec error, not a silent no-op.
    env.write("base.yaml", BASE);
    env.write(
        "d.yaml",
        "extends: base.yaml\nstages: { a: null, b: null, c: null }\n",
    );
    env.repro(&["status", "d.yaml"])
        .code(2)
        .err_has("no stages");
}

#[test]
fn set_overrides_params_and_stage_fields() {
    let env = Env::new();
    env.write("base.yaml", BASE);
    let r = env.repro(&[
        "run",
        "base.yaml",
        "a",
        "--set",
        "params.n=7",
        "--set",
        "stages.a.with.extra=[1, two]",
        "--set",
        "params.opts={a: 5}",
        "--name",
        "s1",
    ]);
    r.ok();
    let p: serde_json::Value =
        serde_json::from_str(&env.output("store/experiments/base/s1.lock", "a", "p.json")).unwrap();
    assert_eq!(
        p,
        serde_json::json!({"opts": {"a": 5}, "l": [1, 2, 3], "n": 7, "extra": [1, "two"]})
    );
    // A string that looks like a number stays a string when quoted.
    env.repro(&[
        "run",
        "base.yaml",
        "a",
        "--set",
        "params.n='7'",
        "--name",
        "s2",
    ])
    .ok();
    let p: serde_json::Value =
        serde_json::from_str(&env.output("store/experiments/base/s2.lock", "a", "p.json")).unwrap();
    assert_eq!(p["n"], "7");
}

#[test]
fn bad_set_exits_2() {
    let env = Env::new();
    env.write("base.yaml", BASE);
    for (set, msg) in [
        ("params.nope=1", "no param `nope`"),
        ("stages.zz.with.k=1", "no stage `zz`"),
        ("params.n", "expected KEY=VALUE"),
        ("other.x=1", "only params.NAME and stages.NAME.KEY"),
        ("stages.a=1", "expected stages.NAME.KEY"),
    ] {
        for cmd in ["run", "status"] {
            let r = env.repro(&[cmd, "base.yaml", "--set", set]);
            r.code(2).err_has(msg);
        }
    }
    assert!(
        !env.store().exists(),
        "a refused --set still touched the store"
    );
}
