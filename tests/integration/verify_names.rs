//! `repro verify` names the stage and output holding a damaged object (a
//! file, a directory manifest, a file inside a directory), not only its digest.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::common::Env;

const PIPELINE: &str = r#"
stages:
  make:
    kind: cmd
    run: |
      echo hello > "$OUT/data.txt"
      mkdir -p "$OUT/tree/sub" && echo inner > "$OUT/tree/sub/b.txt"
    outputs: [data.txt, tree]
"#;

fn damage(path: &std::path::Path) {
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).expect("chmod");
    let mut bytes = fs::read(path).expect("read");
    bytes[0] ^= 1;
    fs::write(path, bytes).expect("write");
}

#[test]
fn verify_names_the_stage_and_output_of_a_damaged_object() {
    let env = Env::new();
    env.pipeline(PIPELINE);
    env.repro(&["run", "p.yaml"]).ok();
    let data = env.output_digest("p.lock", "make", "data.txt");
    damage(&env.object_path(&data));
    env.repro(&["verify", "p.yaml"]).code(1).out_has(&format!(
        "CORRUPT   stage make output data.txt: object {data} is corrupt"
    ));
    // A file inside a directory output.
    let inner = blake3::hash(b"inner\n").to_hex().to_string();
    damage(&env.object_path(&inner));
    env.repro(&["verify", "p.yaml"]).code(1).out_has(&format!(
        "CORRUPT   stage make output tree file sub/b.txt: object {inner}"
    ));
    // A missing one.
    fs::remove_file(env.object_path(&inner)).expect("rm");
    env.repro(&["verify", "p.yaml"]).code(1).out_has(&format!(
        "MISSING   stage make output tree file sub/b.txt: object {inner}"
    ));
}
