//! The lifecycle every local-environment command shares
//! (`tessera-e2e-env`, `tessera-proxy-env`): flag values, the env file, and
//! the ways to stop — SIGINT/SIGTERM, standard input closing, a lifetime.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// A command-line problem: the message for standard error.
pub struct BadFlags(pub String);

/// The value after `flag`.
pub fn value(args: &mut impl Iterator<Item = String>, flag: &str) -> Result<String, BadFlags> {
    args.next().ok_or_else(|| BadFlags(format!("{flag} needs a value")))
}

/// The number after `flag`.
pub fn number<T: std::str::FromStr>(args: &mut impl Iterator<Item = String>, flag: &str) -> Result<T, BadFlags> {
    let v = value(args, flag)?;
    v.parse().map_err(|_| BadFlags(format!("{flag}: not a valid number: {v:?}")))
}

/// The env file: written atomically, removed on drop.
pub struct EnvFile(PathBuf);

impl EnvFile {
    /// Writes `line` to `path` through a temporary file in its directory.
    pub fn write(path: &Path, line: &str) -> std::io::Result<EnvFile> {
        let name = path.file_name().ok_or_else(|| std::io::Error::other("--env-file needs a file name"))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(line.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(EnvFile(path.to_path_buf()))
    }
}

impl Drop for EnvFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Sends on `stop` at SIGINT or SIGTERM; returns once the handlers are in
/// place (so no signal between start-up and the JSON line kills it uncleanly).
pub fn watch_signals(stop: mpsc::Sender<&'static str>) {
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        let name = runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
                return None;
            };
            let _ = ready_tx.send(());
            tokio::select! {
                _ = term.recv() => Some("SIGTERM"),
                _ = int.recv() => Some("SIGINT"),
            }
        });
        if let Some(name) = name {
            let _ = stop.send(name);
        }
    });
    let _ = ready_rx.recv_timeout(Duration::from_secs(5));
}

/// Sends on `stop` when standard input reaches its end.
pub fn watch_stdin(stop: mpsc::Sender<&'static str>) {
    std::thread::spawn(move || {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        let _ = stop.send("standard input closed");
    });
}

/// Waits for the first way to stop (or `max_lifetime` seconds) and says which.
pub fn wait(stop: mpsc::Receiver<&'static str>, max_lifetime: Option<u64>) -> &'static str {
    match max_lifetime {
        Some(secs) => stop.recv_timeout(Duration::from_secs(secs)).unwrap_or("--max-lifetime reached"),
        None => stop.recv().unwrap_or("no way left to stop"),
    }
}

/// Prints the JSON line on standard output (a closed one is not an error).
pub fn print_line(line: &str) {
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}
