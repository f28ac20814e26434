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
//! - [`Verifier`], [`verify_connect_url`], [`verify_ownership_proof`]: what a
//!   broker runs.
//! - [`signature`], [`sfv`]: a generic RFC 9421 signature base and a strict
//!   RFC 8941 parser underneath the profile.
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
//! let secret = plugin.state().installation.as_ref().unwrap().secret.clone();
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

pub mod classify;
pub mod clock;
pub mod companion;
pub mod config;
pub mod connect;
pub mod encoding;
pub mod entropy;
pub mod error;
pub mod http;
pub mod httpdate;
pub mod json;
pub mod machine;
pub mod metadata;
pub mod registration;
pub mod seal;
pub mod secret;
pub mod sfv;
pub mod sign;
pub mod signature;
pub mod state;
pub mod timeline;
pub mod url;
pub mod verify;

/// The README's Rust example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctest;

pub use classify::{Outcome, OutcomeKind, classify};
pub use companion::{Companion, SiteCheck};
pub use config::{Config, RetryPolicy, Routes};
pub use connect::ConnectParams;
#[cfg(feature = "getrandom")]
pub use entropy::OsEntropy;
pub use entropy::{Entropy, SeededEntropy};
pub use error::{Error, ErrorKind, Result};
pub use http::{ApiRequest, Request, Response};
pub use machine::{Action, Call, Completion, Event, RemoteStep, TransportError, UninstallReport};
pub use registration::{OwnershipProof, Registration, RegistrationOutcome, verify_ownership_proof};
pub use secret::{BrokerToken, Secret};
pub use sign::SignOptions;
pub use state::{Account, State, Status};
pub use timeline::TimelineEvent;
pub use verify::{
    AwaitingReplay, AwaitingSecret, ConnectUrlAwaitingSecret, MemoryReplayStore, Refusal, ReplayAnswer, ReplayStore,
    TicketAwaitingSecret, Verified, Verifier, begin_connect_url, begin_uninstall_ticket, check_ownership_proof,
    verify_connect_url, verify_uninstall_ticket,
};
