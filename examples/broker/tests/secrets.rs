//! Secrets never leak (issue 8, "Hardening").
//!
//! Runs the whole lifecycle — registration with an ownership proof, connect,
//! signed GET and POST, a Stora refresh, a replay, a forged callback, a
//! revoked grant, a reconnect, the kill switch, a site move, the uninstall
//! link, disconnect, uninstall, a second registration — plus the error paths
//! that handle secret-bearing input (corrupt state JSON around the secret,
//! a wrong sealing key, malformed callbacks), with recognisable secrets:
//!
//! * every installation secret and broker token the plugin ever held (read
//!   from its state), every authorization code, access token and refresh
//!   token the fake Stora issued (it records them, with a canary prefix),
//!   the OAuth client secret and the broker's storage key;
//! * each in the encodings a leak could take: as is, percent-encoded,
//!   base64 (standard and URL-safe), hex (lower and upper) — for the
//!   32-byte secret and key, of their raw bytes too, and the raw bytes
//!   themselves in binary files.
//!
//! and searches everything observable for them:
//!
//! * `Debug` and `Display` of every core value the lifecycle produced:
//!   each step-machine action and event, each completion and error, the
//!   companion itself, every registration outcome;
//! * the broker's log lines, its `/metrics` and what `tessera-broker-admin`
//!   prints (`list`, `show`, `metrics`);
//! * every request the broker and the fake Stora received (two recording
//!   proxies): URL, and the broker's answers (headers and body);
//! * the URLs the plugin hands to a browser (connect, uninstall link) and
//!   the one the browser lands on;
//! * what a host persists: the sealed state after every change (never the
//!   plain JSON), and the broker's SQLite files.
//!
//! Allowed, and checked to be where the protocol puts them (so the search is
//! known to work): the connect code in the callback URL the broker redirects
//! the browser to (`return_url?state&code`) and in the body of the plugin's
//! signed `POST /connect/complete`; the broker token only in the broker's
//! answer to that POST (never in a URL: PROTOCOL.md §5.4); and the
//! authorization code in Stora's redirect to the broker's `/callback` (OAuth).
//! Connect codes are searched for everywhere else, the broker's log lines
//! and SQLite files included (the broker keeps only their hash).

use std::collections::BTreeMap;

use base64::Engine as _;
use fake_stora::FakeStora;
use tessera_broker::fault_proxy::FaultProxy;
use tessera_broker::observe::LogSink;
use tessera_broker::plugin_host::{Browser, Decision, PluginHost, SiteServer, registration};
use tessera_broker::{Broker, BrokerConfig};
use tessera_core::{
    Action, ApiRequest, Call, Companion, Completion, Event, OsEntropy, Registration, RegistrationOutcome, Request,
    Response, SignOptions, TransportError,
};

/// Recognisable prefix of every token the fake Stora issues.
const CANARY: &str = "CANARYstora-";

/// The kinds of secret searched for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InstallSecret,
    BrokerToken,
    ConnectCode,
    AuthCode,
    StoraToken,
    ClientSecret,
    StorageKey,
}

/// One secret value in one encoding.
struct Needle {
    kind: Kind,
    form: &'static str,
    text: Vec<u8>,
}

fn text_forms(kind: Kind, value: &str, needles: &mut Vec<Needle>) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let forms: [(&'static str, String); 5] = [
        ("plain", value.to_string()),
        ("percent", form_urlencoded::byte_serialize(value.as_bytes()).collect()),
        ("base64", b64.encode(value)),
        ("base64url", b64url.encode(value)),
        ("hex", hex(value.as_bytes())),
    ];
    for (form, text) in forms {
        needles.push(Needle { kind, form, text: text.into_bytes() });
    }
}

