//! Shared helpers: a temp project directory with its own store, running the
//! real `repro` binary with a hang guard, and reading the lockfile and store.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// Longest any single `repro` invocation may take before the test fails
/// (a hang guard, not a timing assertion).
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// Longest a test waits for a marker file a stage writes.
pub const MARKER_WAIT: Duration = Duration::from_secs(20);

/// A temp project: pipeline files live in its root, the store in `store/`.
pub struct Env {
    dir: tempfile::TempDir,
    io: tempfile::TempDir,
    runs: AtomicUsize,
}

/// A finished `repro` invocation.
#[derive(Debug)]
pub struct Out {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A `repro` invocation still running.
pub struct Running {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    what: String,
}

impl Env {
    /// A fresh empty project.
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            io: tempfile::tempdir().expect("tempdir"),
            runs: AtomicUsize::new(0),
        }
    }

    /// A project whose one stage `a` wrote `a.txt` ("hello"), run once in
    /// its store (the remote and reader tests' fixture).
    pub fn ran_hello() -> Env {
        let env = Env::new();
        env.pipeline(
            r#"
stages:
  a:
    kind: cmd
    run: echo hello > "$OUT/a.txt"
    outputs: [a.txt]
"#,
        );
        env.repro(&["run", "p.yaml"]).ok();
        env
    }

    /// The project root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path below the project root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// The store directory (given to every command with `--store`).
    pub fn store(&self) -> PathBuf {
        self.path("store")
    }

    /// Writes a file below the root, creating its directory.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, text).expect("write");
        p
    }

    /// Reads a file below the root.
    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    /// Whether a file below the root exists.
    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// `repro --store <store> ARGS…` run in the root, with no `REPRO_*` from
    /// the test's own environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = self.bare_command(args);
        c.arg("--store").arg(self.store());
        c
    }

    /// `repro ARGS…` run in the root, without `--store` and with no `REPRO_*`
    /// from the test's own environment.
    pub fn bare_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_repro"));
        c.args(args).current_dir(self.root()).stdin(Stdio::null());
        for v in ["REPRO_STORE", "REPRO_DATA", "REPRO_MODELS", "REPRO_REMOTE"] {
            c.env_remove(v);
        }
        c
    }

    /// Starts `repro --store <store> ARGS…` with its output going to files.
    pub fn spawn(&self, args: &[&str]) -> Running {
        self.spawn_command(self.command(args))
    }

    /// Starts a prepared command with its output going to files.
    pub fn spawn_command(&self, mut c: Command) -> Running {
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let out = self.io.path().join(format!("{n}.out"));
        let err = self.io.path().join(format!("{n}.err"));
        let what = format!("{c:?}");
        let child = c
            .stdout(fs::File::create(&out).expect("stdout file"))
            .stderr(fs::File::create(&err).expect("stderr file"))
            .spawn()
            .expect("starting repro");
        Running {
            child,
            out,
            err,
            what,
        }
    }

    /// Runs `repro ARGS…` to completion.
    pub fn repro(&self, args: &[&str]) -> Out {
        self.spawn(args).wait()
    }

    /// Writes `p.yaml` and returns its name.
    pub fn pipeline(&self, yaml: &str) -> &'static str {
        self.write("p.yaml", yaml);
        "p.yaml"
    }

    /// A lockfile, parsed.
    pub fn lock(&self, rel: &str) -> Json {
        serde_yaml_ng::from_str(&self.read(rel)).unwrap_or_else(|e| panic!("parsing {rel}: {e}"))
    }

    /// Path of an object in the store.
    pub fn object_path(&self, digest: &str) -> PathBuf {
        self.store()
            .join("objects")
            .join(&digest[..2])
            .join(&digest[2..])
    }

    /// The digest a lockfile records for one output of one stage.
    pub fn output_digest(&self, lock: &str, stage: &str, output: &str) -> String {
        let l = self.lock(lock);
        l["stages"][stage]["outputs"][output]["digest"]
            .as_str()
            .unwrap_or_else(|| {
                panic!(
                    "{lock}: no output `{output}` for stage `{stage}` in\n{}",
                    self.read(lock)
                )
            })
            .to_string()
    }

    /// The bytes of one output of one stage, read from the store via the lockfile.
    pub fn output(&self, lock: &str, stage: &str, output: &str) -> String {
        let p = self.object_path(&self.output_digest(lock, stage, output));
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// Names of the record files in the store.
    pub fn records(&self) -> Vec<String> {
        list(&self.store().join("records"))
    }

    /// Every object digest in the store.
    pub fn objects(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in list(&self.store().join("objects")) {
            for f in list(&self.store().join("objects").join(&sub)) {
                out.push(format!("{sub}{f}"));
            }
        }
        out
    }
}

