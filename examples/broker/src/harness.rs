//! A complete local environment for the demo, the load tool and the
//! end-to-end suites: a fake Stora, this broker on SQLite in a temporary
//! directory, and the plugin's site, all on 127.0.0.1 (ephemeral ports unless
//! [`EnvOptions::broker_port`] / [`EnvOptions::stora_port`] say otherwise);
//! optionally a fault-injecting proxy in front of the broker.
//!
//! Scaled out ([`EnvOptions::instances`] > 1): several broker instances on
//! one database (the SQLite file, or PostgreSQL with
//! [`EnvOptions::database_url`]), each with its own in-memory state as
//! separate processes would have, all behind one front
//! ([`FaultProxy::front`]) that spreads requests over them one request at a
//! time; the front's URL is every instance's public URL. The switches
//! `TESSERA_TEST_INSTANCES` and `TESSERA_TEST_DATABASE_URL` set both for
//! every `EnvOptions::default()`, so a suite runs scaled out unchanged
//! (`scripts/test.d/30-e2e.sh`).
//!
//! Everything stops and the directory is removed when the [`Env`] drops.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use fake_stora::FakeStora;
use tessera_core::{Request, Response};

use crate::fault_proxy::FaultProxy;
use crate::observe::LogSink;
use crate::plugin_host::{PluginHost, SiteServer, send};
use crate::{Broker, BrokerConfig};

/// How to build an [`Env`].
#[derive(Clone, Debug)]
pub struct EnvOptions {
    /// Ask web-site registrations for an ownership proof (every platform:
    /// `BrokerConfig::require_ownership_proof`); extensions never are.
    pub require_ownership_proof: bool,
    /// The broker's `allowed_extension_ids`. Default `["*"]`: every
    /// extension, because the test browsers load the example extension
    /// unpacked from a fresh temporary directory, which gives it a new id
    /// each run. `TESSERA_ALLOWED_EXTENSION_IDS` (space- or comma-separated)
    /// overrides it in `tessera-e2e-env`.
    pub allowed_extension_ids: Vec<String>,
    /// Keep broker log lines in memory (else stderr, or off).
    pub log: LogChoice,
    /// Fake Stora settings.
    pub stora: fake_stora::Config,
    /// Put a [`FaultProxy`] in front of the broker: plugins (and browsers)
    /// reach the broker through it, and it is the broker's public URL.
    pub fault_proxy: bool,
    /// The broker's resolver for site names (`None`: the system's).
    pub resolver: Option<Arc<dyn crate::site_fetch::Resolve>>,
    /// The platforms whose web sites owe a proof, replacing what
    /// `require_ownership_proof` set (`BrokerConfig::require_ownership_proof_for`).
    pub proof_platforms: Option<Vec<String>>,
    /// `BrokerConfig::installation_idle_secs` (`None`: the default, 180 days).
    pub installation_idle_secs: Option<i64>,
    /// `BrokerConfig::pacing` (default: Stora's limits, 10/s and 60/min).
    pub pacing: crate::pacing::Pacing,
    /// The broker's port on 127.0.0.1 (0, the default: ephemeral).
    pub broker_port: u16,
    /// The fake Stora's port on 127.0.0.1 (0, the default: ephemeral).
    pub stora_port: u16,
    /// Broker instances (at least 1) on one database, behind one front
    /// when more than one. Default: `TESSERA_TEST_INSTANCES`, else 1.
    pub instances: usize,
    /// A PostgreSQL server URL (`postgres://user@127.0.0.1:port/db`): the
    /// instances share a fresh database created on that server for this
    /// environment (dropped with it). `None`: one SQLite file in the
    /// environment's directory. Default: `TESSERA_TEST_DATABASE_URL`.
    pub database_url: Option<String>,
}

/// The scaled-out switches of [`EnvOptions::default`]: instances
/// (`TESSERA_TEST_INSTANCES`, default 1) and the PostgreSQL server
/// (`TESSERA_TEST_DATABASE_URL`, unset or empty: SQLite).
pub fn test_switches() -> (usize, Option<String>) {
    let instances = std::env::var("TESSERA_TEST_INSTANCES").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let url = std::env::var("TESSERA_TEST_DATABASE_URL").ok().filter(|v| !v.is_empty());
    (instances, url)
}

/// The scopes the examples ask for (the broker's allow-list in an [`Env`]):
/// orders read and flagged (metadata), contacts read and created, and
/// Timeline Events recorded.
pub const EXAMPLE_SCOPES: &[&str] = &[
    "public.order:read",
    "public.order:write",
    "public.contact:read",
    "public.contact:write",
    "public.timeline_event:write",
];

