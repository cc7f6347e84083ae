//! Loading pretrained weights: GGUF (with dequantisation), safetensors and
//! Hugging Face directories, into host f32 tensors and then Burn modules.

pub mod gguf;
pub mod gguf_tokenizer;
pub mod llama;
pub mod quant;
pub mod safetensors;

use std::path::PathBuf;

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::config::ConfigError;

/// An error loading a model.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A GGUF problem.
    #[error(transparent)]
    Gguf(#[from] gguf::GgufError),
    /// A configuration problem.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A tokenizer built from GGUF metadata failed.
    #[error(transparent)]
    GgufTokenizer(#[from] gguf_tokenizer::GgufTokenizerError),
    /// A safetensors file is malformed.
    #[error("{path}: {message}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What the safetensors crate said.
        message: String,
    },
    /// A tensor the model needs is absent.
    #[error("{source_name}: missing tensor `{name}`")]
    Missing {
        /// The checkpoint.
        source_name: String,
        /// The tensor.
        name: String,
    },
    /// A tensor has the wrong shape.
    #[error("{source_name}: tensor `{name}` has shape {found:?}, expected {expected:?}")]
    Shape {
        /// The checkpoint.
        source_name: String,
        /// The tensor.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor dtype we cannot convert to f32.
    #[error("{path}: tensor `{name}` has unsupported dtype {dtype}")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// The dtype.
        dtype: String,
    },
    /// A tokenizer.json could not be loaded.
    #[error("{path}: {message}")]
    Tokenizer {
        /// The file.
        path: PathBuf,
        /// What the tokenizers crate said.
        message: String,
    },
    /// Neither a GGUF file nor a directory with config.json.
    #[error(
        "{path}: not a GGUF file nor a Hugging Face model directory (config.json + model.safetensors)"
    )]
    Unrecognised {
        /// The path.
        path: PathBuf,
    },
    /// A loaded model's output could not be read back from the device.
    #[error(transparent)]
    Readback(#[from] crate::model::readback::ReadbackError),
}

/// A dense f32 tensor on the host, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Shape, outermost first.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// The transpose of a 2-D tensor.
    pub fn transpose2(&self) -> HostTensor {
        let (r, c) = (self.shape[0], self.shape[1]);
        let mut data = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                data[j * r + i] = self.data[i * c + j];
            }
        }
        HostTensor {
            shape: vec![c, r],
            data,
        }
    }

    /// Moves the values to a Burn tensor of rank `D`.
    pub fn into_tensor<B: Backend, const D: usize>(self, device: &B::Device) -> Tensor<B, D> {
        Tensor::from_data(TensorData::new(self.data, self.shape), device)
    }
}

/// Where named checkpoint tensors come from (HF names, torch layout).
pub trait WeightSource {
    /// A name for messages (the file or directory).
    fn source_name(&self) -> String;
    /// The tensor called `name` in HF naming, as f32, if present.
    fn get(&mut self, name: &str) -> Result<Option<HostTensor>, LoadError>;

    /// The tensor called `name`, checked to have `shape`.
    fn require(&mut self, name: &str, shape: &[usize]) -> Result<HostTensor, LoadError> {
        let t = self.get(name)?.ok_or_else(|| LoadError::Missing {
            source_name: self.source_name(),
            name: name.to_string(),
        })?;
        if t.shape != shape {
            return Err(LoadError::Shape {
                source_name: self.source_name(),
                name: name.to_string(),
                expected: shape.to_vec(),
                found: t.shape,
            });
        }
        Ok(t)
    }
}

/// Random weights for a model of a given shape (tests, benchmarks): every
/// requested tensor is `N(0, std²)`, except norm scales, which are ones.
#[derive(Debug, Clone)]
pub struct RandomSource {
    rng: crate::util::rng::SplitMix64,
    std: f64,
}

impl RandomSource {
    /// A source drawing from `seed` with standard deviation `std`.
    pub fn new(seed: u64, std: f64) -> Self {
        RandomSource {
            rng: crate::util::rng::SplitMix64::new(seed),
            std,
        }
    }
}

impl WeightSource for RandomSource {
    fn source_name(&self) -> String {
        "random".to_string()
    }

    fn get(&mut self, _name: &str) -> Result<Option<HostTensor>, LoadError> {
        Ok(None)
    }

    fn require(&mut self, name: &str, shape: &[usize]) -> Result<HostTensor, LoadError> {
        let n = shape.iter().product();
        let data = if name.ends_with("norm.weight") {
            vec![1.0; n]
        } else {
            self.rng.normal_vec(n, self.std)
        };
        Ok(HostTensor {
            shape: shape.to_vec(),
            data,
        })
    }
}
