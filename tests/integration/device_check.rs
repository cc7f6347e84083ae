//! `scripts/device-check.sh` on the CPU path (`--backend flex --quick`), so the
//! GPU check keeps working between the rare runs on a lent GPU machine (issue
//! 24): the numerics rows (flex against itself), the seeded bench rows, and,
//! where `$REPRO_DATA` and `$REPRO_MODELS` are set, the evals pipeline up to
//! `gen_parity`.

use std::path::Path;
use std::process::Command;

#[test]
fn device_check_script_passes_on_flex() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("scripts/device-check.sh"))
        .args([
            "--backend",
            "flex",
            "--quick",
            "--repro",
            env!("CARGO_BIN_EXE_repro"),
        ])
        .current_dir(root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("| check | backend | result | s | status |"),
        "{stdout}"
    );
    for check in [
        "logits + greedy tokens vs flex: tests/fixtures/tiny_llama/plain",
        "logits + greedy tokens vs flex: tests/fixtures/tiny_llama/llama3",
        "bench gemm (seeded)",
        "bench minilm_infer (seeded)",
        "bench gen_b1 (seeded)",
    ] {
        assert!(stdout.contains(check), "no `{check}` row:\n{stdout}");
    }
    assert!(!stdout.contains("FAILED"), "{stdout}");
}

#[test]
fn device_check_refuses_a_backend_the_binary_lacks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if cfg!(feature = "tch") {
        return;
    }
    let out = Command::new(root.join("scripts/device-check.sh"))
        .args(["--backend", "tch", "--repro", env!("CARGO_BIN_EXE_repro")])
        .current_dir(root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not built with backend tch"));
}
