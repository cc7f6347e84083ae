//! The paper's numbers that the report compares against, from the bundled
//! table `paper_values.csv` (one row per number, each with its citation in
//! `shared/paper/fairness-rm-paper.md`), and the rule that says whether an
//! effect's direction holds in our run.

/// The bundled table (`quantity,lambda_adv,value,citation`). It is compiled
/// in, so editing it needs a bump of `report.paper`'s `code_version` for
/// cached reports to be recomputed.
pub const PAPER_VALUES_CSV: &str = include_str!("paper_values.csv");

/// One number reported by the paper.
#[derive(Debug, Clone, PartialEq)]
pub struct PaperValue {
    /// Our metric name (`ks`, `w1`, `mi`, `bt_loss`, `crows_pairs_bias`…).
    pub quantity: String,
    /// The setting it was measured at.
    pub lambda: f64,
    /// The value (bias rates in %).
    pub value: f64,
    /// The value as the paper prints it (`0.10`).
    pub text: String,
    /// Where in the paper.
    pub citation: String,
}

/// A malformed row of the bundled table.
#[derive(Debug, thiserror::Error)]
#[error("paper_values.csv line {line}: {message}")]
pub struct PaperValuesError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Splits one CSV line (RFC 4180 quoting, no embedded newlines).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Parses a table in the format of [`PAPER_VALUES_CSV`].
///
/// # Errors
/// A wrong header, a row without four fields, or a non-numeric value.
pub fn parse(text: &str) -> Result<Vec<PaperValue>, PaperValuesError> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == "quantity,lambda_adv,value,citation" => {}
        other => {
            return Err(PaperValuesError {
                line: 1,
                message: format!(
                    "expected the header `quantity,lambda_adv,value,citation`, found {other:?}"
                ),
            });
        }
    }
    let mut out = Vec::new();
    for (i, l) in lines {
        if l.trim().is_empty() {
            continue;
        }
        let f = split_csv(l);
        let err = |message: String| PaperValuesError {
            line: i + 1,
            message,
        };
        if f.len() != 4 {
            return Err(err(format!("expected 4 fields, found {}", f.len())));
        }
        let num = |s: &str| {
            s.parse::<f64>()
                .map_err(|e| err(format!("`{s}` is not a number: {e}")))
        };
        out.push(PaperValue {
            quantity: f[0].clone(),
            lambda: num(&f[1])?,
            value: num(&f[2])?,
            text: f[2].clone(),
            citation: f[3].clone(),
        });
    }
    Ok(out)
}

/// The bundled paper values.
///
/// # Errors
/// Only if the bundled file is malformed (a unit test guards against it).
pub fn bundled() -> Result<Vec<PaperValue>, PaperValuesError> {
    parse(PAPER_VALUES_CSV)
}

/// How an effect is measured when comparing baseline and fair.
pub fn measure(quantity: &str, v: f64) -> f64 {
    match quantity {
        // Bias rates: what matters is the distance from neutral (50 %).
        "crows_pairs_bias" | "stereoset_bias" => (v - 50.0).abs(),
        // Audit scores: distance from chance (0.5).
        "audit_auc" | "audit_ba" => (v - 0.5).abs(),
        _ => v,
    }
}

/// Relative difference below which two measures count as equal: values
/// that differ only by floating-point rounding are not an effect.
pub const DIRECTION_TOLERANCE: f64 = 1e-9;

/// Direction of an effect from baseline to fair: `-1` the measure falls,
/// `1` it rises, `0` unchanged (within [`DIRECTION_TOLERANCE`], relative).
pub fn direction(quantity: &str, baseline: f64, fair: f64) -> i8 {
    let (b, f) = (measure(quantity, baseline), measure(quantity, fair));
    if (f - b).abs() <= DIRECTION_TOLERANCE * b.abs().max(f.abs()) {
        0
    } else if f < b {
        -1
    } else if f > b {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_table_parses_and_cites_every_row() {
        let v = bundled().unwrap();
        assert_eq!(v.len(), 28);
        assert!(v.iter().all(|p| !p.citation.is_empty()));
        let ks: Vec<f64> = v
            .iter()
            .filter(|p| p.quantity == "ks")
            .map(|p| p.value)
            .collect();
        assert_eq!(ks, [0.43, 0.10]);
        assert!(
            v[0].citation.contains("\"The KS distance"),
            "{}",
            v[0].citation
        );
    }

    #[test]
    fn bias_rates_move_toward_neutral() {
        // 42.84 → 51.46 is closer to 50: a fall in the distance from neutral.
        assert_eq!(direction("crows_pairs_bias", 42.84, 51.46), -1);
        assert_eq!(direction("crows_pairs_bias", 48.0, 55.0), 1);
        assert_eq!(direction("ks", 0.43, 0.10), -1);
        assert_eq!(direction("bt_loss", 1.0, 1.0), 0);
        // Rounding noise is not an effect; a real change is.
        assert_eq!(direction("bt_loss", 0.1839 + 3e-17, 0.1839), 0);
        assert_eq!(direction("bt_loss", 0.1839, 0.1838), -1);
    }

    #[test]
    fn malformed_rows_are_located() {
        let e = parse("quantity,lambda_adv,value,citation\nks,0,x,\"c\"\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(parse("a,b\n").is_err());
        assert!(parse("quantity,lambda_adv,value,citation\nks,0\n").is_err());
    }
}
