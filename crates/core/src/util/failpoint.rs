//! Test-only failpoints: named places where a test can pause `repro` (to
//! make a race with a writer outside its process tree deterministic) or make
//! an operation fail as a full disk would. Compiled in only with the
//! `test-hooks` feature (`make test` turns it on); without it every call is a
//! no-op and no environment variable is read.

/// Pauses at the failpoint `name` when the directory named by
/// `REPRO_TEST_HOOKS` holds `<name>.pause`: writes `<name>.reached` there,
/// then waits for `<name>.go` (at most 20 s, so a broken test cannot hang).
pub fn pause(name: &str) {
    #[cfg(feature = "test-hooks")]
    {
        let Some(dir) = std::env::var_os("REPRO_TEST_HOOKS") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        if !dir.join(format!("{name}.pause")).exists() {
            return;
        }
        let _ = std::fs::write(dir.join(format!("{name}.reached")), b"");
        let go = dir.join(format!("{name}.go"));
        let start = std::time::Instant::now();
        while !go.exists() && start.elapsed() < std::time::Duration::from_secs(20) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    #[cfg(not(feature = "test-hooks"))]
    let _ = name;
}

/// `Err(ENOSPC)` when the directory named by `REPRO_TEST_HOOKS` holds
/// `<name>.enospc` (a full disk, simulated); `Ok(())` otherwise.
pub fn check(name: &str) -> std::io::Result<()> {
    #[cfg(feature = "test-hooks")]
    {
        if let Some(dir) = std::env::var_os("REPRO_TEST_HOOKS")
            && std::path::Path::new(&dir)
                .join(format!("{name}.enospc"))
                .exists()
        {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
    }
    #[cfg(not(feature = "test-hooks"))]
    let _ = name;
    Ok(())
}
