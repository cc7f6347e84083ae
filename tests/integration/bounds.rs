//! Issue 9, parse-time and command-line half: bounded `${params.…}`
//! interpolation, zipped matrices matched in linear time, names and matrix
//! values that fit a file name, `metrics:`/`deps:` checked before anything
//! runs, a UTF-8 byte-order mark, `--store` naming a file, and `diff` on a
//! garbage lockfile. Every check runs the real binary.

use std::fs;
use std::time::{Duration, Instant};

use crate::common::Env;
use crate::malformed::has_position;

/// `p0` is 1.5 KB; each `pK` (line K+2) is `${params.pK-1}` twice, 24 levels:
/// 24 GiB if it were built.
fn doubling_pipeline() -> String {
    let mut y = format!("params:\n  p0: '{}'\n", "x".repeat(1536));
    for k in 1..=24 {
        y.push_str(&format!(
            "  p{k}: '${{params.p{}}}${{params.p{}}}'\n",
            k - 1,
            k - 1
        ));
    }
    y.push_str(
        "stages:\n  a:\n    kind: cmd\n    run: echo ${params.p24} > \"$OUT/x\"\n    outputs: [x]\n",
    );
    y
}

#[test]
fn interpolation_that_doubles_per_level_fails_fast_at_the_limit() {
    let env = Env::new();
    env.write("p.yaml", &doubling_pipeline());
    for cmd in ["status", "run"] {
        let t = Instant::now();
        let r = env
            .spawn(&[cmd, "p.yaml"])
            .wait_at_most(Duration::from_secs(5));
        let took = t.elapsed();
        r.code(2)
            .err_has("params.p10")
            .err_has("1572864 bytes")
            .err_has("at most 1048576 bytes");
        // `p10` (1536 * 2^10 bytes) is the first over 1 MiB; it is on line 12.
        assert!(has_position(&r.stderr, "p.yaml", &[12]), "{}", r.stderr);
        assert!(took < Duration::from_secs(5), "{cmd} took {took:?}");
    }
    assert!(!env.store().exists(), "a bad pipeline touched the store");
}

#[test]
fn interpolation_under_the_limit_still_works() {
    let env = Env::new();
    env.write(
        "p.yaml",
        "params:\n  a: 'ab'\n  b: '${params.a}${params.a}'\n  c: '${params.b}-${params.b}'\nstages:\n  s:\n    kind: cmd\n    run: echo ${params.c} > \"$OUT/x\"\n    outputs: [x]\n",
    );
    env.repro(&["run", "p.yaml"]).ok();
    assert_eq!(env.output("p.lock", "s", "x"), "abab-abab\n");
}

/// Ten stages of 9,999 expansions, each zipped with the one before.
fn zipped_chain(stages: usize, expansions: usize) -> String {
    let ks: Vec<String> = (0..expansions).map(|i| i.to_string()).collect();
    let mut y = format!("params:\n  ks: [{}]\nstages:\n", ks.join(", "));
    for s in 0..stages {
        y.push_str(&format!(
            "  s{s}:\n    kind: cmd\n    matrix: {{ k: \"${{params.ks}}\" }}\n    run: echo ${{matrix.k}} > \"$OUT/x\"\n    outputs: [x]\n"
        ));
        if s > 0 {
            y.push_str(&format!("    inputs: {{ prev: s{} }}\n", s - 1));
        }
    }
    y
}

#[test]
fn zipped_matrix_matching_is_linear_in_the_expansions() {
    let env = Env::new();
    env.write("p.yaml", &zipped_chain(10, 9_999));
    // Quadratic matching took 27 s for `status` here; linear takes well under one.
    let t = Instant::now();
    let r = env
        .spawn(&["status", "p.yaml"])
        .wait_at_most(Duration::from_secs(30));
    let took = t.elapsed();
    r.ok();
    assert!(took < Duration::from_secs(10), "status took {took:?}");
    let listed = r.stdout.lines().filter(|l| l.starts_with("stale")).count();
    assert_eq!(listed, 99_990, "every expansion listed");
    // Each expansion is zipped with its own point upstream.
    let dag = env.repro(&["dag", "p.yaml"]);
    dag.ok()
        .out_has("s9[k=4321] (cmd)\n  <- s8[k=4321] as prev\n")
        .out_has("s1[k=0] (cmd)\n  <- s0[k=0] as prev\n");
}

