//! What a long-running library function (a training loop, an embedding pass)
//! needs from whoever runs it: seeds for its random streams, an interrupt
//! check, a log and a progress report. The stage layer implements it for a
//! running stage; tests implement it with [`Quiet`]. Libraries take
//! `&dyn Hooks`, never a stage context (ARCHITECTURE.md, "Layers").

use super::rng::derive_seed;

/// The run was interrupted (Ctrl-C, SIGTERM): stop and return this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// Services a library loop may use while it runs.
pub trait Hooks: Sync {
    /// The seed of one named random stream (`init`, `order`, `adversary`, …).
    fn seed(&self, purpose: &str) -> u64;
    /// `Err` once the run has been interrupted; long loops call it often.
    fn check(&self) -> Result<(), Interrupted>;
    /// Writes one line to the run's log.
    fn log(&self, line: &str);
    /// Reports progress of one phase (`what`): `done` of `total` items.
    fn progress(&self, what: &str, done: u64, total: u64);
}

/// Hooks for tests and tools: seeds from a base seed and a name, never
/// interrupted, no log, no progress.
#[derive(Debug, Clone)]
pub struct Quiet {
    /// The pipeline-level seed.
    pub seed: u64,
    /// The stage name the streams derive from.
    pub base: String,
}

impl Quiet {
    /// Hooks seeded like a stage `base` of a pipeline with `params.seed = seed`.
    pub fn new(seed: u64, base: &str) -> Self {
        Quiet {
            seed,
            base: base.to_string(),
        }
    }
}

impl Hooks for Quiet {
    fn seed(&self, purpose: &str) -> u64 {
        derive_seed(self.seed, &self.base, purpose)
    }
    fn check(&self) -> Result<(), Interrupted> {
        Ok(())
    }
    fn log(&self, _line: &str) {}
    fn progress(&self, _what: &str, _done: u64, _total: u64) {}
}

/// Forwards everything but progress (a loop nested in another one that
/// reports its own).
pub struct NoProgress<'a>(pub &'a dyn Hooks);

impl Hooks for NoProgress<'_> {
    fn seed(&self, purpose: &str) -> u64 {
        self.0.seed(purpose)
    }
    fn check(&self) -> Result<(), Interrupted> {
        self.0.check()
    }
    fn log(&self, line: &str) {
        self.0.log(line);
    }
    fn progress(&self, _what: &str, _done: u64, _total: u64) {}
}

/// Forwards everything but seeds, which derive from another base seed: a
/// stage's `with.seed` replacing `params.seed` in `H(seed, base, purpose)`
/// (ARCHITECTURE.md, "Determinism").
pub struct Reseeded<'a> {
    inner: &'a dyn Hooks,
    seed: u64,
    base: &'a str,
}

impl<'a> Reseeded<'a> {
    /// `inner`'s hooks with the streams of stage `base` under base seed `seed`.
    pub fn new(inner: &'a dyn Hooks, seed: u64, base: &'a str) -> Self {
        Reseeded { inner, seed, base }
    }
}

impl Hooks for Reseeded<'_> {
    fn seed(&self, purpose: &str) -> u64 {
        derive_seed(self.seed, self.base, purpose)
    }
    fn check(&self) -> Result<(), Interrupted> {
        self.inner.check()
    }
    fn log(&self, line: &str) {
        self.inner.log(line);
    }
    fn progress(&self, what: &str, done: u64, total: u64) {
        self.inner.progress(what, done, total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reseeded_streams_are_those_of_another_base_seed() {
        let params = Quiet::new(42, "rm");
        let r = Reseeded::new(&params, 3, "rm");
        assert_eq!(r.seed("init"), Quiet::new(3, "rm").seed("init"));
        assert_ne!(r.seed("init"), params.seed("init"));
        assert_ne!(r.seed("init"), Reseeded::new(&params, 4, "rm").seed("init"));
    }
}
