//! The *plugin* side, for the demo, the load tool and the end-to-end tests:
//! a minimal host that owns a tessera-core [`Companion`] and sends what it
//! asks for over real HTTP (ureq), the way a WordPress plugin does with
//! `wp_remote_request`. It is not part of the broker; it lives here so the
//! broker's tests and tools can drive the whole lifecycle.
//!
//! * [`PluginHost`] is a driver of the sans-IO step machine, a literal
//!   transcription of `docs/HOST-CONTRACT.md` §2–4: one loop ([`PluginHost::drive`])
//!   runs every operation — registration included — performing `Send` (never
//!   following a redirect), `Sleep`, `Persist` and `ServeProof` (on its
//!   [`SiteHandle`]) until `Done`. It keeps the last persisted state JSON and
//!   can simulate a skewed local clock.
//! * [`Browser`] follows redirects like an operator's browser, with a cookie
//!   jar (the broker binds a connect round to the browser's cookie): connect
//!   URL → the broker's interstitial ("Continue") → Stora consent (approve or
//!   deny) → broker callback → the plugin's return URL (`state` + `code`),
//!   where it stops; [`PluginHost::complete_connect`] then exchanges the code.
//! * [`SiteServer`] is the plugin's site on 127.0.0.1, serving the ownership
//!   proof at `/.well-known/tessera/{install_id}` (a host publishes proofs
//!   there through a [`SiteHandle`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessera_core::{
    Account, Action, ApiRequest, Call, Companion, Completion, Config, Error, Event, OsEntropy, OwnershipProof,
    Registration, RegistrationOutcome, RemoteStep, Request, Response, TransportError, UninstallReport,
};

/// Unix seconds from the wall clock.
pub fn wall_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Sends a core [`Request`] with ureq and returns a core [`Response`].
/// Every status is a response, a 3xx included: the agent never follows a
/// redirect (`max_redirects(0)`, see [`crate::stora::http_agent`]). `Err`
/// means no response could be read (DNS, connect, timeout, reset, a body cut
/// short).
pub fn send(agent: &ureq::Agent, req: &Request) -> Result<Response, String> {
    let mut builder = ureq::http::Request::builder().method(req.method.as_str()).uri(&req.url);
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let result = if req.body.is_empty() {
        builder.body(()).map(|r| agent.run(r))
    } else {
        builder.body(req.body.clone()).map(|r| agent.run(r))
    };
    let mut resp = result.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    let headers = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let body = resp.body_mut().with_config().limit(8 * 1024 * 1024).read_to_vec().map_err(|e| e.to_string())?;
    Ok(Response { status: resp.status().as_u16(), headers, body })
}

/// What happened while driving one call, for assertions and the demo.
#[derive(Clone, Debug, Default)]
pub struct CallTrace {
    /// Every action the machine asked for, in order: `send`, `sleep`,
    /// `persist`, `serve_proof`.
    pub actions: Vec<&'static str>,
    /// Requests sent (attempts).
    pub sends: u32,
    /// Sleeps requested, milliseconds.
    pub sleeps: Vec<u64>,
    /// State persists requested.
    pub persists: u32,
    /// Statuses the broker answered, in order.
    pub statuses: Vec<u16>,
    /// Ownership proofs the machine asked for (`ServeProof`), in order.
    pub proofs: Vec<OwnershipProof>,
    /// How many of them were served (`ProofServed`); the others were
    /// deferred (`ProofDeferred`).
    pub proofs_served: u32,
}

/// A plugin installation: a [`Companion`] plus an HTTP stack and a clock.
pub struct PluginHost {
    /// The core state machine.
    pub companion: Companion,
    /// Seconds added to the wall clock (simulates a wrong local clock).
    pub clock_skew: i64,
    /// The last state JSON the core asked to persist (what `wp_options`
    /// would hold).
    pub persisted: Option<String>,
    /// Trace of the last driven call.
    pub last_trace: CallTrace,
    /// Whether `Sleep` actions really sleep (tests keep them real).
    pub really_sleep: bool,
    /// The plugin's site, where `ServeProof` publishes ownership proofs.
    /// `None`: this host cannot serve proofs, it defers them.
    pub site: Option<SiteHandle>,
    /// Answer `ServeProof` with `ProofDeferred` even with a site (a
    /// WordPress plugin inside its activation request, whose proof route is
    /// not live yet): the registration completes with the challenge owed.
    pub defer_proofs: bool,
    /// Storage and refresh lock shared with other hosts of the same site
    /// (proxy mode's concurrent workers); `None`: this host's own copy.
    pub store: Option<std::sync::Arc<crate::host_store::HostStore>>,
    agent: ureq::Agent,
    entropy: OsEntropy,
}

