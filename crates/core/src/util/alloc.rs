//! Allocator tuning for tensor work (issue 11).
//!
//! Burn allocates a fresh buffer for nearly every op. glibc serves buffers
//! above its mmap threshold (128 KiB, adapting up to 32 MiB) with `mmap` and
//! returns them to the kernel on free, so every large op pays page faults on
//! memory it just gave back: a tenth of a MiniLM forward pass went to the
//! kernel's page-fault path. Keeping freed memory in the heap instead makes
//! those buffers reused. Output bytes do not depend on this.

/// Raises glibc's mmap and trim thresholds so freed tensor buffers are
/// reused rather than unmapped. Call once, early in `main`; a no-op on
/// other C libraries.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // 1 GiB: larger single buffers (rare) are still mapped directly.
        const THRESHOLD: libc::c_int = 1 << 30;
        // SAFETY: mallopt only changes allocator parameters; it is called
        // before other threads allocate.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, THRESHOLD);
        }
    }
}
