//! The policies an evaluation compares: names of fan-in expansions
//! (`gen[policy=fair]`), short labels, the baseline among them, and the
//! check that every policy answered the same prompts in the same order.

use super::generations::GenerationRow;

/// Problems with the set of policies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoliciesError {
    /// No policy, or the baseline does not name one.
    #[error("baseline `{baseline}` names none of the policies ({})", names.join(", "))]
    NoBaseline {
        /// The `baseline` setting.
        baseline: String,
        /// The policies connected.
        names: Vec<String>,
    },
    /// The baseline matches more than one policy.
    #[error("baseline `{baseline}` matches several policies: {}", matches.join(", "))]
    Ambiguous {
        /// The `baseline` setting.
        baseline: String,
        /// The policies it matches.
        matches: Vec<String>,
    },
    /// A policy answered other prompts than the baseline.
    #[error(
        "policy `{policy}` row {row}: prompt `{found}`, the baseline has `{expected}` (generate every policy from the same prompt set)"
    )]
    Misaligned {
        /// The policy.
        policy: String,
        /// 1-based row.
        row: usize,
        /// The baseline's prompt id there (empty past its end).
        expected: String,
        /// This policy's prompt id there (empty past its end).
        found: String,
    },
}

/// The matrix values of an expansion name (`gen[policy=fair,seed=1]` →
/// `[("policy","fair"), ("seed","1")]`); empty for a plain name.
pub fn matrix_values(name: &str) -> Vec<(&str, &str)> {
    let Some(open) = name.find('[') else {
        return Vec::new();
    };
    let inner = name[open + 1..].trim_end_matches(']');
    inner
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

/// A short label: the matrix values joined by `,` (`fair`), else the name.
pub fn label(name: &str) -> String {
    let v = matrix_values(name);
    if v.is_empty() {
        name.to_string()
    } else {
        v.iter().map(|(_, x)| *x).collect::<Vec<_>>().join(",")
    }
}

/// The policy `baseline` designates: the name itself, else the one policy
/// whose label or one of whose matrix values equals it.
///
/// # Errors
/// None or several matches.
pub fn resolve_baseline<'a>(names: &'a [String], baseline: &str) -> Result<&'a str, PoliciesError> {
    if let Some(n) = names.iter().find(|n| n.as_str() == baseline) {
        return Ok(n);
    }
    let hits: Vec<&String> = names
        .iter()
        .filter(|n| label(n) == baseline || matrix_values(n).iter().any(|(_, v)| *v == baseline))
        .collect();
    match hits.as_slice() {
        [one] => Ok(one),
        [] => Err(PoliciesError::NoBaseline {
            baseline: baseline.to_string(),
            names: names.to_vec(),
        }),
        many => Err(PoliciesError::Ambiguous {
            baseline: baseline.to_string(),
            matches: many.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

/// Checks that `rows` answer the baseline's prompts, row for row.
///
/// # Errors
/// The first row whose prompt id differs (or a length difference).
pub fn check_aligned(
    policy: &str,
    rows: &[GenerationRow],
    baseline: &[GenerationRow],
) -> Result<(), PoliciesError> {
    let n = rows.len().max(baseline.len());
    for i in 0..n {
        let a = rows.get(i).map(|r| r.prompt_id.as_str());
        let b = baseline.get(i).map(|r| r.prompt_id.as_str());
        if a != b {
            return Err(PoliciesError::Misaligned {
                policy: policy.to_string(),
                row: i + 1,
                expected: b.unwrap_or("").to_string(),
                found: a.unwrap_or("").to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_baseline_resolution() {
        let names: Vec<String> = [
            "gen[policy=baseline]",
            "gen[policy=fair]",
            "gen[policy=fair_curiosity]",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(label(&names[1]), "fair");
        assert_eq!(label("gen"), "gen");
        assert_eq!(
            resolve_baseline(&names, "baseline").unwrap(),
            "gen[policy=baseline]"
        );
        assert_eq!(
            resolve_baseline(&names, "gen[policy=fair]").unwrap(),
            "gen[policy=fair]"
        );
        let e = resolve_baseline(&names, "ppo").unwrap_err().to_string();
        assert!(
            e.contains("names none") && e.contains("gen[policy=fair]"),
            "{e}"
        );
        let two: Vec<String> = vec!["g[a=x,b=1]".into(), "g[a=x,b=2]".into()];
        assert!(matches!(
            resolve_baseline(&two, "x"),
            Err(PoliciesError::Ambiguous { .. })
        ));
        assert_eq!(resolve_baseline(&two, "x,2").unwrap(), "g[a=x,b=2]");
    }

    #[test]
    fn misaligned_generations_name_the_row() {
        let r = |id: &str| GenerationRow {
            prompt_id: id.into(),
            category: "c".into(),
            prompt: String::new(),
            response: String::new(),
            tokens: 0,
        };
        assert!(check_aligned("p", &[r("a"), r("b")], &[r("a"), r("b")]).is_ok());
        let e = check_aligned("p", &[r("a"), r("c")], &[r("a"), r("b")]).unwrap_err();
        assert!(e.to_string().contains("row 2"), "{e}");
        assert!(check_aligned("p", &[r("a")], &[r("a"), r("b")]).is_err());
    }
}
