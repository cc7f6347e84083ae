//! Remotes (issue 14): push a run from one checkout, pull it into a fresh
//! store in another, then status / verify / export / verify --rerun there —
//! against a directory, a real S3 server (Garage, when `AWS_ENDPOINT_URL` is
//! set; required with `REPRO_REQUIRE_S3=1`) and a static HTTP server. Faults:
//! an altered object, an unreachable remote, wrong credentials, kill -9.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Env, Out, list};

const GEN: &str = "seq 1 \"$1\" | awk '{print $1*$1}' > \"$2\"\n";

/// Stages: a file, a directory, a matrix with metrics, a fan-in.
const PIPELINE: &str = r#"
name: rt
params: { n: 40 }
stages:
  make:
    kind: cmd
    deps: [gen.sh]
    run: sh gen.sh ${params.n} "$OUT/data.txt"
    outputs: [data.txt]
  tree:
    kind: cmd
    inputs: { data: make }
    run: |
      mkdir -p "$OUT/tree/sub"
      cp "$IN_data/data.txt" "$OUT/tree/a.txt"
      wc -l < "$IN_data/data.txt" > "$OUT/tree/sub/n.txt"
    outputs: [tree]
  stats:
    kind: cmd
    matrix: { k: [2, 3] }
    with: { k: "${matrix.k}" }
    inputs: { data: make }
    run: |
      awk -v k=${matrix.k} '{s+=$1%k} END {printf "{\"k\": %d, \"sum\": %d}\n", k, s}' "$IN_data/data.txt" > "$OUT/stats.json"
    outputs: [stats.json]
    metrics: stats.json
  report:
    kind: cmd
    inputs: { all: stats, tree: tree }
    run: cat "$IN_all"/*/stats.json "$IN_tree/tree/sub/n.txt" > "$OUT/report.txt"
    outputs: [report.txt]
"#;

/// A checkout with the pipeline, run once.
fn ran() -> Env {
    let a = Env::new();
    a.write("gen.sh", GEN);
    a.pipeline(PIPELINE);
    a.repro(&["run", "p.yaml"]).ok();
    a
}

/// A fresh clone of `a`: the pipeline, its deps and the committed lockfile; an empty store.
fn clone_of(a: &Env) -> Env {
    let b = Env::new();
    for f in ["p.yaml", "gen.sh", "p.lock"] {
        fs::copy(a.path(f), b.path(f)).expect("copy checkout file");
    }
    b
}

fn dir_arg(p: &Path) -> String {
    p.display().to_string()
}

/// `a`'s run pushed to a fresh directory remote: the directory and its
/// `--remote` argument.
fn pushed(a: &Env) -> (tempfile::TempDir, String) {
    let remote = tempfile::tempdir().expect("tempdir");
    let r = dir_arg(remote.path());
    a.repro(&["push", "p.yaml", "--remote", &r]).ok();
    (remote, r)
}

/// Replaces a pushed file (stored read-only) with `bytes`.
fn overwrite(path: &Path, bytes: &[u8]) {
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).expect("chmod");
    fs::write(path, bytes).expect("overwrite");
}

/// After a pull: every stage fresh, verify ok with nothing run, the origin
/// shown, exports equal to the source's bytes, and one stage reruns `same`.
fn check_pulled(a: &Env, b: &Env, remote: &str) {
    b.repro(&["status", "p.yaml"])
        .ok()
        .out_has("5 stage(s): 5 fresh, 0 stale");
    b.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
    b.repro(&["show", "p.yaml", "tree"])
        .ok()
        .out_has(&format!("pulled:  from {remote} at "));
    b.repro(&["export", "p.yaml", "tree", "out"])
        .ok()
        .out_has("exported tree tree");
    assert_eq!(
        b.read("out/tree/a.txt"),
        a.output("p.lock", "make", "data.txt")
    );
    assert_eq!(b.read("out/tree/sub/n.txt").trim(), "40");
    b.repro(&["export", "p.yaml", "stats[k=3]", "stats.json", "one"])
        .ok();
    assert_eq!(
        b.read("one/stats.json"),
        a.output("p.lock", "stats[k=3]", "stats.json")
    );
    b.repro(&["verify", "p.yaml", "--rerun", "stats[k=2]"])
        .ok()
        .out_has("same      stats[k=2] stats.json")
        .out_has("verify: ok");
    b.repro(&["run", "p.yaml"])
        .ok()
        .out_has("nothing to run: all 5 stage(s) fresh");
}

#[test]
fn round_trip_through_a_directory_remote() {
    let a = ran();
    let remote = tempfile::tempdir().expect("tempdir");
    let r = dir_arg(remote.path());
    a.repro(&["push", "p.yaml", "--remote", &r])
        .ok()
        .out_has("pushed 5 stage(s)")
        .out_has("5 record(s) uploaded");
    // Idempotent: everything is already there.
    a.repro(&["push", "p.yaml", "--remote", &r])
        .ok()
        .out_has("0 uploaded")
        .out_has("0 record(s) uploaded");
    let b = clone_of(&a);
    b.repro(&["status", "p.yaml"]).ok().out_has("5 stale");
    b.repro(&["pull", "p.yaml", "--remote", &r])
        .ok()
        .out_has("pulled 5 of 5 stage(s)");
    check_pulled(&a, &b, &r);
    // Pulling again moves nothing.
    b.repro(&["pull", "p.yaml", "--remote", &r])
        .ok()
        .out_has("pulled 0 of 5 stage(s)");
}

#[test]
fn pull_of_one_target_brings_its_ancestors_and_the_pipeline_names_the_remote() {
    let a = ran();
    let remote = tempfile::tempdir().expect("tempdir");
    let yaml = format!("remote: {}\n{PIPELINE}", remote.path().display());
    a.pipeline(&yaml);
    a.repro(&["push", "p.yaml"]).ok();
    let b = clone_of(&a);
    b.repro(&["pull", "p.yaml", "tree"])
        .ok()
        .out_has("pulled 2 of 2 stage(s)");
    let st = b.repro(&["status", "p.yaml"]);
    st.ok();
    assert_eq!(st.status_of("make"), "fresh  make");
    assert_eq!(st.status_of("tree"), "fresh  tree");
    assert!(st.status_of("report").starts_with("stale"));
}

#[test]
fn a_bad_remote_key_is_a_spec_error_with_its_position() {
    let a = Env::new();
    a.write("gen.sh", GEN);
    a.pipeline(&format!("remote: 42\n{PIPELINE}"));
    a.repro(&["push", "p.yaml"])
        .code(2)
        .err_has("p.yaml:1:9: remote: expected a string");
    a.pipeline(&format!("remote: gs://bucket/x\n{PIPELINE}"));
    a.repro(&["status", "p.yaml"])
        .code(2)
        .err_has("remote: unsupported remote scheme `gs://`");
    a.pipeline(PIPELINE);
    a.repro(&["run", "p.yaml"]).ok();
    a.repro(&["push", "p.yaml"])
        .code(1)
        .err_has("no remote: give --remote URL, set REPRO_REMOTE");
}

/// Regression (issue 27): a push read a corrupt index as an empty one and replaced
/// it, dropping every stage earlier pushes had listed.
#[test]
fn a_corrupt_remote_index_stops_a_push_naming_its_key_and_is_kept() {
    let a = ran();
    let (remote, r) = pushed(&a);
    let index_dir = remote.path().join("index");
    let names = list(&index_dir);
    assert_eq!(names.len(), 1, "one index: {names:?}");
    let index = index_dir.join(&names[0]);
    overwrite(&index, b"{\"schema\": 1, \"stages\": ");
    a.repro(&["push", "p.yaml", "--remote", &r])
        .code(1)
        .err_has(&format!("remote {r}"))
        .err_has(&format!("index index/{} does not parse", names[0]))
        .err_has("push does not replace it");
    assert_eq!(
        fs::read(&index).expect("index kept"),
        b"{\"schema\": 1, \"stages\": ",
        "the corrupt index was replaced"
    );
}

#[test]
fn an_altered_object_is_refused_named_and_never_stored() {
    let a = ran();
    let (remote, r) = pushed(&a);
    let d = a.output_digest("p.lock", "stats[k=2]", "stats.json");
    let obj = remote.path().join("objects").join(&d[..2]).join(&d[2..]);
    overwrite(&obj, b"{\"k\": 2, \"sum\": 999}\n");
    let b = clone_of(&a);
    b.repro(&["pull", "p.yaml", "--remote", &r])
        .code(1)
        .err_has("1 object(s) refused")
        .err_has(&format!("stage stats[k=2] output stats.json: object {d}"))
        .err_has("nothing was stored");
    assert!(b.objects().is_empty(), "objects stored: {:?}", b.objects());
    assert!(b.records().is_empty(), "records stored: {:?}", b.records());
    // Another stage that does not reach it still pulls.
    b.repro(&["pull", "p.yaml", "--remote", &r, "tree"]).ok();
}

#[test]
fn an_unreachable_remote_fails_clearly_within_the_retry_bound() {
    let a = ran();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}/runs");
    let b = clone_of(&a);
    let t = Instant::now();
    b.repro(&["pull", "p.yaml", "--remote", &url])
        .code(1)
        .err_has(&format!("remote {url}: GET index/"));
    assert!(t.elapsed() < Duration::from_secs(35), "{:?}", t.elapsed());
    assert!(b.records().is_empty());
    b.repro(&["push", "p.yaml", "--remote", &url])
        .code(1)
        .err_has("is read-only");
    let missing = b.path("no-such-remote");
    b.repro(&["pull", "p.yaml", "--remote", &dir_arg(&missing)])
        .code(1)
        .err_has("no such directory");
}

/// `n` files in one directory output: enough objects for a kill to land mid-transfer.
fn many_files(n: usize) -> Env {
    let a = Env::new();
    a.pipeline(&format!(
        r#"
stages:
  many:
    kind: cmd
    run: mkdir "$OUT/d" && for i in $(seq 1 {n}); do echo "file $i" > "$OUT/d/$i.txt"; done
    outputs: [d]
"#
    ));
    a.repro(&["run", "p.yaml"]).ok();
    a
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        n += if p.is_dir() { count_files(&p) } else { 1 };
    }
    n
}

#[test]
fn kill_9_during_push_and_pull_then_rerun_completes() {
    let a = many_files(3000);
    let remote = tempfile::tempdir().expect("tempdir");
    let r = dir_arg(remote.path());
    let mut push = a.spawn(&["push", "p.yaml", "--remote", &r, "-j", "1"]);
    let objects = remote.path().join("objects");
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_files(&objects) < 50 {
        assert!(Instant::now() < deadline, "push made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    push.kill9();
    let _ = push.wait();
    assert!(
        list(&remote.path().join("index")).is_empty(),
        "push finished before the kill; make the run bigger"
    );
    // A half-finished push is not taken for a whole one.
    let b = Env::new();
    for f in ["p.yaml", "p.lock"] {
        fs::copy(a.path(f), b.path(f)).expect("copy");
    }
    b.repro(&["pull", "p.yaml", "--remote", &r])
        .code(1)
        .err_has("has no complete push of p.lock");
    assert!(b.objects().is_empty());
    a.repro(&["push", "p.yaml", "--remote", &r])
        .ok()
        .out_has("3001 object(s)");
    // Kill a pull once it has staged some objects; the rerun completes.
    let mut pull = b.spawn(&["pull", "p.yaml", "--remote", &r, "-j", "1"]);
    let tmp = b.store().join("tmp");
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_files(&tmp) < 50 {
        assert!(Instant::now() < deadline, "pull made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    pull.kill9();
    let _ = pull.wait();
    assert!(b.records().is_empty(), "a killed pull wrote records");
    b.repro(&["pull", "p.yaml", "--remote", &r])
        .ok()
        .out_has("pulled 1 of 1 stage(s)");
    assert_eq!(count_files(&tmp), 0, "staging left behind");
    b.repro(&["verify", "p.yaml"]).ok().out_has("verify: ok");
    b.repro(&["status", "p.yaml"])
        .ok()
        .out_has("1 fresh, 0 stale");
}

/// `python3 -m http.server` serving `dir` on a free port; killed on drop.
struct Http {
    child: Child,
    url: String,
}

impl Http {
    fn serve(dir: &Path) -> Http {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "http.server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Http {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn round_trip_through_a_static_http_mirror() {
    let a = ran();
    let remote = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(remote.path().join("runs")).expect("mkdir");
    let pushed: PathBuf = remote.path().join("runs");
    a.repro(&[
        "push",
        "p.yaml",
        "--remote",
        &format!("file://{}", pushed.display()),
    ])
    .ok();
    let http = Http::serve(remote.path());
    let url = format!("{}/runs", http.url);
    let b = clone_of(&a);
    let mut c = b.command(&["pull", "p.yaml"]);
    c.env("REPRO_REMOTE", &url);
    b.spawn_command(c)
        .wait()
        .ok()
        .out_has("pulled 5 of 5 stage(s)");
    check_pulled(&a, &b, &url);
}

/// The Garage endpoint from the environment, or `None` (with a message)
/// when it is not set and not required.
fn s3_env() -> Option<String> {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(ep) if !ep.is_empty() => {
            let bucket = std::env::var("S3_BUCKET").unwrap_or_else(|_| "test".into());
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            Some(format!("s3://{bucket}/it-{}-{nanos}", std::process::id()))
        }
        _ => {
            assert!(
                std::env::var("REPRO_REQUIRE_S3").as_deref() != Ok("1"),
                "REPRO_REQUIRE_S3=1 but AWS_ENDPOINT_URL is unset: start scripts/s3-up.sh"
            );
            eprintln!(
                "skipping the S3 remote test: AWS_ENDPOINT_URL is unset (eval \"$(scripts/s3-up.sh)\" to run it)"
            );
            None
        }
    }
}

#[test]
fn round_trip_through_s3_and_wrong_credentials_fail_clearly() {
    let Some(url) = s3_env() else { return };
    let a = ran();
    a.repro(&["push", "p.yaml", "--remote", &url, "-j", "4"])
        .ok()
        .out_has("pushed 5 stage(s)");
    let b = clone_of(&a);
    b.repro(&["pull", "p.yaml", "--remote", &url])
        .ok()
        .out_has("pulled 5 of 5 stage(s)");
    check_pulled(&a, &b, &url);
    let c = clone_of(&a);
    let mut cmd = c.command(&["pull", "p.yaml", "--remote", &url]);
    cmd.env(
        "AWS_SECRET_ACCESS_KEY",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    );
    let t = Instant::now();
    let out: Out = c.spawn_command(cmd).wait();
    out.code(1).err_has(&format!("remote {url}: GET index/"));
    assert!(t.elapsed() < Duration::from_secs(35));
    assert!(c.records().is_empty());
}
