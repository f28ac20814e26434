//! Crash points for the crash-injection runs (`scripts/crash.sh`): named
//! places in the refresh path where a broker process can be made to die as
//! `kill -9` would kill it — no destructors, no flush, no answer.
//!
//! Only a build with the cargo feature `crash-points` (never the default or
//! the demo build) can crash: there [`point`] kills the process when the
//! environment variable `TESSERA_CRASH_AT` equals the point's name. In every
//! other build [`point`] is an empty inline function that compiles away.

/// The variable naming the point to die at.
pub const VAR: &str = "TESSERA_CRASH_AT";

/// A crash point named `name`: with the feature `crash-points` and
/// `TESSERA_CRASH_AT=name`, the process sends itself SIGKILL and never
/// returns; otherwise nothing happens.
#[cfg(feature = "crash-points")]
pub fn point(name: &'static str) {
    if std::env::var(VAR).is_ok_and(|at| at == name) {
        // One line on stderr (unbuffered) so the run can tell the crash
        // from any other death; then SIGKILL through kill(1), since the
        // crate has no libc binding of its own.
        eprintln!("tessera-broker: crash point {name}: SIGKILL");
        let _ = std::process::Command::new("kill").args(["-9", &std::process::id().to_string()]).status();
        // The signal is on its way; should kill(1) be missing, abort (still
        // no destructors, no flush of anything buffered).
        std::thread::sleep(std::time::Duration::from_secs(2));
        std::process::abort();
    }
}

/// A crash point: nothing in a build without the feature `crash-points`.
#[cfg(not(feature = "crash-points"))]
#[inline(always)]
pub fn point(_name: &'static str) {}

#[cfg(all(test, feature = "crash-points"))]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    /// Run as a child by the test below: passes a point named `here`.
    #[test]
    fn child_passes_a_point() {
        if std::env::var_os("TESSERA_CRASH_CHILD").is_some() {
            super::point("here");
        }
    }

    fn child(crash_at: &str) -> std::process::ExitStatus {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash::tests::child_passes_a_point", "--test-threads", "1"])
            .env("TESSERA_CRASH_CHILD", "1")
            .env(super::VAR, crash_at)
            .output()
            .unwrap()
            .status
    }

    #[test]
    fn the_named_point_dies_by_sigkill_and_no_other() {
        assert_eq!(child("here").signal(), Some(9), "killed by SIGKILL");
        assert!(child("elsewhere").success(), "another point's name: no crash");
    }
}