#[test]
fn names_and_matrix_values_longer_than_200_bytes_are_spec_errors() {
    let env = Env::new();
    let long = "n".repeat(201);
    let cases = [
        (
            format!("stages:\n  {long}:\n    kind: cmd\n    run: echo\n    outputs: [x]\n"),
            2,
            "stage name is 201 bytes long",
        ),
        (
            format!(
                "stages:\n  a:\n    kind: cmd\n    matrix: {{ k: [ok, {long}] }}\n    run: echo\n    outputs: [x]\n"
            ),
            4,
            "matrix value is 201 bytes long",
        ),
        (
            format!(
                "stages:\n  a:\n    kind: cmd\n    matrix: {{ {long}: [1] }}\n    run: echo\n    outputs: [x]\n"
            ),
            4,
            "matrix key is 201 bytes long",
        ),
        (
            // Two values of 100 bytes: each fits, the expansion name does not.
            format!(
                "stages:\n  a:\n    kind: cmd\n    matrix:\n      k: [{}]\n      j: [{}]\n    run: echo\n    outputs: [x]\n",
                "v".repeat(100),
                "w".repeat(100)
            ),
            4,
            "the longest expansion name would be 208 bytes",
        ),
    ];
    for (yaml, line, want) in &cases {
        env.write("p.yaml", yaml);
        for cmd in ["run", "status"] {
            let r = env.repro(&[cmd, "p.yaml"]);
            r.code(2).err_has(want);
            assert!(has_position(&r.stderr, "p.yaml", &[*line]), "{}", r.stderr);
        }
    }
    assert!(!env.store().exists(), "a bad pipeline touched the store");
    // At the limit: accepted, and it runs.
    let name = "n".repeat(200);
    env.write(
        "p.yaml",
        &format!(
            "stages:\n  {name}:\n    kind: cmd\n    run: echo > \"$OUT/x\"\n    outputs: [x]\n"
        ),
    );
    env.repro(&["run", "p.yaml"]).ok();
    // `a[k=…]` with a 195-byte value: 200 bytes.
    env.write(
        "p.yaml",
        &format!(
            "stages:\n  a:\n    kind: cmd\n    matrix: {{ k: [{}] }}\n    run: echo ${{matrix.k}} > \"$OUT/x\"\n    outputs: [x]\n",
            "v".repeat(195)
        ),
    );
    env.repro(&["run", "p.yaml"]).ok();
}

#[test]
fn control_characters_in_matrix_values_are_spec_errors() {
    let env = Env::new();
    for (yaml, line) in [
        (
            "stages:\n  a:\n    kind: cmd\n    matrix: { k: [ok, \"x\\ntouch pwned\"] }\n    run: echo ${matrix.k} > \"$OUT/x\"\n    outputs: [x]\n",
            4,
        ),
        (
            "stages:\n  a:\n    kind: cmd\n    matrix:\n      k:\n        - ok\n        - \"tab\\there\"\n    run: echo ${matrix.k} > \"$OUT/x\"\n    outputs: [x]\n",
            7,
        ),
        (
            // Through a param: the error points at the matrix entry.
            "params: { ks: [\"a\\rb\"] }\nstages:\n  a:\n    kind: cmd\n    matrix: { k: \"${params.ks}\" }\n    run: echo ${matrix.k} > \"$OUT/x\"\n    outputs: [x]\n",
            5,
        ),
    ] {
        env.write("p.yaml", yaml);
        let r = env.repro(&["run", "p.yaml"]);
        r.code(2)
            .err_has("stages.a.matrix.k.")
            .err_has("control character");
        assert!(has_position(&r.stderr, "p.yaml", &[line]), "{}", r.stderr);
        assert!(!env.exists("pwned"));
    }
    assert!(!env.store().exists(), "a bad pipeline touched the store");
}