impl PluginHost {
    /// A fresh, unregistered plugin talking to the broker at `broker_url`.
    pub fn new(broker_url: &str) -> Result<PluginHost, Error> {
        Ok(Self::from_companion(Companion::create(Config::new(broker_url))?))
    }

    /// A host around an existing companion (e.g. restored from JSON).
    pub fn from_companion(companion: Companion) -> PluginHost {
        PluginHost {
            companion,
            clock_skew: 0,
            persisted: None,
            last_trace: CallTrace::default(),
            really_sleep: true,
            site: None,
            defer_proofs: false,
            store: None,
            agent: crate::stora::http_agent(Duration::from_secs(30)),
            entropy: OsEntropy,
        }
    }

    /// The same host, publishing ownership proofs on `site`.
    pub fn with_site(mut self, site: SiteHandle) -> PluginHost {
        self.site = Some(site);
        self
    }

    /// The host's clock (wall clock + skew), unix seconds.
    pub fn now(&self) -> i64 {
        wall_now() + self.clock_skew
    }

    /// Sets the HTTP timeout of every request this host sends (default
    /// 30 s; the fault tests use a short one).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.agent = crate::stora::http_agent(timeout);
    }

    /// Sends one request as is.
    pub fn send(&self, req: &Request) -> Result<Response, String> {
        send(&self.agent, req)
    }

    /// Registers through the step machine ([`Companion::start_registration`]):
    /// a new installation, a pending one, or the proof round a deferred site
    /// move still owes. `Ok` is how it ended: registered, or an ownership
    /// proof still owed because this host deferred it.
    pub fn register(&mut self, reg: &Registration) -> Result<RegistrationOutcome, Error> {
        let call = self.companion.start_registration(reg)?;
        match self.drive(call)? {
            Completion::Registration(outcome) => Ok(outcome),
            _ => Err(Error::Internal("unexpected completion")),
        }
    }

    /// Drives one operation to completion: `docs/HOST-CONTRACT.md` §2, the
    /// one loop every operation runs on.
    pub fn drive(&mut self, mut call: Call) -> Result<Completion, Error> {
        let mut trace = CallTrace::default();
        let mut event = Event::Start;
        let result = loop {
            // The host clock, read once per event, just before feeding it.
            let now = self.now();
            match self.companion.step(&mut call, event, now, &mut self.entropy) {
                Action::Send(req) => {
                    // Exactly as given; one send is one attempt (the machine
                    // retries); a 3xx is fed back as a response, never followed.
                    trace.actions.push("send");
                    trace.sends += 1;
                    event = match self.send(&req) {
                        Ok(resp) => {
                            trace.statuses.push(resp.status);
                            Event::Response(resp)
                        }
                        Err(_) => Event::TransportError(TransportError::Network),
                    };
                }
                Action::Sleep(ms) => {
                    trace.actions.push("sleep");
                    trace.sleeps.push(ms);
                    if self.really_sleep {
                        std::thread::sleep(Duration::from_millis(ms));
                    }
                    event = Event::Slept;
                }
                Action::Persist(json) => {
                    // Stored before `Persisted` is fed (here: the host's copy).
                    trace.actions.push("persist");
                    trace.persists += 1;
                    if let Some(store) = &self.store {
                        store.store(&json);
                    }
                    self.persisted = Some(json);
                    event = Event::Persisted;
                }
                Action::Lock(_name) => {
                    // One lock per installation; the stored state is read
                    // after taking it (another worker may have refreshed).
                    trace.actions.push("lock");
                    let own = match self.companion.persisted_state(&mut self.entropy) {
                        Ok(own) => own,
                        Err(e) => break Err(e),
                    };
                    event = match &self.store {
                        Some(store) if !store.lock(Duration::from_secs(30)) => Event::LockUnavailable,
                        Some(store) => Event::Locked(store.load().unwrap_or(own)),
                        None => Event::Locked(self.persisted.clone().unwrap_or(own)),
                    };
                }
                Action::Unlock(_name) => {
                    trace.actions.push("unlock");
                    if let Some(store) = &self.store {
                        store.unlock();
                    }
                    event = Event::Unlocked;
                }
                Action::ServeProof(proof) => {
                    trace.actions.push("serve_proof");
                    event = match (&self.site, self.defer_proofs) {
                        (Some(site), false) => {
                            site.serve_proof(&proof);
                            trace.proofs_served += 1;
                            Event::ProofServed
                        }
                        _ => Event::ProofDeferred,
                    };
                    trace.proofs.push(proof);
                }
                Action::Done(result) => break result,
            }
        };
        self.last_trace = trace;
        result
    }

    /// A signed API call through the broker; `Ok` is the broker's 2xx answer.
    pub fn call(&mut self, req: ApiRequest) -> Result<Response, Error> {
        let call = self.companion.start_call(req)?;
        match self.drive(call)? {
            Completion::Response(resp) => Ok(resp),
            _ => Err(Error::Internal("unexpected completion")),
        }
    }

    /// Signs `req` once and sends it as is: no retry and no backoff, the
    /// broker's raw answer whatever its status (tests and load tools that
    /// count 429s and read headers).
    pub fn send_signed(&mut self, req: &ApiRequest) -> Result<Response, String> {
        let opts = tessera_core::SignOptions { now: self.now(), ..Default::default() };
        let signed = self.companion.sign_request(req, &opts, &mut self.entropy).map_err(|e| e.to_string())?;
        self.send(&signed)
    }

    /// Disconnect ([`Companion::start_disconnect`]): how the broker call ended.
    pub fn disconnect(&mut self) -> Result<RemoteStep, Error> {
        let call = self.companion.start_disconnect()?;
        match self.drive(call)? {
            Completion::Disconnected { remote } => Ok(remote),
            _ => Err(Error::Internal("unexpected completion")),
        }
    }

    /// Uninstall ([`Companion::start_uninstall`]): local state is wiped
    /// whatever the report says.
    pub fn uninstall(&mut self) -> Result<UninstallReport, Error> {
        let call = self.companion.start_uninstall();
        match self.drive(call)? {
            Completion::Uninstalled(report) => Ok(report),
            _ => Err(Error::Internal("unexpected completion")),
        }
    }

    /// "Reset this installation" ([`Companion::start_reset`]): the old
    /// installation's remote steps (best effort), then a fresh registration
    /// (its proof round served by the site, as [`PluginHost::register`]).
    pub fn reset(&mut self, reg: &Registration) -> Result<(RemoteStep, RemoteStep, RegistrationOutcome), Error> {
        let call = self.companion.start_reset(reg)?;
        match self.drive(call)? {
            Completion::Reset { disconnect, deregister, registration } => Ok((disconnect, deregister, registration)),
            _ => Err(Error::Internal("unexpected completion")),
        }
    }

    /// "The site moved" ([`Companion::start_site_moved`]), including the
    /// proof round when the broker asks the new address for one.
    pub fn site_moved(&mut self) -> Result<(), Error> {
        let call = self.companion.start_site_moved()?;
        match self.drive(call)? {
            Completion::SiteMoved => Ok(()),
            _ => Err(Error::Internal("unexpected completion")),
        }
    }

    /// "Revoke a previous installation" ([`Companion::start_revoke_previous`],
    /// `docs/PROTOCOL.md` §5.11): signed by this installation, ends the
    /// previous installation `install_id` of the same site at the broker (its
    /// Stora grant revoked). `Ok(true)`: revoked now; `Ok(false)`: the broker
    /// had nothing left of it (`404 previous_installation_not_found`).
    pub fn revoke_previous(&mut self, install_id: &str) -> Result<bool, Error> {
        let call = self.companion.start_revoke_previous(install_id)?;
        match self.drive(call)? {
            Completion::PreviousRevoked { revoked } => Ok(revoked),
            _ => Err(Error::Internal("unexpected completion")),
        }
    }

    /// `GET /api/{path}` and the JSON body.
    pub fn get_json(&mut self, path: &str) -> Result<serde_json::Value, Error> {
        let resp = self.call(ApiRequest::new("GET", path))?;
        serde_json::from_slice(&resp.body).map_err(|_| Error::Internal("broker answer is not JSON"))
    }

    /// Runs the browser connect flow: open the connect URL, approve (as
    /// `operator`) or deny at Stora, land on `return_url`, complete (the
    /// signed exchange of the connect code). `Ok` is the Stora account the
    /// site is now connected to.
    pub fn connect(
        &mut self,
        browser: &Browser,
        return_url: &str,
        scope: Option<&str>,
        decision: Decision<'_>,
    ) -> Result<Account, Error> {
        let landing = self.connect_until_return(browser, return_url, scope, decision)?;
        self.complete_connect(&landing)
    }

    /// Completes a connect from the URL the browser landed on
    /// ([`Companion::start_complete_connect`], driven like every call).
    pub fn complete_connect(&mut self, landing: &str) -> Result<Account, Error> {
        let now = self.now();
        let call = self.companion.start_complete_connect(landing, now)?;
        match self.drive(call)? {
            Completion::Connected { account } => Ok(account),
            _ => Err(Error::Internal("unexpected completion")),
        }
    }

    /// The connect flow up to the plugin's return URL (not completed):
    /// returns the URL the browser landed on.
    pub fn connect_until_return(
        &mut self,
        browser: &Browser,
        return_url: &str,
        scope: Option<&str>,
        decision: Decision<'_>,
    ) -> Result<String, Error> {
        let now = self.now();
        let url = self.companion.connect_url(return_url, scope, now, &mut self.entropy)?;
        // Stored as the machine stores it (sealed when the companion seals).
        self.persisted = Some(self.companion.persisted_state(&mut self.entropy)?);
        browser
            .connect(&url, return_url, decision)
            .map_err(|_| Error::CallbackInvalid("the browser did not reach the return URL"))
    }
}

