//! Experiments (issue 26): a run with `--set` never touches `<stem>.lock`;
//! `exp show`, `exp diff` (with the seed-paired 2 SE rule), `exp apply`,
//! `exp remove`, `--exp` on the read commands, `gc`, `push`/`pull`, and
//! `exp show` while another run holds the store lock. The pipeline is
//! `tests/pipelines/experiments.yaml` (three seeds, a planted and a null change).

use crate::common::{Env, wait_for_file};

const PIPELINE: &str = include_str!("../pipelines/experiments.yaml");
const SCORE: &str = include_str!("../pipelines/experiments_score.sh");

/// A project with the pipeline run once (its lock is the baseline).
fn project() -> Env {
    let env = Env::new();
    env.write("e.yaml", PIPELINE);
    env.write("experiments_score.sh", SCORE);
    env.repro(&["run", "e.yaml", "-j", "3"]).ok();
    env
}

fn lock_bytes(env: &Env) -> Vec<u8> {
    std::fs::read(env.path("e.lock")).expect("e.lock")
}

#[test]
fn a_set_run_leaves_the_lock_byte_identical_and_exp_show_lists_it() {
    let env = project();
    let before = lock_bytes(&env);
    env.repro(&["run", "e.yaml", "--set", "params.delta=0.1"])
        .ok()
        .out_has("experiment delta=0.1: e.lock stays as it is");
    assert_eq!(lock_bytes(&env), before, "a --set run rewrote e.lock");
    // The baseline is still what `status` sees, and the experiment is fresh under --exp.
    env.repro(&["status", "e.yaml", "--check"]).ok();
    env.repro(&["status", "e.yaml", "--exp", "delta=0.1", "--check"])
        .ok();
    let s = env.repro(&["exp", "show", "e.yaml"]);
    s.ok();
    let rows: Vec<&str> = s.stdout.lines().collect();
    assert!(
        rows[0].starts_with("experiment")
            && rows[0].contains("params.delta")
            && rows[0].contains("score:acc"),
        "{}",
        s.stdout
    );
    assert!(
        rows[1].starts_with("baseline ") && rows[1].contains("0.5000 ± 0.01836"),
        "{}",
        s.stdout
    );
    assert!(
        rows[2].starts_with("delta=0.1 ")
            && rows[2].contains(" 0.1 ")
            && rows[2].contains("0.6000 ± 0.01836"),
        "{}",
        s.stdout
    );
    // A second run of the same overrides continues the same experiment.
    env.repro(&["run", "e.yaml", "--set", "params.delta=0.1"])
        .ok()
        .out_has("nothing to run");
    assert_eq!(
        env.repro(&["exp", "show", "e.yaml"]).stdout.lines().count(),
        3
    );
}