/// Where the broker's log lines go in an [`Env`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogChoice {
    /// In memory ([`Env::logs`]).
    Memory,
    /// Standard error.
    Stderr,
    /// Nowhere.
    Off,
}

impl Default for EnvOptions {
    fn default() -> Self {
        EnvOptions {
            require_ownership_proof: true,
            allowed_extension_ids: vec![crate::WILDCARD.to_string()],
            log: LogChoice::Memory,
            stora: fake_stora::Config::default(),
            fault_proxy: false,
            resolver: None,
            proof_platforms: None,
            installation_idle_secs: None,
            pacing: crate::pacing::Pacing::default(),
            broker_port: 0,
            stora_port: 0,
            instances: test_switches().0,
            database_url: test_switches().1,
        }
    }
}

/// Fake Stora + broker (one or more instances) + site.
pub struct Env {
    /// The plugin's site (serves ownership proofs).
    pub site: SiteServer,
    /// The broker (the first instance when there are several).
    pub broker: Broker,
    /// The other instances ([`EnvOptions::instances`] − 1), on the same
    /// database and configuration.
    pub others: Vec<Broker>,
    /// The fake Stora.
    pub stora: FakeStora,
    /// The broker's log lines when [`LogChoice::Memory`].
    pub logs: Arc<Mutex<Vec<String>>>,
    /// Client credentials the broker uses.
    pub client_secret: String,
    /// The proxy in front of the broker, with [`EnvOptions::fault_proxy`]
    /// (spreading requests over the instances when there are several), or
    /// the front of several instances.
    pub proxy: Option<FaultProxy>,
    client: TestClient,
    // Last: dropped after the servers above have stopped.
    database: Option<ScratchDatabase>,
    dir: TempDir,
}

