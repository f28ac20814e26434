//! # tessera-broker: the reference broker
//!
//! A partner-hosted broker for Tessera's wire protocol v1 (docs/PROTOCOL.md).
//! It is meant to be read: each route is one synchronous function in
//! [`handlers`] (the connect flow in [`connect`]), storage is one SQLite file or a PostgreSQL database that several instances share ([`store`]), the Stora client
//! is [`stora`], and secrets at rest are sealed by [`crypto`].
//!
//! | route | handler |
//! |---|---|
//! | `POST /installations` | [`handlers::register`] (optional ownership challenge) |
//! | `GET /connect` | [`connect::connect`] (signed URL, single use, browser cookie, scope allow-list → interstitial) |
//! | `GET /connect/continue`, `GET /connect/cancel` | [`connect::connect_continue`] (same browser → Stora authorize), [`connect::connect_cancel`] ("This is not me") |
//! | `GET /callback` | [`connect::callback`] (same browser; code exchange → account → connect code → plugin) |
//! | `POST /connect/complete` | [`connect::connect_complete`] (signed: connect code → grant + broker token) |
//! | `* /api/{*path}` | [`handlers::api`] (signed proxy to Stora `/2025-09/…`) |
//! | `POST /disconnect` | [`handlers::disconnect`] |
//! | `DELETE /installations/{id}` | [`handlers::deregister`] |
//! | `PATCH /installations/{id}` | [`handlers::site_moved`] |
//! | `GET /installations/{id}/uninstall` | [`handlers::uninstall_ticket`] |
//! | `POST /installations/{id}/revoke-previous` | [`handlers::revoke_previous`] (a proven site ends its own previous installation) |
//! | `POST /admin/installations/{id}/disable` / `enable` | [`handlers::admin_set_disabled`] (kill switch) |
//! | `GET /admin/installations/{id}`, `GET /admin/metrics` | [`handlers::admin_installation`], [`handlers::admin_metrics`] (JSON) |
//! | `GET /admin/installations?status=&limit=&after=` | [`admin::list_installations`] (paginated by id, no secrets) |
//! | `GET /metrics` | [`admin::prometheus`] (Prometheus text format, per process; admin token) |
//! | `GET /events?after=&limit=` | [`webhooks::pull`] (signed, broker token: the installation's Stora events after a cursor) |
//! | `PUT /events/push`, `DELETE /events/push` | [`push::register`] (signed, broker token: the site's push URL; then each queued event is POSTed there, [`push::after_queued`]) |
//! | `POST /webhooks/stora/{hook_id}` | [`webhooks::receive`] (from Stora, `X-Stora-Signature`: verified, de-duplicated, queued) |
//!
//! Rules a partner's own broker must keep, and where this one keeps them:
//!
//! * Every plugin call after registration is verified with tessera-core's
//!   [`tessera_core::Verifier`] against the URL the plugin
//!   was configured with (the broker's public URL), with a shared replay
//!   store bounded per installation. Failures answer `401 signature_invalid |
//!   signature_expired (+Date) | replayed | unknown_installation`, `503
//!   replay_store_full` for an installation that filled its own share. A
//!   disabled or pending installation is refused before its nonce is
//!   recorded ([`handlers`]' replay gate).
//! * The broker token is bound to one installation: it is looked up by hash
//!   and must belong to the installation that signed the request.
//! * Refreshes are serialised per grant across every instance
//!   ([`store::lock`]), fenced by the grant's generation, and the rotated
//!   pair is written before the new access token is used
//!   ([`refresh::fresh_access_token`]). Stora's `invalid_grant` becomes
//!   `401 stora_reconnect_required` once a re-read shows no other instance
//!   rotated meanwhile.
//! * The client secret, Stora tokens, per-installation secrets and broker
//!   tokens never appear in logs or answers.
//! * Installations that stop signing are forgotten after
//!   [`BrokerConfig::installation_idle_days`] (their grants revoked at
//!   Stora): a sweep at most hourly, run lazily by incoming requests
//!   ([`handlers::sweep_idle`]).
//!
//! Start one in-process with [`Broker::start`] (127.0.0.1, ephemeral port,
//! stops when dropped) or run the `tessera-broker` binary.