/// What the operator does on Stora's consent page.
#[derive(Clone, Copy, Debug)]
pub enum Decision<'a> {
    /// Approve, signed in as this operator.
    Approve(&'a str),
    /// Deny.
    Deny,
}

/// Where a navigation ended.
#[derive(Debug)]
pub enum Landing {
    /// A redirect to the plugin's return URL (not fetched).
    Returned(String),
    /// A page that is not a redirect.
    Page {
        /// URL of the page.
        url: String,
        /// Status.
        status: u16,
        /// Body.
        body: String,
    },
}

/// Follows redirects like an operator's browser would, and keeps cookies:
/// each `Set-Cookie` (`name=value`; attributes ignored) is stored for the
/// host and port that set it and sent back on later requests there. Two
/// `Browser`s are two browsers.
pub struct Browser {
    agent: ureq::Agent,
    cookies: Mutex<HashMap<String, Vec<(String, String)>>>,
}

impl Default for Browser {
    fn default() -> Self {
        Browser { agent: crate::stora::http_agent(Duration::from_secs(30)), cookies: Mutex::default() }
    }
}

/// `host[:port]` of an absolute URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())]
}

impl Browser {
    /// The value of the cookie `name` this browser holds for `url`'s host.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        let jar = self.cookies.lock().unwrap_or_else(|e| e.into_inner());
        jar.get(authority(url))?.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    /// Sets (or replaces) a cookie for `url`'s host, as if it had set it.
    pub fn set_cookie(&self, url: &str, name: &str, value: &str) {
        let mut jar = self.cookies.lock().unwrap_or_else(|e| e.into_inner());
        let cookies = jar.entry(authority(url).to_string()).or_default();
        cookies.retain(|(n, _)| n != name);
        cookies.push((name.to_string(), value.to_string()));
    }

