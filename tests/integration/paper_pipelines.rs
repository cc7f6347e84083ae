//! `pipelines/paper.yaml` cannot run here (hub data, Llama-3.2-1B, a GPU),
//! but `repro status` and `repro run --dry-run` on it must work offline; so
//! must they on `paper-cpu.yaml`, which extends it. Both need `$REPRO_DATA`
//! (the probe sets are local files) and paper-cpu `$REPRO_MODELS`.

use std::path::{Path, PathBuf};

use super::common::Env;
use super::data_real::root_from;

fn copy_pipelines(env: &Env) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    for f in ["paper.yaml", "paper-cpu.yaml", "policies-long.yaml"] {
        env.write(
            &format!("pipelines/{f}"),
            &std::fs::read_to_string(src.join(f)).unwrap(),
        );
    }
}

fn offline(env: &Env, args: &[&str], data: &Path, models: Option<&Path>) -> super::common::Out {
    let mut c = env.command(args);
    c.env("REPRO_DATA", data)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", env.path("no-hf-cache"))
        .env_remove("HF_HUB_CACHE");
    if let Some(m) = models {
        c.env("REPRO_MODELS", m);
    }
    env.spawn_command(c).wait()
}

/// A fresh copy of the pipelines with `$REPRO_DATA` and `$REPRO_MODELS`,
/// where `repro` runs offline.
struct Offline {
    env: Env,
    data: PathBuf,
    models: PathBuf,
}

impl Offline {
    /// `None` to skip without the data or the models (each fails instead
    /// where its `REPRO_REQUIRE_*` is set).
    fn new() -> Option<Self> {
        let data = root_from("REPRO_DATA", "REPRO_REQUIRE_DATA")?;
        let models = root_from("REPRO_MODELS", "REPRO_REQUIRE_MODELS")?;
        let env = Env::new();
        copy_pipelines(&env);
        Some(Offline { env, data, models })
    }

    /// `repro ARGS` here, offline.
    fn run(&self, args: &[&str]) -> super::common::Out {
        offline(&self.env, args, &self.data, Some(&self.models))
    }
}

#[test]
fn paper_yaml_status_and_dry_run_work_offline() {
    let Some(data) = root_from("REPRO_DATA", "REPRO_REQUIRE_DATA") else {
        return;
    };
    let env = Env::new();
    copy_pipelines(&env);
    let s = offline(&env, &["status", "pipelines/paper.yaml"], &data, None);
    assert_eq!(s.code, 0, "{}", s.stderr);
    for stage in [
        "hh_helpful",
        "rm[lambda_adv=2.0]",
        "rm_multi[lambda_adv=0.2]",
        "audit[lambda_adv=0.2]",
        "ppo_baseline",
        "ppo_fair_curiosity",
        // Table 1 and the diversity table (issue 13).
        "safety_rm",
        "gen_parity[policy=fair_curiosity]",
        "gen_diversity[policy=baseline]",
        "parity",
        "diversity",
        "report",
    ] {
        assert!(
            s.stdout.contains(stage),
            "{stage} missing from:\n{}",
            s.stdout
        );
    }
    assert!(s.stdout.contains("0 fresh"), "{}", s.stdout);
    let d = offline(
        &env,
        &["run", "--dry-run", "pipelines/paper.yaml"],
        &data,
        None,
    );
    assert_eq!(d.code, 0, "{}", d.stderr);
    assert!(d.stdout.contains("rm[lambda_adv=0.2]"), "{}", d.stdout);
    assert!(env.records().is_empty(), "a dry run records nothing");
}

#[test]
fn paper_cpu_yaml_extends_it_and_plans_offline() {
    let Some(o) = Offline::new() else {
        return;
    };
    let s = o.run(&["status", "pipelines/paper-cpu.yaml"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    for stage in [
        "features",
        "features_multi",
        // Every RM and evaluation under 5 seeds (issue 12).
        "rm[lambda_adv=1.5,seed=5]",
        "dist[lambda_adv=1.5,seed=5]",
        // The fine-tuned pair on cached hidden states (issue 12, item 1).
        "hidden",
        "rm_tuned[lambda_adv=0.2,seed=3]",
        "dist_tuned[lambda_adv=0.2,seed=3]",
        "dist_multi[lambda_adv=0.0,seed=1]",
        "stereo[lambda_adv=0.2,seed=3]",
        "ppo_fair",
        "safety_features",
        "gen_diversity[policy=fair]",
        "parity",
        "diversity",
    ] {
        assert!(
            s.stdout.contains(stage),
            "{stage} missing from:\n{}",
            s.stdout
        );
    }
    let d = o.run(&["run", "--dry-run", "pipelines/paper-cpu.yaml"]);
    assert_eq!(d.code, 0, "{}", d.stderr);
    assert!(o.env.records().is_empty());
}

/// `policies-long.yaml` is paper-cpu's pipeline with its three policies
/// trained for 40 PPO steps: after `extends:` the two differ in the PPO
/// step counts and the report's title only, so every other stage keeps
/// paper-cpu's key and its cached output; and it plans offline.
#[test]
fn policies_long_yaml_is_paper_cpu_with_longer_ppo() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let tree = |f: &str| repro::spec::extends::load(&dir.join(f)).unwrap().to_json();
    let (cpu, long) = (tree("paper-cpu.yaml"), tree("policies-long.yaml"));
    let (cs, ls) = (&cpu["stages"], &long["stages"]);
    let names = |s: &serde_json::Value| s.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(cs), names(ls), "the same stages");
    let mut differ = Vec::new();
    for name in names(cs) {
        let (mut a, b) = (cs[&name].clone(), &ls[&name]);
        if name.starts_with("ppo_") && name != "ppo_prompts" {
            assert_eq!(a["with"]["steps"], 20, "{name}");
            assert_eq!(b["with"]["steps"], 40, "{name}");
            a["with"]["steps"] = 40.into();
        }
        if name == "report" {
            assert_ne!(a["with"]["title"], b["with"]["title"]);
            a["with"]["title"] = b["with"]["title"].clone();
        }
        if &a != b {
            differ.push(name);
        }
    }
    assert!(
        differ.is_empty(),
        "stages that differ beyond the steps: {differ:?}"
    );
    assert_eq!(cpu["params"], long["params"]);

    let Some(o) = Offline::new() else {
        return;
    };
    let d = o.run(&["run", "--dry-run", "pipelines/policies-long.yaml"]);
    assert_eq!(d.code, 0, "{}", d.stderr);
    assert!(d.stdout.contains("ppo_fair_curiosity"), "{}", d.stdout);
    assert!(o.env.records().is_empty());
}
