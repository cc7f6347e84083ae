//! Mutation tests: whatever bytes a pipeline file holds, loading it returns
//! a value or a located error — never a panic, never a hang.

use crate::kind::Registry;
use std::path::Path;

const SEED_PIPELINE: &str = r#"name: t
params: { seed: 1, n: 3, lams: [0.0, 0.2] }
stages:
  make:
    kind: cmd
    run: echo ${params.n} > "$OUT/a.txt"
    outputs: [a.txt]
  sweep:
    kind: cmd
    matrix: { lam: "${params.lams}" }
    inputs: { data: make }
    with: { lam: "${matrix.lam}", base: &b { x: 1 } , again: *b }
    run: cat "$IN_data/a.txt" > "$OUT/b.txt"
    outputs: [b.txt]
  fan:
    kind: cmd
    inputs: { all: sweep, one: "sweep[lam=0.2]" }
    run: ls "$IN_all" > "$OUT/c.txt"
    outputs: [c.txt]
    metrics: c.txt
"#;

/// xorshift64*: enough for reproducible mutations without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

const TOKENS: &[&str] = &[
    "${", "}", "[", "]", "{", ":", "- ", "&a ", "*a", "\n  ", "null", "'", "\"", "\t", "matrix",
    "inputs", "~", "!!str ", "#", "?", "|", ">", "%",
];

#[test]
fn mutated_pipelines_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let base = SEED_PIPELINE.as_bytes();
    for round in 0..1500 {
        let mut bytes = base.to_vec();
        let edits = 1 + next(&mut state) % 4;
        for _ in 0..edits {
            let pos = (next(&mut state) as usize) % (bytes.len() + 1);
            match next(&mut state) % 4 {
                0 if pos < bytes.len() => {
                    bytes.remove(pos);
                }
                1 => {
                    let t = TOKENS[(next(&mut state) as usize) % TOKENS.len()];
                    bytes.splice(pos..pos, t.bytes());
                }
                2 if pos < bytes.len() => bytes[pos] = (next(&mut state) % 256) as u8,
                _ => {
                    let end = (pos + (next(&mut state) as usize) % 40).min(bytes.len());
                    bytes.drain(pos..end);
                }
            }
        }
        std::fs::write(&file, &bytes).unwrap();
        let result = std::panic::catch_unwind(|| {
            super::load(&file, &[], &Default::default(), Registry::EMPTY).map(|p| p.stages.len())
        });
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("p.yaml"),
                    "round {round}: error does not name the file: {msg}"
                );
            }
            Err(_) => panic!(
                "round {round}: loading panicked on:\n{}",
                String::from_utf8_lossy(&bytes)
            ),
        }
    }
    assert!(Path::new(&file).exists());
}

#[test]
fn the_seed_pipeline_itself_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(&file, SEED_PIPELINE).unwrap();
    let p = super::load(&file, &[], &Default::default(), Registry::EMPTY).unwrap();
    let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["make", "sweep[lam=0.0]", "sweep[lam=0.2]", "fan"]
    );
}
