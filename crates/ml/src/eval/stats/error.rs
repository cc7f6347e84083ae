//! The one error type of the statistics module, and the input checks every
//! statistic runs before it computes anything.

/// Why a statistic could not be computed. Every variant names the statistic
/// (`what`) and the argument at fault, so a stage can say which call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A sample that needs at least one value has none.
    #[error("{what}: sample `{name}` is empty")]
    Empty {
        /// Statistic being computed.
        what: &'static str,
        /// Argument name.
        name: &'static str,
    },
    /// A sample has fewer values than the statistic needs.
    #[error("{what}: sample `{name}` needs at least {needed} values, found {found}")]
    TooFew {
        /// Statistic being computed.
        what: &'static str,
        /// Argument name.
        name: &'static str,
        /// Minimum length.
        needed: usize,
        /// Actual length.
        found: usize,
    },
    /// A value is NaN or infinite.
    #[error("{what}: sample `{name}` has a non-finite value {value} at index {index}")]
    NonFinite {
        /// Statistic being computed.
        what: &'static str,
        /// Argument name.
        name: &'static str,
        /// Position of the first bad value.
        index: usize,
        /// The value itself.
        value: f64,
    },
    /// Two arguments that must be aligned have different lengths.
    #[error("{what}: `{left}` has {left_len} values but `{right}` has {right_len}")]
    LengthMismatch {
        /// Statistic being computed.
        what: &'static str,
        /// First argument name.
        left: &'static str,
        /// Its length.
        left_len: usize,
        /// Second argument name.
        right: &'static str,
        /// Its length.
        right_len: usize,
    },
    /// A class label is not below the number of classes.
    #[error("{what}: label {label} at index {index} is not below the class count {classes}")]
    LabelOutOfRange {
        /// Statistic being computed.
        what: &'static str,
        /// Position of the label.
        index: usize,
        /// The label.
        label: usize,
        /// Number of classes.
        classes: usize,
    },
    /// A class needed by the statistic has no member (or every item is in it).
    #[error("{what}: class {class} has {positives} of {total} items; both sides need at least one")]
    ClassAbsent {
        /// Statistic being computed.
        what: &'static str,
        /// The class.
        class: usize,
        /// Items in the class.
        positives: usize,
        /// All items.
        total: usize,
    },
    /// A tuning parameter is outside its range.
    #[error("{what}: parameter `{name}` = {found} is out of range; expected {expected}")]
    BadParameter {
        /// Statistic being computed.
        what: &'static str,
        /// Parameter name.
        name: &'static str,
        /// What was expected, in words.
        expected: &'static str,
        /// What was given.
        found: f64,
    },
    /// The data leave the statistic undefined (say, no discordant pairs for
    /// the chi-square McNemar test).
    #[error("{what}: undefined because {reason}")]
    Undefined {
        /// Statistic being computed.
        what: &'static str,
        /// Why, in words.
        reason: &'static str,
    },
}

/// Checks that `xs` is non-empty and every value is finite.
pub(crate) fn check_sample(
    what: &'static str,
    name: &'static str,
    xs: &[f64],
) -> Result<(), StatsError> {
    if xs.is_empty() {
        return Err(StatsError::Empty { what, name });
    }
    check_finite(what, name, xs)
}

/// Checks that every value of `xs` is finite (an empty slice passes).
pub(crate) fn check_finite(
    what: &'static str,
    name: &'static str,
    xs: &[f64],
) -> Result<(), StatsError> {
    match xs.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(StatsError::NonFinite {
            what,
            name,
            index,
            value: xs[index],
        }),
        None => Ok(()),
    }
}

/// Checks that two aligned arguments have the same length.
pub(crate) fn check_same_len(
    what: &'static str,
    (left, left_len): (&'static str, usize),
    (right, right_len): (&'static str, usize),
) -> Result<(), StatsError> {
    if left_len == right_len {
        Ok(())
    } else {
        Err(StatsError::LengthMismatch {
            what,
            left,
            left_len,
            right,
            right_len,
        })
    }
}

/// Checks that a count parameter lies in `1..=max`.
pub(crate) fn check_count(
    what: &'static str,
    name: &'static str,
    value: usize,
    max: usize,
    expected: &'static str,
) -> Result<(), StatsError> {
    if value == 0 || value > max {
        Err(StatsError::BadParameter {
            what,
            name,
            expected,
            found: value as f64,
        })
    } else {
        Ok(())
    }
}

/// Checks a bootstrap's settings: `resamples` in `1..=max` (`range` says
/// so in words) and a confidence `level` in (0, 1).
pub(crate) fn check_resampling(
    what: &'static str,
    resamples: usize,
    max: usize,
    range: &'static str,
    level: f64,
) -> Result<(), StatsError> {
    check_count(what, "resamples", resamples, max, range)?;
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(StatsError::BadParameter {
            what,
            name: "level",
            expected: "in (0, 1)",
            found: level,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_reported_with_its_index() {
        let err = check_sample("t", "x", &[1.0, f64::NAN]).unwrap_err();
        assert!(matches!(err, StatsError::NonFinite { index: 1, .. }));
        assert!(err.to_string().contains("index 1"));
    }

    #[test]
    fn empty_and_mismatch_are_errors() {
        assert_eq!(
            check_sample("t", "x", &[]),
            Err(StatsError::Empty {
                what: "t",
                name: "x"
            })
        );
        assert!(check_same_len("t", ("a", 2), ("b", 3)).is_err());
        assert!(check_same_len("t", ("a", 3), ("b", 3)).is_ok());
        assert!(check_count("t", "n", 0, 10, "1..=10").is_err());
        assert!(check_count("t", "n", 11, 10, "1..=10").is_err());
    }
}
