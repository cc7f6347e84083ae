//! A kind written against its typed `with` struct (ARCHITECTURE.md, "Adding a
//! kind"): the struct is the one description of the kind's keys. Its serde
//! derive parses them, its `Default` gives the defaults, its `JsonSchema`
//! derive gives the field table (doc comments included) and the bounds the
//! engine checks, and the blanket implementation turns any [`TypedKind`] into
//! the object-safe [`Kind`] the engine holds.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::context::{Roots, StageContext};
use super::contract::{Field, KeyDep, Kind, KindInfo, Upstream};
use super::fields::fields_of;
use super::{WithError, parse_with};
use crate::util::schema::check_bounds;

/// A built-in stage kind with a typed `with` struct.
pub trait TypedKind: Send + Sync {
    /// The `with` map: serde (with `deny_unknown_fields` and a container
    /// `default`), `Default`, and `JsonSchema` with the bounds as attributes.
    type With: DeserializeOwned + Serialize + Default + JsonSchema;
    /// The kind's static description.
    fn info(&self) -> &'static KindInfo;
    /// Checks that bounds cannot say (keys that depend on each other), after
    /// parsing and the schema's bounds.
    fn validate(&self, _with: &Self::With) -> Result<(), WithError> {
        Ok(())
    }
    /// Files and pins besides inputs that the key must cover (sources).
    fn key_deps(&self, _with: &Self::With, _roots: &Roots) -> Result<Vec<KeyDep>, WithError> {
        Ok(Vec::new())
    }
    /// Checks what is wired into each input slot ([`Kind::check_inputs`]).
    fn check_inputs(
        &self,
        _with: &Self::With,
        _inputs: &BTreeMap<String, Vec<Upstream<'_>>>,
    ) -> Result<(), WithError> {
        Ok(())
    }
    /// Runs the stage on its checked `with`.
    fn run(&self, ctx: &StageContext, with: Self::With) -> anyhow::Result<()>;
}

/// Parses `with` into `K`'s struct and checks it: serde (types, unknown
/// keys), the schema's bounds, then [`TypedKind::validate`].
pub fn parse_typed<K: TypedKind + ?Sized>(kind: &K, with: &Value) -> Result<K::With, WithError> {
    let w: K::With = parse_with(with)?;
    check_bounds(&w)?;
    kind.validate(&w)?;
    Ok(w)
}

impl<K: TypedKind> Kind for K {
    fn info(&self) -> &'static KindInfo {
        TypedKind::info(self)
    }
    fn fields(&self) -> Vec<Field> {
        fields_of::<K::With>()
    }
    fn defaults(&self) -> Value {
        // default: a `Default` that does not serialize is a bug the registry
        // test catches (every kind's defaults must be a map).
        serde_json::to_value(K::With::default()).unwrap_or(Value::Null)
    }
    fn check(&self, with: &Value) -> Result<(), WithError> {
        parse_typed(self, with).map(|_| ())
    }
    fn key_deps(&self, with: &Value, roots: &Roots) -> Result<Vec<KeyDep>, WithError> {
        TypedKind::key_deps(self, &parse_typed(self, with)?, roots)
    }
    fn check_inputs(
        &self,
        with: &Value,
        inputs: &BTreeMap<String, Vec<Upstream<'_>>>,
    ) -> Result<(), WithError> {
        TypedKind::check_inputs(self, &parse_typed(self, with)?, inputs)
    }
    fn run(&self, ctx: &StageContext) -> anyhow::Result<()> {
        let with = parse_typed(self, &ctx.with)?;
        TypedKind::run(self, ctx, with)
    }
}
