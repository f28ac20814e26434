//! Broker **processes** for the scale and crash measurements
//! (`tessera-scale`, `tessera-crash`): the `tessera-broker` binary next to
//! the running one, started with a configuration in its environment, on one
//! database (a scratch PostgreSQL database or a SQLite file), behind a
//! [`FaultProxy::front`] on the URL every instance is configured with. Unlike
//! [`crate::harness::Env`] (instances in the test process), a process can be
//! killed with SIGKILL and started again.
//!
//! Every process stops by itself after its `TESSERA_MAX_LIFETIME`, and is
//! killed when its [`BrokerProcess`] drops.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use fake_stora::FakeStora;

use crate::fault_proxy::FaultProxy;
use crate::harness::{ScratchDatabase, TempDir};

/// The `tessera-broker` binary next to the running executable.
pub fn broker_binary() -> PathBuf {
    std::env::current_exe().map(|me| me.with_file_name("tessera-broker")).unwrap_or_else(|_| "tessera-broker".into())
}

/// One running `tessera-broker` process; killed (SIGKILL) and reaped when
/// dropped.
pub struct BrokerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`, its own address (past the front).
    pub url: String,
}

impl BrokerProcess {
    /// Starts `tessera-broker` with exactly `env` (nothing inherited), its
    /// log lines to the file `log`, and waits at most 30 s for its
    /// "listening on" line.
    pub fn start(env: &[(String, String)], log: &Path) -> Result<BrokerProcess, String> {
        let log = std::fs::File::create(log).map_err(|e| format!("broker log {}: {e}", log.display()))?;
        let mut child = Command::new(broker_binary())
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", broker_binary().display()))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut process = BrokerProcess { child, url: String::new() };
        let line =
            rx.recv_timeout(Duration::from_secs(30)).map_err(|_| "the broker did not start in 30 s".to_string())?;
        process.url = line
            .trim()
            .strip_prefix("tessera-broker listening on ")
            .ok_or_else(|| format!("the broker did not start: {:?}", line.trim()))?
            .to_string();
        Ok(process)
    }

    /// Waits at most `limit` for the process to end by itself: its exit
    /// status, or `None` while it still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fake Stora, a front, and the configuration of broker processes sharing
/// one database; the processes themselves are started with
/// [`Fleet::start_broker`].
pub struct Fleet {
    /// The fake Stora.
    pub stora: FakeStora,
    /// The front: the brokers' public URL.
    pub front: FaultProxy,
    /// The brokers' admin token.
    pub admin_token: String,
    env: Vec<(String, String)>,
    // Dropped last: after the brokers (their owner drops them first).
    database: Option<ScratchDatabase>,
    dir: TempDir,
}

impl Fleet {
    /// A fake Stora configured by `stora`, a front, and a database: a new
    /// one on the PostgreSQL server `postgres` names, else a SQLite file in
    /// a temporary directory. `extra` adds or overrides broker variables;
    /// every broker stops by itself after `max_lifetime_secs`.
    pub fn new(
        stora: fake_stora::Config,
        postgres: Option<&str>,
        extra: &[(&str, &str)],
        max_lifetime_secs: u64,
    ) -> Result<Fleet, String> {
        let dir = TempDir::new("tessera-fleet-").map_err(|e| e.to_string())?;
        let database = postgres.map(ScratchDatabase::create).transpose().map_err(|e| e.to_string())?;
        let fake = FakeStora::start(stora.clone()).map_err(|e| e.to_string())?;
        let front = FaultProxy::front(0, &[]).map_err(|e| e.to_string())?;
        let mut key = [0u8; 32];
        crate::crypto::fill_random(&mut key);
        let admin_token = crate::crypto::random_id("adm_", 24);
        let mut env: Vec<(String, String)> = vec![
            ("TESSERA_STORA_URL".into(), fake.url().into()),
            ("TESSERA_CLIENT_ID".into(), stora.client_id.clone()),
            ("TESSERA_CLIENT_SECRET".into(), stora.client_secret.clone()),
            ("TESSERA_STORAGE_KEY".into(), tessera_core::internals::encoding::b64url_encode(&key)),
            ("TESSERA_ADMIN_TOKEN".into(), admin_token.clone()),
            ("TESSERA_PUBLIC_URL".into(), front.url().into()),
            ("TESSERA_MAX_LIFETIME".into(), max_lifetime_secs.to_string()),
            // kill(1) for the crash points.
            ("PATH".into(), std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())),
        ];
        match &database {
            Some(db) => env.push(("DATABASE_URL".into(), db.url().to_string())),
            None => env.push(("TESSERA_DB".into(), dir.path().join("broker.sqlite3").display().to_string())),
        }
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            env.push((k.to_string(), v.to_string()));
        }
        Ok(Fleet { stora: fake, front, admin_token, env, database, dir })
    }

    /// Whether the brokers share PostgreSQL (else one SQLite file).
    pub fn on_postgres(&self) -> bool {
        self.database.is_some()
    }

    /// Starts one broker process, with `extra` variables on top of the
    /// fleet's (e.g. `TESSERA_CRASH_AT`); its log is `broker-{name}.log` in
    /// the fleet's directory.
    pub fn start_broker(&self, name: &str, extra: &[(&str, &str)]) -> Result<BrokerProcess, String> {
        let mut env = self.env.clone();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        BrokerProcess::start(&env, &self.log_path(name))
    }

    /// Where the process named `name` logs.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("broker-{name}.log"))
    }

    /// Sends the front's requests to these processes, round-robin.
    pub fn route_to(&self, brokers: &[&BrokerProcess]) {
        let urls: Vec<&str> = brokers.iter().map(|b| b.url.as_str()).collect();
        self.front.set_upstreams(&urls);
    }

    /// `GET {broker}/admin/metrics` (JSON) of one process; `null` when it
    /// does not answer.
    pub fn metrics(&self, broker: &BrokerProcess) -> serde_json::Value {
        let agent = crate::stora::http_agent(Duration::from_secs(10));
        let req = tessera_core::Request {
            method: "GET".into(),
            url: format!("{}/admin/metrics", broker.url),
            headers: vec![("authorization".into(), format!("Bearer {}", self.admin_token))],
            body: Vec::new(),
        };
        crate::plugin_host::send(&agent, &req)
            .ok()
            .and_then(|r| serde_json::from_slice(&r.body).ok())
            .unwrap_or_default()
    }
}
