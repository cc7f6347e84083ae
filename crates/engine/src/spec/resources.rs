//! Where stages run: the pipeline's `executor:` defaults and each stage's
//! `resources: { cpus, mem, gpus, time, partition }`, checked at parse time.
//! Neither is key material: where a stage runs does not change what it
//! computes (the backend, which can, is keyed separately).

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::error::{SpecError, join};
use super::interp::{Lookup, resolve};
use super::node::{Node, Scalar, Value};

/// Keys of a `resources:` map.
pub const RESOURCE_KEYS: &[&str] = &["cpus", "mem", "gpus", "time", "partition"];
/// Keys of an `executor:` map.
pub const EXECUTOR_KEYS: &[&str] = &["kind", "slurm_opts", "resources"];

/// What a stage asks of the machine it runs on. Every field is optional: an
/// absent one is left to the scheduler's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// CPUs for the stage (1..=100000); also the threads a built-in kind uses under Slurm.
    pub cpus: Option<u32>,
    /// Memory, in Slurm's syntax: MiB without a suffix, else `K`, `M`, `G` or `T` (`16G`).
    pub mem: Option<String>,
    /// GPUs (0..=1024); 0 asks for none.
    pub gpus: Option<u32>,
    /// Wall-time limit in Slurm's syntax (`MM`, `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]`).
    pub time: Option<String>,
    /// Partition (or comma-separated partitions).
    pub partition: Option<String>,
}

impl Resources {
    /// `self` with every field `over` sets replaced.
    pub fn merged(&self, over: &Resources) -> Resources {
        Resources {
            cpus: over.cpus.or(self.cpus),
            mem: over.mem.clone().or_else(|| self.mem.clone()),
            gpus: over.gpus.or(self.gpus),
            time: over.time.clone().or_else(|| self.time.clone()),
            partition: over.partition.clone().or_else(|| self.partition.clone()),
        }
    }

    /// Whether nothing is asked for.
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }
}

/// Which executor runs the stages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExecutorKind {
    /// Child processes of `repro` (the default).
    #[default]
    Local,
    /// One Slurm job per stage.
    Slurm,
}

impl ExecutorKind {
    /// The name as written in YAML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ExecutorKind::Local => "local",
            ExecutorKind::Slurm => "slurm",
        }
    }

    /// Parses `local` or `slurm`.
    pub fn parse(s: &str) -> Option<ExecutorKind> {
        match s {
            "local" => Some(ExecutorKind::Local),
            "slurm" => Some(ExecutorKind::Slurm),
            _ => None,
        }
    }
}

/// The pipeline's `executor:` section: defaults the command line overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutorSpec {
    /// `kind:` (`local` unless set).
    pub kind: ExecutorKind,
    /// Extra `sbatch` arguments for every job (`--account=x`), before `--slurm-opt`s.
    pub slurm_opts: Vec<String>,
    /// Default resources for every stage; a stage's own `resources:` wins field by field.
    pub resources: Resources,
}

fn entries<'a>(node: &'a Node, path: &str) -> Result<&'a [(String, Node)], SpecError> {
    match &node.value {
        Value::Map(e) => Ok(e),
        Value::Scalar(Scalar::Null) => Ok(&[]),
        _ => Err(SpecError::at(
            &node.mark,
            path,
            format!("expected a map, found {}", node.type_name()),
        )),
    }
}

fn unknown(key: &str, node: &Node, path: &str, allowed: &[&str]) -> SpecError {
    SpecError::at(
        node.pos(),
        join(path, key),
        format!(
            "unknown key `{key}` (expected one of: {})",
            allowed.join(", ")
        ),
    )
}

/// Parses a `resources:` map at `path`; `${…}` references resolve in `scope`.
pub fn parse_resources(
    node: &Node,
    path: &str,
    scope: &mut dyn Lookup,
) -> Result<Resources, SpecError> {
    let mut r = Resources::default();
    for (k, v) in entries(node, path)? {
        let kpath = join(path, k);
        let value = resolve(v, &kpath, scope)?;
        let bad = |m: String| SpecError::at(&v.mark, &kpath, m);
        match k.as_str() {
            "cpus" => r.cpus = Some(count(&value, 1, 100_000).map_err(bad)?),
            "gpus" => r.gpus = Some(count(&value, 0, 1024).map_err(bad)?),
            "mem" => r.mem = Some(mem(&value).map_err(bad)?),
            "time" => r.time = Some(time(&value).map_err(bad)?),
            "partition" => r.partition = Some(partition(&value).map_err(bad)?),
            _ => return Err(unknown(k, v, path, RESOURCE_KEYS)),
        }
    }
    Ok(r)
}