/// A fresh directory under the system's temporary directory, removed (with
/// everything in it) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `{tmp}/{prefix}{random}`.
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        let dir = std::env::temp_dir().join(crate::crypto::random_id(prefix, 9));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Env {
    /// Starts all three servers (and the front of several instances).
    pub fn start(options: EnvOptions) -> std::io::Result<Env> {
        // Removed on every early return below too (a port already taken).
        let dir = TempDir::new("tessera-env-")?;
        let database = options.database_url.as_deref().map(ScratchDatabase::create).transpose()?;
        let stora = FakeStora::start_on(options.stora.clone(), options.stora_port)?;
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut config = BrokerConfig::new(
            stora.url(),
            &options.stora.client_id,
            &options.stora.client_secret,
            dir.0.join("broker.sqlite3"),
        );
        if let Some(database) = &database {
            database.configure(&mut config);
        }
        config.require_ownership_proof(options.require_ownership_proof);
        if let Some(platforms) = &options.proof_platforms {
            config.require_ownership_proof_for = platforms.iter().cloned().collect();
        }
        config.installation_idle_secs = options.installation_idle_secs;
        config.pacing = options.pacing.clone();
        config.allowed_extension_ids = options.allowed_extension_ids.clone();
        config.allow_loopback_sites = true;
        config.allowed_scopes = EXAMPLE_SCOPES.iter().map(|s| s.to_string()).collect();
        if let Some(resolver) = &options.resolver {
            config.resolver = resolver.clone();
        }
        config.log = match options.log {
            LogChoice::Memory => LogSink::Memory(logs.clone()),
            LogChoice::Stderr => LogSink::Stderr,
            LogChoice::Off => LogSink::Off,
        };
        let instances = options.instances.max(1);
        let proxy = if options.fault_proxy {
            Some(FaultProxy::start("http://127.0.0.1:9")?)
        } else if instances > 1 {
            // The front takes the broker's port: it is what plugins use.
            Some(FaultProxy::front(options.broker_port, &[])?)
        } else {
            None
        };
        // Signatures cover the authority the plugin uses: the proxy's.
        config.public_url = proxy.as_ref().map(|p| p.url().to_string());
        let first_port = if proxy.is_some() && !options.fault_proxy { 0 } else { options.broker_port };
        let broker = Broker::start_on(config.clone(), first_port)?;
        let others = (1..instances).map(|_| Broker::start(config.clone())).collect::<std::io::Result<Vec<_>>>()?;
        if !others.is_empty() && !broker.app().store.is_shared() {
            // Several instances on one SQLite file (testing the front): no
            // instance hears another's changes, so none may cache them.
            std::iter::once(&broker).chain(&others).for_each(|b| b.app().store.cache().set_enabled(false));
        }
        if let Some(proxy) = &proxy {
            let urls: Vec<&str> = std::iter::once(&broker).chain(&others).map(Broker::url).collect();
            proxy.set_upstreams(&urls);
        }
        let site = SiteServer::start()?;
        let client = TestClient::new(&stora);
        Ok(Env {
            site,
            broker,
            others,
            stora,
            logs,
            client_secret: options.stora.client_secret,
            proxy,
            dir,
            client,
            database,
        })
    }

    /// The PostgreSQL URL of this environment's own database (`None`: the
    /// SQLite file in [`Env::dir`]).
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|d| d.url.as_str())
    }

    /// Every broker instance, the first ([`Env::broker`]) first.
    pub fn instances(&self) -> impl Iterator<Item = &Broker> {
        std::iter::once(&self.broker).chain(&self.others)
    }

    /// Shifts every instance's clock (tests: expire pending connects).
    pub fn set_clock_offset(&self, secs: i64) {
        self.instances().for_each(|b| b.app().set_clock_offset(secs));
    }

    /// An installation's counters, summed over the instances (each counts
    /// the calls it answered).
    pub fn install_counters(&self, install_id: &str) -> crate::observe::InstallCounters {
        let mut sum = crate::observe::InstallCounters::default();
        for c in self.instances().map(|b| b.app().observer.install(install_id)) {
            sum.requests += c.requests;
            sum.successes += c.successes;
            sum.redirects += c.redirects;
            sum.client_errors += c.client_errors;
            sum.rate_limited += c.rate_limited;
            sum.server_errors += c.server_errors;
            sum.refreshes += c.refreshes;
            for (reason, n) in c.refresh_failures {
                *sum.refresh_failures.entry(reason).or_default() += n;
            }
            sum.rotations_lost += c.rotations_lost;
            sum.replays_refused += c.replays_refused;
        }
        sum
    }

    /// The broker's URL as plugins use it (the proxy's, when there is one).
    pub fn broker_url(&self) -> &str {
        self.proxy.as_ref().map_or(self.broker.url(), FaultProxy::url)
    }

    /// A new, unregistered plugin installation pointed at the broker, serving
    /// its ownership proofs on the site.
    pub fn plugin(&self) -> PluginHost {
        PluginHost::new(self.broker_url()).expect("loopback broker URL is valid").with_site(self.site.handle())
    }

    /// A new plugin installation, registered (its ownership proof served
    /// when asked) and connected as Stora operator `operator` (the fake's
    /// consent approved for that account), with the default scope.
    pub fn connected_plugin(&self, operator: &str) -> Result<PluginHost, tessera_core::Error> {
        let mut plugin = self.plugin();
        plugin.register(&crate::plugin_host::registration(self.site.url(), "wordpress"))?;
        let browser = crate::plugin_host::Browser::default();
        plugin.connect(&browser, &self.return_url(), None, crate::plugin_host::Decision::Approve(operator))?;
        Ok(plugin)
    }

    /// The plugin's return URL (its settings page on the site).
    pub fn return_url(&self) -> String {
        format!("{}/wp-admin/options-general.php?page=tessera", self.site.url())
    }

    /// The broker's admin token.
    pub fn admin_token(&self) -> &str {
        &self.broker.app().config.admin_token
    }

    /// The temporary directory holding the SQLite file.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir.0
    }

    /// Calls an admin route (`POST` with an empty body, or `GET`).
    pub fn admin(&self, method: &str, path: &str) -> Response {
        self.http(Request {
            method: method.into(),
            url: format!("{}{path}", self.broker.url()),
            headers: vec![("authorization".into(), format!("Bearer {}", self.admin_token()))],
            body: Vec::new(),
        })
    }

    /// Calls a fake Stora control route with a JSON body.
    pub fn stora_control(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        self.client.stora_control(path, body)
    }

    /// Reads a fake Stora control route (`GET /_control/{path}`), e.g.
    /// `grants?operator=opr_x`.
    pub fn stora_view(&self, path: &str) -> serde_json::Value {
        self.client.stora_view(path)
    }

    /// Sends a raw request.
    pub fn http(&self, req: Request) -> Response {
        self.client.http(req)
    }
}

