//! The memory bandwidth this machine gives: a streaming read and a copy of
//! buffers far larger than the caches, on one thread and on all of them.
//! Decoding rows are measured against the read figure: a decoding step
//! streams every weight once (`model::cost::llama_decode_bytes_per_token`).
//!
//! Buffers are measured twice: as `Vec`s from the allocator (4 KiB pages
//! where transparent huge pages are `madvise`-only, which is the memory
//! Burn's tensors get) and in an `mmap` advised `MADV_HUGEPAGE` (2 MiB pages,
//! the machine's limit: under a hypervisor every 4 KiB TLB miss is a
//! two-level page walk, which costs a streaming loop a large share).

use super::timing::Timing;

/// GB/s (10⁹ bytes per second) of one configuration.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bandwidth {
    /// Threads that shared the buffer (each its own contiguous part).
    pub threads: usize,
    /// Whether the buffers were advised into huge pages.
    pub huge_pages: bool,
    /// Bytes read per second by summing the buffer.
    pub read_gbs: f64,
    /// Bytes moved per second by `copy_from_slice` (memcpy), counting each
    /// byte read and each byte written, as STREAM's Copy does.
    pub copy_gbs: f64,
}

/// Measures read and copy bandwidth over buffers of `bytes` each with
/// `threads` threads, the median of `timing`, in huge pages where
/// `huge_pages` and the system grants them (else as the allocator gives).
pub fn measure(bytes: usize, threads: usize, huge_pages: bool, timing: &Timing) -> Bandwidth {
    let n = (bytes / 4).max(1024);
    if huge_pages && let (Some(mut a), Some(mut b)) = (HugeBuf::new(n), HugeBuf::new(n)) {
        return stream(a.as_mut_slice(), b.as_mut_slice(), threads, true, timing);
    }
    let mut src = vec![0u32; n];
    let mut dst = vec![0u32; n];
    stream(&mut src, &mut dst, threads, false, timing)
}

fn stream(
    src: &mut [u32],
    dst: &mut [u32],
    threads: usize,
    huge_pages: bool,
    timing: &Timing,
) -> Bandwidth {
    let n = src.len();
    let threads = threads.max(1);
    // Written once, so every page is faulted in before timing.
    for (i, (s, d)) in src.iter_mut().zip(dst.iter_mut()).enumerate() {
        *s = i as u32;
        *d = 1;
    }
    let src: &[u32] = src;
    let part = n.div_ceil(threads);
    let read = timing.median_secs(|| {
        std::thread::scope(|s| {
            for chunk in src.chunks(part) {
                s.spawn(move || std::hint::black_box(sum(chunk)));
            }
        });
    });
    let copy = timing.median_secs(|| {
        std::thread::scope(|s| {
            for (d, c) in dst.chunks_mut(part).zip(src.chunks(part)) {
                s.spawn(move || d.copy_from_slice(c));
            }
        });
        std::hint::black_box(&dst);
    });
    let b = (n * 4) as f64;
    Bandwidth {
        threads,
        huge_pages,
        read_gbs: b / read / 1e9,
        copy_gbs: 2.0 * b / copy / 1e9,
    }
}

/// An anonymous private mapping of `u32`s advised `MADV_HUGEPAGE`, unmapped on drop.
struct HugeBuf {
    ptr: *mut u32,
    len: usize,
}

impl HugeBuf {
    /// `len` zeroed values; `None` where the mapping or the advice is refused.
    fn new(len: usize) -> Option<Self> {
        let bytes = len * 4;
        // SAFETY: a fresh anonymous mapping, no file, no fixed address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        let buf = HugeBuf { ptr: p.cast(), len };
        // SAFETY: advice on the mapping just made, of its own length.
        if unsafe { libc::madvise(p, bytes, libc::MADV_HUGEPAGE) } != 0 {
            return None;
        }
        Some(buf)
    }

    fn as_mut_slice(&mut self) -> &mut [u32] {
        // SAFETY: the mapping holds `len` zero-initialised u32s, lives as
        // long as `self`, and is borrowed mutably once.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for HugeBuf {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len * 4);
        }
    }
}

/// A wrapping sum in 32 independent lanes, so the loop is bound by loads,
/// not by one chain of dependent adds.
fn sum(xs: &[u32]) -> u32 {
    const LANES: usize = 32;
    let mut acc = [0u32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = a.wrapping_add(x);
        }
    }
    let tail = rest.iter().fold(0u32, |a, &x| a.wrapping_add(x));
    acc.iter().fold(tail, |a, &x| a.wrapping_add(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_sum_is_the_plain_sum() {
        let xs: Vec<u32> = (0..1000).map(|i| i * 7 + 3).collect();
        let plain = xs.iter().fold(0u32, |a, &x| a.wrapping_add(x));
        assert_eq!(sum(&xs), plain);
    }

    #[test]
    fn a_small_measurement_gives_positive_figures() {
        let t = Timing {
            warmup: 0,
            iters: 1,
        };
        for huge in [false, true] {
            let b = measure(1 << 20, 2, huge, &t);
            assert!(b.read_gbs > 0.0 && b.copy_gbs > 0.0);
            assert_eq!(b.threads, 2);
        }
    }
}
