//! Crash points for the crash-injection measurement (`scripts/crash.sh`):
//! with the cargo feature `crash-points` and `TESSERA_CRASH_AT=<point>` in
//! the environment, the process kills itself with SIGKILL at that point, as
//! `kill -9` would (no destructor runs, nothing is flushed). Without the
//! feature — every normal build — [`point`] does nothing and compiles away.

/// Dies here when built with `crash-points` and `TESSERA_CRASH_AT` names
/// `name`.
#[inline(always)]
pub fn point(name: &'static str) {
    #[cfg(feature = "crash-points")]
    if std::env::var("TESSERA_CRASH_AT").is_ok_and(|at| at == name) {
        let _ = std::process::Command::new("kill").args(["-9", &std::process::id().to_string()]).status();
        // Until the signal lands.
        loop {
            std::thread::park();
        }
    }
    #[cfg(not(feature = "crash-points"))]
    let _ = name;
}
