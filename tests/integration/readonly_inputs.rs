//! Inputs are handed to stages read-only: a stage that tries to change
//! `$IN_x` cannot change the store or what other stages see.

use crate::common::Env;

#[test]
fn a_stage_cannot_change_its_inputs_in_the_store() {
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  make:
    kind: cmd
    run: printf 'orig\n' > "$OUT/data.txt"; mkdir -p "$OUT/dir/sub"; echo f > "$OUT/dir/sub/f.txt"
    outputs: [data.txt, dir]
  vandal:
    kind: cmd
    inputs: { data: make }
    run: |
      if echo evil > "$IN_data/data.txt" 2>/dev/null; then echo "plain write allowed"; else echo "plain write refused"; fi
      chmod -R u+w "$IN_data" 2>/dev/null
      echo evil > "$IN_data/data.txt" 2>/dev/null
      echo evil > "$IN_data/dir/sub/f.txt" 2>/dev/null
      rm -rf "$IN_data/dir" 2>/dev/null
      echo done > "$OUT/v.txt"
    outputs: [v.txt]
  reader:
    kind: cmd
    inputs: { data: make, v: vandal }
    run: cat "$IN_data/data.txt" "$IN_data/dir/sub/f.txt" > "$OUT/r.txt"
    outputs: [r.txt]
"#,
    );
    let r = env.repro(&["run", "p.yaml"]);
    r.ok().out_has("summary: 3 ran");
    assert_eq!(env.output("p.lock", "reader", "r.txt"), "orig\nf\n");
    assert_eq!(env.output("p.lock", "make", "data.txt"), "orig\n");
    env.repro(&["status", "p.yaml", "--check"]).ok();
    env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
    // The input files really were read-only: only root may write them anyway.
    let log = std::fs::read_dir(env.store().join("logs").join("vandal"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(log).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        assert!(text.contains("plain write refused"), "{text}");
    }
}

#[test]

fn hard_linked_outputs_are_stored_as_bytes_not_as_links() {
    // Symbolic links in outputs are refused outright (tests/integration/safety.rs).
    use std::os::unix::fs::PermissionsExt;
    for link in ["ln"] {
        let env = Env::new();
        env.write("ext.txt", "original\n");
        env.pipeline(&format!(
            "stages:\n  a:\n    kind: cmd\n    run: {link} \"$PWD/ext.txt\" \"$OUT/x\"; mkdir \"$OUT/d\"; {link} \"$PWD/ext.txt\" \"$OUT/d/y\"\n    outputs: [x, d]\n"
        ));
        env.repro(&["run", "p.yaml"]).ok();
        for d in env.objects() {
            let meta = std::fs::symlink_metadata(env.object_path(&d)).unwrap();
            assert!(
                meta.file_type().is_file(),
                "{link}: object {d} is not a regular file"
            );
        }
        let mode = std::fs::metadata(env.path("ext.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o200,
            0o200,
            "{link}: the stage's run made a file outside the store read-only"
        );
        std::fs::write(env.path("ext.txt"), "edited outside the store\n").unwrap();
        env.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
        assert_eq!(env.output("p.lock", "a", "x"), "original\n");
    }
}
