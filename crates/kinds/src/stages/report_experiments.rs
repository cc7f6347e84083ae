//! `report.experiments` (issue 26): the experiments page from a table that
//! `repro exp show PIPELINE --json` wrote. Experiments live outside the DAG,
//! so the stage reads the table as a file its key covers (`with.table`), and
//! reruns exactly when the table changes. Glue only; see
//! [`crate::exp::page`] and [`crate::report::experiments`].

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::exp::page;
use crate::exp::table::Table;
use crate::kind::{
    Field, KeyDep, Kind, KindInfo, Roots, StageContext, WithError, defaults_of, parse_with,
    required,
};
use crate::report::experiments::write;
use crate::util::io::json::write_json;

/// The `report.experiments` kind.
pub struct ReportExperiments;

/// The `with` map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// The table, relative to the pipeline file: `repro exp show P --json > FILE`.
    pub table: Option<String>,
    /// The figure's metric (`score:acc`, or `acc` when unique).
    pub plot: Option<String>,
    /// The override on its x axis (`params.lr`, or `lr` when unique).
    pub against: Option<String>,
}

const FIELDS: &[Field] = &[
    Field {
        name: "table",
        ty: "path",
        required: true,
        doc: "JSON written by `repro exp show PIPELINE --json`, relative to the pipeline file (part of the key)",
    },
    Field {
        name: "plot",
        ty: "string",
        required: true,
        doc: "the figure's metric column (`stage:metric`, or a unique metric name)",
    },
    Field {
        name: "against",
        ty: "string",
        required: true,
        doc: "the override on the figure's x axis (`params.x`, or a unique last part); its values must be numbers",
    },
];

const INFO: KindInfo = KindInfo {
    name: "report.experiments",
    code_version: 1,
    summary: "experiments page: the `exp show` table and one metric against one override, mean ± sd across seeds",
    fields: FIELDS,
    defaults: defaults_of::<With>,
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

fn parse(with: &Value) -> Result<(String, String, String), WithError> {
    let w: With = parse_with(with)?;
    Ok((
        required(w.table, "table")?,
        required(w.plot, "plot")?,
        required(w.against, "against")?,
    ))
}

impl Kind for ReportExperiments {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn check(&self, with: &Value) -> Result<(), WithError> {
        parse(with).map(|_| ())
    }
    fn key_deps(&self, with: &Value, roots: &Roots) -> Result<Vec<KeyDep>, WithError> {
        let (table, _, _) = parse(with)?;
        Ok(vec![KeyDep::File(roots.pipeline_dir.join(table))])
    }
    fn run(&self, ctx: &StageContext) -> anyhow::Result<()> {
        let (table, plot, against) = parse(&ctx.with)?;
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
