//! Matrix stages: expansion names, fan-in, single-expansion selection,
//! zipping, `${matrix.k}` typing, and targets/`--force` with selectors.

use crate::common::Env;

const PIPELINE: &str = r#"
stages:
  src:
    kind: cmd
    run: echo base > "$OUT/b.txt"
    outputs: [b.txt]
  sweep:
    kind: cmd
    matrix: { k: [1, 2, 3] }
    inputs: { b: src }
    with: { k: "${matrix.k}", label: "k is ${matrix.k}" }
    run: echo ${matrix.k} > "$OUT/v.txt"; cat "$PARAMS" > "$OUT/p.json"
    outputs: [v.txt, p.json]
  fan:
    kind: cmd
    inputs: { all: sweep }
    run: |
      for e in 'sweep[k=1]' 'sweep[k=2]' 'sweep[k=3]'; do test -f "$IN_all/$e/v.txt" || exit 7; done
      (cd "$IN_all" && find . -type f | sort) > "$OUT/ls.txt"
    outputs: [ls.txt]
  one:
    kind: cmd
    inputs: { m: "sweep[k=2]" }
    run: cp "$IN_m/v.txt" "$OUT/v.txt"
    outputs: [v.txt]
  zip:
    kind: cmd
    matrix: { k: [1, 2, 3] }
    inputs: { s: sweep }
    run: echo "${matrix.k} $(cat "$IN_s/v.txt")" > "$OUT/z.txt"
    outputs: [z.txt]
"#;

const SWEEP: [&str; 3] = ["sweep[k=1]", "sweep[k=2]", "sweep[k=3]"];

#[test]
fn fan_in_selection_and_zipping() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    let r = env.repro(&["run", "p.yaml"]);
    r.ok()
        .out_has("summary: 9 ran, 0 fresh, 0 failed, 0 not run");
    for s in SWEEP {
        assert!(
            r.ran().contains(&s.to_string()),
            "{s} did not run:\n{}",
            r.stdout
        );
    }
    // Fan-in: one directory per expansion.
    let ls = env.output("p.lock", "fan", "ls.txt");
    for s in SWEEP {
        assert!(
            ls.contains(&format!("./{s}/v.txt")) && ls.contains(&format!("./{s}/p.json")),
            "{ls}"
        );
    }
    // Selection: exactly one expansion.
    assert_eq!(env.output("p.lock", "one", "v.txt").trim(), "2");
    // Zipping: the consumer's k picks the producer's k.
    for k in 1..=3 {
        assert_eq!(
            env.output("p.lock", &format!("zip[k={k}]"), "z.txt").trim(),
            format!("{k} {k}")
        );
    }
    // The lockfile records the fan-in by expansion, the selection as one digest.
    let lock = env.lock("p.lock");
    let fan_inputs = lock["stages"]["fan"]["inputs"]["all"].as_object().unwrap();
    assert_eq!(
        fan_inputs.keys().collect::<Vec<_>>(),
        SWEEP.iter().collect::<Vec<_>>()
    );
    assert!(lock["stages"]["one"]["inputs"]["m"].is_string());

    // `${matrix.k}` keeps its type when it is the whole value, is text inside a string.
    let p: serde_json::Value =
        serde_json::from_str(&env.output("p.lock", "sweep[k=2]", "p.json")).unwrap();
    assert_eq!(p, serde_json::json!({"k": 2, "label": "k is 2"}));

    let dag = env.repro(&["dag", "p.yaml"]);
    dag.ok()
        .out_has("fan (cmd)")
        .out_has("  <- sweep[k=3] as all")
        .out_has("  <- sweep[k=2] as m")
        .out_has("zip[k=1] (cmd)\n  <- sweep[k=1] as s");
}