/// The tests' side of HTTP: raw requests (a redirect is an answer, never
/// followed) and the fake Stora's control routes. The broker's [`Env`] holds
/// one, and so does the authorization proxy's environment (`examples/proxy`).
pub struct TestClient {
    agent: ureq::Agent,
    stora_url: String,
}

impl TestClient {
    /// A client of the fake `stora`.
    pub fn new(stora: &FakeStora) -> TestClient {
        TestClient {
            agent: crate::stora::http_agent(std::time::Duration::from_secs(30)),
            stora_url: stora.url().to_string(),
        }
    }

    /// Sends a raw request; status 0 and the message when nothing was read.
    pub fn http(&self, req: Request) -> Response {
        send(&self.agent, &req).unwrap_or_else(|e| Response::new(0, e.into_bytes()))
    }

    /// Calls the control route `POST /_control/{path}` with a JSON body;
    /// its JSON answer (`null` if none).
    pub fn stora_control(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let url = format!("{}/_control/{path}", self.stora_url);
        let headers = vec![("content-type".into(), "application/json".into())];
        let resp = self.http(Request { method: "POST".into(), url, headers, body: body.to_string().into_bytes() });
        serde_json::from_slice(&resp.body).unwrap_or_default()
    }

    /// Reads the control route `GET /_control/{path}`, e.g.
    /// `grants?operator=opr_x`; its JSON answer (`null` if none).
    pub fn stora_view(&self, path: &str) -> serde_json::Value {
        let url = format!("{}/_control/{path}", self.stora_url);
        let resp = self.http(Request { method: "GET".into(), url, headers: Vec::new(), body: Vec::new() });
        serde_json::from_slice(&resp.body).unwrap_or_default()
    }
}

/// A database of its own for one [`Env`] on a shared PostgreSQL server
/// (`scripts/pg.sh` starts one per test run): tests running side by side
/// never see each other's installations, and the database is dropped with
/// the environment.
pub struct ScratchDatabase {
    /// The server's URL as given (its own database: where this one is
    /// created from and dropped from).
    server_url: String,
    /// This database's name.
    name: String,
    /// The URL the brokers use (the server's, naming this database).
    url: String,
}

impl ScratchDatabase {
    /// Creates a fresh database on the server `server_url` names (its user
    /// needs `CREATEDB`).
    pub fn create(server_url: &str) -> std::io::Result<ScratchDatabase> {
        let name = crate::crypto::random_id("tessera_env_", 9).to_ascii_lowercase().replace('-', "_");
        // Random ids are base64url: lowercased, `-` made `_`, still unique
        // enough for one run, and a plain identifier (no quoting needed).
        admin_client(server_url)?.batch_execute(&format!("CREATE DATABASE {name}")).map_err(|e| {
            std::io::Error::other(format!("cannot create a database on {}: {e}", redact_url(server_url)))
        })?;
        Ok(ScratchDatabase { server_url: server_url.to_string(), url: with_database(server_url, &name), name })
    }

    /// The URL naming this database (what the brokers use).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Points `config` at this database.
    pub fn configure(&self, config: &mut BrokerConfig) {
        config.database_url = Some(self.url.clone());
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // The brokers have stopped (they drop first), but their pooled
        // connections may close a moment later: FORCE ends what is left.
        if let Ok(mut client) = admin_client(&self.server_url) {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// A client on the server's own database, to create and drop others.
fn admin_client(server_url: &str) -> std::io::Result<postgres::Client> {
    let mut config: postgres::Config = server_url
        .parse()
        .map_err(|e| std::io::Error::other(format!("not a PostgreSQL URL ({}): {e}", redact_url(server_url))))?;
    config.connect_timeout(std::time::Duration::from_secs(10));
    config
        .connect(postgres::NoTls)
        .map_err(|e| std::io::Error::other(format!("cannot reach PostgreSQL at {}: {e}", redact_url(server_url))))
}

/// `url` naming the database `name` instead of its own (query kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A database URL for messages: scheme, host, port and database, never a
/// user or password.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{host}")
        }
        None => "(not a URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(with_database("postgres://u@127.0.0.1:5/tessera", "x"), "postgres://u@127.0.0.1:5/x");
        assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
        assert_eq!(with_database("postgresql://u@h/db?sslmode=disable", "x"), "postgresql://u@h/x?sslmode=disable");
        assert_eq!(redact_url("postgres://u:secret@h:5/db"), "postgres://h:5/db");
        assert_eq!(redact_url("nothing"), "(not a URL)");
    }
}
