//! Engine benchmark: `repro status` and a no-op `repro run` on a generated,
//! fully cached 200-stage pipeline, timed as whole commands (process start
//! included, as a user sees them). Prints a table; run with
//! `cargo bench --bench engine`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const STAGES: usize = 200;
const SOURCES: usize = 20;
const REPEATS: usize = 15;

fn main() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bench: cannot create a temp dir: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = run(dir.path()) {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

/// 20 source stages with a dep file each, then 180 stages that each read one
/// or two earlier stages: a DAG of width and depth like a real sweep.
fn pipeline(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("deps"))?;
    let mut y = String::from("params: { seed: 1, scale: 3 }\nstages:\n");
    for i in 0..STAGES {
        let _ = writeln!(y, "  s{i}:\n    kind: cmd");
        if i < SOURCES {
            std::fs::write(dir.join(format!("deps/d{i}.txt")), format!("dep {i}\n"))?;
            let _ = writeln!(y, "    deps: [deps/d{i}.txt]");
            let _ = writeln!(y, "    with: {{ scale: \"${{params.scale}}\", i: {i} }}");
            let _ = writeln!(y, "    run: cat deps/d{i}.txt > \"$OUT/o.txt\"");
        } else {
            let a = (i * 7) % i;
            let b = (i * 13 + 5) % i;
            let _ = writeln!(y, "    inputs: {{ a: s{a}, b: s{b} }}");
            let _ = writeln!(
                y,
                "    run: cat \"$IN_a/o.txt\" \"$IN_b/o.txt\" | head -c 64 > \"$OUT/o.txt\""
            );
        }
        let _ = writeln!(y, "    outputs: [o.txt]");
    }
    std::fs::write(dir.join("bench.yaml"), y)
}

fn repro(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_repro"))
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run repro: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "repro {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn time(dir: &Path, args: &[&str]) -> Result<(f64, f64), String> {
    let mut ms = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let t = Instant::now();
        repro(dir, args)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    Ok((ms[REPEATS / 2], ms[0]))
}

fn run(dir: &Path) -> Result<(), String> {
    pipeline(dir).map_err(|e| e.to_string())?;
    let t = Instant::now();
    repro(dir, &["run", "bench.yaml", "-j", "2"])?;
    let cold = t.elapsed().as_secs_f64();
    let (status, status_min) = time(dir, &["status", "bench.yaml"])?;
    let (noop, noop_min) = time(dir, &["run", "bench.yaml"])?;
    println!("repro engine benchmark: {STAGES}-stage cached pipeline, median of {REPEATS} (min)");
    println!("| command                 | repro ms        | goal ms | DVC 3.67 ms (issue 2) |");
    println!("|-------------------------|-----------------|---------|-----------------------|");
    println!(
        "| status                  | {status:7.1} ({status_min:5.1}) |      40 |                   830 |"
    );
    println!(
        "| no-op run               | {noop:7.1} ({noop_min:5.1}) |      50 |                  1650 |"
    );
    println!("(cold run of all {STAGES} stages with -j 2 took {cold:.1} s)");
    Ok(())
}