pub mod admin;
pub mod connect;
pub mod crash;
pub mod crypto;
pub mod env;
pub mod env_cli;
#[cfg(feature = "demo")]
pub mod fault_proxy;
#[cfg(feature = "demo")]
pub mod fleet;
pub mod handlers;
#[cfg(feature = "demo")]
pub mod harness;
pub mod host_store;
pub mod metrics;
pub mod observe;
pub mod pacing;
pub mod plugin_host;
pub mod push;
pub mod refresh;
pub mod reply;
mod serve;
pub mod site_fetch;
pub mod stora;
pub mod store;
pub mod webhooks;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use tessera_core::{MemoryReplayStore, Verifier};

use crate::crypto::Vault;
use crate::observe::{LogSink, Observer};
use crate::pacing::{Pacer, Pacing};
use crate::stora::StoraClient;
use crate::store::Store;

pub use crate::reply::{Incoming, Origin, Reply};
pub use crate::serve::{Broker, Running, Serve};

/// Largest request body the broker accepts (bytes).
pub const MAX_BODY: usize = 1024 * 1024;

/// Broker settings.
#[derive(Clone)]
pub struct BrokerConfig {
    /// Stora's base URL.
    pub stora_url: String,
    /// The partner's OAuth client id.
    pub client_id: String,
    /// The partner's OAuth client secret. Only ever sent to Stora.
    pub client_secret: String,
    /// Scope asked for when the plugin names none.
    pub default_scope: String,
    /// The scopes a connect link may ask for (each space-separated part of
    /// the requested scope must be one of them; anything else is refused
    /// before the operator is sent to Stora). Default: the default scope.
    pub allowed_scopes: Vec<String>,
    /// SQLite database file (when [`database_url`](BrokerConfig::database_url) is unset).
    pub db_path: PathBuf,
    /// A `DATABASE_URL`: `postgres://…` puts the broker's state in one
    /// PostgreSQL database that several broker instances share (grants,
    /// grant locks, nonces, pacing); `sqlite:PATH` a SQLite file. `None`:
    /// SQLite at [`db_path`](BrokerConfig::db_path), one instance.
    pub database_url: Option<String>,
    /// 32-byte key sealing secrets and tokens at rest.
    pub storage_key: [u8; 32],
    /// Bearer token of the admin routes (kill switch, metrics).
    pub admin_token: String,
    /// The platforms (the registration's self-declared `platform`) whose
    /// web-site registrations and site moves are answered with an ownership
    /// challenge (202) and accepted only once the proof is fetched from the
    /// site. [`WILDCARD`] (`*`) stands for every platform; empty: no
    /// proofs. A browser-extension installation (`chrome-extension://<id>`,
    /// `moz-extension://<id>`) is never challenged, whatever its platform: it
    /// has no site to serve a proof from ([`allowed_extension_ids`] guards it
    /// instead). The platform is chosen by whoever registers, so naming only
    /// some platforms lets a registrant skip the proof by declaring another:
    /// `*` is the safe value.
    ///
    /// [`allowed_extension_ids`]: BrokerConfig::allowed_extension_ids
    pub require_ownership_proof_for: BTreeSet<String>,
    /// The browser extensions that may register: the `<id>` of their
    /// `chrome-extension://<id>` / `moz-extension://<id>` origin
    /// (case-insensitive). Any other extension installation is refused at
    /// registration (and at a site move) with `403 extension_not_allowed`.
    /// Empty (the default): no extension may register. [`WILDCARD`]
    /// (`*`) admits every extension — development and test environments only.
    pub allowed_extension_ids: Vec<String>,
    /// Accept `http://` site URLs on loopback hosts, and fetch ownership
    /// proofs from loopback addresses (tests and the demo). Every other
    /// internal address stays refused ([`site_fetch`]).
    pub allow_loopback_sites: bool,
    /// Resolves site names for the ownership-proof fetch (the system
    /// resolver; tests inject a scripted one).
    pub resolver: Arc<dyn site_fetch::Resolve>,
    /// Refresh when the access token expires within this many seconds.
    pub refresh_margin_secs: i64,
    /// Lifetime of a pending connect, seconds.
    pub connect_ttl_secs: i64,
    /// Maximum age of an uninstall ticket, seconds.
    pub uninstall_ticket_max_age_secs: i64,
    /// The broker's base URL as plugins are configured with it; signatures
    /// cover its authority. `None`: `http://{bound address}`.
    pub public_url: Option<String>,
    /// Live nonces the in-memory replay store holds per installation
    /// (`MemoryReplayStore`): an installation that fills its share is
    /// answered `503 replay_store_full` until its nonces expire; no other
    /// installation is affected.
    pub replay_capacity: usize,
    /// Forget installations that have made no verified signed request (and
    /// opened no URL-signed link) for this many days, revoking their grants
    /// at Stora (`docs/PROTOCOL.md` §5.11). `0`: never. Default 180.
    pub installation_idle_days: u32,
    /// The same limit in seconds, overriding the days when set (tests).
    /// `Some(0)`: never.
    pub installation_idle_secs: Option<i64>,
    /// Per-operator pacing of the calls forwarded to Stora ([`pacing`]):
    /// 10/s and 60/min per operator by default, a call waiting at most
    /// 2 s for its slot. [`Pacing::off`] turns it off.
    pub pacing: Pacing,
    /// Where log lines go.
    pub log: LogSink,
}

