//! The supervisor of a `cmd` stage (ARCHITECTURE.md, "Running a command").
//!
//! `repro` does not start a stage's command itself: it re-executes itself as
//! `repro __supervise PID -- bash -c RUN`, and that small process
//! - becomes a child subreaper, so every descendant that outlives its parent
//!   (a `setsid` daemon, a `nohup` job) is reparented to it and stays findable;
//! - watches the `repro` process `PID` through a pidfd, so when `repro` dies by
//!   any signal, `kill -9` included, it kills the whole tree and exits;
//! - copies the command's output into the stage log through a
//!   [`CappedLog`](crate::store::log::CappedLog), so a log stays bounded,
//!   and keeps its last 64 KiB in memory, written to its own stderr when it
//!   exits ([`TAIL_MARK`], one byte that is 1 when the output began earlier,
//!   then the bytes), so `repro` shows a failure's tail even when the log
//!   could not be written;
//! - when the command exits, kills whatever it left running before `repro`
//!   hashes the outputs, so no leftover process can write into an object;
//! - on SIGTERM (`repro` was interrupted) stops the tree: SIGTERM, then
//!   SIGKILL after a grace period.
//!
//! Its exit status is the command's (128 + N for a signal N).

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::store::log::CappedLog;
use crate::store::tail_ring::Tee;

/// The stage log as the supervisor writes it: bounded on disk, its last
/// bytes also kept in memory.
type Log = Tee<CappedLog<File>>;

/// The hidden subcommand's name.
pub const SUBCOMMAND: &str = "__supervise";

/// How long the tree gets between SIGTERM and SIGKILL after an interrupt.
const GRACE: Duration = Duration::from_secs(2);

/// Starts the failure tail on the supervisor's stderr (anything before it is
/// the supervisor's own complaint from before the log was open).
pub const TAIL_MARK: &[u8] = b"\0repro-tail\0";

/// Exit status when `repro` itself died (the command was killed).
const PARENT_DIED: i32 = 137;

/// Entry point of `repro __supervise PID -- PROGRAM ARGS…`; returns the exit code.
pub fn main(args: &[OsString]) -> i32 {
    let (parent, program, rest) = match parse(args) {
        Some(p) => p,
        None => {
            eprintln!("usage: repro {SUBCOMMAND} PID -- PROGRAM [ARGS…] (internal)");
            return 2;
        }
    };
    // SAFETY: plain syscalls with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let pidfd = match pidfd_open(parent) {
        Some(fd) => fd,
        None => return PARENT_DIED,
    };
    // The parent may have died between fork and pidfd_open.
    // SAFETY: getppid cannot fail.
    if unsafe { libc::getppid() } != parent {
        return PARENT_DIED;
    }
    let term = Arc::new(AtomicBool::new(false));
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        let _ = signal_hook::flag::register(sig, term.clone());
    }
    let mut log = match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Tee::new(CappedLog::new(File::from(fd))),
        Err(e) => {
            eprintln!("repro supervisor: cannot use the log: {e}");
            return 1;
        }
    };
    let code = supervise(parent, &pidfd, &term, program, rest, &mut log);
    let _ = log.inner.finish();
    // The failure tail from memory (issue 25, item 6): `repro` reads this
    // process's stderr to the end, so the stage's last words reach `FAILED`
    // even when the log could not be written.
    let tail = std::mem::take(&mut log.ring).into_tail();
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(TAIL_MARK);
    let _ = err.write_all(&[u8::from(tail.cut)]);
    let _ = err.write_all(&tail.bytes);
    let _ = err.flush();
    code
}

