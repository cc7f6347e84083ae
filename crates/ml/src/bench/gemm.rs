//! GEMM throughput on the project's own matrix-product path: Burn's
//! `Tensor::matmul`, which on flex is the `gemm` crate that every `Linear`
//! of the models runs through (on CUDA, the CUDA backend's matmul).

use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};

use super::timing::Timing;

/// One timed product `[m, k] × [k, n]`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct GemmResult {
    /// Rows of the left operand.
    pub m: usize,
    /// The inner dimension.
    pub k: usize,
    /// Columns of the right operand.
    pub n: usize,
    /// Median seconds per product.
    pub secs: f64,
    /// 2·m·k·n / secs / 10⁹.
    pub gflops: f64,
}

/// Times `[m, k] × [k, n]` in f32 on `B`, operands drawn once, the result
/// read back to the host each call (so a lazy or asynchronous backend is
/// timed to completion).
pub fn time_gemm<B: Backend>([m, k, n]: [usize; 3], timing: &Timing) -> GemmResult {
    let device = B::Device::default();
    B::seed(&device, 24);
    let a = Tensor::<B, 2>::random([m, k], Distribution::Normal(0.0, 1.0), &device);
    let b = Tensor::<B, 2>::random([k, n], Distribution::Normal(0.0, 1.0), &device);
    let secs = timing.median_secs(|| {
        // One value back, so the transfer stays out of the time.
        let c = a.clone().matmul(b.clone()).slice([0..1, 0..1]).into_data();
        std::hint::black_box(c);
    });
    GemmResult {
        m,
        k,
        n,
        secs,
        gflops: 2.0 * (m * k * n) as f64 / secs / 1e9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_product_is_timed() {
        let t = Timing {
            warmup: 0,
            iters: 1,
        };
        let r = time_gemm::<burn::backend::Flex>([64, 32, 16], &t);
        assert_eq!((r.m, r.k, r.n), (64, 32, 16));
        assert!(r.gflops > 0.0);
    }
}
