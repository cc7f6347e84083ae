//! `report.experiments` (issue 26): the experiments page from a table that
//! `repro exp show PIPELINE --json` wrote. Experiments live outside the DAG,
//! so the stage reads the table as a file its key covers (`with.table`), and
//! reruns exactly when the table changes. Glue only; see
//! [`crate::exp::page`] and [`crate::report::experiments`].

use anyhow::Context;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::exp::page;
use crate::exp::table::Table;
use crate::kind::{KeyDep, KindInfo, Roots, StageContext, WithError, required};
use crate::report::experiments::write;
use crate::util::io::json::write_json;

/// The `report.experiments` kind.
pub struct ReportExperiments;

/// The `with` map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// JSON written by `repro exp show PIPELINE --json`, relative to the pipeline file (part of
    /// the key).
    #[schemars(required)]
    pub table: Option<String>,
    /// The figure's metric column (`stage:metric`, or a unique metric name).
    #[schemars(required)]
    pub plot: Option<String>,
    /// The override on the figure's x axis (`params.x`, or a unique last part); its values must
    /// be numbers.
    #[schemars(required)]
    pub against: Option<String>,
}

const INFO: KindInfo = KindInfo {
    name: "report.experiments",
    code_version: 1,
    summary: "experiments page: the `exp show` table and one metric against one override, mean ± sd across seeds",
    slots: &[],
    outputs: &[
        "experiments.html",
        "experiments-figure.svg",
        "experiments-figure.png",
        "metrics.json",
    ],
    metrics: Some("metrics.json"),
    numerics: None,
    publishes: true,
};

/// The three required keys (the engine has checked they are given).
fn keys(w: With) -> Result<(String, String, String), WithError> {
    Ok((
        required(w.table, "table")?,
        required(w.plot, "plot")?,
        required(w.against, "against")?,
    ))
}

impl crate::kind::TypedKind for ReportExperiments {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn key_deps(&self, w: &With, roots: &Roots) -> Result<Vec<KeyDep>, WithError> {
        let table = required(w.table.as_ref(), "table")?;
        Ok(vec![KeyDep::File(roots.pipeline_dir.join(table))])
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
        let (table, plot, against) = keys(w)?;
        let path = ctx.roots.pipeline_dir.join(&table);
        let text = std::fs::read(&path)
            .with_context(|| format!("with.table: reading {}", path.display()))?;
        let t: Table = serde_json::from_slice(&text).with_context(|| {
            format!(
                "with.table: {} is not a table from `repro exp show --json`",
                path.display()
            )
        })?;
        let fig = page::figure(&t, &plot, &against)?;
        let drawn = fig.points.len();
        write(&ctx.out, &page::page(&t, Some(fig)))?;
        ctx.log(format!("{} run(s), {drawn} on the figure", t.rows.len()));
        write_json(
            &ctx.out.join("metrics.json"),
            &json!({"runs": t.rows.len(), "plotted": drawn}),
        )?;
        Ok(())
    }
}
