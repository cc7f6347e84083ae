//! Where experiments live: `<store>/experiments/<pipeline stem>/<name>.json`
//! (what was overridden, when) beside `<name>.lock` (the run's lockfile, the
//! same format as the pipeline's). Every file is written atomically, so a
//! reader never needs the store lock: `exp show` answers while a run holds it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{ExpError, io};
use super::name;
use crate::store::Lockfile;
use crate::store::record::write_atomic;

/// Experiment file format version.
pub const EXP_SCHEMA: u32 = 1;

/// One experiment's description (its lockfile is beside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// Format version.
    pub schema: u32,
    /// Its name.
    pub name: String,
    /// The pipeline file's stem (the store's key for the pipeline).
    pub pipeline: String,
    /// The `--set KEY=VALUE` overrides, in the order given.
    pub overrides: Vec<String>,
    /// When it was first run, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created: String,
    /// The pipeline file as written when it last ran (after `extends:`,
    /// before the overrides), as JSON: the values of the keys it did not
    /// override, whatever the file says later (`exp apply` edits it).
    #[serde(default)]
    pub written: serde_json::Value,
}

impl Experiment {
    /// The overrides as `(KEY, VALUE)` pairs.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.overrides
            .iter()
            .map(|o| match o.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (o.clone(), String::new()),
            })
            .collect()
    }
}

/// The experiments of one pipeline in one store.
#[derive(Debug, Clone)]
pub struct Experiments {
    /// `<store>/experiments/<stem>`.
    dir: PathBuf,
    /// The pipeline's stem.
    stem: String,
}

/// The stem that keys a pipeline file's experiments (as its lockfile's name).
pub fn stem_of(pipeline_file: &Path) -> String {
    pipeline_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pipeline".into())
}

/// The directory of every pipeline's experiments in a store.
pub fn root(store_root: &Path) -> PathBuf {
    store_root.join("experiments")
}

impl Experiments {
    /// The experiments of `pipeline_file` in the store at `store_root`.
    pub fn of(store_root: &Path, pipeline_file: &Path) -> Experiments {
        Experiments::of_stem(store_root, &stem_of(pipeline_file))
    }

    /// The experiments of the pipeline with stem `stem`.
    pub fn of_stem(store_root: &Path, stem: &str) -> Experiments {
        Experiments {
            dir: root(store_root).join(stem),
            stem: stem.to_string(),
        }
    }

    /// The pipeline's stem.
    pub fn stem(&self) -> &str {
        &self.stem
    }