#[test]
fn matrix_values_are_named_in_shortest_form_and_keep_their_types() {
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  t:
    kind: cmd
    matrix: { v: [0.5, 1.0, 1.0e-7, x], b: [true] }
    with: { v: "${matrix.v}" }
    run: cat "$PARAMS" > "$OUT/p.json"
    outputs: [p.json]
"#,
    );
    let s = env.repro(&["status", "p.yaml"]);
    s.ok();
    for name in [
        "t[b=true,v=0.5]",
        "t[b=true,v=1.0]",
        "t[b=true,v=1e-7]",
        "t[b=true,v=x]",
    ] {
        assert!(s.status_of(name).starts_with("stale"), "{}", s.stdout);
    }
    env.repro(&["run", "p.yaml"]).ok().out_has("summary: 4 ran");
    let v = |name: &str| {
        serde_json::from_str::<serde_json::Value>(&env.output("p.lock", name, "p.json")).unwrap()["v"].clone()
    };
    assert_eq!(v("t[b=true,v=0.5]"), serde_json::json!(0.5));
    assert!(
        v("t[b=true,v=1.0]").is_f64(),
        "1.0 lost its float type: {}",
        v("t[b=true,v=1.0]")
    );
    assert_eq!(v("t[b=true,v=x]"), serde_json::json!("x"));
    // Selectors compare numbers by value, whatever their spelling.
    let r = env.repro(&["run", "p.yaml", "--force", "t[v=0.0000001]"]);
    r.ok();
    assert_eq!(r.ran(), ["t[b=true,v=1e-7]"]);
    let r = env.repro(&["run", "p.yaml", "--force", "t[v=1]"]);
    r.ok();
    assert_eq!(r.ran(), ["t[b=true,v=1.0]"]);
}

#[test]
fn targets_and_force_take_selectors() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    let r = env.repro(&["run", "p.yaml", "sweep[k=2]"]);
    r.ok();
    assert_eq!(r.ran(), ["src", "sweep[k=2]"]);
    let r = env.repro(&["run", "p.yaml", "sweep[*]"]);
    r.ok().out_has("summary: 2 ran, 2 fresh");
    assert_eq!(r.ran(), ["sweep[k=1]", "sweep[k=3]"]);
    let r = env.repro(&["run", "p.yaml", "sweep"]);
    r.ok().out_has("nothing to run: all 4 stage(s) fresh");
    env.repro(&["run", "p.yaml"])
        .ok()
        .out_has("summary: 5 ran, 4 fresh");

    // Forcing the whole sweep reproduces the same bytes: consumers stay fresh.
    let r = env.repro(&["run", "p.yaml", "--force", "sweep[*]"]);
    r.ok()
        .out_has("running sweep[k=1] (forced)")
        .out_has("summary: 3 ran, 6 fresh");
    assert_eq!(r.ran(), SWEEP);
    let d = env.repro(&["run", "p.yaml", "--force", "sweep[k=2]", "--dry-run"]);
    d.ok()
        .out_has("would run  sweep[k=2]  (forced)")
        .out_has("fresh      sweep[k=1]");
    let r = env.repro(&["run", "p.yaml", "--force", "sweep[k=2]"]);
    r.ok();
    assert_eq!(r.ran(), ["sweep[k=2]"]);

    env.repro(&["run", "p.yaml", "nope"])
        .code(2)
        .err_has("no stage `nope`");
    env.repro(&["run", "p.yaml", "sweep[k=9]"])
        .code(2)
        .err_has("sweep[k=9]");
    env.repro(&["run", "p.yaml", "--force", "nope"])
        .code(2)
        .err_has("no stage `nope`");
    // `show` takes one stage: a selector of one expansion is that stage, a
    // selector of several is refused naming them; unknown names list the
    // declared stages, a matrix stage once.
    env.repro(&["show", "p.yaml", "sweep"])
        .code(2)
        .err_has("`sweep` names 3 expansions (sweep[k=1], sweep[k=2], sweep[k=3]); name one");
    env.repro(&["show", "p.yaml", "sweep[k=2.0]"])
        .ok()
        .out_has("stage:   sweep[k=2]");
    env.repro(&["show", "p.yaml", "nope"])
        .code(2)
        .err_has("no stage `nope` (stages: ")
        .err_has("sweep[…]");
}

