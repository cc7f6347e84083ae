//! Experiment names: the default one derived from the overrides
//! (`stages.rm.with.epochs=20` → `rm.with.epochs=20`), and the check that a
//! name is a safe file name.

use super::error::ExpError;

/// The name that means the pipeline's own lockfile in `exp diff` and `exp show`.
pub const BASELINE: &str = "baseline";

/// Longest name kept (longer default names are cut).
pub const MAX_LEN: usize = 80;

/// Whether `c` may appear in a name: letters, digits and `._=+,-@`.
fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._=+,-@".contains(c)
}

/// Checks a name given with `--name` (or read back from a remote).
///
/// # Errors
/// Empty, too long, a character outside `[A-Za-z0-9._=+,-@]`, a leading
/// `.` or `-`, or the reserved [`BASELINE`].
pub fn check(name: &str) -> Result<(), ExpError> {
    let bad = |why| {
        Err(ExpError::BadName {
            name: name.to_string(),
            why,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_LEN {
        return bad("longer than 80 characters");
    }
    if name == BASELINE {
        return bad("`baseline` names the pipeline's own lockfile");
    }
    if name.starts_with('.') || name.starts_with('-') {
        return bad("it starts with `.` or `-`");
    }
    if !name.chars().all(allowed) {
        return bad("only letters, digits and . _ = + , - @ are allowed");
    }
    Ok(())
}

/// The default name of a run with `overrides`: each `KEY=VALUE` without its
/// leading `params.` / `stages.`, joined by `,`, other characters as `_`,
/// cut to [`MAX_LEN`].
pub fn default_name(overrides: &[String]) -> String {
    let parts: Vec<String> = overrides
        .iter()
        .map(|o| {
            let o = o
                .strip_prefix("params.")
                .or_else(|| o.strip_prefix("stages."))
                .unwrap_or(o);
            o.chars()
                .map(|c| if allowed(c) { c } else { '_' })
                .collect()
        })
        .collect();
    let mut name = parts.join(",");
    name.truncate(MAX_LEN);
    let name = name.trim_start_matches(['.', '-']).to_string();
    if name.is_empty() || name == BASELINE {
        format!("exp-{name}")
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_drop_the_section_and_keep_the_value() {
        assert_eq!(
            default_name(&["stages.rm.with.epochs=20".into()]),
            "rm.with.epochs=20"
        );
        assert_eq!(
            default_name(&["params.limit=1000".into(), "params.lr=1e-3".into()]),
            "limit=1000,lr=1e-3"
        );
        assert_eq!(default_name(&["params.x=[1, 2]".into()]), "x=_1,_2_");
        let long = default_name(&[format!("params.x={}", "9".repeat(200))]);
        assert_eq!(long.len(), MAX_LEN);
        check(&long).unwrap();
    }

    #[test]
    fn bad_names_are_refused_with_the_reason() {
        for bad in ["", "baseline", "../x", "a/b", ".hidden", "-x", "a b"] {
            assert!(check(bad).is_err(), "{bad:?} accepted");
        }
        check("lr=1e-3,seed=2").unwrap();
    }
}
