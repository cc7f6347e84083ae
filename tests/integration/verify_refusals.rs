//! `verify` refuses what the rest of the store refuses, and says when it was
//! interrupted (issue 25, items 7 and 8).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use repro::store::objects::manifest_bytes;
use repro::store::record::output_digest;
use repro::store::{Record, Store};

use crate::common::{Env, wait_for_file};

/// Item 7: a manifest whose path leaves the output (`../../x`, `/abs/x`),
/// with the lockfile and the record edited to agree with it, is refused by
/// `verify` (as by export, staging and pull), naming the stage and output.
#[test]
fn verify_refuses_a_manifest_whose_paths_leave_the_output() {
    for bad in ["../../x", "/tmp/x"] {
        let env = Env::new();
        env.pipeline(
            r#"
stages:
  tree:
    kind: cmd
    run: mkdir -p "$OUT/t" && echo a > "$OUT/t/a"
    outputs: [t]
"#,
        );
        env.repro(&["run", "p.yaml"]).ok();
        env.repro(&["verify", "p.yaml"]).ok();
        let old = env.output_digest("p.lock", "tree", "t");
        let store = Store::open(&env.store()).unwrap();
        let mut m = store.manifest(&old).unwrap();
        let a = m.files.remove("a").unwrap();
        m.files.insert(bad.into(), a);
        let new = store.put_bytes(&manifest_bytes(&m)).unwrap().digest;
        let key = env.lock("p.lock")["stages"]["tree"]["key"]
            .as_str()
            .unwrap()
            .to_string();
        let rec_path = env.store().join("records").join(format!("{key}.json"));
        let mut rec: Record = serde_json::from_slice(&fs::read(&rec_path).unwrap()).unwrap();
        rec.outputs.get_mut("t").unwrap().digest = new.clone();
        rec.output_digest = output_digest(&rec.outputs);
        let _ = fs::set_permissions(&rec_path, fs::Permissions::from_mode(0o644));
        fs::write(&rec_path, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
        let lock = env.read("p.lock").replace(&old, &new);
        env.write("p.lock", &lock);
        env.repro(&["verify", "p.yaml"])
            .code(1)
            .out_has(&format!(
                "MALFORMED tree output t: manifest path `{bad}` leaves the output"
            ))
            .out_lacks("verify: ok");
    }
}

/// Item 8: Ctrl-C during `verify --rerun` exits 130 and says
/// "interrupted", not "verification failed".
#[test]
fn sigint_during_verify_rerun_exits_130_and_says_interrupted() {
    let env = Env::new();
    env.pipeline(
        r#"
stages:
  s:
    kind: cmd
    run: |
      echo x > "$OUT/o"
      if [ -e marks/rerun ]; then touch marks/started; sleep 30; fi
    outputs: [o]
"#,
    );
    fs::create_dir(env.path("marks")).unwrap();
    env.repro(&["run", "p.yaml"]).ok();
    fs::write(env.path("marks/rerun"), "").unwrap();
    let run = env.spawn(&["verify", "p.yaml", "--rerun", "s"]);
    wait_for_file(&env.path("marks/started"));
    run.signal("INT");
    let r = run.wait();
    r.code(130)
        .out_has("interrupted")
        .out_lacks("verification failed");
    assert!(!r.stderr.contains("verification failed"), "{}", r.stderr);
}
