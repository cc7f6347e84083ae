//! The compute backends by name ([`repro_core::backend`]), and the one place a
//! backend value becomes a Burn type ([`on_backend!`](crate::on_backend)).

pub use repro_core::backend::*;

/// Calls the generic function `f::<B>(args…)` with `B` the Burn backend type
/// of a [`Backend`] value (`autodiff` first: the autodiff-wrapped type, for
/// training), or returns [`NotCompiledIn`] (converted with `into`: an
/// `anyhow::Error` or a typed error with a `From` for it) for a backend not
/// compiled in. The one place a backend value becomes a type (ARCHITECTURE.md,
/// "Layers").
#[macro_export]
macro_rules! on_backend {
    (autodiff $backend:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        $crate::on_backend!(@wrap [burn::backend::Autodiff], $backend, $f($($arg),*))
    };
    ($backend:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        $crate::on_backend!(@wrap [$crate::backend::Plain], $backend, $f($($arg),*))
    };
    (@wrap [$($w:tt)*], $backend:expr, $f:ident ( $($arg:expr),* )) => {
        match $backend {
            $crate::backend::Backend::Flex => $f::<$($w)*<burn::backend::Flex>>($($arg),*),
            #[cfg(feature = "cuda")]
            $crate::backend::Backend::Cuda => $f::<$($w)*<burn::backend::Cuda>>($($arg),*),
            #[cfg(feature = "tch")]
            $crate::backend::Backend::Tch => $f::<$($w)*<burn::backend::LibTorch>>($($arg),*),
            #[allow(unreachable_patterns)]
            other => Err($crate::backend::NotCompiledIn(other).into()),
        }
    };
}

/// A backend type unchanged: `Plain<B>` is `B` (what [`on_backend!`] wraps
/// inference backends in, beside `Autodiff<B>` for training).
pub type Plain<B> = B;
