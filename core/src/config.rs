//! Host configuration: broker location, route paths and retry policy.

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
}

impl Config {
    /// A configuration with default routes and retry policy.
    pub fn new(broker_url: &str) -> Config {
        Config { broker_url: broker_url.to_owned(), routes: Routes::default(), retry: RetryPolicy::default() }
    }
}
