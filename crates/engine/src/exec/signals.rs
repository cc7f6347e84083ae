//! Ctrl-C and SIGTERM: set a flag the executor and stages poll, so running
//! commands are stopped and the store is left consistent (exit 130).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Installs the handlers and returns the shared flag.
pub fn install() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while the first is being handled kills at once.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, flag.clone());
        let _ = signal_hook::flag::register(sig, flag.clone());
    }
    flag
}
