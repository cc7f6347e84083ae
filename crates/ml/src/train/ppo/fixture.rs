//! Test helper: the numpy reference values of `tests/fixtures/ppo/`
//! (written by `make_fixture.py` there).

use serde_json::Value;

/// `tests/fixtures/ppo/reference.json`.
pub fn fixture() -> Value {
    let p = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/fixtures/ppo/reference.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// The entries of a padded 2-D array `x` where the 0/1 `mask` is 1, row by row.
pub fn ragged(x: &Value, mask: &Value) -> Vec<Vec<f64>> {
    let x: Vec<Vec<f64>> = serde_json::from_value(x.clone()).unwrap();
    let m: Vec<Vec<f64>> = serde_json::from_value(mask.clone()).unwrap();
    x.iter()
        .zip(&m)
        .map(|(r, mr)| {
            r.iter()
                .zip(mr)
                .filter(|(_, k)| **k > 0.5)
                .map(|(v, _)| *v)
                .collect()
        })
        .collect()
}

/// A padded 2-D array as a flat f32 vector and its shape.
pub fn flat(x: &Value) -> (Vec<f32>, [usize; 2]) {
    let x: Vec<Vec<f64>> = serde_json::from_value(x.clone()).unwrap();
    let shape = [x.len(), x.first().map_or(0, Vec::len)];
    (x.into_iter().flatten().map(|v| v as f32).collect(), shape)
}