#[test]
fn metrics_must_name_an_output_or_a_file_inside_one() {
    let env = Env::new();
    env.write(
        "p.yaml",
        "stages:\n  a:\n    kind: cmd\n    run: echo 3 > \"$OUT/m.txt\"; echo > \"$OUT/x\"\n    outputs: [x]\n    metrics: m.txt\n",
    );
    for cmd in ["run", "status"] {
        let r = env.repro(&[cmd, "p.yaml"]);
        r.code(2)
            .err_has("stages.a.metrics")
            .err_has("`m.txt` is not one of this stage's outputs (x)");
        assert!(has_position(&r.stderr, "p.yaml", &[6]), "{}", r.stderr);
    }
    assert!(!env.store().exists(), "a bad pipeline touched the store");
    // Inside a declared output directory: fine, and recorded.
    env.write(
        "p.yaml",
        "stages:\n  a:\n    kind: cmd\n    run: mkdir \"$OUT/d\"; echo 7 > \"$OUT/d/m.txt\"\n    outputs: [d]\n    metrics: ./d/m.txt\n",
    );
    env.repro(&["run", "p.yaml"]).ok();
    assert_eq!(env.lock("p.lock")["stages"]["a"]["metrics"]["m"], 7);
}

#[test]
fn deps_naming_the_filesystem_root_are_spec_errors() {
    let env = Env::new();
    for dep in ["/", "//", "/./", "/tmp/.."] {
        env.write(
            "p.yaml",
            &format!(
                "stages:\n  a:\n    kind: cmd\n    run: echo > \"$OUT/x\"\n    deps: [ok.txt, \"{dep}\"]\n    outputs: [x]\n"
            ),
        );
        env.write("ok.txt", "");
        for cmd in ["run", "status"] {
            let t = Instant::now();
            let r = env
                .spawn(&[cmd, "p.yaml"])
                .wait_at_most(Duration::from_secs(10));
            r.code(2)
                .err_has("stages.a.deps")
                .err_has(&format!("dep `{dep}` is the filesystem root"));
            assert!(has_position(&r.stderr, "p.yaml", &[5]), "{}", r.stderr);
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{dep}: walked the disk?"
            );
        }
    }
    assert!(!env.store().exists(), "a bad pipeline touched the store");
}

#[test]
fn deps_that_hold_or_lie_in_the_store_are_spec_errors() {
    let env = Env::new();
    fs::create_dir_all(env.store().join("objects")).unwrap();
    env.write("scripts/s.sh", "echo\n");
    let pipeline = |dep: &str| {
        format!(
            "stages:\n  ok:\n    kind: cmd\n    run: echo > \"$OUT/x\"\n    outputs: [x]\n  a:\n    kind: cmd\n    run: echo > \"$OUT/x\"\n    deps: [scripts/s.sh, \"{dep}\"]\n    outputs: [x]\n"
        )
    };
    for (dep, how) in [
        (".", "contains the store"),
        ("store", "is the store"),
        ("./store/objects", "lies inside the store"),
        ("scripts/../store", "is the store"),
    ] {
        env.write("p.yaml", &pipeline(dep));
        for cmd in ["run", "status", "dag"] {
            let r = env.repro(&[cmd, "p.yaml"]);
            r.code(2)
                .err_has("stages.a.deps")
                .err_has(&format!("dep `{dep}`"))
                .err_has(how);
            assert!(has_position(&r.stderr, "p.yaml", &[9]), "{}", r.stderr);
        }
    }
    assert!(env.records().is_empty(), "nothing ran");
    // The store given relatively, through $REPRO_STORE, and not created yet.
    env.write("p.yaml", &pipeline("."));
    let r = env
        .spawn_command({
            let mut c = env.bare_command(&["run", "p.yaml"]);
            c.env("REPRO_STORE", "fresh/store");
            c
        })
        .wait();
    r.code(2).err_has("contains the store");
    assert!(!env.exists("fresh"), "the store was created anyway");
    // A dep beside the store is fine.
    env.write("p.yaml", &pipeline("scripts"));
    env.repro(&["run", "p.yaml"]).ok();
}

