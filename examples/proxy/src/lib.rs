//! # tessera-proxy: the reference authorization proxy
//!
//! Proxy mode (docs/PROTOCOL.md §13): each installation holds its operator's
//! Stora access and refresh tokens itself and calls Stora directly; this
//! partner-hosted proxy only does what needs the OAuth client secret —
//! exchange a code, refresh and revoke tokens. It is **stateless for OAuth**:
//! no session, no token store. What it must remember between the browser's
//! `GET /connect` and the plugin's `POST /token` travels in two tokens signed
//! with its own key ([`tessera_core::ProxyState`], [`tessera_core::CodeContext`]).
//! It keeps only the installation registry (install id → sealed secret, site
//! URL, status), as the broker does, because installations authenticate to it
//! with Tessera's registration and RFC 9421 request signing.
//!
//! | route | handler |
//! |---|---|
//! | `POST /installations`, `PATCH`/`DELETE /installations/{id}`, `GET /installations/{id}/uninstall`, `POST /installations/{id}/revoke-previous` | the broker's ([`tessera_broker::registry_routes`]) |
//! | `GET /connect` | [`connect::connect`] (signed link, return URL and scope allow-lists, browser cookie → Stora authorize) |
//! | `GET /callback` | [`connect::callback`] (proxy state + cookie → return URL with `code` and `code_context`) |
//! | `POST /token` | [`tokens::token`] (signed: code context → Stora code exchange → tokens + account) |
//! | `POST /refresh` | [`tokens::refresh`] (signed: Stora refresh, rotated pair) |
//! | `POST /revoke` | [`tokens::revoke`] (signed: Stora revoke, idempotent) |
//! | `POST /admin/installations/{id}/disable` / `enable` | the broker's kill switch |
//!
//! The broker crate is used as a library for everything that is the same:
//! its [`App`] holds the registry (SQLite, secrets sealed at rest), the
//! [`tessera_core::Verifier`] and its replay store, the Stora client (the
//! client secret) and the observer, whose log lines carry the route, the
//! installation, the status and an error code — never a header, a query or a
//! body, so no token, code, code context, state or key.
//!
//! Start one in-process with [`Proxy::start`] (127.0.0.1, stops when
//! dropped), or run the `tessera-proxy` binary ([`harness`] adds a fake
//! Stora for tests).

pub mod connect;
#[cfg(feature = "demo")]
pub mod harness;
pub mod tokens;

use std::sync::Arc;

use axum::Router;
use tessera_broker::{App, BrokerConfig, Running, Serve, registry_routes, route, with_fallbacks};
use tessera_core::ProxyKey;
use tessera_core::internals::secret::ct_eq;
use zeroize::Zeroizing;

/// Proxy settings: the registry's, and the proxy's own key.
pub struct ProxyConfig {
    /// The settings shared with the broker: Stora's URL, the OAuth client
    /// id and secret, the default and allowed scopes, the SQLite file and the
    /// storage key sealing installation secrets, the admin token (kill
    /// switch), ownership proofs and the extension allow-list, the public
    /// URL, the replay store, idle installations and the log sink.
    /// `allow_loopback_sites` is the proxy's local-development switch: it
    /// also admits `http` return URLs on loopback hosts. The broker-only
    /// settings (pacing, refresh margin, connect round lifetime) are unused.
    pub registry: BrokerConfig,
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig").field("registry", &self.registry).field("key", &"[redacted]").finish()
    }
}

impl ProxyConfig {
    /// A configuration with `registry` settings and the proxy key `key`
    /// (32-64 random bytes; never the OAuth client secret). Both are checked
    /// when the proxy starts ([`ProxyConfig::proxy_key`]).
    pub fn new(registry: BrokerConfig, key: &[u8]) -> ProxyConfig {
        ProxyConfig { registry, key: Zeroizing::new(key.to_vec()) }
    }

    /// [`ProxyConfig::new`] with the key as base64url text (the
    /// `TESSERA_PROXY_KEY` variable). Refused: text that is not base64url, or
    /// is the client secret itself.
    pub fn from_base64url(registry: BrokerConfig, key: &str) -> Result<ProxyConfig, String> {
        if ct_eq(key.as_bytes(), registry.client_secret.as_bytes()) {
            return Err(SAME_AS_CLIENT_SECRET.into());
        }
        let bytes = tessera_core::internals::encoding::b64url_decode_secret(key)
            .ok_or_else(|| String::from("the proxy key must be base64url (no padding)"))?;
        Ok(ProxyConfig::new(registry, &bytes))
    }