impl std::fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("stora_url", &self.stora_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("db_path", &self.db_path)
            .field("database", &self.database().map(|d| d.describe()))
            .field("storage_key", &"[redacted]")
            .field("admin_token", &"[redacted]")
            .field("require_ownership_proof_for", &self.require_ownership_proof_for)
            .field("allowed_extension_ids", &self.allowed_extension_ids)
            .field("public_url", &self.public_url)
            .field("allowed_scopes", &self.allowed_scopes)
            .field("installation_idle_days", &self.installation_idle_days)
            .field("installation_idle_secs", &self.installation_idle_secs)
            .field("pacing", &self.pacing)
            .finish_non_exhaustive()
    }
}

/// Default of [`BrokerConfig::installation_idle_days`].
pub const DEFAULT_INSTALLATION_IDLE_DAYS: u32 = 180;

/// The wildcard: in [`BrokerConfig::require_ownership_proof_for`] every platform, in
/// [`BrokerConfig::allowed_extension_ids`] every extension (development only).
pub const WILDCARD: &str = "*";

impl BrokerConfig {
    /// Turns ownership proofs on for every platform's web sites (`*`), or off.
    pub fn require_ownership_proof(&mut self, on: bool) {
        self.require_ownership_proof_for = if on { BTreeSet::from([WILDCARD.to_string()]) } else { BTreeSet::new() };
    }

    /// Whether a web-site registration (or site move) of `platform` owes an
    /// ownership proof. Extension installations never do (the caller checks
    /// the site identity first).
    pub fn proof_required_for(&self, platform: &str) -> bool {
        self.require_ownership_proof_for.contains(WILDCARD) || self.require_ownership_proof_for.contains(platform)
    }

    /// How long an installation may stay silent before it is forgotten,
    /// seconds; `None`: never.
    pub fn idle_limit_secs(&self) -> Option<i64> {
        let secs = self.installation_idle_secs.unwrap_or(i64::from(self.installation_idle_days) * 86_400);
        (secs > 0).then_some(secs)
    }

