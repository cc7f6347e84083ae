//! The table of kinds the engine is handed (ARCHITECTURE.md, "Layers"): the
//! engine resolves a `kind:` (in a pipeline or a Slurm job file) through it and
//! never names the kinds themselves; the CLI hands it the built-in table
//! (`stages::registry::builtin()`).

use std::fmt;

use super::Kind;

/// The built-in stage kinds a `kind:` may name, besides `cmd` (which the
/// engine knows itself).
#[derive(Clone, Copy)]
pub struct Registry {
    kinds: &'static [&'static dyn Kind],
}

impl Registry {
    /// No built-in kinds: only `cmd` stages load (the engine's own tests).
    pub const EMPTY: Registry = Registry { kinds: &[] };

    /// A registry of `kinds`, in the order `repro kinds` lists them.
    pub const fn new(kinds: &'static [&'static dyn Kind]) -> Registry {
        Registry { kinds }
    }

    /// Every kind, in order.
    pub fn kinds(&self) -> &'static [&'static dyn Kind] {
        self.kinds
    }

    /// The kind called `name`, if any.
    pub fn find(&self, name: &str) -> Option<&'static dyn Kind> {
        self.kinds.iter().copied().find(|k| k.name() == name)
    }

    /// Every kind's name, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.name()).collect()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}
