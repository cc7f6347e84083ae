//! Safetensors checkpoints, single-file or sharded
//! (`model.safetensors.index.json`), with f32, f16 and bf16 cast to f32.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors};

use super::{HostTensor, LoadError, WeightSource};

/// Tensors of one or several safetensors files, read on demand.
#[derive(Debug)]
pub struct SafetensorsSource {
    dir: PathBuf,
    /// Tensor name → file holding it.
    index: BTreeMap<String, PathBuf>,
    /// The file currently held in memory, with its bytes.
    loaded: Option<(PathBuf, Vec<u8>)>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LoadError + '_ {
    move |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl SafetensorsSource {
    /// Opens `dir/model.safetensors` or, failing that, the sharded index.
    pub fn open_dir(dir: &Path) -> Result<Self, LoadError> {
        let single = dir.join("model.safetensors");
        let index_path = dir.join("model.safetensors.index.json");
        if single.is_file() {
            return Self::open_file(&single);
        }
        let text = std::fs::read_to_string(&index_path).map_err(io(&index_path))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| LoadError::Safetensors {
                path: index_path.clone(),
                message: e.to_string(),
            })?;
        let map = v
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| LoadError::Safetensors {
                path: index_path.clone(),
                message: "no `weight_map` object".to_string(),
            })?;
        let mut index = BTreeMap::new();
        for (name, file) in map {
            let file = file.as_str().ok_or_else(|| LoadError::Safetensors {
                path: index_path.clone(),
                message: format!("weight_map[{name}] is not a file name"),
            })?;
            if file.contains('/') || file.contains("..") {
                return Err(LoadError::Safetensors {
                    path: index_path.clone(),
                    message: format!("weight_map[{name}] = {file:?} leaves the directory"),
                });
            }
            index.insert(name.clone(), dir.join(file));
        }
        Ok(SafetensorsSource {
            dir: dir.to_path_buf(),
            index,
            loaded: None,
        })
    }

    /// Opens one safetensors file.
    pub fn open_file(path: &Path) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(io(path))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| LoadError::Safetensors {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let index = st
            .names()
            .into_iter()
            .map(|n| (n.to_string(), path.to_path_buf()))
            .collect();
        Ok(SafetensorsSource {
            dir: path.parent().map_or_else(PathBuf::new, Path::to_path_buf),
            index,
            loaded: Some((path.to_path_buf(), bytes)),
        })
    }

    /// Every tensor name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }
}

/// Converts one tensor view to f32.
pub fn to_f32(path: &Path, name: &str, dtype: Dtype, bytes: &[u8]) -> Result<Vec<f32>, LoadError> {
    Ok(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        other => {
            return Err(LoadError::Dtype {
                path: path.to_path_buf(),
                name: name.to_string(),
                dtype: format!("{other:?}"),
            });
        }
    })
}

impl WeightSource for SafetensorsSource {
    fn source_name(&self) -> String {
        self.dir.display().to_string()
    }

    fn get(&mut self, name: &str) -> Result<Option<HostTensor>, LoadError> {
        let Some(file) = self.index.get(name).cloned() else {
            return Ok(None);
        };
        if self.loaded.as_ref().is_none_or(|(p, _)| *p != file) {
            let bytes = std::fs::read(&file).map_err(io(&file))?;
            self.loaded = Some((file.clone(), bytes));
        }
        let Some((_, bytes)) = &self.loaded else {
            return Ok(None);
        };
        let st = SafeTensors::deserialize(bytes).map_err(|e| LoadError::Safetensors {
            path: file.clone(),
            message: e.to_string(),
        })?;
        let view = match st.tensor(name) {
            Ok(v) => v,
            Err(_) => return Ok(None),
        };
        let data = to_f32(&file, name, view.dtype(), view.data())?;
        Ok(Some(HostTensor {
            shape: view.shape().to_vec(),
            data,
        }))
    }
}
