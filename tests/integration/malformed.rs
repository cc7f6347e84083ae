//! Bad pipelines: each exits 2 before anything runs, with `FILE:LINE:COL`,
//! the key path and what was wrong; never a panic, never a hang.

use std::time::Duration;

use crate::common::Env;

/// One bad pipeline: its text, the line the error must point at (or one of
/// two lines, see `stage_level`), and fragments the message must contain.
struct Case {
    name: &'static str,
    yaml: &'static str,
    line: usize,
    /// For errors about a whole stage: also accept the line after `line`
    /// (the stage's first field; see `stage_errors_point_at_the_stage_name`).
    stage_level: bool,
    want: &'static [&'static str],
}

const fn case(
    name: &'static str,
    yaml: &'static str,
    line: usize,
    want: &'static [&'static str],
) -> Case {
    Case {
        name,
        yaml,
        line,
        stage_level: false,
        want,
    }
}

const fn stage_case(
    name: &'static str,
    yaml: &'static str,
    line: usize,
    want: &'static [&'static str],
) -> Case {
    Case {
        name,
        yaml,
        line,
        stage_level: true,
        want,
    }
}

const CASES: &[Case] = &[
    case(
        "unknown key",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n    outptus: [x]\n",
        5,
        &["stages.a.outptus", "unknown key `outptus`", "outputs"],
    ),
    case(
        "unknown top-level key",
        "stagez: {}\nstages: {}\n",
        1,
        &["unknown key `stagez`"],
    ),
    case(
        "unknown stage kind",
        "stages:\n  a:\n    kind: nope\n    run: echo\n",
        3,
        &["stages.a.kind", "unknown stage kind `nope`", "cmd"],
    ),
    case(
        "missing input stage",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n    inputs: { d: ghost }\n    outputs: [x]\n",
        5,
        &["stages.a.inputs.d", "input stage `ghost` does not exist"],
    ),
    stage_case(
        "cycle",
        "stages:\n  a:\n    kind: cmd\n    inputs: { x: b }\n    run: echo\n    outputs: [x]\n  b:\n    kind: cmd\n    inputs: { y: a }\n    run: echo\n    outputs: [x]\n",
        7,
        &["cycle: "],
    ),
    case(
        "duplicate stage names",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n    outputs: [x]\n  a:\n    kind: cmd\n    run: echo\n    outputs: [y]\n",
        6,
        &["duplicate key `a`"],
    ),
    case(
        "bad params reference",
        "params: { n: 1 }\nstages:\n  a:\n    kind: cmd\n    run: echo ${params.nope}\n    outputs: [x]\n",
        5,
        &["stages.a.run", "unknown param `nope`"],
    ),
    case(
        "bad reference in with",
        "stages:\n  a:\n    kind: cmd\n    with: { k: \"${params.k}\" }\n    run: echo\n    outputs: [x]\n",
        4,
        &["stages.a.with", "unknown param `k`"],
    ),
    case(
        "matrix reference without a matrix",
        "stages:\n  a:\n    kind: cmd\n    run: echo ${matrix.k}\n    outputs: [x]\n",
        4,
        &["stages.a.run", "no matrix key `k`"],
    ),
    case(
        "params in a cycle",
        "params: { a: \"${params.b}\", b: \"${params.a}\" }\nstages:\n  a:\n    kind: cmd\n    run: echo\n    outputs: [x]\n",
        1,
        &["params", "cycle"],
    ),
    case(
        "outputs not a list",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n    outputs: 3\n",
        5,
        &[
            "stages.a.outputs",
            "expected a list of paths, found an integer",
        ],
    ),
    case(
        "kind not a string",
        "stages:\n  a:\n    kind: 3\n",
        3,
        &["stages.a.kind", "expected a string, found an integer"],
    ),
    case(
        "with not a map",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n    with: 3\n    outputs: [x]\n",
        5,
        &["stages.a.with", "expected a map"],
    ),
    case(
        "stages not a map",
        "stages: [a, b]\n",
        1,
        &["stages", "expected a map, found a list"],
    ),
    case(
        "top level not a map",
        "- 1\n- 2\n",
        1,
        &["expected a map at the top level"],
    ),
    case("empty file", "", 1, &["missing key `stages`"]),
    case(
        "empty run",
        "stages:\n  a:\n    kind: cmd\n    run: \"\"\n    outputs: [x]\n",
        4,
        &["stages.a.run", "non-empty command"],
    ),
    stage_case(
        "missing run",
        "stages:\n  a:\n    kind: cmd\n    outputs: [x]\n",
        2,
        &["stages.a", "missing key `run`"],
    ),
    stage_case(
        "missing kind",
        "stages:\n  a:\n    run: echo\n    outputs: [x]\n",
        2,
        &["stages.a", "missing key `kind`"],
    ),
    case(
        "empty matrix list",
        "stages:\n  a:\n    kind: cmd\n    matrix: { k: [] }\n    run: echo\n    outputs: [x]\n",
        4,
        &["stages.a.matrix.k", "non-empty list"],
    ),
    case(
        "nested matrix list",
        "stages:\n  a:\n    kind: cmd\n    matrix: { k: [[1, 2]] }\n    run: echo\n    outputs: [x]\n",
        4,
        &["stages.a.matrix.k.0", "matrix values are scalars"],
    ),
    case(
        "matrix not a list",
        "stages:\n  a:\n    kind: cmd\n    matrix: { k: 3 }\n    run: echo\n    outputs: [x]\n",
        4,
        &["stages.a.matrix.k", "expected a list"],
    ),
    case(
        "duplicate matrix value",
        "stages:\n  a:\n    kind: cmd\n    matrix: { k: [1, 1.0] }\n    run: echo\n    outputs: [x]\n",
        4,
        &["stages.a.matrix.k", "duplicate matrix value"],
    ),
    case(
        "matrix value with a reserved character",
        "stages:\n  a:\n    kind: cmd\n    matrix: { k: [\"a/b\"] }\n    run: echo\n    outputs: [x]\n",
        4,
        &["stages.a.matrix.k.0", "a/b"],
    ),
    case(
        "selecting an expansion that does not exist",
        "stages:\n  a:\n    kind: cmd\n    matrix: { k: [1, 2] }\n    run: echo\n    outputs: [x]\n  b:\n    kind: cmd\n    inputs: { m: \"a[k=5]\" }\n    run: echo\n    outputs: [x]\n",
        9,
        &[
            "stages.b.inputs.m",
            "no expansion of `a` matches",
            "a[k=1], a[k=2]",
        ],
    ),
    case(
        "selecting from a stage without a matrix",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n    outputs: [x]\n  b:\n    kind: cmd\n    inputs: { m: \"a[k=1]\" }\n    run: echo\n    outputs: [x]\n",
        8,
        &["stages.b.inputs.m", "no matrix"],
    ),
    stage_case(
        "bad stage name",
        "stages:\n  bad-name:\n    kind: cmd\n    run: echo\n    outputs: [x]\n",
        2,
        &["stages.bad-name", "bad stage name `bad-name`"],
    ),
    case(
        "bad input name",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n    outputs: [x]\n  b:\n    kind: cmd\n    inputs: { bad-slot: a }\n    run: echo\n    outputs: [x]\n",
        8,
        &["stages.b.inputs.bad-slot", "bad input name"],
    ),
    case(
        "output escaping $OUT through ..",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n    outputs: [ok.txt, ../x]\n",
        5,
        &["stages.a.outputs", "`../x` escapes $OUT"],
    ),
    case(
        "output escaping $OUT deeper",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n    outputs: [a/../../x]\n",
        5,
        &["stages.a.outputs", "escapes $OUT"],
    ),
    case(
        "absolute output",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n    outputs: [/abs]\n",
        5,
        &["stages.a.outputs", "`/abs` is absolute"],
    ),
    stage_case(
        "no outputs",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n    outputs: []\n",
        2,
        &["stages.a.outputs", "at least one output"],
    ),
    case(
        "missing deps file",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n    deps: [scripts/nope.py]\n    outputs: [x]\n",
        5,
        &["stages.a.deps", "dep `scripts/nope.py` not found"],
    ),
    case(
        "invalid YAML: unclosed flow list",
        "stages:\n  a: [1, 2\n",
        3,
        &["flow sequence"],
    ),
    case(
        "invalid YAML: bad indentation",
        "stages:\n  a:\n    kind: cmd\n    run: echo\n   outputs: [x]\n",
        5,
        &["block mapping"],
    ),
    case(
        "non-scalar key",
        "{a: 1, [b]: 2}\n",
        1,
        &["map keys must be scalars"],
    ),
    case(
        "several documents",
        "stages: {}\n---\nstages: {}\n",
        2,
        &["one YAML document"],
    ),
    case(
        "unsupported tag",
        "stages: !!python/object:os.system {}\n",
        1,
        &["unsupported tag"],
    ),
    case(
        "negative seed",
        "params: { seed: -1 }\nstages:\n  a:\n    kind: cmd\n    run: echo\n    outputs: [x]\n",
        1,
        &["params.seed", "non-negative integer"],
    ),
    case(
        "deep nesting",
        concat!(
            "x: ",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
            "\n"
        ),
        1,
        &["nesting"],
    ),
];

/// Whether `msg` holds `FILE:LINE:COL: ` for one of `lines`.
pub(crate) fn has_position(msg: &str, file: &str, lines: &[usize]) -> bool {
    lines.iter().any(|l| {
        let prefix = format!("{file}:{l}:");
        msg.match_indices(&prefix).any(|(i, _)| {
            let rest = &msg[i + prefix.len()..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0 && rest[digits..].starts_with(": ")
        })
    })
}

#[test]
fn malformed_pipelines_exit_2_with_position_and_message() {
    let env = Env::new();
    let mut failures = Vec::new();
    for c in CASES {
        env.write("p.yaml", c.yaml);
        for cmd in ["run", "status"] {
            let r = env.repro(&[cmd, "p.yaml"]);
            let lines: Vec<usize> = if c.stage_level {
                vec![c.line, c.line + 1]
            } else {
                vec![c.line]
            };
            let mut problems = Vec::new();
            if r.code != 2 {
                problems.push(format!("exit code {}", r.code));
            }
            if !has_position(&r.stderr, "p.yaml", &lines) {
                problems.push(format!("no `p.yaml:{lines:?}:COL: `"));
            }
            for w in c.want {
                if !r.stderr.contains(w) {
                    problems.push(format!("no {w:?}"));
                }
            }
            if r.stderr.contains("panicked") {
                problems.push("a panic".into());
            }
            if !r.stdout.is_empty() {
                problems.push(format!("stdout not empty: {:?}", r.stdout));
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{} ({cmd}): {}\n    stderr: {}",
                    c.name,
                    problems.join("; "),
                    r.stderr.trim()
                ));
            }
        }
    }
    assert!(!env.store().exists(), "a bad pipeline touched the store");
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Whether `msg` names the cycle through `names` as a closed path, in any rotation.
fn names_cycle(msg: &str, names: &[&str]) -> bool {
    (0..names.len()).any(|r| {
        let mut path: Vec<&str> = names[r..].iter().chain(&names[..r]).copied().collect();
        path.push(path[0]);
        msg.contains(&format!("cycle: {}", path.join(" -> ")))
    })
}

#[test]
fn a_cycle_is_reported_as_its_path() {
    let env = Env::new();
    let stage = |name: &str, input: &str| {
        format!(
            "  {name}:\n    kind: cmd\n    inputs: {{ x: {input} }}\n    run: echo\n    outputs: [x]\n"
        )
    };
    env.write(
        "p.yaml",
        &format!("stages:\n{}{}", stage("a", "b"), stage("b", "a")),
    );
    let r = env.repro(&["status", "p.yaml"]);
    r.code(2);
    assert!(names_cycle(&r.stderr, &["a", "b"]), "{}", r.stderr);
    // A longer cycle hanging off a stage that is not in it: only the cycle is named.
    env.write(
        "p.yaml",
        &format!(
            "stages:\n{}{}{}{}",
            stage("head", "a"),
            stage("a", "b"),
            stage("b", "c"),
            stage("c", "a")
        ),
    );
    let r = env.repro(&["status", "p.yaml"]);
    r.code(2);
    assert!(
        names_cycle(&r.stderr, &["a", "b", "c"]) || names_cycle(&r.stderr, &["a", "c", "b"]),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("head ->"), "{}", r.stderr);
}

#[test]
fn an_alias_bomb_fails_fast() {
    let env = Env::new();
    let mut s = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    s.push_str("stages: {}\n");
    env.write("p.yaml", &s);
    // 9^12 nodes if expanded: the bounded wait is the hang guard.
    let r = env
        .spawn(&["status", "p.yaml"])
        .wait_at_most(Duration::from_secs(20));
    r.code(2).err_has("alias bomb");
    assert!(
        has_position(
            &r.stderr,
            "p.yaml",
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn aliases_within_budget_are_fine() {
    let env = Env::new();
    env.write("p.yaml", "stages:\n  a: &s\n    kind: cmd\n    run: echo a > \"$OUT/x\"\n    outputs: [x]\n  b: *s\n");
    env.repro(&["run", "p.yaml"]).ok().out_has("summary: 2 ran");
}

#[test]
fn a_missing_pipeline_file_exits_2() {
    let env = Env::new();
    for cmd in ["run", "status", "dag", "verify"] {
        env.repro(&[cmd, "nope.yaml"])
            .code(2)
            .err_has("nope.yaml: no such pipeline file");
    }
    env.repro(&["show", "nope.yaml", "a"])
        .code(2)
        .err_has("nope.yaml");
}

#[test]

fn stage_errors_point_at_the_stage_name() {
    let env = Env::new();
    for c in CASES.iter().filter(|c| c.stage_level) {
        env.write("p.yaml", c.yaml);
        let r = env.repro(&["status", "p.yaml"]);
        assert!(
            has_position(&r.stderr, "p.yaml", &[c.line]),
            "{}: {}",
            c.name,
            r.stderr
        );
    }
}

#[test]

fn duplicate_or_overlapping_outputs_are_spec_errors() {
    let env = Env::new();
    for outs in ["[x, x]", "[x, ./x]", "[d, d/x]"] {
        env.write("p.yaml", &format!("stages:\n  a:\n    kind: cmd\n    run: mkdir -p $OUT/d; echo > $OUT/x; echo > $OUT/d/x\n    outputs: {outs}\n"));
        let r = env.repro(&["run", "p.yaml"]);
        r.code(2);
        assert!(
            has_position(&r.stderr, "p.yaml", &[5]),
            "{outs}: {}",
            r.stderr
        );
    }
}

#[test]

fn an_unterminated_params_reference_is_a_spec_error() {
    let env = Env::new();
    env.write("p.yaml", "params: { x: 1 }\nstages:\n  a:\n    kind: cmd\n    run: echo ${params.x > $OUT/x\n    outputs: [x]\n");
    env.repro(&["status", "p.yaml"])
        .code(2)
        .err_has("p.yaml:5:");
}