    /// The database the configuration names ([`BrokerConfig::database_url`],
    /// else SQLite at [`BrokerConfig::db_path`]); an error names a URL of no
    /// engine the broker speaks.
    pub fn database(&self) -> Result<store::Database, String> {
        match &self.database_url {
            None => Ok(store::Database::Sqlite(self.db_path.clone())),
            Some(url) => store::Database::from_url(url)
                .ok_or_else(|| "DATABASE_URL must start with postgres://, postgresql:// or sqlite:".to_string()),
        }
    }

    /// Whether the extension `id` (its origin's host) may register.
    pub fn extension_allowed(&self, id: &str) -> bool {
        self.allowed_extension_ids.iter().any(|a| a == WILDCARD || a.eq_ignore_ascii_case(id))
    }

    /// A configuration for a broker talking to `stora_url`, storing in
    /// `db_path`, with a random storage key and admin token.
    pub fn new(stora_url: &str, client_id: &str, client_secret: &str, db_path: PathBuf) -> Self {
        let mut storage_key = [0u8; 32];
        crypto::fill_random(&mut storage_key);
        BrokerConfig {
            stora_url: stora_url.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            default_scope: "public.order:read".into(),
            allowed_scopes: vec!["public.order:read".into()],
            db_path,
            database_url: None,
            storage_key,
            admin_token: crypto::random_id("adm_", 24),
            require_ownership_proof_for: BTreeSet::new(),
            allowed_extension_ids: Vec::new(),
            allow_loopback_sites: false,
            resolver: Arc::new(site_fetch::SystemResolver),
            refresh_margin_secs: 300,
            connect_ttl_secs: tessera_core::internals::connect::CONNECT_TTL_SECS,
            uninstall_ticket_max_age_secs: tessera_core::internals::connect::UNINSTALL_TICKET_MAX_AGE_SECS,
            public_url: None,
            replay_capacity: tessera_core::internals::verify::DEFAULT_REPLAY_PER_INSTALLATION,
            installation_idle_days: DEFAULT_INSTALLATION_IDLE_DAYS,
            installation_idle_secs: None,
            pacing: Pacing::default(),
            log: LogSink::Stderr,
        }
    }
}

/// The broker's state: configuration, database (with the grant locks),
/// Stora client, verifier, replay store, pacer, observer.
pub struct App {
    /// Settings.
    pub config: BrokerConfig,
    /// `scheme://authority` the plugins use (no trailing slash).
    pub public_url: String,
    /// Database.
    pub store: Store,
    /// Stora client.
    pub stora: StoraClient,
    /// Signature verifier.
    pub verifier: Verifier,
    /// Nonces seen within the window, when the broker is the only instance
    /// (SQLite); on PostgreSQL they are in the database
    /// ([`Store::record_nonce`]), shared by every instance.
    pub replay: Mutex<MemoryReplayStore>,
    /// Logs and counters.
    pub observer: Observer,
    /// Per-operator budgets of calls to Stora: in this process's memory on
    /// SQLite, in the database every instance shares on PostgreSQL.
    pub pacer: Pacer,
    clock_offset: AtomicI64,
    /// When the idle sweep last ran (broker clock, unix seconds).
    pub(crate) last_idle_sweep: AtomicI64,
    /// When this process last tried again to register an installation's
    /// webhook endpoint ([`webhooks`]): at most every
    /// [`webhooks::REGISTRATION_RETRY_SECS`]. Only verified installations
    /// that pull their events get an entry.
    pub(crate) webhook_retries: Mutex<HashMap<String, i64>>,
    /// This process's pushes of events to sites ([`push`]).
    pub pushes: Arc<push::Pushes>,
}