#[test]
fn exp_diff_says_beyond_2_se_for_a_planted_change_and_within_noise_for_a_null_one() {
    let env = project();
    env.repro(&[
        "run",
        "e.yaml",
        "--set",
        "params.delta=0.05",
        "--set",
        "params.lr=0.2",
        "--name",
        "planted",
    ])
    .ok();
    env.repro(&["run", "e.yaml", "--set", "params.lr=0.2", "--name", "null"])
        .ok();
    let d = env.repro(&["exp", "diff", "e.yaml", "baseline", "planted"]);
    d.ok()
        .out_has("params.delta: 0.0 -> 0.05")
        .out_has("params.lr: 0.1 -> 0.2")
        .out_has("score:acc: 0.5000 ± 0.01836 -> 0.5503 ± 0.02386  (Δ +0.05033)  paired over 3 seeds: 0.05033 ± 0.003180 SE, beyond 2 SE");
    let d = env.repro(&["exp", "diff", "e.yaml", "null"]);
    d.ok()
        .out_has("baseline -> null")
        .out_has("params.lr: 0.1 -> 0.2")
        .out_has("paired over 3 seeds: 0.0003333 ± 0.003180 SE, within noise")
        .out_lacks("beyond");
    let j = env.repro(&["exp", "diff", "e.yaml", "null", "planted", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&j.ok().stdout).unwrap();
    assert_eq!(v["metrics"][0]["column"], "score:acc");
    assert_eq!(v["metrics"][0]["paired"]["beyond"], true);
    env.repro(&["exp", "diff", "e.yaml", "null", "null"])
        .ok()
        .out_has("no differences");
}

#[test]
fn exp_apply_makes_it_the_lock_and_verify_is_ok() {
    let env = project();
    let yaml_before = env.read("e.yaml");
    env.repro(&["run", "e.yaml", "--set", "params.delta=0.1"])
        .ok();
    let exp_lock = std::fs::read(env.store().join("experiments/e/delta=0.1.lock")).unwrap();
    env.repro(&["exp", "apply", "e.yaml", "delta=0.1"])
        .ok()
        .out_has("applied experiment delta=0.1");
    assert_eq!(
        lock_bytes(&env),
        exp_lock,
        "e.lock is the experiment's lockfile"
    );
    let yaml = env.read("e.yaml");
    assert_eq!(
        yaml,
        yaml_before.replace(
            "params: { delta: 0.0, lr: 0.1 }",
            "params: { delta: 0.1, lr: 0.1 }"
        ),
        "only the overridden value changed in the pipeline file"
    );
    env.repro(&["verify", "e.yaml"]).ok().out_has("verify: ok");
    env.repro(&["status", "e.yaml", "--check"]).ok();
    env.repro(&["run", "e.yaml"]).ok().out_has("nothing to run");
}

#[test]
fn an_experiment_keeps_the_values_it_ran_with_after_the_file_changes() {
    let env = project();
    env.repro(&["run", "e.yaml", "--set", "params.lr=0.2", "--name", "null"])
        .ok();
    env.repro(&["run", "e.yaml", "--set", "params.delta=0.1"])
        .ok();
    env.repro(&["exp", "apply", "e.yaml", "delta=0.1"]).ok();
    // The file now says delta: 0.1; `null` ran with 0.0 and still says so.
    let s = env.repro(&["exp", "show", "e.yaml"]);
    let null = s
        .ok()
        .stdout
        .lines()
        .find(|l| l.starts_with("null "))
        .unwrap()
        .to_string();
    let cells: Vec<&str> = null.split_whitespace().collect();
    assert_eq!(cells[..3], ["null", "0.0", "0.2"], "{}", s.stdout);
    let base = s
        .stdout
        .lines()
        .find(|l| l.starts_with("baseline "))
        .unwrap();
    assert!(base.contains("0.6000 ± 0.01836"), "{}", s.stdout);
}

#[test]
fn gc_keeps_experiment_objects_until_exp_remove() {
    let env = project();
    env.repro(&["run", "e.yaml", "--set", "params.delta=0.1"])
        .ok();
    let exp_lock = "store/experiments/e/delta=0.1.lock";
    let digest = env.output_digest(exp_lock, "score[seed=1]", "m.json");
    env.repro(&["gc", "e.yaml"]).ok().out_has("1 experiment(s)");
    assert!(
        env.object_path(&digest).exists(),
        "gc dropped an experiment's object"
    );
    env.repro(&["verify", "e.yaml", "--exp", "delta=0.1"])
        .ok()
        .out_has("verify: ok");
    // `show` and `export` read the experiment's run, not the baseline's.
    env.repro(&["show", "e.yaml", "score[seed=1]", "--exp", "delta=0.1"])
        .ok()
        .out_has("state:   fresh")
        .out_has("\"run\": \"sh experiments_score.sh 1 0.1 0.1\"");
    env.repro(&[
        "export",
        "e.yaml",
        "score[seed=1]",
        "out",
        "--exp",
        "delta=0.1",
    ])
    .ok();
    assert_eq!(
        env.read("out/m.json"),
        "{\"acc\": 0.613000, \"loss\": 0.387000}\n"
    );
    env.repro(&["exp", "remove", "e.yaml", "delta=0.1"]).ok();
    env.repro(&["gc", "e.yaml"]).ok();
    assert!(
        !env.object_path(&digest).exists(),
        "gc kept a removed experiment's object"
    );
    env.repro(&["verify", "e.yaml"]).ok();
    env.repro(&["exp", "show", "e.yaml"])
        .ok()
        .out_lacks("delta=0.1");
}

#[test]
fn push_and_pull_carry_experiments() {
    let a = project();
    a.repro(&["run", "e.yaml", "--set", "params.delta=0.1"])
        .ok();
    let remote = tempfile::tempdir().unwrap();
    let r = remote.path().to_str().unwrap();
    a.repro(&["push", "e.yaml", "--remote", r])
        .ok()
        .out_has("pushed 1 experiment(s): delta=0.1");
    let b = Env::new();
    b.write("e.yaml", PIPELINE);
    b.write("experiments_score.sh", SCORE);
    std::fs::copy(a.path("e.lock"), b.path("e.lock")).unwrap();
    b.repro(&["pull", "e.yaml", "--remote", r])
        .ok()
        .out_has("pulled experiment delta=0.1");
    b.repro(&["verify", "e.yaml", "--exp", "delta=0.1"])
        .ok()
        .out_has("verify: ok");
    b.repro(&["exp", "show", "e.yaml"])
        .ok()
        .out_has("0.6000 ± 0.01836");
    b.repro(&["pull", "e.yaml", "--remote", r])
        .ok()
        .out_has("experiment delta=0.1: already here");
}

#[test]
fn exp_show_answers_while_another_run_holds_the_store_lock() {
    let env = project();
    env.write(
        "slow.yaml",
        "stages:\n  slow:\n    kind: cmd\n    run: mkdir -p marks && touch marks/started && sleep 30 && echo > \"$OUT/o\"\n    outputs: [o]\n",
    );
    let mut slow = env.spawn(&["run", "slow.yaml"]);
    wait_for_file(&env.path("marks/started"));
    let started = std::time::Instant::now();
    let s = env
        .spawn(&["exp", "show", "e.yaml"])
        .wait_at_most(std::time::Duration::from_secs(10));
    s.ok().out_has("baseline");
    assert!(started.elapsed().as_secs() < 10);
    // A writer does wait (or with --no-wait, refuses): the lock really is held.
    env.repro(&["run", "e.yaml", "--set", "params.lr=0.3", "--no-wait"])
        .code(3);
    slow.kill9();
    let _ = slow.wait();
}

#[test]
fn show_formats_sort_and_only_changed() {
    let env = project();
    env.repro(&["run", "e.yaml", "--set", "params.delta=0.1"])
        .ok();
    env.repro(&["run", "e.yaml", "--set", "params.delta=-0.1"])
        .ok();
    // Overrides lr with the value the file has: a column that never changes.
    env.repro(&["run", "e.yaml", "--set", "params.lr=0.1", "--name", "same"])
        .ok()
        .out_has("nothing to run");
    let j = env.repro(&["exp", "show", "e.yaml", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&j.ok().stdout).unwrap();
    assert_eq!(v["rows"][0]["name"], "baseline");
    assert_eq!(v["rows"][1]["metrics"]["score:acc"]["n"], 3);
    let s = env.repro(&["exp", "show", "e.yaml", "--sort", "acc", "--desc"]);
    let names: Vec<&str> = s
        .ok()
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(names, ["baseline", "delta=0.1", "same", "delta=-0.1"]);
    assert!(s.stdout.lines().next().unwrap().contains("params.lr"));
    let s = env.repro(&["exp", "show", "e.yaml", "--only-changed"]);
    assert!(
        !s.ok().stdout.contains("params.lr") && s.stdout.contains("params.delta"),
        "--only-changed kept a column that never changes, or dropped one that does:\n{}",
        s.stdout
    );
    env.repro(&["exp", "show", "e.yaml", "--md"])
        .ok()
        .out_has("| --- |");
    env.repro(&["exp", "show", "e.yaml", "--csv"]).ok().out_has(
        "experiment,params.delta,params.lr,score:acc,score:acc sd,score:loss,score:loss sd\n",
    );
    env.repro(&["exp", "show", "e.yaml", "--long", "--csv"])
        .ok()
        .out_has("delta=0.1,score:acc,0.6000,0.01836,3");
    env.repro(&["exp", "show", "e.yaml", "--stage", "total"])
        .ok()
        .out_lacks("score:acc");
}

#[test]
fn the_page_has_the_table_and_a_figure_of_a_metric_against_an_override() {
    let env = project();
    env.repro(&["run", "e.yaml", "--set", "params.delta=0.1"])
        .ok();
    env.repro(&[
        "exp",
        "show",
        "e.yaml",
        "--html",
        "page",
        "--plot",
        "acc",
        "--against",
        "delta",
    ])
    .ok()
    .out_has("page: page/experiments.html");
    let html = env.read("page/experiments.html");
    assert!(
        html.contains("<svg") && html.contains("params.delta"),
        "{html}"
    );
    assert!(html.contains("0.6000 ± 0.01836"));
    assert!(env.exists("page/experiments-figure.png"));
}

#[test]
fn bad_experiment_input_is_refused_with_exit_2() {
    let env = project();
    env.repro(&["exp", "show", "e.yaml", "--sort", "nope"])
        .code(2)
        .err_has("no metric `nope`");
    env.repro(&["exp", "diff", "e.yaml", "nope"])
        .code(2)
        .err_has("no experiment `nope` for pipeline `e`");
    env.repro(&["exp", "apply", "e.yaml", "nope"]).code(2);
    env.repro(&["exp", "remove", "e.yaml", "nope"]).code(2);
    env.repro(&["status", "e.yaml", "--exp", "nope"]).code(2);
    env.repro(&["run", "e.yaml", "--name", "x"])
        .code(2)
        .err_has("--set");
    env.repro(&["status", "e.yaml", "--exp", "x", "--set", "params.lr=1"])
        .code(2);
    env.repro(&["run", "e.yaml", "--set", "params.lr=1", "--name", "../x"])
        .code(2)
        .err_has("bad experiment name");
    env.repro(&[
        "run",
        "e.yaml",
        "--set",
        "params.lr=1",
        "--name",
        "baseline",
    ])
    .code(2);
    env.repro(&["run", "e.yaml", "--set", "params.lr=1", "--name", "one"])
        .ok();
    env.repro(&["run", "e.yaml", "--set", "params.lr=2", "--name", "one"])
        .code(2)
        .err_has("exists with other overrides");
    env.repro(&["exp", "show", "e.yaml", "--plot", "acc"])
        .code(2);
    env.repro(&["exp", "show", "e.yaml", "--json", "--csv"])
        .code(2);
    env.repro(&["exp", "show", "nope.yaml"]).code(2);
}

#[test]
fn the_report_experiments_kind_renders_the_page_from_exp_show_json_and_reruns_when_it_changes() {
    let env = project();
    env.repro(&["run", "e.yaml", "--set", "params.delta=0.1"])
        .ok();
    let table = env.repro(&["exp", "show", "e.yaml", "--json"]);
    env.write("exps.json", &table.ok().stdout);
    env.write(
        "r.yaml",
        "stages:\n  page:\n    kind: report.experiments\n    with: { table: exps.json, plot: acc, against: delta }\n",
    );
    env.repro(&["run", "r.yaml"]).ok().out_has("results: ");
    let html = env.read("results/r/page/experiments.html");
    assert!(
        html.contains("<svg") && html.contains("0.6000 ± 0.01836"),
        "{html}"
    );
    assert!(env.exists("results/r/page/experiments-figure.png"));
    env.repro(&["run", "r.yaml"]).ok().out_has("nothing to run");
    // A new experiment, a new table: the page is stale.
    env.repro(&["run", "e.yaml", "--set", "params.delta=0.2"])
        .ok();
    let table = env.repro(&["exp", "show", "e.yaml", "--json"]);
    env.write("exps.json", &table.ok().stdout);
    env.repro(&["status", "r.yaml", "--check"]).code(1);
    env.repro(&["run", "r.yaml"]).ok().out_has("1 ran");
    env.write(
        "bad.yaml",
        "stages:\n  page:\n    kind: report.experiments\n    with: { table: exps.json, plot: nope, against: delta }\n",
    );
    env.repro(&["run", "bad.yaml"]).code(1);
}
