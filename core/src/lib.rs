//! # tessera-core
//!
//! The sans-IO core of Tessera, the plugin side of a brokered partner
//! integration with the Stora API. A plugin (WordPress, browser extension)
//! cannot hold the partner's OAuth client secret or Stora's tokens; a
//! partner-hosted broker does. This crate is everything the plugin needs to
//! talk to that broker safely, and the broker-side checks to match:
//!
//! - [`Companion`]: installation state, registration (with the optional
//!   ownership proof), the connect URL and callback, request signing,
//!   site-identity checks and sealed state.
//! - [`Companion::step`]: a step machine for whole calls — retries with
//!   full-jitter backoff, `Retry-After`, clock-skew correction, reconnect
//!   mapping, disconnect and the uninstall plan — driven by a tiny host loop.
//! - [`Companion::start_pull_events`], [`Companion::acknowledge_events`],
//!   [`Companion::verify_push`]: Stora's events, which the broker receives
//!   as webhooks, pulled by the plugin with a cursor it keeps (or pushed to
//!   a site that accepts inbound requests, signed by [`sign_push`]).
//! - [`Verifier`], [`begin_connect_url`], [`begin_uninstall_ticket`],
//!   [`check_ownership_proof`]: what a broker runs, as sans-IO steps — the
//!   broker is asked for a secret and for a replay-store answer, never called
//!   back — each failure a [`Refusal`] carrying the wire answer to send.
//! - [`ProxyKey`], [`ProxyState`], [`CodeContext`], [`TokenRequest`], …: the
//!   formats and checks of an authorization proxy (proxy mode, where each
//!   installation holds its own Stora tokens and the proxy only exchanges
//!   codes and refreshes tokens with the client secret).
//!
//! The public API is what this page lists. The parsers and encoders under it
//! (the RFC 8941 parser, the URL model that defines what is signed, the
//! strict JSON reader) are crate-private; the bindings, the reference broker
//! and the fuzz targets reach them through a hidden `internals` module that
//! is not API.
//!
//! The core performs no I/O, reads no clock and keeps no global state: time
//! (`now`, unix seconds) and randomness ([`Entropy`]) are parameters, so every
//! result is reproducible. Errors are one enum, [`Error`], with stable
//! [`Error::code`]s. Secrets ([`Secret`], [`BrokerToken`]) print as
//! `[redacted]`, compare in constant time and are zeroised on drop.
//!
//! ```
//! use tessera_core::{ApiRequest, Companion, Config, MemoryReplayStore, Registration, Response,
//!                    SeededEntropy, SignOptions, Verifier};
//!
//! let mut rng = SeededEntropy::new([42; 32]);
//! let mut plugin = Companion::create(Config::new("https://broker.example"))?;
//! let reg = plugin.registration_request(&Registration {
//!     site_url: "https://shop.example".into(),
//!     admin_email: "owner@shop.example".into(),
//!     platform: "wordpress".into(),
//!     plugin_version: "1.0.0".into(),
//! }, &mut rng)?;
//! plugin.handle_registration_response_at(&Response::new(201, vec![]), 1_700_000_000)?;
//!
//! // Sign a call; the broker verifies it with the secret it got at registration.
//! let now = 1_700_000_000;
//! let signed = plugin.sign_request(&ApiRequest::new("GET", "/api/orders?limit=3"),
//!                                  &SignOptions { now, ..Default::default() }, &mut rng)?;
//! let secret = plugin.state().installation().unwrap().secret.clone();
//! let mut replay = MemoryReplayStore::new(1024);
//! let verified = Verifier::default().verify(&signed, now, &mut |_| Some(secret.clone()), &mut replay)?;
//! assert_eq!(Some(verified.install_id.as_str()), plugin.install_id());
//! // The same request again is a replay.
//! let again = Verifier::default().verify(&signed, now, &mut |_| Some(secret.clone()), &mut replay);
//! assert_eq!(again.unwrap_err().code(), "replayed");
//! # let _ = reg;
//! # Ok::<(), tessera_core::Error>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod classify;
mod clock;
mod codes;
mod companion;
mod config;
mod connect;
mod encoding;
mod entropy;
mod error;
mod events;
mod http;
mod httpdate;
mod json;
mod machine;
pub mod metadata;
pub mod proxy;
mod push;
mod redact;
mod registration;
mod seal;
mod secret;
mod sfv;
mod sign;
mod signature;
mod state;
mod timeline;
mod url;
mod verify;

/// The README's Rust example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctest;

