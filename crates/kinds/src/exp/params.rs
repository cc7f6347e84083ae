//! The values a pipeline file writes for the keys experiments override, so
//! the baseline row (and an experiment that left a key alone) shows what it
//! ran with rather than a blank.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;

use crate::dag::key::value_at;
use crate::spec::extends;

/// A value as a table shows it: strings bare, everything else as compact JSON.
pub fn show(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The written value of each dotted key in `keys` (`params.limit`,
/// `stages.rm.with.epochs`), after `extends:`; a key the file does not write
/// (a kind's default) is absent. An unreadable file gives an empty map: the
/// table still shows the overrides.
pub fn written(pipeline_file: &Path, keys: &[String]) -> BTreeMap<String, String> {
    let Ok(root) = extends::load(pipeline_file) else {
        return BTreeMap::new();
    };
    keys.iter()
        .filter_map(|k| {
            let path: Vec<&str> = k.split('.').collect();
            root.at_path(&path).map(|n| (k.clone(), show(&n.to_json())))
        })
        .collect()
}

/// The value at dotted `key` in a JSON tree (the pipeline as an experiment
/// recorded it), as the table shows it.
pub fn at(tree: &Json, key: &str) -> Option<String> {
    value_at(tree, key).map(show)
}

/// The pipeline file as written (after `extends:`) as JSON, for an
/// experiment to record; `Null` if it cannot be read.
pub fn snapshot(pipeline_file: &Path) -> Json {
    extends::load(pipeline_file)
        .map(|n| n.to_json())
        .unwrap_or(Json::Null)
}

/// An override's value as the table shows it: the YAML text parsed, so
/// `params.x=1.50` and the file's `1.5` compare equal.
pub fn normalise(value: &str) -> String {
    match serde_yaml_ng::from_str::<Json>(value) {
        Ok(Json::Null) | Err(_) => value.to_string(),
        Ok(v) => show(&v),
    }
}
