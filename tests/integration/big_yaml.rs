//! YAML mappings load in linear time (issue 25, item 9): `status` on 80,000
//! params, half of them overriding a base through `extends:`, took tens of
//! seconds when each key was compared with every earlier one; now it takes a
//! fraction of a second. The bound is generous for a loaded CI machine.

use std::time::{Duration, Instant};

use crate::common::Env;

#[test]
fn status_on_an_80k_key_params_mapping_takes_linear_time() {
    let env = Env::new();
    let keys = |from: usize, to: usize, v: usize| -> String {
        (from..to).map(|i| format!("  k{i}: {}\n", i + v)).collect()
    };
    env.write(
        "base.yaml",
        &format!("params:\n{}stages: {{}}\n", keys(0, 40_000, 0)),
    );
    env.pipeline(&format!(
        "extends: base.yaml\nparams:\n{}{}stages:\n  a:\n    kind: cmd\n    run: echo ${{params.k79999}} ${{params.k7}} > \"$OUT/x\"\n    outputs: [x]\n",
        keys(0, 40_000, 1),
        keys(40_000, 80_000, 0)
    ));
    let start = Instant::now();
    env.repro(&["status", "p.yaml"]).ok().out_has("1 stale");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "status took {took:?}");
    env.repro(&["run", "p.yaml"]).ok();
    assert_eq!(env.output("p.lock", "a", "x"), "79999 8\n");
}