    /// The key the proxy signs its states and code contexts with. Refused:
    /// a key of fewer than 32 or more than 64 bytes, or one equal to the OAuth
    /// client secret (whoever holds the secret could then forge code contexts).
    pub fn proxy_key(&self) -> Result<ProxyKey, String> {
        if ct_eq(&self.key, self.registry.client_secret.as_bytes()) {
            return Err(SAME_AS_CLIENT_SECRET.into());
        }
        ProxyKey::new(&self.key).map_err(|e| format!("the proxy key: {e}"))
    }
}

const SAME_AS_CLIENT_SECRET: &str = "the proxy key must not be the OAuth client secret";

/// The proxy's state: the broker's [`App`] (registry, verifier, replay
/// store, Stora client, observer, clock) and the proxy key.
pub struct ProxyApp {
    /// What the proxy shares with the broker.
    pub registry: App,
    key: ProxyKey,
}

impl AsRef<App> for ProxyApp {
    fn as_ref(&self) -> &App {
        &self.registry
    }
}

impl ProxyApp {
    /// Builds the state (checks the key, opens the database); `public_url`
    /// is the proxy's URL as plugins and browsers use it.
    pub fn new(config: ProxyConfig, public_url: String) -> std::io::Result<ProxyApp> {
        let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
        let key = config.proxy_key().map_err(invalid)?;
        let registry = App::new(config.registry, public_url).map_err(std::io::Error::other)?;
        Ok(ProxyApp { registry, key })
    }

    /// The key of the proxy's [`tessera_core::ProxyState`]s and
    /// [`tessera_core::CodeContext`]s.
    pub fn key(&self) -> &ProxyKey {
        &self.key
    }

    /// The proxy clock, unix seconds (shifted by [`App::set_clock_offset`]).
    pub fn now(&self) -> i64 {
        self.registry.now()
    }

    /// The `redirect_uri` registered with Stora: `{public_url}/callback`.
    pub fn callback_url(&self) -> String {
        format!("{}/callback", self.registry.public_url)
    }
}

/// The proxy's router: the broker's registry routes and fallbacks, and the
/// proxy's own five.
pub fn router(app: Arc<ProxyApp>) -> Router {
    let routes = registry_routes(Router::new())
        .route("/connect", route!(ProxyApp, get, "GET /connect", connect::connect))
        .route("/callback", route!(ProxyApp, get, "GET /callback", connect::callback))
        .route("/token", route!(ProxyApp, post, "POST /token", tokens::token))
        .route("/refresh", route!(ProxyApp, post, "POST /refresh", tokens::refresh))
        .route("/revoke", route!(ProxyApp, post, "POST /revoke", tokens::revoke));
    with_fallbacks(routes, app)
}

impl Serve for ProxyApp {
    type Config = ProxyConfig;
    const NAME: &'static str = "tessera-proxy";

    fn public_url(config: &ProxyConfig) -> Option<String> {
        config.registry.public_url.clone()
    }

    /// Refused (`InvalidInput`) with a key [`ProxyConfig::proxy_key`] refuses.
    fn build(config: ProxyConfig, public_url: String) -> std::io::Result<ProxyApp> {
        ProxyApp::new(config, public_url)
    }

    fn router(state: Arc<ProxyApp>) -> Router {
        router(state)
    }
}

/// A proxy running on its own thread, on `127.0.0.1`: [`Running::start`],
/// [`Running::start_on`] (refused, `InvalidInput`, with a key
/// [`ProxyConfig::proxy_key`] refuses). Dropping it stops the server.
pub type Proxy = Running<ProxyApp>;

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(secret: &str) -> BrokerConfig {
        BrokerConfig::new("http://127.0.0.1:9", "client", secret, std::env::temp_dir().join("unused.sqlite3"))
    }

    #[test]
    fn the_key_is_checked() {
        let config = ProxyConfig::new(registry("a-client-secret"), &[7; 32]);
        assert!(config.proxy_key().is_ok());
        assert!(!format!("{config:?}").contains("7, 7"), "the key is redacted");
        for bad in [&[7u8; 31][..], &[7; 65]] {
            assert!(ProxyConfig::new(registry("a-client-secret"), bad).proxy_key().is_err(), "{} bytes", bad.len());
        }
        let secret = "s".repeat(40);
        let same = ProxyConfig::new(registry(&secret), secret.as_bytes());
        assert_eq!(same.proxy_key().err().as_deref(), Some(SAME_AS_CLIENT_SECRET));
        let text = tessera_core::internals::encoding::b64url_encode(&[9; 48]);
        assert!(ProxyConfig::from_base64url(registry("x"), &text).is_ok_and(|c| c.proxy_key().is_ok()));
        assert_eq!(ProxyConfig::from_base64url(registry(&text), &text).err().as_deref(), Some(SAME_AS_CLIENT_SECRET));
        assert!(ProxyConfig::from_base64url(registry("x"), "not base64url!").is_err());
    }
}
