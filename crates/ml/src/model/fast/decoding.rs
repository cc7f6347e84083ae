//! Weights packed for decoding (module `packed`), held while one generation
//! runs: a decoding step reads every weight, and a generation takes dozens
//! of steps, so repacking each weight once at its first step pays for
//! itself many times over. The packed copies live in a per-thread scope
//! ([`with_packed_weights`]) and are freed when it ends, so weights that
//! change between generations (PPO's policy) are never read stale.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use burn_flex::FlexTensor;

use super::narrow::Layout;
use super::packed::Packed;

/// A weight's values by address, shape `(k, n)` and layout.
type Key = (usize, usize, usize, Layout);

/// One packed weight, with the tensor it came from: holding a clone keeps
/// Flex's copy-on-write storage alive and unchanged, so the address in the
/// key cannot name other values while the entry lives.
struct Entry {
    _source: FlexTensor,
    packed: Rc<Packed>,
}

thread_local! {
    /// The packed weights of the scope open on this thread, if any.
    static SCOPE: RefCell<Option<HashMap<Key, Entry>>> = const { RefCell::new(None) };
}

/// Runs `f` with every decoding product on this thread (at most 32 rows
/// against a Flex weight) reading a packed copy of its weight, made at the
/// weight's first use and freed when `f` returns. A call inside an open
/// scope shares it. Results are bit for bit those without the scope.
pub fn with_packed_weights<R>(f: impl FnOnce() -> R) -> R {
    let opened = SCOPE.with(|s| {
        let mut s = s.borrow_mut();
        if s.is_some() {
            return false;
        }
        *s = Some(HashMap::new());
        true
    });
    if !opened {
        return f();
    }
    /// Frees the scope's weights however `f` ends (a panic included).
    struct Close;
    impl Drop for Close {
        fn drop(&mut self) {
            SCOPE.with(|s| s.borrow_mut().take());
        }
    }
    let _close = Close;
    f()
}

/// The packed copy of the weight `values` (`k·n` of `source`'s storage,
/// stored as `layout` says), made now if this is its first use in the open
/// scope; `None` outside a scope.
pub(super) fn packed(
    source: &FlexTensor,
    values: &[f32],
    (k, n): (usize, usize),
    layout: Layout,
) -> Option<Rc<Packed>> {
    SCOPE.with(|s| {
        let mut s = s.borrow_mut();
        let map = s.as_mut()?;
        let entry = map
            .entry((values.as_ptr() as usize, k, n, layout))
            .or_insert_with(|| Entry {
                _source: source.clone(),
                packed: Rc::new(Packed::new(values, k, n, layout)),
            });
        Some(entry.packed.clone())
    })
}