#[test]
fn changing_the_sweep_changes_the_fan_in() {
    let env = Env::new();
    let p = |ks: &str| {
        format!(
            "stages:\n  sweep:\n    kind: cmd\n    matrix: {{ k: {ks} }}\n    run: echo ${{matrix.k}} > \"$OUT/v.txt\"\n    outputs: [v.txt]\n  fan:\n    kind: cmd\n    inputs: {{ all: sweep }}\n    run: (cd \"$IN_all\" && find . -type f | sort) > \"$OUT/ls.txt\"\n    outputs: [ls.txt]\n"
        )
    };
    env.pipeline(&p("[1, 2, 3]"));
    env.repro(&["run", "p.yaml"]).ok();
    // Drop k=3: the fan-in sees one input fewer, nothing else runs.
    env.pipeline(&p("[1, 2]"));
    let s = env.repro(&["status", "p.yaml"]);
    assert!(
        s.status_of("fan").ends_with("input changed: all"),
        "{}",
        s.stdout
    );
    let r = env.repro(&["run", "p.yaml"]);
    r.ok();
    assert_eq!(r.ran(), ["fan"]);
    assert_eq!(
        env.output("p.lock", "fan", "ls.txt"),
        "./sweep[k=1]/v.txt\n./sweep[k=2]/v.txt\n"
    );
    assert!(
        env.lock("p.lock")["stages"].get("sweep[k=3]").is_none(),
        "a removed expansion stayed in the lockfile"
    );
    // Add k=4: the new expansion runs first, then the fan-in.
    env.pipeline(&p("[1, 2, 4]"));
    let s = env.repro(&["status", "p.yaml"]);
    assert!(
        s.status_of("fan").ends_with("upstream stale: all"),
        "{}",
        s.stdout
    );
    let r = env.repro(&["run", "p.yaml"]);
    r.ok();
    assert_eq!(r.ran(), ["sweep[k=4]", "fan"]);
}

#[test]
fn a_partial_selector_zips_the_keys_it_does_not_name() {
    // `rm[lambda_adv=0.0]` from a consumer with a `seed` axis: the baseline
    // of the consumer's own seed, one stage, not a fan-in over seeds.
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  rm:
    kind: cmd
    matrix: { lam: [0.0, 0.2], seed: [1, 2] }
    run: echo ${matrix.lam} ${matrix.seed} > "$OUT/v.txt"
    outputs: [v.txt]
  stereo:
    kind: cmd
    matrix: { lam: [0.2], seed: [1, 2] }
    inputs: { scores: rm, other: "rm[lam=0.0]" }
    run: cat "$IN_scores/v.txt" "$IN_other/v.txt" > "$OUT/v.txt"
    outputs: [v.txt]
  all_seeds:
    kind: cmd
    inputs: { base: "rm[lam=0.0]" }
    run: ls "$IN_base" > "$OUT/ls.txt"
    outputs: [ls.txt]
"#,
    );
    env.repro(&["dag", "p.yaml"])
        .ok()
        .out_has("stereo[lam=0.2,seed=2] (cmd)\n  <- rm[lam=0.0,seed=2] as other")
        .out_has("  <- rm[lam=0.0,seed=1] as base\n  <- rm[lam=0.0,seed=2] as base");
    env.repro(&["run", "p.yaml"]).ok();
    assert_eq!(
        env.output("p.lock", "stereo[lam=0.2,seed=1]", "v.txt"),
        "0.2 1\n0.0 1\n"
    );
}

