//! Bounds on what a pipeline file may declare, checked at parse time so a
//! hostile or mistyped file fails fast (exit 2) instead of exhausting memory
//! or failing half-way through a run. The README's "Limits" list quotes them.

/// Longest text one value may reach through `${params.…}` / `${matrix.…}`
/// substitution, in bytes (1 MiB). Lengths are added up before any string is
/// built, so a param that doubles per level fails at the level that crosses
/// this bound without allocating the oversized text (issue 9).
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// Longest stage name, matrix key or formatted matrix value, in bytes; also
/// the longest expansion name (`stage[k=v,…]`). Names become file names
/// (`logs/<stage>/`, `results/<stem>/<stage>/`, and the staging directory
/// `tmp/<time>-<pid>-<n>-<stage>`, whose prefix takes up to 55 more bytes of
/// the 255 a file name may have).
pub const MAX_NAME_BYTES: usize = 200;

/// Deepest chain of params referring to params (`a` → `b` → … ), so that
/// resolving them cannot exhaust the stack.
pub const MAX_PARAM_DEPTH: usize = 256;
