//! A tiny `report.paper` pipeline run by the real binary: `cmd` stages stand
//! in for the trainer (they copy synthetic `scores.parquet` and
//! `stereotype_scores.parquet` written here through the library), then
//! `eval.reward_distribution` and `eval.stereotype` per λ, then the report.
//! Checks that every table and figure exists and is non-empty, that the PNGs
//! decode and that the HTML links numbers to their sources.

use std::fs;
use std::path::Path;

use repro::eval::scores::{ScoreRow, Side, write_scores};
use repro::eval::stereotype::{StereoItem, write_items};

use crate::common::Env;

/// Two categories, `harmless` shifted by `offset`; chosen above rejected.
fn scores(offset: f64) -> Vec<ScoreRow> {
    let mut v = Vec::new();
    for i in 0..50 {
        for (cat, s) in [("harmless", offset), ("helpful", 0.0)] {
            for (side, d) in [(Side::Chosen, 0.7), (Side::Rejected, -0.7)] {
                v.push(ScoreRow {
                    pair_id: format!("{cat}-{i}"),
                    category: cat.into(),
                    side,
                    reward: ((i * 7 % 19) as f64) * 0.25 + s + d,
                });
            }
        }
    }
    v
}

/// CrowS-Pairs and StereoSet items; `per10` of every 10 prefer the stereotype.
fn stereo(per10: usize) -> Vec<StereoItem> {
    let mut v = Vec::new();
    for (ds, n) in [("crows_pairs", 40), ("stereoset", 30)] {
        for i in 0..n {
            v.push(StereoItem {
                item_id: format!("{ds}-{i}"),
                dataset: ds.into(),
                bias_type: ["gender", "race", "age"][i % 3].into(),
                direction: if i % 4 == 0 { "antistereo" } else { "stereo" }.into(),
                more: if i % 10 < per10 { 1.0 } else { -1.0 },
                less: 0.0,
            });
        }
    }
    v
}

fn png_size(path: &Path) -> (u32, u32) {
    let dec = png::Decoder::new(std::io::BufReader::new(fs::File::open(path).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    (info.width, info.height)
}

#[test]
fn tiny_report_pipeline_writes_every_table_and_figure() {
    let env = Env::new();
    fs::create_dir_all(env.path("fix")).unwrap();
    for (l, offset, per10) in [("0.0", 2.5, 3), ("0.2", 0.1, 5)] {
        write_scores(
            &env.path(&format!("fix/scores_{l}.parquet")),
            &scores(offset),
        )
        .unwrap();
        write_items(
            &env.path(&format!("fix/stereo_{l}.parquet")),
            &stereo(per10),
        )
        .unwrap();
    }
    // REPRO_KEEP_REPORT=DIR keeps the report for a look at the figures.
    let export = std::env::var_os("REPRO_KEEP_REPORT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env.path("exported"));
    env.pipeline(&format!(
        r#"
params: {{ seed: 3 }}
stages:
  rm:
    kind: cmd
    matrix: {{ lambda_adv: [0.0, 0.2] }}
    deps: [fix]
    run: cp "fix/scores_${{matrix.lambda_adv}}.parquet" "$OUT/scores.parquet" && cp "fix/stereo_${{matrix.lambda_adv}}.parquet" "$OUT/stereotype_scores.parquet"
    outputs: [scores.parquet, stereotype_scores.parquet]
  dist:
    kind: eval.reward_distribution
    matrix: {{ lambda_adv: [0.0, 0.2] }}
    inputs: {{ scores: rm }}
    with: {{ bins: 20, permutations: 199 }}
  stereo:
    kind: eval.stereotype
    matrix: {{ lambda_adv: [0.0, 0.2] }}
    inputs: {{ scores: rm, other: "rm[lambda_adv=0.0]" }}
  report:
    kind: report.paper
    inputs: {{ distribution: dist, stereotype: stereo }}
  export:
    kind: cmd
    inputs: {{ r: report }}
    run: mkdir -p "{out}" && cp -r "$IN_r"/. "{out}"/ && chmod -R u+w "{out}" && echo ok > "$OUT/done"
    outputs: [done]
"#,
        out = export.display()
    ));
    let r = env.repro(&["run", "p.yaml"]);
    r.ok();
    for s in ["dist[lambda_adv=0.0]", "stereo[lambda_adv=0.2]", "report"] {
        assert!(
            r.ran().contains(&s.to_string()),
            "{s} did not run:\n{}",
            r.stdout
        );
    }
    // The report is published as human-readable results (ARCHITECTURE.md, "The store").
    assert!(
        r.stdout.contains("results: results/p/report"),
        "{}",
        r.stdout
    );
    let published = env.path("results/p/report/report.html");
    assert!(
        fs::metadata(&published)
            .map(|m| m.len() > 0)
            .unwrap_or(false),
        "{} missing",
        published.display()
    );
    // Headline metrics reach the lockfile.
    let lock = env.lock("p.lock");
    let ks = lock["stages"]["dist[lambda_adv=0.0]"]["metrics"]["ks"]
        .as_f64()
        .unwrap();
    assert!(ks > 0.5, "planted offset not detected: KS {ks}");

    let metrics: serde_json::Value =
        serde_json::from_slice(&fs::read(export.join("metrics.json")).unwrap()).unwrap();
    let stems = |k: &str| -> Vec<String> {
        metrics[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let tables = stems("tables");
    assert_eq!(tables.len(), 5, "{tables:?}");
    for t in &tables {
        for ext in ["md", "tex", "csv"] {
            let p = export.join("tables").join(format!("{t}.{ext}"));
            assert!(
                fs::metadata(&p).unwrap().len() > 0,
                "{} is empty",
                p.display()
            );
        }
    }
    let figures = stems("figures");
    assert!(
        figures.contains(&"distribution_baseline_vs_fair".to_string()),
        "{figures:?}"
    );
    assert!(figures.contains(&"lambda_sweep".to_string()), "{figures:?}");
    for f in &figures {
        let (w, h) = png_size(&export.join("figures").join(format!("{f}.png")));
        assert!(w > 0 && h > 0);
        let svg = fs::read_to_string(export.join("figures").join(format!("{f}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{f}.svg"
        );
    }
    // KS, W1, MI, BT loss and the two bias rates have both of our values.
    assert_eq!(metrics["directions_checked"], 6, "{metrics}");
    let html = fs::read_to_string(export.join("report.html")).unwrap();
    assert!(
        html.contains("distribution/dist[lambda_adv=0.2]"),
        "sources list"
    );
    let digest = env.output_digest("p.lock", "dist[lambda_adv=0.2]", "distribution.json");
    assert!(
        html.contains(&digest),
        "the report names the store object it read"
    );
}
