//! Host configuration: broker (or proxy) location, route paths, retry policy
//! and the authorization-proxy mode.

/// Route paths below the broker base URL (defaults: docs/PROTOCOL.md §3.3).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
pub struct Routes {
    /// Registration collection: `POST`, and `/{id}` for `DELETE`/`PATCH`.
    pub installations: String,
    /// Browser connect entry point.
    pub connect: String,
    /// Disconnect.
    pub disconnect: String,
    /// Connect completion: the signed exchange of a connect code for a
    /// broker token (docs/PROTOCOL.md §5.4.1).
    pub connect_complete: String,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            installations: "/installations".into(),
            connect: "/connect".into(),
            disconnect: "/disconnect".into(),
            connect_complete: "/connect/complete".into(),
        }
    }
}

/// Bounded retry with full-jitter exponential backoff.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
pub struct RetryPolicy {
    /// Attempts per logical call, the first included.
    pub max_attempts: u32,
    /// First backoff ceiling, milliseconds; doubles per retry.
    pub base_delay_ms: u64,
    /// Largest backoff ceiling, milliseconds.
    pub max_delay_ms: u64,
    /// Total sleeping allowed per logical call, milliseconds.
    pub max_total_delay_ms: u64,
    /// Longest `Retry-After` honoured by sleeping; longer ones surface as
    /// `rate_limited` for the host to schedule.
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay_ms: 250,
            max_delay_ms: 4_000,
            max_total_delay_ms: 15_000,
            max_retry_after_ms: 10_000,
        }
    }
}

/// Authorization-proxy mode (docs/PROTOCOL.md §13): the installation holds
/// the operator's Stora tokens itself, calls Stora directly, and a
/// partner-hosted proxy (at [`Config::broker_url`]) only exchanges codes and
/// refreshes or revokes tokens with the OAuth client secret.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(default))]
pub struct ProxyConfig {
    /// Stora's versioned API base, e.g. `https://api.stora.example/2025-09`:
    /// an [`crate::ApiRequest`] path `/api/<rest>` goes to `<base>/<rest>`.
    pub stora_api_url: String,
    /// Refresh when the access token expires within this many seconds.
    pub refresh_margin_secs: u64,
    /// The proxy's code exchange route.
    pub token: String,
    /// The proxy's refresh route.
    pub refresh: String,
    /// The proxy's revoke route.
    pub revoke: String,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            stora_api_url: String::new(),
            refresh_margin_secs: 120,
            token: "/token".into(),
            refresh: "/refresh".into(),
            revoke: "/revoke".into(),
        }
    }
}

impl ProxyConfig {
    /// Proxy mode against Stora's API at `stora_api_url`, default routes.
    pub fn new(stora_api_url: &str) -> ProxyConfig {
        ProxyConfig { stora_api_url: stora_api_url.to_owned(), ..ProxyConfig::default() }
    }
}

/// What a host configures once.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Config {
    /// Broker base URL: `https://…`, or `http://` for loopback hosts only.
    pub broker_url: String,
    /// Route paths.
    #[cfg_attr(feature = "serde", serde(default))]
    pub routes: Routes,
    /// Retry policy.
    #[cfg_attr(feature = "serde", serde(default))]
    pub retry: RetryPolicy,
    /// `Some` in authorization-proxy mode; `None` (the default) is broker mode.
    #[cfg_attr(feature = "serde", serde(default))]
    pub proxy: Option<ProxyConfig>,
}

impl Config {
    /// A configuration with default routes and retry policy.
    pub fn new(broker_url: &str) -> Config {
        Config {
            broker_url: broker_url.to_owned(),
            routes: Routes::default(),
            retry: RetryPolicy::default(),
            proxy: None,
        }
    }

    /// An authorization-proxy configuration: the proxy at `proxy_url`, Stora's
    /// API at `stora_api_url` (docs/PROTOCOL.md §13).
    pub fn proxy(proxy_url: &str, stora_api_url: &str) -> Config {
        Config { proxy: Some(ProxyConfig::new(stora_api_url)), ..Config::new(proxy_url) }
    }
}
