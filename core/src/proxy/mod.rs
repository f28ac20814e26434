//! Authorization-proxy mode, proxy side: the formats and checks of a
//! partner-hosted proxy that only exchanges codes and refreshes and revokes
//! tokens with the OAuth client secret, while each installation keeps its
//! own Stora tokens (docs/PROTOCOL.md §13).
//!
//! The proxy keeps no OAuth session: what it must remember between
//! `GET /connect` and `POST /token` travels in two signed tokens, JWS compact
//! serialisations (RFC 7515) with HS256 under keys derived from its own
//! secret ([`ProxyKey`]) and a fixed header:
//!
//! - [`ProxyState`], the OAuth `state` it sends Stora: installation, return
//!   URL, plugin state, scope and a browser binding (the SHA-256 of the
//!   [`BROWSER_COOKIE`] it set), valid for [`PROXY_STATE_TTL_SECS`];
//! - the code context ([`CodeContext`]) it hands the plugin with Stora's code,
//!   binding the code (by its SHA-256) to the installation, return URL and
//!   plugin state, valid for [`CODE_CONTEXT_TTL_SECS`].
//!
//! The bodies of its signed routes are read strictly ([`TokenRequest`],
//! [`RefreshRequest`], [`RevokeRequest`]). Every failed check is a
//! [`Refusal`](crate::Refusal) with the answer to send (status 400 and the
//! code). Times are unix seconds; a token is valid up to and including the
//! second of its `exp`.
//!
//! ```
//! use tessera_core::{CodeContext, ProxyKey, ProxyState, SeededEntropy, TokenRequest, new_browser_cookie};
//!
//! let key = ProxyKey::new(&[7; 32])?;
//! let now = 1_700_000_000;
//!
//! // GET /connect (after begin_connect_url and the return-URL allow-list):
//! let cookie = new_browser_cookie(&mut SeededEntropy::new([1; 32]));
//! let state = ProxyState {
//!     install_id: "ins_BTrrnGcBGJrBvzfhg7XWVw".into(),
//!     return_url: "https://shop.example/wp-admin/admin.php?page=tessera".into(),
//!     plugin_state: "cccccccccccccccccccccc".into(),
//!     scope: None,
//!     browser_binding: ProxyState::binding_of(&cookie),
//! };
//! let oauth_state = state.seal(&key, now)?; // → Stora's authorize URL
//!
//! // GET /callback?code&state, in the same browser:
//! let opened = ProxyState::open(&key, &oauth_state, Some(&cookie), now + 30).unwrap();
//! let context = CodeContext::issue(&key, "code_from_stora", &opened, now + 30)?;
//! // Another browser (no cookie) is refused:
//! let refusal = ProxyState::open(&key, &oauth_state, None, now + 30).unwrap_err();
//! assert_eq!((refusal.status(), refusal.code()), (400, "proxy_state_invalid"));
//!
//! // POST /token, signed by the installation (keyid verified first):
//! let body = format!(
//!     r#"{{"code":"code_from_stora","code_context":"{context}","state":"{}","return_url":"{}"}}"#,
//!     state.plugin_state, state.return_url
//! );
//! let request = TokenRequest::parse(body.as_bytes()).unwrap();
//! CodeContext::verify(&key, &request.code_context, &request.exchange("ins_BTrrnGcBGJrBvzfhg7XWVw"), now + 40).unwrap();
//! let other = CodeContext::verify(&key, &request.code_context, &request.exchange("ins_other"), now + 40);
//! assert_eq!(other.unwrap_err().code(), "code_context_mismatch");
//! # Ok::<(), tessera_core::Error>(())
//! ```

mod body;
mod browser;
mod code;
mod fields;
mod jws;
mod key;
mod members;
mod secret_text;
mod state;

pub use body::{MAX_PROXY_BODY, RefreshRequest, RevokeRequest, TokenRequest};
pub use browser::{BROWSER_COOKIE, browser_cookie_header, browser_cookie_in, is_browser_cookie, new_browser_cookie};
pub use code::{CodeContext, CodeExchange};
pub use fields::{MAX_RETURN_URL, MAX_STORA_TOKEN};
pub use jws::MAX_PROXY_TOKEN;
pub use key::ProxyKey;
pub use secret_text::SecretText;
pub use state::ProxyState;

/// Lifetime of a proxy state (and of the browser-binding cookie), seconds.
pub const PROXY_STATE_TTL_SECS: i64 = 600;
/// Lifetime of a code context, seconds.
pub const CODE_CONTEXT_TTL_SECS: i64 = 300;