/// The source directories of the workspace: the binary's `src/` and each
/// `crates/*/src/` (what the source scans read).
pub fn source_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("src")];
    for c in list(&root.join("crates")) {
        dirs.push(root.join("crates").join(c).join("src"));
    }
    dirs
}

/// Every `.rs` file under `dir`, recursively (the defaults test's source scan).
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Sorted names in a directory (empty if it does not exist).
pub fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every entry below `dir` (not following links): relative path → (mode,
/// bytes of a file or target of a link), to show a sentinel is untouched.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, (u32, Vec<u8>)> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    fn go(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<PathBuf, (u32, Vec<u8>)>) {
        for e in fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            let meta = fs::symlink_metadata(&p).expect("lstat");
            let bytes = if meta.is_file() {
                fs::read(&p).expect("read")
            } else if meta.is_symlink() {
                fs::read_link(&p)
                    .expect("readlink")
                    .as_os_str()
                    .as_bytes()
                    .to_vec()
            } else {
                Vec::new()
            };
            let rel = p.strip_prefix(root).expect("below root").to_path_buf();
            out.insert(rel, (meta.permissions().mode(), bytes));
            if meta.is_dir() {
                go(root, &p, out);
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    go(dir, dir, &mut out);
    out
}

/// Polls until `path` exists; panics after [`MARKER_WAIT`].
pub fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + MARKER_WAIT;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear within {MARKER_WAIT:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Running {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGKILL.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
    }

    /// Sends a signal by name (`INT`, `TERM`) with kill(1).
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill(1)");
        assert!(st.success(), "kill -{sig} failed");
    }

    /// Standard error written so far.
    pub fn stderr_so_far(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits (at most [`HANG_GUARD`]) and collects the output.
    pub fn wait(self) -> Out {
        self.wait_at_most(HANG_GUARD)
    }

    /// Waits at most `limit`; kills the process and fails the test past it.
    pub fn wait_at_most(mut self, limit: Duration) -> Out {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("waiting for repro") {
                break st;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "`{}` still running after {limit:?}\nstdout:\n{}\nstderr:\n{}",
                    self.what,
                    fs::read_to_string(&self.out).unwrap_or_default(),
                    fs::read_to_string(&self.err).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Out {
            code: status.code().unwrap_or(-1),
            stdout: fs::read_to_string(&self.out).unwrap_or_default(),
            stderr: fs::read_to_string(&self.err).unwrap_or_default(),
        }
    }
}

impl Out {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn code(&self, want: i32) -> &Out {
        assert_eq!(
            self.code, want,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn ok(&self) -> &Out {
        self.code(0)
    }

    /// Asserts stdout contains `s`.
    #[track_caller]
    pub fn out_has(&self, s: &str) -> &Out {
        assert!(
            self.stdout.contains(s),
            "stdout lacks {s:?}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts stdout does not contain `s`.
    #[track_caller]
    pub fn out_lacks(&self, s: &str) -> &Out {
        assert!(
            !self.stdout.contains(s),
            "stdout has {s:?}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts stderr contains `s`.
    #[track_caller]
    pub fn err_has(&self, s: &str) -> &Out {
        assert!(
            self.stderr.contains(s),
            "stderr lacks {s:?}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The `status` line of one stage (`fresh  S` or `stale  S  reason`).
    #[track_caller]
    pub fn status_of(&self, stage: &str) -> String {
        self.stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(stage))
            .unwrap_or_else(|| panic!("no status line for `{stage}` in\n{}", self.stdout))
            .to_string()
    }

    /// Names of the stages that ran (`running S (reason)` lines), in order.
    pub fn ran(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("running "))
            .map(|l| l.split(" (").next().unwrap_or(l).to_string())
            .collect()
    }
}

/// Restores write permission below `p` (read-only inputs and objects) so a
/// test can delete it.
pub fn make_removable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::symlink_metadata(p) {
        if meta.is_dir() {
            let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o755));
            for e in fs::read_dir(p).into_iter().flatten().flatten() {
                make_removable(&e.path());
            }
        } else if meta.is_file() {
            let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o644));
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        make_removable(self.dir.path());
    }
}