    /// The lockfile of experiment `name`.
    pub fn lock_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.lock"))
    }

    /// The description file of experiment `name`.
    pub fn meta_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// The names of every experiment, sorted.
    ///
    /// # Errors
    /// The directory exists but cannot be read.
    pub fn names(&self) -> Result<Vec<String>, ExpError> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir)(e)),
        };
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.strip_suffix(".json").map(str::to_string)
            })
            .filter(|n| name::check(n).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Every experiment, oldest first (then by name).
    ///
    /// # Errors
    /// A description that cannot be read or parsed.
    pub fn list(&self) -> Result<Vec<Experiment>, ExpError> {
        let mut v = Vec::new();
        for n in self.names()? {
            v.push(self.get(&n)?);
        }
        v.sort_by(|a, b| (&a.created, &a.name).cmp(&(&b.created, &b.name)));
        Ok(v)
    }

    /// Experiment `name`'s description.
    ///
    /// # Errors
    /// [`ExpError::Unknown`] (listing the known ones) or an unreadable file.
    pub fn get(&self, name: &str) -> Result<Experiment, ExpError> {
        let path = self.meta_path(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) if name::check(name).is_ok() => t,
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path)(e)),
            _ => {
                return Err(ExpError::Unknown {
                    name: name.to_string(),
                    pipeline: self.stem.clone(),
                    known: self.names()?,
                });
            }
        };
        serde_json::from_str(&text).map_err(|e| ExpError::Malformed {
            path,
            message: e.to_string(),
        })
    }

    /// Experiment `name`'s lockfile (empty if its run recorded nothing yet).
    ///
    /// # Errors
    /// Unknown name, or a lockfile that does not parse.
    pub fn lock(&self, name: &str) -> Result<Lockfile, ExpError> {
        self.get(name)?;
        Ok(Lockfile::load(&self.lock_path(name))?)
    }

    /// Records `exp` (atomically) and, when it has no lockfile yet, starts
    /// one from `start` (the pipeline's lock: the stages the overrides do
    /// not touch stay fresh).
    ///
    /// # Errors
    /// Writing fails.
    pub fn save(&self, exp: &Experiment, start: &Lockfile) -> Result<(), ExpError> {
        name::check(&exp.name)?;
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let lock = self.lock_path(&exp.name);
        if !lock.exists() {
            start.save(&lock)?;
        }
        let text = serde_json::to_string_pretty(exp).map_err(|e| ExpError::Malformed {
            path: self.meta_path(&exp.name),
            message: e.to_string(),
        })?;
        write_atomic(&self.meta_path(&exp.name), format!("{text}\n").as_bytes())?;
        Ok(())
    }

    /// Writes a whole experiment as fetched from elsewhere (`pull`): lock
    /// first, description last, so a half-written one is never listed.
    ///
    /// # Errors
    /// Writing fails.
    pub fn put_raw(&self, name: &str, meta: &[u8], lock: &[u8]) -> Result<(), ExpError> {
        name::check(name)?;
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        write_atomic(&self.lock_path(name), lock)?;
        write_atomic(&self.meta_path(name), meta)?;
        Ok(())
    }

    /// Deletes experiment `name` (description first, so it is never listed
    /// without its lockfile).
    ///
    /// # Errors
    /// Unknown name, or deleting fails.
    pub fn remove(&self, name: &str) -> Result<(), ExpError> {
        self.get(name)?;
        for p in [self.meta_path(name), self.lock_path(name)] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&p)(e)),
            }
        }
        Ok(())
    }
}

/// The lockfiles of every experiment of every pipeline in a store: what
/// `gc` must keep.
///
/// # Errors
/// A directory that exists but cannot be read.
pub fn all_locks(store_root: &Path) -> Result<Vec<PathBuf>, ExpError> {
    let dir = root(store_root);
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&dir)(e)),
    };
    let mut out = Vec::new();
    for pipeline in rd.flatten() {
        let stem = pipeline.file_name().to_string_lossy().into_owned();
        let exps = Experiments::of_stem(store_root, &stem);
        for n in exps.names()? {
            let l = exps.lock_path(&n);
            if l.is_file() {
                out.push(l);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(name: &str, created: &str) -> Experiment {
        Experiment {
            schema: EXP_SCHEMA,
            name: name.into(),
            pipeline: "p".into(),
            overrides: vec!["params.n=5".into()],
            created: created.into(),
            written: serde_json::Value::Null,
        }
    }

    #[test]
    fn saved_experiments_list_oldest_first_and_remove_cleanly() {
        let t = tempfile::tempdir().unwrap();
        let e = Experiments::of(t.path(), Path::new("dir/p.yaml"));
        assert!(e.list().unwrap().is_empty());
        let start = Lockfile {
            schema: 1,
            pipeline: "p".into(),
            ..Default::default()
        };
        e.save(&exp("b", "2026-01-01T00:00:00Z"), &start).unwrap();
        e.save(&exp("a", "2026-01-02T00:00:00Z"), &start).unwrap();
        let names: Vec<String> = e.list().unwrap().into_iter().map(|x| x.name).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(e.lock("a").unwrap(), start);
        assert_eq!(all_locks(t.path()).unwrap().len(), 2);
        e.remove("a").unwrap();
        match e.get("a") {
            Err(ExpError::Unknown { known, .. }) => assert_eq!(known, ["b"]),
            other => panic!("{other:?}"),
        }
        assert!(e.get("../../etc/passwd").is_err());
    }
}
