//! Test support: loads the reference values computed with scipy, sklearn
//! and statsmodels by `tests/fixtures/stats/make_fixtures.py`, and rebuilds
//! the samples the script describes by seed instead of listing them.

use serde_json::Value;

use crate::util::rng::SplitMix64;

/// The parsed fixture file.
pub(crate) struct Fixture(Value);

/// One reference case.
pub(crate) struct Case<'a>(&'a Value);

impl Fixture {
    /// Parses the fixture compiled into the test binary.
    pub(crate) fn load() -> Self {
        let text = include_str!("../../../../../tests/fixtures/stats/fixtures.json");
        Self(serde_json::from_str(text).expect("fixture JSON parses"))
    }

    /// Parses the evaluation-stage fixture (`tests/fixtures/stats/eval_fixtures.json`,
    /// made by `make_eval_fixtures.py`).
    pub(crate) fn load_eval() -> Self {
        let text = include_str!("../../../../../tests/fixtures/stats/eval_fixtures.json");
        Self(serde_json::from_str(text).expect("fixture JSON parses"))
    }

    /// The cases of one statistic.
    pub(crate) fn cases(&self, key: &str) -> Vec<Case<'_>> {
        self.0[key]
            .as_array()
            .unwrap_or_else(|| panic!("fixture has no `{key}`"))
            .iter()
            .map(Case)
            .collect()
    }
}

impl Case<'_> {
    /// Case name, for messages.
    pub(crate) fn name(&self) -> String {
        self.0["name"].as_str().unwrap_or("?").to_string()
    }

    /// A number.
    pub(crate) fn num(&self, key: &str) -> f64 {
        self.0[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{}: no number `{key}`", self.name()))
    }

    /// A number or a default.
    pub(crate) fn num_or(&self, key: &str, default: f64) -> f64 {
        self.0[key].as_f64().unwrap_or(default)
    }

    /// An unsigned integer.
    pub(crate) fn int(&self, key: &str) -> u64 {
        self.0[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{}: no integer `{key}`", self.name()))
    }

    /// An unsigned integer, if present.
    pub(crate) fn opt_int(&self, key: &str) -> Option<u64> {
        self.0[key].as_u64()
    }

    /// A string.
    pub(crate) fn str(&self, key: &str) -> String {
        self.0[key]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no string `{key}`", self.name()))
            .to_string()
    }

    /// A list of numbers.
    pub(crate) fn nums(&self, key: &str) -> Vec<f64> {
        let arr = self.0[key]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no list `{key}`", self.name()));
        arr.iter().map(|v| v.as_f64().expect("number")).collect()
    }

    /// A list of class labels.
    pub(crate) fn labels(&self, key: &str) -> Vec<usize> {
        let arr = self.0[key]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no list `{key}`", self.name()));
        arr.iter()
            .map(|v| v.as_u64().expect("label") as usize)
            .collect()
    }

    /// A sample: a literal list, or `{seed, n, scale, shift, levels, shape}`
    /// regenerated with [`gen_sample`].
    pub(crate) fn sample(&self, key: &str) -> Vec<f64> {
        let v = &self.0[key];
        if v.is_array() {
            return self.nums(key);
        }
        let g = |k: &str| {
            v[k].as_f64()
                .unwrap_or_else(|| panic!("{}: `{key}.{k}` missing", self.name()))
        };
        gen_sample(
            v["seed"].as_u64().expect("seed"),
            v["n"].as_u64().expect("n") as usize,
            g("scale"),
            g("shift"),
            v["levels"].as_u64().unwrap_or(0),
            v["shape"].as_str().unwrap_or("uniform"),
        )
    }
}

/// Deterministic sample shared with the Python script: `u` uniform in
/// [0,1) from SplitMix64 (`shape = "uniform"`) or the sum of four such
/// minus 2 (`"sum4"`, bell-shaped); optionally floored onto `levels` steps
/// per unit to make ties; then `x * scale + shift`. Only IEEE-exact
/// operations, so both languages get the same bits.
pub(crate) fn gen_sample(
    seed: u64,
    n: usize,
    scale: f64,
    shift: f64,
    levels: u64,
    shape: &str,
) -> Vec<f64> {
    let mut r = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let mut u = match shape {
                "sum4" => r.next_f64() + r.next_f64() + r.next_f64() + r.next_f64() - 2.0,
                _ => r.next_f64(),
            };
            if levels > 0 {
                u = (u * levels as f64).floor() / levels as f64;
            }
            u * scale + shift
        })
        .collect()
}

/// Asserts `|got - want| <= rtol * max(|want|, tiny)` with a readable message.
pub(crate) fn assert_close(got: f64, want: f64, rtol: f64, what: &str) {
    let scale = want.abs().max(1e-300);
    let ok = (got - want).abs() <= rtol * scale || got == want;
    assert!(
        ok,
        "{what}: got {got:e}, want {want:e} (rel err {:e}, rtol {rtol:e})",
        (got - want).abs() / scale
    );
}