/// Runs the command with its output going to `log`; returns the exit code.
fn supervise(
    parent: i32,
    pidfd: &OwnedFd,
    term: &AtomicBool,
    program: &OsString,
    rest: &[OsString],
    log: &mut Log,
) -> i32 {
    let Some((read_end, write_end)) = pipe() else {
        let _ = writeln!(log, "repro supervisor: cannot create a pipe");
        return 1;
    };
    let (out, err) = match (write_end.try_clone(), write_end.try_clone()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return 1,
    };
    drop(write_end);
    let child = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn();
    let child_pid = match child {
        Ok(c) => c.id() as i32,
        Err(e) => {
            let _ = writeln!(
                log,
                "repro: cannot start {}: {e}",
                program.to_string_lossy()
            );
            return 127;
        }
    };
    let mut pipe_in = File::from(read_end);
    set_nonblocking(&pipe_in);
    let me = std::process::id() as i32;
    let mut status: Option<i32> = None;
    loop {
        wait_readable(&pipe_in, pidfd, 50);
        drain(&mut pipe_in, log);
        if readable(pidfd) {
            let _ = writeln!(
                log,
                "[repro: repro (pid {parent}) died; stopping the stage's processes]"
            );
            stop(me, child_pid, &mut status, &mut pipe_in, log);
            return PARENT_DIED;
        }
        reap(child_pid, &mut status);
        if status.is_some() {
            break;
        }
        if term.load(Ordering::Relaxed) {
            kill_tree(me, child_pid, &mut status, libc::SIGTERM, Duration::ZERO);
            let until = Instant::now() + GRACE;
            while status.is_none() && Instant::now() < until {
                reap(child_pid, &mut status);
                drain(&mut pipe_in, log);
                std::thread::sleep(Duration::from_millis(20));
            }
            stop(me, child_pid, &mut status, &mut pipe_in, log);
            return status.unwrap_or(143);
        }
    }
    let left = kill_tree(
        me,
        child_pid,
        &mut status,
        libc::SIGKILL,
        Duration::from_secs(5),
    );
    // Every writer of the pipe is gone now: read it to the end.
    set_blocking(&pipe_in);
    let mut rest = Vec::new();
    let _ = pipe_in.read_to_end(&mut rest);
    let _ = log.write_all(&rest);
    if left > 0 {
        let _ = writeln!(
            log,
            "[repro: killed {left} process(es) the command left running]"
        );
    }
    status.unwrap_or(1)
}

/// Kills what is left of the tree, reaps it and writes out the log.
fn stop(me: i32, child: i32, status: &mut Option<i32>, pipe_in: &mut File, log: &mut Log) {
    kill_tree(me, child, status, libc::SIGKILL, Duration::from_secs(5));
    reap(child, status);
    drain(pipe_in, log);
}

fn parse(args: &[OsString]) -> Option<(i32, &OsString, &[OsString])> {
    let parent: i32 = args.first()?.to_str()?.parse().ok()?;
    if args.get(1)?.to_str()? != "--" {
        return None;
    }
    let program = args.get(2)?;
    Some((parent, program, &args[3..]))
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the descriptor was just created and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn pipe() -> Option<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return None;
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    unsafe { Some((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))) }
}

fn set_flags(f: &File, on: bool) {
    let fd = f.as_raw_fd();
    // SAFETY: fcntl on a descriptor this process owns.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        let flags = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        libc::fcntl(fd, libc::F_SETFL, flags);
    }
}

fn set_nonblocking(f: &File) {
    set_flags(f, true);
}

fn set_blocking(f: &File) {
    set_flags(f, false);
}

/// Waits up to `ms` for output or for the parent's death.
fn wait_readable(pipe: &File, pidfd: &OwnedFd, ms: i32) {
    let mut fds = [
        libc::pollfd {
            fd: pipe.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: fds is a valid array of two pollfd structs.
    unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
}

fn readable(fd: &OwnedFd) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    unsafe { libc::poll(&mut p, 1, 0) > 0 && p.revents != 0 }
}

/// Copies what the pipe holds now into the log.
fn drain(pipe: &mut File, log: &mut impl Write) {
    let mut buf = [0u8; 64 << 10];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let _ = log.write_all(&buf[..n]);
            }
            Err(_) => break,
        }
    }
}

/// Reaps every exited child (orphans reparented here included), noting the
/// command's own status.
fn reap(child: i32, status: &mut Option<i32>) {
    loop {
        let mut st = 0;
        // SAFETY: waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
        if pid == child {
            *status = Some(if libc::WIFEXITED(st) {
                libc::WEXITSTATUS(st)
            } else if libc::WIFSIGNALED(st) {
                128 + libc::WTERMSIG(st)
            } else {
                1
            });
        }
    }
}

/// Live (non-zombie) descendants of `root`, from `/proc/*/stat`.
pub fn descendants(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<(i32, bool)>> = HashMap::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut f = after.split_whitespace();
        let state = f.next().unwrap_or("");
        let Some(ppid) = f.next().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        children.entry(ppid).or_default().push((pid, state == "Z"));
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for &(c, zombie) in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if seen.insert(c) {
                if !zombie {
                    out.push(c);
                }
                stack.push(c);
            }
        }
    }
    out
}

/// Sends `sig` to every descendant until none is left alive (or `limit`
/// passes; with a zero limit, one round); returns how many were signalled.
fn kill_tree(me: i32, child: i32, status: &mut Option<i32>, sig: i32, limit: Duration) -> usize {
    let until = Instant::now() + limit;
    let mut hit = HashSet::new();
    loop {
        let d = descendants(me);
        if d.is_empty() {
            break;
        }
        for p in &d {
            // SAFETY: kill on a pid; a pid that exited meanwhile is harmless
            // (it is ours to reap, so it cannot be reused before we do).
            unsafe { libc::kill(*p, sig) };
            hit.insert(*p);
        }
        reap(child, status);
        if Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        reap(child, status);
    }
    hit.len()
}