impl App {
    /// Builds the state (opens the database).
    pub fn new(config: BrokerConfig, public_url: String) -> Result<App, store::Error> {
        let database = config.database().map_err(store::Error::Corrupt)?;
        let store = Store::open(&database, Vault::new(&config.storage_key))?;
        Ok(App {
            stora: StoraClient::new(&config.stora_url, &config.client_id, &config.client_secret),
            verifier: Verifier::default(),
            replay: Mutex::new(MemoryReplayStore::new(config.replay_capacity)),
            observer: Observer::new(config.log.clone()),
            pacer: Pacer::new(config.pacing.clone()),
            public_url: public_url.trim_end_matches('/').to_string(),
            clock_offset: AtomicI64::new(0),
            last_idle_sweep: AtomicI64::new(i64::MIN),
            webhook_retries: Mutex::new(HashMap::new()),
            pushes: Arc::default(),
            store,
            config,
        })
    }

    /// The broker clock, unix seconds.
    pub fn now(&self) -> i64 {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        wall + self.clock_offset.load(Ordering::Relaxed)
    }

    /// Shifts the broker clock (tests: expire pending connects).
    pub fn set_clock_offset(&self, secs: i64) {
        self.clock_offset.store(secs, Ordering::Relaxed);
    }

    /// The store, when the instances share it (PostgreSQL): where the
    /// pacing log and the nonces live.
    pub fn shared_store(&self) -> Option<&Store> {
        self.store.is_shared().then_some(&self.store)
    }
}

// ---- HTTP glue -----------------------------------------------------------------------

/// A handler: plain synchronous code, run on tokio's blocking pool.
pub type Handler = fn(&App, &Incoming) -> Reply;

impl AsRef<App> for App {
    fn as_ref(&self) -> &App {
        self
    }
}

/// Reads the request, runs `handler` off the async threads, logs one line.
///
/// Generic over the server's state so that a server embedding the broker's
/// [`App`] (the reference authorization proxy, `examples/proxy`) serves its
/// routes through the same glue: body limit, idle sweep, blocking pool, log line.
pub async fn run<S: AsRef<App> + Send + Sync + 'static>(
    state: Arc<S>,
    route: &'static str,
    req: Request,
    handler: fn(&S, &Incoming) -> Reply,
) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let reply = match axum::body::to_bytes(body, MAX_BODY).await {
        Err(_) => Reply::error(413, "invalid_request", "request body too large"),
        Ok(body) => {
            let incoming = Incoming {
                method: parts.method.as_str().to_ascii_uppercase(),
                path: parts.uri.path().to_string(),
                query: parts.uri.query().map(str::to_string),
                headers: parts
                    .headers
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                    .collect(),
                body: body.to_vec(),
            };
            let worker = state.clone();
            tokio::task::spawn_blocking(move || {
                // Forget silent installations first (at most hourly).
                handlers::sweep_idle((*worker).as_ref());
                handler(&worker, &incoming)
            })
            .await
            .unwrap_or_else(|_| Reply::error(500, "internal", "the handler failed"))
        }
    };
    let app: &App = (*state).as_ref();
    app.observer.call(route, reply.install_id.as_deref(), reply.status, started.elapsed(), reply.error.as_deref());
    reply.into_http()
}

/// A known route asked with another method: `405`.
fn method_not_allowed(_app: &App, _req: &Incoming) -> Reply {
    Reply::error(405, "method_not_allowed", "this route does not take that method")
}

/// The axum method router (`$method`: `get`, `post`, …) of a route served by
/// the handler `$handler`, a `fn(&$state, &Incoming) -> Reply`, through
/// [`run`] (logged as `$route`). For a router with state `Arc<$state>`: the
/// broker's [`App`], or a server embedding it (the authorization proxy).
#[macro_export]
macro_rules! route {
    ($state:ty, $method:ident, $route:literal, $handler:expr) => {
        $crate::axum::routing::$method(
            |$crate::axum::extract::State(state): $crate::axum::extract::State<std::sync::Arc<$state>>,
             req: $crate::axum::extract::Request| $crate::run(state, $route, req, $handler),
        )
    };
}

/// The axum the [`route!`] macro expands to.
#[doc(hidden)]
pub use axum;

macro_rules! handle {
    ($method:ident, $route:literal, $handler:path) => {
        route!(App, $method, $route, $handler)
    };
}

