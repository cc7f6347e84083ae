//! Compute backends a Burn stage can run on, by name: chosen once at the CLI,
//! recorded in keys and records, and the version line naming those compiled in.
//! Turning a name into a Burn type is `repro_ml::on_backend!` (the engine has no Burn).

use std::fmt;
use std::str::FromStr;

/// `repro 0.1.0 (backends: flex)`: the version line of `--version` and of
/// Slurm job files.
pub fn version_line() -> &'static str {
    static LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LINE.get_or_init(|| {
        format!(
            "{} (backends: {})",
            env!("CARGO_PKG_VERSION"),
            Backend::available_names()
        )
    })
}

/// A compute backend. Only those compiled in (cargo features) can be chosen.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Burn's pure-Rust CPU backend (default).
    #[default]
    Flex,
    /// Burn's CUDA backend (feature `cuda`; NVRTC at run time).
    Cuda,
    /// LibTorch through `tch` (feature `tch`).
    Tch,
}

impl Backend {
    /// Every backend, compiled in or not.
    pub const ALL: [Backend; 3] = [Backend::Flex, Backend::Cuda, Backend::Tch];

    /// Name as written on the command line and in records.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Cuda => "cuda",
            Backend::Tch => "tch",
        }
    }

    /// Whether this binary was built with the backend.
    pub fn compiled_in(self) -> bool {
        match self {
            Backend::Flex => true,
            Backend::Cuda => cfg!(feature = "cuda"),
            Backend::Tch => cfg!(feature = "tch"),
        }
    }

    /// The backends compiled into this binary.
    pub fn available() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.compiled_in()).collect()
    }

    /// Their names, comma-separated (`flex, cuda`).
    pub fn available_names() -> String {
        let names: Vec<&str> = Self::available().iter().map(|b| b.name()).collect();
        names.join(", ")
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A backend this binary was built without.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "backend `{0}` is not compiled into this binary (built with: {built}); rebuild with --features {0}",
    built = Backend::available_names()
)]
pub struct NotCompiledIn(pub Backend);

/// An unknown backend name.
#[derive(Debug, thiserror::Error)]
#[error("unknown backend `{0}` (expected flex, cuda or tch)")]
pub struct UnknownBackend(String);

impl FromStr for Backend {
    type Err = UnknownBackend;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "flex" => Ok(Backend::Flex),
            "cuda" => Ok(Backend::Cuda),
            "tch" => Ok(Backend::Tch),
            other => Err(UnknownBackend(other.to_string())),
        }
    }
}