pub use classify::{Outcome, OutcomeKind, classify};
pub use codes::{CODES, CodeInfo, code_info};
pub use companion::{Companion, SiteCheck};
pub use config::{Config, ProxyConfig, RetryPolicy, Routes};
pub use connect::ConnectParams;
#[cfg(feature = "getrandom")]
pub use entropy::OsEntropy;
pub use entropy::{Entropy, SeededEntropy};
pub use error::{Error, ErrorKind, Explanation, Result};
pub use events::{EventPage, StoraEvent};
pub use http::{ApiRequest, Request, Response};
pub use machine::{Action, Call, Completion, Event, RemoteStep, TransportError, UninstallReport};
pub use proxy::{
    BROWSER_COOKIE, CODE_CONTEXT_TTL_SECS, CodeContext, CodeExchange, MAX_PROXY_BODY, MAX_PROXY_TOKEN, MAX_RETURN_URL,
    MAX_STORA_TOKEN, PROXY_STATE_TTL_SECS, ProxyKey, ProxyState, RefreshRequest, RevokeRequest, SecretText,
    TokenRequest, browser_cookie_header, browser_cookie_in, is_browser_cookie, new_browser_cookie,
};
pub use push::{check_push_url, sign_push};
pub use registration::{OwnershipProof, Registration, RegistrationOutcome};
pub use secret::{BrokerToken, Secret};
pub use sign::SignOptions;
pub use state::{Account, Installation, PendingConnect, State, Status, StoraTokens};
pub use timeline::TimelineEvent;
pub use verify::{
    AwaitingReplay, AwaitingSecret, ConnectUrlAwaitingSecret, MemoryReplayStore, Refusal, ReplayAnswer, ReplayStore,
    TicketAwaitingSecret, Verified, Verifier, begin_connect_url, begin_uninstall_ticket, check_ownership_proof,
    verify_connect_url, verify_uninstall_ticket,
};

/// Not API: the parsers, encoders and constants underneath the public types,
/// for the crate's own bindings (npm, PHP), the reference broker, the fuzz
/// targets and the pinned tests — as rustls exposes its internals to its
/// fuzzers. Anything here may change or go in any release; a partner's code
/// should never name it.
#[doc(hidden)]
pub mod internals {
    /// Response classification helpers.
    pub mod classify {
        pub use crate::classify::{
            ORIGIN_HEADER, error_code, fmt_http_date, parse_http_date, parse_ratelimit_reset, parse_retry_after,
        };
    }
    /// Clock-offset bounds.
    pub mod clock {
        pub use crate::clock::MAX_CLOCK_OFFSET_SECS;
    }
    /// URL-signed links.
    pub mod connect {
        pub use crate::connect::{
            CONNECT_CONTEXT, CONNECT_TTL_SECS, FUTURE_SKEW_SECS, MAX_CALLBACK, MAX_CONNECT_CODE, UNINSTALL_CONTEXT,
            UNINSTALL_TICKET_MAX_AGE_SECS, canonical_query, link_signature,
        };
    }
    /// Base64 and percent-encoding.
    pub mod encoding {
        pub use crate::encoding::*;
    }
    /// IMF-fixdate.
    pub mod httpdate {
        pub use crate::httpdate::*;
    }
    /// Bounds of requests.
    pub mod http {
        pub use crate::http::MAX_BODY;
    }
    /// The strict JSON reader and writer.
    pub mod json {
        pub use crate::json::*;
    }
    /// Step-machine bounds.
    pub mod machine {
        pub use crate::machine::UNINSTALL_MAX_ATTEMPTS;
    }
    /// Registration helpers.
    pub mod registration {
        pub use crate::registration::{
            check_email, ownership_path, ownership_proof, site_identity, verify_ownership_proof,
        };
    }
    /// Sealed state.
    pub mod seal {
        pub use crate::seal::*;
    }
    /// Constant-time comparison.
    pub mod secret {
        pub use crate::secret::ct_eq;
    }
    /// The strict RFC 8941 parser.
    pub mod sfv {
        pub use crate::sfv::*;
    }
    /// The signing profile's constants and helpers.
    pub mod sign {
        pub use crate::sign::*;
    }
    /// RFC 9421 signature bases, HMAC, Content-Digest.
    pub mod signature {
        pub use crate::signature::*;
    }
    /// State bounds and versions.
    pub mod state {
        pub use crate::state::{MAX_STATE_JSON, STATE_VERSION};
    }
    /// Timeline Event keys.
    pub mod timeline {
        pub use crate::timeline::timeline_key;
    }
    /// Stora's events: the path and bounds of a pull; a push's header and
    /// bounds, and the timestamped-HMAC header reader (Stora's webhooks' too).
    pub mod events {
        pub use crate::events::{
            DEFAULT_PULL_LIMIT, EVENTS_PULL_PATH, MAX_CURSOR_DIGITS, MAX_EVENT_NAME, MAX_PULL_LIMIT,
        };
        pub use crate::push::{
            MAX_PUSH_BODY, MAX_PUSH_EVENTS, MAX_PUSH_URL, PUSH_CONTEXT, PUSH_PATH, PUSH_SIGNATURE_HEADER,
            PUSH_TOLERANCE_SECS, parse_timestamped_signature,
        };
    }
    /// The URL model that defines what is signed.
    pub mod url {
        pub use crate::url::*;
    }
    /// Verification bounds (and, in test builds, the MAC counter).
    pub mod verify {
        #[cfg(feature = "test-hooks")]
        pub use crate::verify::mac_checks;
        pub use crate::verify::{DEFAULT_REPLAY_PER_INSTALLATION, DEFAULT_WINDOW_SECS, MAX_WINDOW_SECS};
    }
}