#[test]
fn inputs_interpolate_matrix_values_and_lists_name_several_stages() {
    // `ppo_${matrix.policy}`: one consumer expansion per separately
    // declared producer; `[b, a]`: a fan-in over stages of different names,
    // in list order.
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  ppo_a:
    kind: cmd
    run: echo a > "$OUT/v.txt"
    outputs: [v.txt]
  ppo_b:
    kind: cmd
    run: echo b > "$OUT/v.txt"
    outputs: [v.txt]
  gen:
    kind: cmd
    matrix: { policy: [a, b] }
    inputs: { policy: "ppo_${matrix.policy}" }
    run: cat "$IN_policy/v.txt" > "$OUT/v.txt"
    outputs: [v.txt]
  both:
    kind: cmd
    inputs: { runs: [ppo_b, ppo_a], gens: gen }
    run: ls "$IN_runs" "$IN_gens" > "$OUT/ls.txt"
    outputs: [ls.txt]
"#,
    );
    env.repro(&["dag", "p.yaml"])
        .ok()
        .out_has("gen[policy=b] (cmd)\n  <- ppo_b as policy");
    env.repro(&["run", "p.yaml"]).ok();
    assert_eq!(env.output("p.lock", "gen[policy=a]", "v.txt"), "a\n");
    assert_eq!(env.output("p.lock", "gen[policy=b]", "v.txt"), "b\n");
    let ls = env.output("p.lock", "both", "ls.txt");
    assert!(
        ls.contains("ppo_a\nppo_b") && ls.contains("gen[policy=a]"),
        "{ls}"
    );
    let lock = env.lock("p.lock");
    let runs = lock["stages"]["both"]["inputs"]["runs"]
        .as_object()
        .unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
}

#[test]
fn bad_interpolated_and_listed_inputs_are_spec_errors() {
    let env = Env::new();
    let base = r#"
stages:
  ppo_a:
    kind: cmd
    run: echo a > "$OUT/v.txt"
    outputs: [v.txt]
"#;
    for (tail, key, msg) in [
        (
            "  gen:\n    kind: cmd\n    matrix: { policy: [a, z] }\n    inputs: { p: \"ppo_${matrix.policy}\" }\n    run: 'true'\n    outputs: [x]\n",
            "stages.gen.inputs.p",
            "input stage `ppo_z` does not exist",
        ),
        (
            "  gen:\n    kind: cmd\n    inputs: { p: \"ppo_${matrix.nope}\" }\n    run: 'true'\n    outputs: [x]\n",
            "stages.gen.inputs.p",
            "no matrix key `nope`",
        ),
        (
            "  gen:\n    kind: cmd\n    inputs: { p: [ppo_a, ppo_a] }\n    run: 'true'\n    outputs: [x]\n",
            "stages.gen.inputs.p.1",
            "`ppo_a` is already in this list",
        ),
        (
            "  gen:\n    kind: cmd\n    inputs: { p: [] }\n    run: 'true'\n    outputs: [x]\n",
            "stages.gen.inputs.p",
            "empty list",
        ),
        (
            "  gen:\n    kind: cmd\n    inputs: { p: [ppo_a, 3] }\n    run: 'true'\n    outputs: [x]\n",
            "stages.gen.inputs.p.1",
            "expected a stage name or a list of them, found",
        ),
        (
            "  gen:\n    kind: cmd\n    matrix: { s: [a] }\n    inputs: { p: \"g${matrix.s}\" }\n    run: 'true'\n    outputs: [x]\n  ga:\n    kind: cmd\n    inputs: { q: \"gen[s=a]\" }\n    run: 'true'\n    outputs: [x]\n",
            "stages.",
            "cycle: ",
        ),
    ] {
        env.pipeline(&format!("{base}{tail}"));
        env.repro(&["dag", "p.yaml"])
            .code(2)
            .err_has(key)
            .err_has(msg);
    }
}

#[test]
fn a_built_in_one_stage_slot_takes_a_list_of_one_but_not_of_two() {
    let env = Env::new();
    let base = "stages:\n  a: { kind: cmd, run: 'true', outputs: [x] }\n  b: { kind: cmd, run: 'true', outputs: [x] }\n";
    env.pipeline(&format!(
        "{base}  g: {{ kind: eval.generate, inputs: {{ policy: [a], prompts: b }} }}\n"
    ));
    env.repro(&["dag", "p.yaml"])
        .ok()
        .out_has("g (eval.generate)\n  <- a as policy");
    env.pipeline(&format!(
        "{base}  g: {{ kind: eval.generate, inputs: {{ policy: [a, b], prompts: b }} }}\n"
    ));
    env.repro(&["dag", "p.yaml"])
        .code(2)
        .err_has("stages.g.inputs.policy")
        .err_has("input `policy` takes one stage, but this names 2 expansions");
}
