//! A local environment for tests: a fake Stora and this proxy on SQLite in a
//! temporary directory, plus the plugin's site (it serves ownership proofs),
//! all on 127.0.0.1 and ephemeral ports. Everything stops and the directory
//! is removed when the [`ProxyEnv`] drops.
//!
//! The connect round in proxy mode: [`ProxyEnv::registered_plugin`], then
//! [`ProxyEnv::connect_until_return`] (the browser's `/connect` → Stora
//! consent → `/callback` → the return URL, with `state`, `code` and
//! `code_context`), then [`ProxyEnv::post_token`] (the signed exchange).

use std::sync::{Arc, Mutex};

use fake_stora::FakeStora;
use tessera_broker::BrokerConfig;
use tessera_broker::harness::{EXAMPLE_SCOPES, TempDir, TestClient};
use tessera_broker::observe::LogSink;
use tessera_broker::plugin_host::{Browser, Decision, PluginHost, SiteServer, registration};
use tessera_core::{ApiRequest, Response};

use crate::{Proxy, ProxyConfig};

/// How to build a [`ProxyEnv`].
#[derive(Clone, Debug)]
pub struct ProxyEnvOptions {
    /// Ask web-site registrations for an ownership proof (every platform).
    pub require_ownership_proof: bool,
    /// Local development: `http` sites and return URLs on loopback hosts.
    /// Off, only `https` sites register (none can be served here).
    pub local_development: bool,
    /// Fake Stora settings.
    pub stora: fake_stora::Config,
    /// The proxy key (32-64 bytes); `None`: 32 random bytes.
    pub proxy_key: Option<Vec<u8>>,
}

impl Default for ProxyEnvOptions {
    fn default() -> Self {
        ProxyEnvOptions {
            require_ownership_proof: true,
            local_development: true,
            stora: fake_stora::Config::default(),
            proxy_key: None,
        }
    }
}

/// Fake Stora + proxy + site.
pub struct ProxyEnv {
    /// The plugin's site (serves ownership proofs).
    pub site: SiteServer,
    /// The proxy.
    pub proxy: Proxy,
    /// The fake Stora.
    pub stora: FakeStora,
    /// The proxy's log lines.
    pub logs: Arc<Mutex<Vec<String>>>,
    /// Raw requests and the fake Stora's control routes.
    pub client: TestClient,
    // Last: removed after the servers above have stopped.
    dir: TempDir,
}

impl ProxyEnv {
    /// Starts the fake Stora, the proxy and the site.
    pub fn start(options: ProxyEnvOptions) -> std::io::Result<ProxyEnv> {
        let dir = TempDir::new("tessera-proxy-env-")?;
        let stora = FakeStora::start(options.stora.clone())?;
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut registry = BrokerConfig::new(
            stora.url(),
            &options.stora.client_id,
            &options.stora.client_secret,
            dir.path().join("proxy.sqlite3"),
        );
        registry.require_ownership_proof(options.require_ownership_proof);
        registry.allow_loopback_sites = options.local_development;
        registry.allowed_extension_ids = vec![tessera_broker::WILDCARD.to_string()];
        registry.allowed_scopes = EXAMPLE_SCOPES.iter().map(|s| s.to_string()).collect();
        registry.log = LogSink::Memory(logs.clone());
        let key = options.proxy_key.clone().unwrap_or_else(|| {
            let mut key = vec![0u8; 32];
            tessera_broker::crypto::fill_random(&mut key);
            key
        });
        let proxy = Proxy::start(ProxyConfig::new(registry, &key))?;
        let site = SiteServer::start()?;
        let client = TestClient::new(&stora);
        Ok(ProxyEnv { site, proxy, stora, logs, client, dir })
    }

    /// The proxy's URL (the companion's `broker_url` in proxy mode).
    pub fn proxy_url(&self) -> &str {
        self.proxy.url()
    }

    /// A new, unregistered plugin installation pointed at the proxy, serving
    /// its ownership proofs on the site.
    pub fn plugin(&self) -> PluginHost {
        PluginHost::new(self.proxy_url()).expect("loopback proxy URL is valid").with_site(self.site.handle())
    }

    /// A new plugin installation, registered (ownership proof served).
    pub fn registered_plugin(&self) -> Result<PluginHost, tessera_core::Error> {
        let mut plugin = self.plugin();
        plugin.register(&registration(self.site.url(), "wordpress"))?;
        Ok(plugin)
    }

    /// The plugin's return URL (its settings page on the site).
    pub fn return_url(&self) -> String {
        format!("{}/wp-admin/options-general.php?page=tessera", self.site.url())
    }

    /// The browser's round: the plugin's connect URL → the proxy → Stora's
    /// consent (approved as `operator`) → the proxy's callback → the return
    /// URL, which is returned (not fetched).
    pub fn connect_until_return(
        &self,
        plugin: &mut PluginHost,
        browser: &Browser,
        operator: &str,
    ) -> Result<String, tessera_core::Error> {
        plugin.connect_until_return(browser, &self.return_url(), None, Decision::Approve(operator))
    }

    /// `POST /token` signed by `plugin`, its body built from the URL the
    /// browser landed on (`state`, `code`, `code_context` of its query) and
    /// the return URL. The proxy's raw answer.
    pub fn post_token(&self, plugin: &mut PluginHost, landing: &str) -> Response {
        let params = landing_params(landing);
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map_or("", |(_, v)| v.as_str());
        let body = tessera_core::TokenRequest {
            code: tessera_core::SecretText::new(get("code")),
            code_context: get("code_context").to_string(),
            state: get("state").to_string(),
            return_url: self.return_url(),
        };
        self.post_signed(plugin, "/token", body.to_json().into_bytes())
    }

    /// A signed `POST {path}` with a JSON `body`, sent once; the raw answer
    /// (status 0 and the message when nothing was read).
    pub fn post_signed(&self, plugin: &mut PluginHost, path: &str, body: Vec<u8>) -> Response {
        plugin.send_signed(&ApiRequest::json("POST", path, body)).unwrap_or_else(|e| Response::new(0, e.into_bytes()))
    }

    /// The temporary directory holding the SQLite file.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// The decoded query parameters of a URL.
pub fn landing_params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    tessera_core::internals::encoding::parse_query(query).unwrap_or_default()
}
