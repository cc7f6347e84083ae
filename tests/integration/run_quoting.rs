//! Values substituted into `run:` are data, not code (issue 25, item 10):
//! shell-quoted when they need it, pasted byte for byte when they do not,
//! and pasted as code only through `${…:raw}`.

use crate::common::Env;

const PIPELINE: &str = r#"
params: { v: plain, code: "echo from-code" }
stages:
  s:
    kind: cmd
    matrix: { k: ["$(touch X1)", "`touch X2`", "; touch X3", "it's", "0.2"] }
    run: |
      printf '%s|%s\n' ${matrix.k} ${params.v} > "$OUT/o"
      ${params.code:raw} >> "$OUT/o"
    outputs: [o]
"#;

#[test]
fn values_pasted_into_run_are_quoted_unless_raw() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    // A --set run is an experiment: its lockfile lives in the store.
    env.repro(&[
        "run",
        "p.yaml",
        "--set",
        "params.v=$(touch X4) x",
        "--name",
        "q",
    ])
    .ok();
    for x in ["X1", "X2", "X3", "X4"] {
        assert!(!env.exists(x), "a value ran as a command: {x} exists");
    }
    let exp = "store/experiments/p/q.lock";
    let lock = env.read(exp);
    let got = |k: &str| env.output(exp, &format!("s[k={k}]"), "o");
    assert_eq!(got("0.2"), "0.2|$(touch X4) x\nfrom-code\n", "{lock}");
    assert_eq!(got("it's"), "it's|$(touch X4) x\nfrom-code\n");
    assert_eq!(got("$(touch X1)"), "$(touch X1)|$(touch X4) x\nfrom-code\n");
}