fn bytes_forms(kind: Kind, raw: &[u8], needles: &mut Vec<Needle>) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
    let forms: [(&'static str, Vec<u8>); 6] = [
        ("raw", raw.to_vec()),
        ("hex", hex(raw).into_bytes()),
        ("HEX", hex(raw).to_ascii_uppercase().into_bytes()),
        ("base64", b64.clone().into_bytes()),
        ("base64url", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw).into_bytes()),
        ("base64-percent", form_urlencoded::byte_serialize(b64.as_bytes()).collect::<String>().into_bytes()),
    ];
    for (form, text) in forms {
        needles.push(Needle { kind, form, text });
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Everything observed, with the kinds allowed in it.
#[derive(Default)]
struct Capture {
    items: Vec<(String, Vec<u8>, Vec<Kind>)>,
}

impl Capture {
    fn add(&mut self, place: impl Into<String>, text: impl AsRef<[u8]>) {
        self.items.push((place.into(), text.as_ref().to_vec(), Vec::new()));
    }

    fn add_allowing(&mut self, place: impl Into<String>, text: impl AsRef<[u8]>, allowed: &[Kind]) {
        self.items.push((place.into(), text.as_ref().to_vec(), allowed.to_vec()));
    }

    fn debug(&mut self, place: &str, value: &dyn std::fmt::Debug) {
        self.add(format!("Debug of {place}"), format!("{value:?}"));
        self.add(format!("pretty Debug of {place}"), format!("{value:#?}"));
    }

    fn error(&mut self, place: &str, e: &tessera_core::Error) {
        self.debug(place, e);
        self.add(format!("Display of {place}"), e.to_string());
        self.add(format!("code/reason of {place}"), format!("{} {:?}", e.code(), e.reason()));
    }
}

/// Fake Stora (behind a recording proxy), the broker (behind another),
/// the site, and what the plugin's secrets were.
struct Rig {
    site: SiteServer,
    broker: Broker,
    broker_proxy: FaultProxy,
    stora_proxy: FaultProxy,
    stora: FakeStora,
    logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    client_secret: String,
    dir: std::path::PathBuf,
    /// Every installation secret and broker token seen in the plugin's state.
    held: BTreeMap<String, Kind>,
    /// Sealed states the host stored.
    sealed: Vec<String>,
    seal_key: Vec<u8>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rig() -> Rig {
    let stora_config = fake_stora::Config { token_canary: CANARY.into(), ..Default::default() };
    let stora = FakeStora::start(stora_config.clone()).expect("fake Stora starts");
    let stora_proxy = FaultProxy::start(stora.url()).expect("proxy starts");
    let broker_proxy = FaultProxy::start("http://127.0.0.1:9").expect("proxy starts");
    let dir = std::env::temp_dir().join(tessera_broker::crypto::random_id("tessera-secrets-", 9));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = BrokerConfig::new(
        stora_proxy.url(),
        &stora_config.client_id,
        &stora_config.client_secret,
        dir.join("broker.sqlite3"),
    );
    config.require_ownership_proof(true);
    config.allow_loopback_sites = true;
    config.allowed_scopes = tessera_broker::harness::EXAMPLE_SCOPES.iter().map(|s| s.to_string()).collect();
    config.public_url = Some(broker_proxy.url().to_string());
    let logs: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    config.log = LogSink::Memory(logs.clone());
    let broker = Broker::start(config).expect("broker starts");
    broker_proxy.set_upstream(broker.url());
    let site = SiteServer::start().expect("site starts");
    let mut seal_key = vec![0u8; 32];
    getrandom::fill(&mut seal_key).unwrap();
    Rig {
        site,
        broker,
        broker_proxy,
        stora_proxy,
        stora,
        logs,
        client_secret: stora_config.client_secret,
        dir,
        held: BTreeMap::new(),
        sealed: Vec::new(),
        seal_key,
    }
}

impl Rig {
    fn return_url(&self) -> String {
        format!("{}/wp-admin/options-general.php?page=tessera", self.site.url())
    }

    /// What a host does after every change: note the secrets the state now
    /// holds (to search for them) and store the state sealed.
    fn persist(&mut self, plugin: &PluginHost, cap: &mut Capture) {
        let state = plugin.companion.state();
        if let Some(inst) = state.installation() {
            self.held.insert(inst.secret.to_base64url(), Kind::InstallSecret);
        }
        if let Some(token) = state.broker_token() {
            self.held.insert(token.expose().to_string(), Kind::BrokerToken);
        }
        let sealed = plugin.companion.seal_state(&self.seal_key, &mut OsEntropy).expect("seals");
        let reopened = Companion::open_state(&sealed, &self.seal_key).expect("opens");
        assert_eq!(reopened.to_json(), plugin.companion.to_json());
        self.sealed.push(sealed);
        cap.debug("the companion", &plugin.companion);
        cap.add("the status", plugin.companion.status().as_str());
    }
}

/// Drives a call like `PluginHost::drive`, recording Debug of every action,
/// event and result, persisting (sealed) when told and serving ownership
/// proofs on the rig's site.
fn drive(
    rig: &mut Rig,
    plugin: &mut PluginHost,
    mut call: Call,
    cap: &mut Capture,
) -> tessera_core::Result<Completion> {
    let mut event = Event::Start;
    loop {
        let now = plugin.now();
        let action = plugin.companion.step(&mut call, event, now, &mut OsEntropy);
        cap.debug("an action", &action);
        event = match action {
            Action::Send(req) => match plugin.send(&req) {
                Ok(resp) => Event::Response(resp),
                Err(_) => Event::TransportError(TransportError::Network),
            },
            Action::Sleep(ms) => {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                Event::Slept
            }
            Action::Persist(_) => {
                rig.persist(plugin, cap);
                Event::Persisted
            }
            Action::ServeProof(proof) => {
                cap.debug("an ownership proof", &proof);
                rig.site.serve_proof(&proof);
                Event::ProofServed
            }
            Action::Lock(_) | Action::Unlock(_) => unreachable!("broker mode takes no lock"),
            Action::Done(result) => {
                match &result {
                    Ok(c) => cap.debug("a completion", c),
                    Err(e) => cap.error("a call error", e),
                }
                cap.debug("the finished call", &call);
                return result;
            }
        };
        cap.debug("an event", &event);
    }
}

fn call(rig: &mut Rig, plugin: &mut PluginHost, req: ApiRequest, cap: &mut Capture) -> tessera_core::Result<Response> {
    cap.debug("an API request", &req);
    let c = plugin.companion.start_call(req).inspect_err(|e| cap.error("start_call", e))?;
    cap.debug("a new call", &c);
    match drive(rig, plugin, c, cap)? {
        Completion::Response(r) => Ok(r),
        other => panic!("{other:?}"),
    }
}

/// Registers on the step machine, through [`drive`].
fn register(rig: &mut Rig, plugin: &mut PluginHost, reg: &Registration, cap: &mut Capture) {
    let c = plugin.companion.start_registration(reg).unwrap();
    cap.debug("a new registration", &c);
    match drive(rig, plugin, c, cap).unwrap() {
        Completion::Registration(RegistrationOutcome::Registered) => {}
        other => panic!("{other:?}"),
    }
}

fn connect(rig: &mut Rig, plugin: &mut PluginHost, scope: Option<&str>, cap: &mut Capture) {
    let browser = Browser::default();
    let return_url = rig.return_url();
    let now = plugin.now();
    let url = plugin.companion.connect_url(&return_url, scope, now, &mut OsEntropy).unwrap();
    cap.add("a connect URL", &url);
    rig.persist(plugin, cap);
    let landing = browser.connect(&url, &return_url, Decision::Approve("opr_secret")).expect("lands");
    // The protocol's callback: the connect code is in this URL, by design;
    // the broker token is not.
    let code = landing.split("code=").nth(1).expect("a connect code").split('&').next().unwrap().to_string();
    rig.held.insert(code, Kind::ConnectCode);
    cap.add_allowing("the callback URL the browser landed on", &landing, &[Kind::ConnectCode]);
    let call = plugin.companion.start_complete_connect(&landing, plugin.now()).inspect_err(|e| cap.error("start", e));
    let call = call.expect("the callback checks pass");
    cap.debug("a connect completion", &call);
    match drive(rig, plugin, call, cap).expect("completes") {
        Completion::Connected { account } => assert_eq!(account.id, "opr_secret"),
        other => panic!("{other:?}"),
    }
    rig.persist(plugin, cap);
}

#[test]
fn no_secret_or_token_leaks_anywhere() {
    let mut rig = rig();
    let mut cap = Capture::default();
    let mut plugin =
        PluginHost::from_companion(Companion::create(tessera_core::Config::new(rig.broker_proxy.url())).unwrap());
    let reg = registration(rig.site.url(), "wordpress");
    cap.debug("the registration", &reg);

    // Register, with the ownership proof (the step machine: persist, POST,
    // 202, persist, serve the proof, POST, 201, persist).
    register(&mut rig, &mut plugin, &reg, &mut cap);
    assert_eq!(plugin.companion.status().as_str(), "registered");

    // Connect; calls; a Stora refresh; a keyed POST.
    connect(&mut rig, &mut plugin, Some("public.order:read public.contact:read public.contact:write"), &mut cap);
    for path in ["/api/orders", "/api/account", "/api/contacts"] {
        let r = call(&mut rig, &mut plugin, ApiRequest::new("GET", path), &mut cap).unwrap();
        cap.debug("an API response", &r);
    }
    rig.stora.store().expire_tokens(None, tessera_broker::plugin_host::wall_now());
    call(&mut rig, &mut plugin, ApiRequest::new("GET", "/api/orders"), &mut cap).unwrap();
    assert!(rig.stora.counters().refreshes >= 1, "a refresh happened");
    call(&mut rig, &mut plugin, ApiRequest::json("POST", "/api/contacts", br#"{"name":"Ada"}"#.to_vec()), &mut cap)
        .unwrap();

    // A replayed request, and a tampered one: the broker's error answers.
    let signed = plugin
        .companion
        .sign_request(
            &ApiRequest::new("GET", "/api/orders"),
            &SignOptions { now: plugin.now(), ..Default::default() },
            &mut OsEntropy,
        )
        .unwrap();
    cap.debug("a signed request", &signed);
    for _ in 0..2 {
        let r = plugin.send(&signed).unwrap();
        cap.debug("a replay answer", &r);
    }
    let mut tampered: Request = signed.clone();
    tampered.url = tampered.url.replace("orders", "account");
    cap.debug("a tampered answer", &plugin.send(&tampered).unwrap());

    // Forged and malformed callbacks carrying a token-like value.
    let token_now = plugin.companion.state().broker_token().unwrap().expose().to_string();
    let return_url = rig.return_url();
    let now = plugin.now();
    let _ = plugin.companion.connect_url(&return_url, None, now, &mut OsEntropy).unwrap();
    for cb in [
        format!("{return_url}&state=forged-state-0123456789&code={token_now}"),
        format!("{return_url}&state=%ZZ&code={token_now}"),
        format!("{return_url}&code={token_now}"),
        format!("{return_url}&state=forged-state-0123456789&broker_token={token_now}%00%FF"),
    ] {
        match plugin.companion.start_complete_connect(&cb, plugin.now()) {
            Err(e) => cap.error("a refused callback", &e),
            Ok(_) => panic!("a forged callback was accepted"),
        }
    }
    for bad in [format!("{token_now}\u{0}"), format!("{token_now} x"), "x".repeat(5000)] {
        if let Err(e) = tessera_core::BrokerToken::new(&bad) {
            cap.error("a refused broker token", &e);
        }
    }
    rig.persist(&plugin, &mut cap);

    // The grant is revoked at Stora: reconnect required; reconnect.
    rig.stora.store().revoke_operator("opr_secret");
    let err = call(&mut rig, &mut plugin, ApiRequest::new("GET", "/api/orders"), &mut cap).unwrap_err();
    assert_eq!(err.code(), "reconnect_required");
    let err = plugin.companion.start_call(ApiRequest::new("GET", "/api/orders")).unwrap_err();
    cap.error("start_call while reconnect is required", &err);
    connect(&mut rig, &mut plugin, Some("public.order:read public.contact:read"), &mut cap);

    // The kill switch, then back.
    let id = plugin.companion.install_id().unwrap().to_string();
    rig.broker.app().store.set_installation_status(&id, tessera_broker::store::InstallStatus::Disabled, 0).unwrap();
    let err = call(&mut rig, &mut plugin, ApiRequest::new("GET", "/api/orders"), &mut cap).unwrap_err();
    assert_eq!(err.code(), "reconnect_required");
    rig.broker.app().store.set_installation_status(&id, tessera_broker::store::InstallStatus::Active, 0).unwrap();
    connect(&mut rig, &mut plugin, None, &mut cap);
    call(&mut rig, &mut plugin, ApiRequest::new("GET", "/api/orders"), &mut cap).unwrap();

    // What an operator reads: /metrics and the admin CLI (run as a process).
    let admin_token = rig.broker.app().config.admin_token.clone();
    cap.add("the broker's /metrics", tessera_broker::metrics::render(rig.broker.app()));
    for args in [&["list", "--json"][..], &["list"], &["show", &id], &["metrics"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-broker-admin"))
            .env("TESSERA_BROKER_URL", rig.broker.url())
            .env("TESSERA_ADMIN_TOKEN", &admin_token)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "tessera-broker-admin {args:?}: {out:?}");
        cap.add(format!("tessera-broker-admin {args:?}"), [out.stdout, out.stderr].concat());
    }

    // The uninstall link (extensions).
    let link = plugin.companion.uninstall_url(plugin.now()).unwrap();
    cap.add("the uninstall URL", &link);

    // The site moves: mismatch (signing refused), then the move.
    let moved = format!("{}/moved", rig.site.url());
    let check = plugin.companion.check_site(&moved).unwrap();
    cap.debug("a site check", &check);
    rig.persist(&plugin, &mut cap);
    let err = plugin.companion.start_call(ApiRequest::new("GET", "/api/orders")).unwrap_err();
    cap.error("start_call on a mismatch", &err);
    // The broker asks the new address for a proof: the same operation serves
    // it and sends the registration round.
    let c = plugin.companion.start_site_moved().unwrap();
    match drive(&mut rig, &mut plugin, c, &mut cap).unwrap() {
        Completion::SiteMoved => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(plugin.companion.status().as_str(), "connected");
    assert_eq!(plugin.companion.site_url(), Some(moved.as_str()));
    call(&mut rig, &mut plugin, ApiRequest::new("GET", "/api/orders"), &mut cap).unwrap();

    // Disconnect; not connected; connect again.
    let c = plugin.companion.start_disconnect().unwrap();
    drive(&mut rig, &mut plugin, c, &mut cap).unwrap();
    let err = plugin.companion.start_call(ApiRequest::new("GET", "/api/orders")).unwrap_err();
    cap.error("start_call when not connected", &err);
    connect(&mut rig, &mut plugin, None, &mut cap);

    // Error paths over the state itself: corrupt JSON around the secret and
    // the token, a wrong sealing key, a tampered sealed blob.
    let json = plugin.companion.to_json();
    let secret = plugin.companion.state().installation().unwrap().secret.to_base64url();
    let token = plugin.companion.state().broker_token().unwrap().expose().to_string();
    let mut corrupt: Vec<String> = (0..json.len()).step_by(3).map(|n| json[..n].to_string()).collect();
    for value in [&secret, &token] {
        corrupt.push(json.replace(&format!("\"{value}\""), &format!("\"{value}\\q\"")));
        corrupt.push(json.replace(&format!("\"{value}\""), &format!("[\"{value}\"]")));
        corrupt.push(json.replace(&format!("\"{value}\""), &format!("\"{value}!!\"")));
        corrupt.push(json.replace(&format!("\"{value}\""), &format!("\"{}\"", &value[..value.len() / 2])));
        corrupt.push(json.replace(&format!("\"{value}\""), &format!("{{\"{value}\":1}}")));
    }
    corrupt.push(json.replace("\"v\":", &format!("\"{secret}\":1,\"v\":")));
    let mut refused = 0;
    for bad in &corrupt {
        if let Err(e) = Companion::from_json(bad) {
            cap.error("a corrupt state", &e);
            refused += 1;
        }
    }
    assert!(refused > corrupt.len() / 2, "most corrupt states are refused ({refused} of {})", corrupt.len());
    let sealed = plugin.companion.seal_state(&rig.seal_key, &mut OsEntropy).unwrap();
    cap.error("a wrong sealing key", &Companion::open_state(&sealed, b"another key of 16+ bytes").unwrap_err());
    let mut flipped = sealed.clone().into_bytes();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    if let Err(e) = Companion::open_state(std::str::from_utf8(&flipped).unwrap(), &rig.seal_key) {
        cap.error("a tampered sealed state", &e);
    }
    for bad in [secret.clone(), format!("{secret}="), format!("{secret}!"), secret[..20].to_string()] {
        if let Err(e) = tessera_core::Secret::from_base64url(&bad) {
            cap.error("a refused secret", &e);
        }
    }

    // Uninstall, then a second installation (a second secret).
    let c = plugin.companion.start_uninstall();
    match drive(&mut rig, &mut plugin, c, &mut cap).unwrap() {
        Completion::Uninstalled(report) => {
            assert_eq!((report.disconnect.as_str(), report.deregister.as_str()), ("ok", "ok"));
        }
        other => panic!("{other:?}"),
    }
    register(&mut rig, &mut plugin, &reg, &mut cap);
    connect(&mut rig, &mut plugin, None, &mut cap);
    let c = plugin.companion.start_uninstall();
    drive(&mut rig, &mut plugin, c, &mut cap).unwrap();

    // ---- what is searched -------------------------------------------------------------
    for line in rig.logs.lock().unwrap().iter() {
        cap.add("a broker log line", line);
    }
    // The fake Stora's own records (its request log and counters).
    cap.debug("fake Stora's request log", &rig.stora.store().requests());
    cap.debug("fake Stora's grants", &rig.stora.store().grants(None));
    cap.debug("the broker's metrics", &rig.broker.app().observer.installs());
    let return_url = rig.return_url();
    for seen in rig.broker_proxy.seen() {
        let req = format!("{} {}", seen.method, seen.target);
        let callback = seen.method == "GET" && seen.path() == "/callback";
        let completion = seen.method == "POST" && seen.path() == "/connect/complete";
        // Request bodies (but the registration's, which carries the secret
        // by design): the connect code travels in the completion's.
        if !(seen.method == "POST" && seen.path() == "/installations") {
            let allowed: &[Kind] = if completion { &[Kind::ConnectCode] } else { &[] };
            cap.add_allowing(format!("the body of {req}"), &seen.body, allowed);
        }
        // OAuth: the authorization code reaches the broker's callback in its URL.
        cap.add_allowing(
            format!("a URL the broker received: {req}"),
            &seen.target,
            if callback { &[Kind::AuthCode] } else { &[] },
        );
        for (name, value) in &seen.response_headers {
            let protocol_callback = callback && name.eq_ignore_ascii_case("location") && value.starts_with(&return_url);
            let allowed: &[Kind] = if protocol_callback { &[Kind::ConnectCode] } else { &[] };
            cap.add_allowing(format!("answer header {name} to {req}"), value, allowed);
        }
        // The broker token is answered in the body of the signed completion only.
        let allowed: &[Kind] = if completion { &[Kind::BrokerToken] } else { &[] };
        cap.add_allowing(format!("answer body to {req}"), &seen.response_body, allowed);
    }
    for seen in rig.stora_proxy.seen() {
        let req = format!("{} {}", seen.method, seen.target);
        cap.add(format!("a URL Stora received: {req}"), &seen.target);
        if let Some(location) = &seen.location {
            cap.add_allowing(format!("Stora's redirect for {req}"), location, &[Kind::AuthCode]);
        }
    }
    for (n, sealed) in rig.sealed.iter().enumerate() {
        cap.add(format!("sealed state #{n}"), sealed);
    }
    for entry in std::fs::read_dir(&rig.dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        cap.add(format!("the broker's file {name}"), std::fs::read(entry.path()).unwrap_or_default());
    }

    // ---- what is searched for -------------------------------------------------------
    let mut needles = Vec::new();
    for (value, kind) in &rig.held {
        match kind {
            Kind::InstallSecret => {
                bytes_forms(*kind, tessera_core::Secret::from_base64url(value).unwrap().expose(), &mut needles)
            }
            _ => text_forms(*kind, value, &mut needles),
        }
    }
    let issued = rig.stora.store().issued_tokens();
    for token in &issued {
        let kind = if token.starts_with(&format!("{CANARY}code_")) { Kind::AuthCode } else { Kind::StoraToken };
        text_forms(kind, token, &mut needles);
    }
    text_forms(Kind::ClientSecret, &rig.client_secret, &mut needles);
    bytes_forms(Kind::StorageKey, &rig.broker.app().config.storage_key, &mut needles);
    let secrets = rig.held.values().filter(|k| **k == Kind::InstallSecret).count();
    let tokens = rig.held.values().filter(|k| **k == Kind::BrokerToken).count();
    let codes = rig.held.values().filter(|k| **k == Kind::ConnectCode).count();
    assert!(secrets >= 2 && tokens >= 5, "the lifecycle held {secrets} secrets and {tokens} broker tokens");
    assert!(codes >= 5, "the lifecycle used {codes} connect codes");
    assert!(issued.iter().filter(|t| t.contains("sat_")).count() >= 5, "Stora issued {issued:?}");
    assert!(issued.iter().all(|t| t.starts_with(CANARY)), "every Stora token carries the canary");
    // Each connect registered a webhook endpoint: its signing secret is searched for too.
    assert!(issued.iter().filter(|t| t.contains("whsec_")).count() >= 2, "webhook secrets issued: {issued:?}");

    // ---- the search ---------------------------------------------------------------------
    let mut leaks = Vec::new();
    let mut allowed_hits: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut checks = 0usize;
    for (place, text, allowed) in &cap.items {
        for needle in &needles {
            checks += 1;
            if contains(text, &needle.text) {
                if allowed.contains(&needle.kind) {
                    *allowed_hits.entry(needle.kind).or_default() += 1;
                } else {
                    let shown = String::from_utf8_lossy(text);
                    let shown: String = shown.chars().take(300).collect();
                    leaks.push(format!("{:?} ({}) in {place}: {shown}", needle.kind, needle.form));
                }
            }
        }
    }
    eprintln!(
        "secrets: {} places x {} needles = {checks} checks; {} leaks",
        cap.items.len(),
        needles.len(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "{} leaks:\n  {}", leaks.len(), leaks.join("\n  "));
    // The search works: the allowed places do hold what the protocol puts there.
    assert!(
        allowed_hits.get(&Kind::BrokerToken).copied().unwrap_or(0) >= tokens,
        "broker tokens in completion answers: {allowed_hits:?}"
    );
    assert!(
        allowed_hits.get(&Kind::ConnectCode).copied().unwrap_or(0) >= codes * 3,
        "connect codes in callbacks and completion bodies: {allowed_hits:?}"
    );
    assert!(allowed_hits.get(&Kind::AuthCode).copied().unwrap_or(0) >= 2, "codes in OAuth redirects: {allowed_hits:?}");
    // And the plain state would have been caught: it holds the secret and the token.
    let plain = json.as_bytes();
    assert!(needles.iter().any(|n| n.kind == Kind::InstallSecret && contains(plain, &n.text)));
    assert!(needles.iter().any(|n| n.kind == Kind::BrokerToken && contains(plain, &n.text)));
}