/// Parses the top-level `executor:` (a name, or a map of [`EXECUTOR_KEYS`]).
pub fn parse_executor(node: &Node, scope: &mut dyn Lookup) -> Result<ExecutorSpec, SpecError> {
    let path = "executor";
    let kind_of = |n: &Node, p: &str| -> Result<ExecutorKind, SpecError> {
        n.as_str()
            .and_then(ExecutorKind::parse)
            .ok_or_else(|| SpecError::at(&n.mark, p, "expected `local` or `slurm`"))
    };
    if let Value::Scalar(Scalar::Str(_)) = node.value {
        return Ok(ExecutorSpec {
            kind: kind_of(node, path)?,
            ..Default::default()
        });
    }
    let mut spec = ExecutorSpec::default();
    for (k, v) in entries(node, path)? {
        let kpath = join(path, k);
        match k.as_str() {
            "kind" => spec.kind = kind_of(v, &kpath)?,
            "resources" => spec.resources = parse_resources(v, &kpath, scope)?,
            "slurm_opts" => {
                let Json::Array(items) = resolve(v, &kpath, scope)? else {
                    return Err(SpecError::at(
                        &v.mark,
                        &kpath,
                        format!(
                            "expected a list of sbatch arguments, found {}",
                            v.type_name()
                        ),
                    ));
                };
                for (i, item) in items.into_iter().enumerate() {
                    match item {
                        Json::String(s) if s.starts_with('-') => spec.slurm_opts.push(s),
                        other => {
                            return Err(SpecError::at(
                                &v.mark,
                                join(&kpath, &i.to_string()),
                                format!(
                                    "expected an sbatch option such as `--account=x`, found {other}"
                                ),
                            ));
                        }
                    }
                }
            }
            _ => return Err(unknown(k, v, path, EXECUTOR_KEYS)),
        }
    }
    Ok(spec)
}

fn count(v: &Json, min: u64, max: u64) -> Result<u32, String> {
    match v.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n as u32),
        _ => Err(format!(
            "expected an integer from {min} to {max}, found {v}"
        )),
    }
}

/// `4096` (MiB), `500M`, `16G`: Slurm's `--mem` syntax.
fn mem(v: &Json) -> Result<String, String> {
    let expected = || format!("expected a memory size such as 4096 (MiB), 500M or 16G, found {v}");
    let s = match v {
        Json::Number(n) => n
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(expected)?
            .to_string(),
        Json::String(s) => s.trim().to_string(),
        _ => return Err(expected()),
    };
    let digits = s.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    let suffix_len = s.len() - digits.len();
    let ok = suffix_len <= 1
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.bytes().any(|b| b != b'0');
    if !ok {
        return Err(expected());
    }
    Ok(s.to_ascii_uppercase())
}

/// Slurm's `--time` syntax; an integer is minutes.
fn time(v: &Json) -> Result<String, String> {
    let expected = || {
        format!(
            "expected a time limit such as 30 (minutes), \"4:00:00\" or \"1-12:00:00\", found {v}"
        )
    };
    let s = match v {
        Json::Number(n) => n
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(expected)?
            .to_string(),
        Json::String(s) => s.trim().to_string(),
        _ => return Err(expected()),
    };
    let num = |p: &str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit());
    let ok = match s.split_once('-') {
        // days-hours[:minutes[:seconds]]
        Some((d, rest)) => {
            let parts: Vec<&str> = rest.split(':').collect();
            num(d) && parts.len() <= 3 && parts.iter().all(|p| num(p))
        }
        // minutes | minutes:seconds | hours:minutes:seconds
        None => {
            let parts: Vec<&str> = s.split(':').collect();
            parts.len() <= 3 && parts.iter().all(|p| num(p))
        }
    };
    if !ok || s.bytes().filter(|b| b.is_ascii_digit()).all(|b| b == b'0') {
        return Err(expected());
    }
    Ok(s)
}

fn partition(v: &Json) -> Result<String, String> {
    match v {
        Json::String(s)
            if !s.is_empty()
                && s.split(',').all(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
                }) =>
        {
            Ok(s.clone())
        }
        _ => Err(format!(
            "expected a partition name (letters, digits, `_-.`; several joined by `,`), found {v}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_and_times_follow_slurm_syntax() {
        assert_eq!(mem(&json!(4096)).unwrap(), "4096");
        assert_eq!(mem(&json!("16g")).unwrap(), "16G");
        for bad in [
            json!("16GB"),
            json!("G"),
            json!(0),
            json!("-1G"),
            json!(1.5),
            json!("0M"),
        ] {
            assert!(mem(&bad).is_err(), "{bad}");
        }
        for good in ["30", "30:00", "4:00:00", "1-12", "1-12:30", "2-00:00:00"] {
            assert_eq!(time(&json!(good)).unwrap(), good);
        }
        assert_eq!(time(&json!(90)).unwrap(), "90");
        for bad in [
            json!("1:2:3:4"),
            json!("a"),
            json!("0"),
            json!(""),
            json!("1-"),
            json!(true),
        ] {
            assert!(time(&bad).is_err(), "{bad}");
        }
        assert!(partition(&json!("gpu,debug")).is_ok());
        assert!(partition(&json!("gpu;rm -rf")).is_err());
        assert!(count(&json!(0), 1, 10).is_err());
        assert_eq!(count(&json!(0), 0, 10).unwrap(), 0);
    }

    #[test]
    fn a_stage_overrides_the_defaults_field_by_field() {
        let d = Resources {
            cpus: Some(2),
            time: Some("10".into()),
            ..Default::default()
        };
        let s = Resources {
            cpus: Some(8),
            gpus: Some(1),
            ..Default::default()
        };
        let m = d.merged(&s);
        assert_eq!(m.cpus, Some(8));
        assert_eq!(m.gpus, Some(1));
        assert_eq!(m.time.as_deref(), Some("10"));
    }
}
