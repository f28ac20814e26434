//! What the proxy's test files share: an environment, a connected round,
//! JSON and error-code readers, signed requests.
#![allow(dead_code)]

use serde_json::Value;
use tessera_broker::plugin_host::{Browser, PluginHost};
use tessera_core::{ApiRequest, OsEntropy, Request, Response, SignOptions};
use tessera_proxy::harness::{ProxyEnv, ProxyEnvOptions, landing_params};

/// The Stora operator the rounds consent as.
pub const OPERATOR: &str = "opr_alice";

/// A fake Stora, a proxy (local development, ownership proofs on) and a site.
pub fn env() -> ProxyEnv {
    ProxyEnv::start(ProxyEnvOptions::default()).expect("environment starts")
}

/// A registered plugin and the return URL its browser landed on after a
/// round approved as [`OPERATOR`] (not exchanged yet).
pub fn landed(env: &ProxyEnv) -> (PluginHost, String) {
    let mut plugin = env.registered_plugin().expect("registers");
    let landing = env.connect_until_return(&mut plugin, &Browser::default(), OPERATOR).expect("lands");
    (plugin, landing)
}

/// A plugin holding the tokens of a completed round: `(plugin, /token answer)`.
pub fn connected(env: &ProxyEnv) -> (PluginHost, Value) {
    let (mut plugin, landing) = landed(env);
    let resp = env.post_token(&mut plugin, &landing);
    assert_eq!(resp.status, 200, "{}", text(&resp));
    (plugin, json(&resp))
}

/// The value of `key` in the query of `url`.
pub fn param(url: &str, key: &str) -> Option<String> {
    landing_params(url).into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// The body as text.
pub fn text(resp: &Response) -> String {
    String::from_utf8_lossy(&resp.body).into_owned()
}

/// The body as JSON (`null` if it is not).
pub fn json(resp: &Response) -> Value {
    serde_json::from_slice(&resp.body).unwrap_or_default()
}

/// The error code a plugin reads from the answer (docs/PROTOCOL.md §8.1).
pub fn code(resp: &Response) -> Option<String> {
    tessera_core::internals::classify::error_code(&resp.body)
}

/// `(status, error code)`.
pub fn refusal(resp: &Response) -> (u16, Option<String>) {
    (resp.status, code(resp))
}

/// A JSON body with `members` (in order), as the plugin writes it.
pub fn body(members: &[(&str, &str)]) -> Vec<u8> {
    let mut out = String::new();
    let mut o = tessera_core::internals::json::ObjectWriter::new(&mut out);
    for (k, v) in members {
        o.str(k, v);
    }
    o.end();
    out.into_bytes()
}

/// The `/token` body of a landing URL, with `return_url`.
pub fn token_body(landing: &str, return_url: &str) -> Vec<u8> {
    let get = |k: &str| param(landing, k).unwrap_or_default();
    body(&[
        ("code", &get("code")),
        ("code_context", &get("code_context")),
        ("state", &get("state")),
        ("return_url", return_url),
    ])
}

/// `POST {path}` with a JSON body, signed by `plugin` but not sent.
pub fn signed(plugin: &PluginHost, path: &str, body: Vec<u8>) -> Request {
    let opts = SignOptions { now: plugin.now(), ..Default::default() };
    plugin.companion.sign_request(&ApiRequest::json("POST", path, body), &opts, &mut OsEntropy).expect("signs")
}

/// A `GET` with `Authorization: Bearer {token}` straight to Stora's API.
pub fn stora_get(env: &ProxyEnv, path: &str, token: &str) -> Response {
    env.client.http(Request {
        method: "GET".into(),
        url: format!("{}/2025-09/{path}", env.stora.url()),
        headers: vec![
            ("authorization".into(), format!("Bearer {token}")),
            ("accept".into(), "application/json".into()),
        ],
        body: Vec::new(),
    })
}

/// The string member `key` of a JSON object.
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Disables `plugin`'s installation with the kill switch (admin route).
pub fn disable(env: &ProxyEnv, plugin: &PluginHost) {
    let id = plugin.companion.install_id().expect("registered");
    let token = &env.proxy.app().registry.config.admin_token;
    let resp = env.client.http(Request {
        method: "POST".into(),
        url: format!("{}/admin/installations/{id}/disable", env.proxy_url()),
        headers: vec![("authorization".into(), format!("Bearer {token}"))],
        body: Vec::new(),
    });
    assert_eq!(resp.status, 200, "{}", text(&resp));
}