/// The broker's router.
pub fn router(app: Arc<App>) -> Router {
    let routes = registry_routes(Router::new())
        .route("/connect", handle!(get, "GET /connect", connect::connect))
        .route("/connect/continue", handle!(get, "GET /connect/continue", connect::connect_continue))
        .route("/connect/cancel", handle!(get, "GET /connect/cancel", connect::connect_cancel))
        .route("/connect/complete", handle!(post, "POST /connect/complete", connect::connect_complete))
        .route("/callback", handle!(get, "GET /callback", connect::callback))
        .route("/api/{*path}", handle!(any, "/api/{*path}", handlers::api))
        .route("/disconnect", handle!(post, "POST /disconnect", handlers::disconnect))
        .route("/admin/installations/{id}", handle!(get, "GET /admin/installations/{id}", handlers::admin_installation))
        .route("/admin/installations", handle!(get, "GET /admin/installations", admin::list_installations))
        .route("/admin/metrics", handle!(get, "GET /admin/metrics", handlers::admin_metrics))
        .route("/metrics", handle!(get, "GET /metrics", admin::prometheus))
        .route("/events", handle!(get, "GET /events", webhooks::pull))
        .route("/events/push", handle!(any, "/events/push", push::register))
        .route("/webhooks/stora/{hook_id}", handle!(post, "POST /webhooks/stora/{hook_id}", webhooks::receive));
    with_fallbacks(routes, app)
}

/// The installation registry's routes — registration, site move,
/// deregistration, uninstall ticket, revoke-previous (docs/PROTOCOL.md §5.1,
/// §5.7–§5.9, §5.11) — and the kill switch (`POST
/// /admin/installations/{id}/disable|enable`), added to `router` for any
/// server state that embeds the broker's [`App`]: the broker's own, and the
/// reference authorization proxy's (`examples/proxy`).
pub fn registry_routes<S: AsRef<App> + Send + Sync + 'static>(router: Router<Arc<S>>) -> Router<Arc<S>> {
    macro_rules! on {
        ($method:ident, $route:literal, $handler:path) => {
            route!(S, $method, $route, |state: &S, req: &Incoming| $handler(state.as_ref(), req))
        };
    }
    router
        .route("/installations", on!(post, "POST /installations", handlers::register))
        .route(
            "/installations/{id}",
            on!(delete, "DELETE /installations/{id}", handlers::deregister).merge(on!(
                patch,
                "PATCH /installations/{id}",
                handlers::site_moved
            )),
        )
        .route(
            "/installations/{id}/uninstall",
            on!(get, "GET /installations/{id}/uninstall", handlers::uninstall_ticket),
        )
        .route(
            "/installations/{id}/revoke-previous",
            on!(post, "POST /installations/{id}/revoke-previous", handlers::revoke_previous),
        )
        .route(
            "/admin/installations/{id}/disable",
            on!(post, "POST /admin/installations/{id}/disable", handlers::admin_set_disabled),
        )
        .route(
            "/admin/installations/{id}/enable",
            on!(post, "POST /admin/installations/{id}/enable", handlers::admin_set_disabled),
        )
}

/// `router` with the broker's answers for an unknown route (`404
/// not_found`) and a known route asked with another method (`405`), and its
/// state: what [`router`] and the authorization proxy's router end with.
pub fn with_fallbacks<S: AsRef<App> + Send + Sync + 'static>(router: Router<Arc<S>>, state: Arc<S>) -> Router {
    router
        .fallback(|State(state): State<Arc<S>>, req: Request| {
            run(state, "fallback", req, |state: &S, req: &Incoming| handlers::not_found(state.as_ref(), req))
        })
        .method_not_allowed_fallback(|State(state): State<Arc<S>>, req: Request| {
            run(state, "method_not_allowed", req, |state: &S, req: &Incoming| method_not_allowed(state.as_ref(), req))
        })
        .with_state(state)
}
