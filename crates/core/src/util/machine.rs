//! Facts about this machine, for records, the store lock and the benches
//! (never for keys).

use serde::{Deserialize, Serialize};

/// The host name.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// The CPU model name, from `/proc/cpuinfo` (the architecture elsewhere).
pub fn cpu_model() -> String {
    CpuId::read().model_name
}

/// Which CPU a run used, as precisely as the machine says: two hosts whose
/// model name reads the same ("AMD EPYC" under KVM) can still be different
/// generations, and the GEMM kernels (so the output bytes) follow the ISA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuId {
    /// `model name` from `/proc/cpuinfo`; the architecture where there is none.
    pub model_name: String,
    /// `cpu family` (x86), absent where `/proc/cpuinfo` has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<u32>,
    /// `model` (x86), absent where `/proc/cpuinfo` has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<u32>,
    /// `stepping` (x86), absent where `/proc/cpuinfo` has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stepping: Option<u32>,
    /// The SIMD level the f32 GEMM kernels run at here ([`gemm_isa`]).
    pub isa: String,
}

impl CpuId {
    /// This machine's CPU: `/proc/cpuinfo` where it exists, else only the
    /// architecture and the ISA.
    pub fn read() -> Self {
        match std::fs::read_to_string("/proc/cpuinfo") {
            Ok(text) => Self::parse(&text),
            Err(_) => Self::parse(""),
        }
    }

    /// The first processor's entry of a `/proc/cpuinfo` text.
    pub fn parse(cpuinfo: &str) -> Self {
        let field = |name: &str| {
            cpuinfo
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim().to_string())
        };
        let number = |name: &str| field(name).and_then(|v| v.parse().ok());
        CpuId {
            model_name: field("model name")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| std::env::consts::ARCH.to_string()),
            family: number("cpu family"),
            model: number("model"),
            stepping: number("stepping"),
            isa: gemm_isa().to_string(),
        }
    }

    /// `AMD EPYC (family 25, model 1, stepping 1; avx2+fma)`.
    pub fn describe(&self) -> String {
        let fms: Vec<String> = [
            ("family", self.family),
            ("model", self.model),
            ("stepping", self.stepping),
        ]
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
        .collect();
        if fms.is_empty() {
            format!("{} ({})", self.model_name, self.isa)
        } else {
            format!("{} ({}; {})", self.model_name, fms.join(", "), self.isa)
        }
    }
}

/// The kernel family `gemm` 0.19 picks for f32 on this CPU, by the test it
/// runs itself (`gemm-common` 0.19, `gemm.rs`, `init_gemm_fn`): AVX-512F
/// (built in here through the `x86-v4` feature) before FMA (the AVX2 kernels)
/// before scalar code; NEON on aarch64.
pub fn gemm_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            "avx512f"
        } else if std::arch::is_x86_feature_detected!("fma") {
            "avx2+fma"
        } else {
            "scalar"
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            "neon"
        } else {
            "scalar"
        }
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}

/// Size of one core's L1 data and L2 caches in bytes, from sysfs
/// (`/sys/devices/system/cpu/cpu0/cache`); `None` for a level it does not list.
pub fn cache_sizes() -> (Option<u64>, Option<u64>) {
    let dir = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    let mut l1d = None;
    let mut l2 = None;
    for i in 0..8 {
        let idx = dir.join(format!("index{i}"));
        let read = |f: &str| std::fs::read_to_string(idx.join(f)).map(|s| s.trim().to_string());
        let (Ok(level), Ok(kind), Ok(size)) = (read("level"), read("type"), read("size")) else {
            continue;
        };
        let bytes = parse_cache_size(&size);
        match (level.as_str(), kind.as_str()) {
            ("1", "Data") => l1d = bytes,
            ("2", _) => l2 = bytes,
            _ => {}
        }
    }
    (l1d, l2)
}

/// `32K` → 32768 (sysfs cache sizes).
fn parse_cache_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 1024),
        b'M' => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPYC: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n\
model name\t: AMD EPYC 9554 64-Core Processor\nstepping\t: 1\n\nprocessor\t: 1\nmodel\t\t: 99\n";

    #[test]
    fn cpuinfo_gives_name_family_model_stepping_of_the_first_processor() {
        let c = CpuId::parse(EPYC);
        assert_eq!(c.model_name, "AMD EPYC 9554 64-Core Processor");
        assert_eq!(
            (c.family, c.model, c.stepping),
            (Some(25), Some(17), Some(1))
        );
        assert!(
            c.describe()
                .starts_with("AMD EPYC 9554 64-Core Processor (family 25, model 17, stepping 1; ")
        );
    }

    #[test]
    fn no_cpuinfo_degrades_to_the_architecture() {
        let c = CpuId::parse("");
        assert_eq!(c.model_name, std::env::consts::ARCH);
        assert_eq!((c.family, c.model, c.stepping), (None, None, None));
        assert_eq!(c.describe(), format!("{} ({})", c.model_name, c.isa));
    }

    #[test]
    fn old_records_without_the_fields_still_read() {
        let c: CpuId = serde_json::from_str(r#"{"model_name":"x","isa":"scalar"}"#).unwrap();
        assert_eq!(c.family, None);
    }

    #[test]
    fn sysfs_cache_sizes_parse() {
        assert_eq!(parse_cache_size("32K"), Some(32 * 1024));
        assert_eq!(parse_cache_size("1M"), Some(1 << 20));
        assert_eq!(parse_cache_size("512"), Some(512));
        assert_eq!(parse_cache_size("x"), None);
    }
}