#[test]
fn a_byte_order_mark_is_stripped_from_the_pipeline_and_its_base() {
    let env = Env::new();
    env.write(
        "base.yaml",
        "\u{feff}params: { n: 3 }\nstages:\n  a:\n    kind: cmd\n    run: echo ${params.n} > \"$OUT/x\"\n    outputs: [x]\n",
    );
    env.write("p.yaml", "\u{feff}name: bom\nextends: base.yaml\n");
    env.repro(&["run", "p.yaml"]).ok();
    assert_eq!(env.output("p.lock", "a", "x"), "3\n");
    // Errors still point at the right column of line 1.
    env.write("p.yaml", "\u{feff}nmae: bom\nextends: base.yaml\n");
    env.repro(&["status", "p.yaml"])
        .code(2)
        .err_has("p.yaml:1:1: nmae: unknown key `nmae`");
}

#[test]
fn a_store_that_is_not_a_directory_exits_2_for_every_command() {
    let env = Env::new();
    env.write(
        "p.yaml",
        "stages:\n  a:\n    kind: cmd\n    run: echo > \"$OUT/x\"\n    outputs: [x]\n",
    );
    let file = env.write("afile", "not a store\n");
    let file = file.to_str().unwrap();
    let commands: &[&[&str]] = &[
        &["run", "p.yaml"],
        &["run", "p.yaml", "--dry-run"],
        &["status", "p.yaml"],
        &["dag", "p.yaml"],
        &["show", "p.yaml", "a"],
        &["verify", "p.yaml"],
        &["verify", "p.yaml", "--rerun", "a"],
        &["gc", "p.yaml"],
        &["gc", "--dry-run", "p.yaml"],
    ];
    for args in commands {
        for store in [file.to_string(), format!("{file}/sub")] {
            let mut c = env.bare_command(args);
            c.arg("--store").arg(&store);
            let r = env.spawn_command(c).wait();
            r.code(2)
                .err_has(&format!("--store {store}: expected a store directory"));
        }
        // The same from $REPRO_STORE.
        let mut c = env.bare_command(args);
        c.env("REPRO_STORE", file);
        let r = env.spawn_command(c).wait();
        r.code(2).err_has("$REPRO_STORE");
        r.err_has("found a regular file");
    }
    assert_eq!(env.read("afile"), "not a store\n");
}

#[test]
fn diff_on_a_garbage_lockfile_quotes_a_few_lines() {
    let env = Env::new();
    env.write(
        "p.yaml",
        "stages:\n  a:\n    kind: cmd\n    run: echo > \"$OUT/x\"\n    outputs: [x]\n",
    );
    env.repro(&["run", "p.yaml"]).ok();
    let garbage: String = (0..10_000)
        .map(|i| format!("garbage line {i} with some words in it\n"))
        .collect();
    env.write("bad.lock", &garbage);
    for args in [["p.lock", "bad.lock"], ["bad.lock", "p.lock"]] {
        let r = env.repro(&["diff", args[0], args[1]]);
        r.code(2).err_has("bad.lock: not a valid lockfile");
        assert!(
            r.stderr.len() < 1_000,
            "{} bytes:\n{}",
            r.stderr.len(),
            r.stderr
        );
        assert!(r.stderr.lines().count() <= 6, "{}", r.stderr);
        assert!(!r.stderr.contains("garbage line 9999"), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
}
