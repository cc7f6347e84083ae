//! `repro model …` through the real binary, on the tiny HF Llama fixture
//! (always present) and, when `$REPRO_MODELS` has it, the real SmolLM2 GGUF.

use std::path::PathBuf;

use crate::common::Env;

fn tiny() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny_llama/plain")
        .display()
        .to_string()
}

#[test]
fn model_commands_print_json_through_the_binary() {
    let env = Env::new();
    let info = env.repro(&["model", "info", &tiny()]);
    info.ok();
    let v: serde_json::Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(v["format"], "huggingface", "{}", info.stdout);
    let tok = env.repro(&["model", "tokenize", &tiny(), "w1 w5"]);
    tok.ok();
    let ids: serde_json::Value = serde_json::from_str(&tok.stdout).unwrap();
    assert!(ids.to_string().contains('['), "{}", tok.stdout);
    let logits = env.repro(&[
        "model",
        "logits",
        &tiny(),
        "--prompt",
        "w1 w5",
        "--top",
        "3",
    ]);
    logits.ok();
    let rows: serde_json::Value = serde_json::from_str(&logits.stdout).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(3), "{}", logits.stdout);
}

#[test]
fn model_commands_refuse_bad_input_without_panicking() {
    let env = Env::new();
    env.write("bad.gguf", "GGUF but not really");
    let r = env.repro(&["model", "info", "bad.gguf"]);
    assert_ne!(r.code, 0);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let r = env.repro(&["model", "info", "nope.gguf"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("nope.gguf"), "{}", r.stderr);
    let r = env.repro(&["--backend", "cuda", "model", "info", &tiny()]);
    if !cfg!(feature = "cuda") {
        r.code(2);
    }
}
