//! Running one kind outside the engine, over plain directories: for unit and
//! integration tests and benchmarks of the built-in kinds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::kind::{Input, Kind, Roots, StageContext};
use crate::backend::Backend;

/// Checks `with`, then runs `kind` with `inputs` into a fresh `<root>/<stage>/out`
/// (seed 42, one thread, `data` as `$REPRO_DATA`); returns that directory or
/// the stage's error.
pub fn run_kind(
    kind: &dyn Kind,
    root: &Path,
    stage: &str,
    with: serde_json::Value,
    inputs: &[(&str, PathBuf)],
    data: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    kind.check(&with)
        .map_err(|e| anyhow::anyhow!("with.{}: {}", e.path, e.message))?;
    let out = root.join(stage).join("out");
    std::fs::create_dir_all(&out)?;
    let scratch = root.join(stage).join("scratch");
    std::fs::create_dir_all(&scratch)?;
    let ctx = StageContext {
        stage: stage.into(),
        base: stage.into(),
        with,
        inputs: inputs
            .iter()
            .map(|(k, p)| (k.to_string(), Input::One(p.clone())))
            .collect::<BTreeMap<_, _>>(),
        out: out.clone(),
        seed: 42,
        threads: 1,
        backend: Backend::default(),
        roots: Roots {
            pipeline_dir: root.to_path_buf(),
            data: data.map(Path::to_path_buf),
            models: None,
        },
        scratch,
        cancel: Arc::new(AtomicBool::new(false)),
        log: Mutex::new(Box::new(std::io::sink())),
    };
    kind.run(&ctx)?;
    for o in kind.outputs() {
        anyhow::ensure!(out.join(o).exists(), "declared output {o} missing");
    }
    Ok(out)
}

/// Reads `metrics.json` of an output directory.
pub fn metrics(out: &Path) -> anyhow::Result<serde_json::Value> {
    let p = out.join("metrics.json");
    let text = std::fs::read_to_string(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    Ok(serde_json::from_str(&text)?)
}