    /// One `GET`, with this browser's cookies for the host; stores the
    /// cookies the answer sets.
    pub fn get(&self, url: &str) -> Result<Response, String> {
        let mut headers = vec![("accept".to_string(), "text/html".to_string())];
        let cookie = {
            let jar = self.cookies.lock().unwrap_or_else(|e| e.into_inner());
            jar.get(authority(url)).map(|c| c.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; "))
        };
        if let Some(cookie) = cookie.filter(|c| !c.is_empty()) {
            headers.push(("cookie".into(), cookie));
        }
        let resp =
            send(&self.agent, &Request { method: "GET".into(), url: url.to_string(), headers, body: Vec::new() })?;
        for (name, value) in &resp.headers {
            if name.eq_ignore_ascii_case("set-cookie")
                && let Some((n, v)) = value.split(';').next().and_then(|pair| pair.trim().split_once('='))
            {
                self.set_cookie(url, n.trim(), v.trim());
            }
        }
        Ok(resp)
    }

    /// Opens `url` and follows redirects (at most 10) until a page, or a
    /// redirect to a URL starting with `stop_at`.
    pub fn open(&self, url: &str, stop_at: &str) -> Result<Landing, String> {
        let mut url = url.to_string();
        for _ in 0..10 {
            if url.starts_with(stop_at) {
                return Ok(Landing::Returned(url));
            }
            let resp = self.get(&url)?;
            match (resp.status, resp.header("location")) {
                (301 | 302 | 303 | 307 | 308, Some(location)) => url = resolve(&url, location),
                _ => {
                    return Ok(Landing::Page {
                        url,
                        status: resp.status,
                        body: String::from_utf8_lossy(&resp.body).into_owned(),
                    });
                }
            }
        }
        Err("too many redirects".into())
    }

    /// Opens a connect URL: the broker's interstitial, where the operator
    /// clicks "Continue" (`#continue`), then on to Stora's consent page (or a
    /// redirect to `stop_at`).
    pub fn open_connect(&self, connect_url: &str, stop_at: &str) -> Result<Landing, String> {
        match self.open(connect_url, stop_at)? {
            Landing::Page { url, status: 200, body } => match find_link(&body, "continue") {
                Some(href) => self.open(&resolve(&url, &href), stop_at),
                None => Ok(Landing::Page { url, status: 200, body }),
            },
            other => Ok(other),
        }
    }

    /// Connect URL → interstitial ("Continue") → consent page → decision →
    /// return URL.
    pub fn connect(&self, connect_url: &str, return_url: &str, decision: Decision<'_>) -> Result<String, String> {
        let consent = match self.open_connect(connect_url, return_url)? {
            Landing::Returned(url) => return Ok(url),
            Landing::Page { url, status: 200, body } => (url, body),
            Landing::Page { status, body, .. } => return Err(format!("connect page {status}: {body}")),
        };
        let (page_url, body) = consent;
        let id = match decision {
            Decision::Approve(_) => "approve",
            Decision::Deny => "deny",
        };
        let href = find_link(&body, id).ok_or_else(|| format!("no #{id} link on the consent page"))?;
        let mut next = resolve(&page_url, &href);
        if let Decision::Approve(operator) = decision {
            next = format!("{next}&operator={operator}");
        }
        match self.open(&next, return_url)? {
            Landing::Returned(url) => Ok(url),
            Landing::Page { status, body, .. } => Err(format!("ended on a page ({status}): {body}")),
        }
    }
}

/// The `href` of the element with `id="{id}"`, HTML-unescaped.
pub fn find_link(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let start = rest.find("href=\"")? + 6;
    let end = rest[start..].find('"')? + start;
    Some(rest[start..end].replace("&amp;", "&"))
}

/// Resolves a `Location` against the current URL (absolute or
/// origin-relative).
fn resolve(current: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let origin_end =
        current.find("://").and_then(|i| current[i + 3..].find('/').map(|j| i + 3 + j)).unwrap_or(current.len());
    format!("{}{}", &current[..origin_end], location)
}

/// The plugin's site: serves ownership proofs on 127.0.0.1 and takes pushes
/// of events (every `POST` is answered 200 and kept). `PUT {path}`
/// sets the body served at `path` (a test hook for the Node and PHP suites,
/// which stand in for the plugin's REST route).
pub struct SiteServer {
    handle: SiteHandle,
    seen: Arc<Mutex<Vec<SiteRequest>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SiteServer {
    /// Starts the site on an ephemeral port.
    pub fn start() -> std::io::Result<SiteServer> {
        use axum::extract::{Request as AxRequest, State};
        use axum::http::StatusCode;
        use axum::response::IntoResponse;

        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let files: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let seen: Arc<Mutex<Vec<SiteRequest>>> = Arc::default();
        type SiteState = (Arc<Mutex<HashMap<String, String>>>, Arc<Mutex<Vec<SiteRequest>>>);
        let app = axum::Router::new()
            .fallback(|State((files, seen)): State<SiteState>, req: AxRequest| async move {
                let path = req.uri().path().to_string();
                let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                    .collect();
                let method = req.method().clone();
                if method == axum::http::Method::POST {
                    // A push of events (docs/PROTOCOL.md §14.4): kept for the test to verify.
                    let body = axum::body::to_bytes(req.into_body(), 512 * 1024).await.unwrap_or_default().to_vec();
                    seen.lock().unwrap_or_else(|e| e.into_inner()).push(SiteRequest {
                        method: method.as_str().to_string(),
                        path,
                        host,
                        headers,
                        body,
                    });
                    return StatusCode::OK.into_response();
                }
                seen.lock().unwrap_or_else(|e| e.into_inner()).push(SiteRequest {
                    method: method.as_str().to_string(),
                    path: path.clone(),
                    host,
                    headers,
                    body: Vec::new(),
                });
                if method == axum::http::Method::PUT {
                    // Test hook for suites in other languages: set a file.
                    let Ok(body) = axum::body::to_bytes(req.into_body(), 64 * 1024).await else {
                        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
                    };
                    let body = String::from_utf8_lossy(&body).into_owned();
                    files.lock().unwrap_or_else(|e| e.into_inner()).insert(path, body);
                    return StatusCode::NO_CONTENT.into_response();
                }
                let body = files.lock().unwrap_or_else(|e| e.into_inner()).get(&path).cloned();
                match body {
                    Some(body) => (StatusCode::OK, [("content-type", "text/plain")], body).into_response(),
                    None => (StatusCode::NOT_FOUND, "not found").into_response(),
                }
            })
            .with_state((files.clone(), seen.clone()));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = rx => {}
                    }
                }
            });
        });
        Ok(SiteServer { handle: SiteHandle { url, files }, seen, shutdown: Some(tx), thread: Some(thread) })
    }

    /// Base URL, e.g. `http://127.0.0.1:41236`.
    pub fn url(&self) -> &str {
        self.handle.url()
    }

    /// A handle a [`PluginHost`] publishes its proofs through.
    pub fn handle(&self) -> SiteHandle {
        self.handle.clone()
    }

    /// Serves an ownership proof where the broker will fetch it.
    pub fn serve_proof(&self, proof: &OwnershipProof) {
        self.handle.serve_proof(proof);
    }

    /// Serves `body` at `path`.
    pub fn serve(&self, path: &str, body: &str) {
        self.handle.serve(path, body);
    }

    /// Every request the site received, oldest first (the broker's proof
    /// fetches: where they went and with which `Host`).
    pub fn requests(&self) -> Vec<SiteRequest> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One request a [`SiteServer`] received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteRequest {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// The `Host` header.
    pub host: String,
    /// Every header (names lowercase).
    pub headers: Vec<(String, String)>,
    /// The body of a `POST` (a push), else empty.
    pub body: Vec<u8>,
}

/// What a host can do with a [`SiteServer`]: publish files (proofs). Cheap
/// to clone; publishing after the server stopped does nothing visible.
#[derive(Clone)]
pub struct SiteHandle {
    url: String,
    files: Arc<Mutex<HashMap<String, String>>>,
}

impl SiteHandle {
    /// The site's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves an ownership proof where the broker will fetch it (its URL
    /// may carry a path prefix below this server, e.g. after a site move).
    pub fn serve_proof(&self, proof: &OwnershipProof) {
        let path = proof.url.strip_prefix(self.url.trim_end_matches('/')).unwrap_or(&proof.path);
        self.serve(path, &proof.body);
    }

    /// Serves `body` at `path`.
    pub fn serve(&self, path: &str, body: &str) {
        self.files.lock().unwrap_or_else(|e| e.into_inner()).insert(path.to_string(), body.to_string());
    }
}

impl Drop for SiteServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A registration for a site at `site_url`.
pub fn registration(site_url: &str, platform: &str) -> Registration {
    Registration {
        site_url: site_url.to_string(),
        admin_email: "owner@shop.example".into(),
        platform: platform.into(),
        plugin_version: "1.0.0".into(),
    }
}
