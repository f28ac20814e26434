//! `proxy-tokens.json`: the authorization proxy's tokens (design: PROXY STATE
//! and CODE CONTEXT) — a fixed proxy key, time and claims → the exact token,
//! and tokens opened or verified → the claims or the refusal with its wire
//! answer. Rust only: the bindings have no proxy API.

use serde_json::{Value, json};
use tessera_core::internals::encoding::b64url_encode;
use tessera_core::{CodeContext, CodeExchange, ProxyKey, ProxyState, Refusal};

/// The proxy key of every case but "another key": bytes 0, 1, …, 31.
fn key_text() -> String {
    b64url_encode(&(0u8..32).collect::<Vec<_>>())
}

const NOW: i64 = 1_700_000_000;
const COOKIE: &str = "dGVzc2VyYS1wcm94eS1icm93c2VyLWNvb2tpZS0wMDE";

fn key_of(case: &Value) -> ProxyKey {
    ProxyKey::from_base64url(case["key"].as_str().unwrap()).unwrap()
}

fn state_in(v: &Value) -> ProxyState {
    let s = |k: &str| v[k].as_str().unwrap().to_owned();
    ProxyState {
        install_id: s("installId"),
        return_url: s("returnUrl"),
        plugin_state: s("pluginState"),
        scope: v["scope"].as_str().map(str::to_owned),
        browser_binding: s("browserBinding"),
    }
}

fn state_out(s: &ProxyState) -> Value {
    json!({ "installId": s.install_id, "returnUrl": s.return_url, "pluginState": s.plugin_state,
            "scope": s.scope, "browserBinding": s.browser_binding })
}

/// A refusal: the core's code and the wire answer (as in verify.json).
fn refused(r: &Refusal) -> Value {
    json!({
        "error": r.error().code(),
        "answer": {
            "status": r.status(),
            "code": r.code(),
            "headers": Value::Object(r.headers().into_iter().map(|(k, v)| (k, json!(v))).collect()),
            "body": String::from_utf8(r.body()).unwrap(),
        }
    })
}

pub fn compute(case: &Value) -> Value {
    let key = key_of(case);
    let now = case["now"].as_i64().unwrap();
    let text = |k: &str| case[k].as_str().unwrap();
    match text("op") {
        "seal" => match state_in(&case["state"]).seal(&key, now) {
            Ok(token) => json!({ "token": token }),
            Err(e) => json!({ "error": e.code() }),
        },
        "open" => match ProxyState::open(&key, text("token"), case["cookie"].as_str(), now) {
            Ok(s) => json!({ "state": state_out(&s) }),
            Err(r) => refused(&r),
        },
        "issue" => match CodeContext::issue(&key, text("code"), &state_in(&case["state"]), now) {
            Ok(token) => json!({ "token": token }),
            Err(e) => json!({ "error": e.code() }),
        },
        "verify" => {
            let x = &case["exchange"];
            let s = |k: &str| x[k].as_str().unwrap();
            let exchange = CodeExchange {
                install_id: s("installId"),
                return_url: s("returnUrl"),
                state: s("state"),
                code: s("code"),
            };
            match CodeContext::verify(&key, text("token"), &exchange, now) {
                Ok(()) => json!({ "ok": true }),
                Err(r) => refused(&r),
            }
        }
        other => panic!("unknown op {other}"),
    }
}

fn base_state() -> ProxyState {
    ProxyState {
        install_id: "ins_BTrrnGcBGJrBvzfhg7XWVw".into(),
        return_url: "https://shop.example/wp-admin/admin.php?page=tessera".into(),
        plugin_state: "cccccccccccccccccccccc".into(),
        scope: None,
        browser_binding: ProxyState::binding_of(COOKIE),
    }
}

/// The inputs of every case (expectations are computed, then reviewed).
pub fn build() -> Value {
    let key = ProxyKey::from_base64url(&key_text()).unwrap();
    let other_key = b64url_encode(&[9u8; 32]);
    let base = base_state();
    let scoped = ProxyState { scope: Some("orders:read timeline:write".into()), ..base.clone() };
    let sealed = base.seal(&key, NOW).unwrap();
    let ctx = CodeContext::issue(&key, "code_Zm9yLXRlc3Rz", &base, NOW).unwrap();
    let tampered = |t: &str| {
        let last = if t.ends_with('A') { "Q" } else { "A" };
        format!("{}{last}", &t[..t.len() - 1])
    };
    let none = format!(
        "{}.{}.",
        b64url_encode(br#"{"alg":"none","typ":"tessera-proxy-state"}"#),
        sealed.split('.').nth(1).unwrap()
    );
    let k = key_text();
    let seal = |name: &str, s: &ProxyState, now: i64| json!({ "name": name, "op": "seal", "key": k, "now": now, "state": state_out(s) });
    let open = |name: &str, token: &str, cookie: Option<&str>, now: i64, key: &str| json!({ "name": name, "op": "open", "key": key, "now": now, "token": token, "cookie": cookie });
    let exchange = |install_id: &str, return_url: &str, state: &str, code: &str| json!({ "installId": install_id, "returnUrl": return_url, "state": state, "code": code });
    let good = exchange(&base.install_id, &base.return_url, &base.plugin_state, "code_Zm9yLXRlc3Rz");
    let verify = |name: &str, token: &str, x: &Value, now: i64, key: &str| json!({ "name": name, "op": "verify", "key": key, "now": now, "token": token, "exchange": x });
    let quoted = ProxyState { return_url: "https://shop.example/cb?q=%22a%22&b=\"c\\d\"".into(), ..base.clone() };
    let cases = vec![
        seal("seal", &base, NOW),
        seal("seal-scope", &scoped, NOW),
        seal("seal-escaped-return-url", &quoted, NOW),
        seal("seal-bad-install-id", &ProxyState { install_id: "ins x".into(), ..base.clone() }, NOW),
        seal(
            "seal-too-large",
            &ProxyState { return_url: format!("https://x.example/{}", "\"".repeat(2000)), ..base.clone() },
            NOW,
        ),
        open("open", &sealed, Some(COOKIE), NOW + 1, &k),
        open("open-last-second", &sealed, Some(COOKIE), NOW + 600, &k),
        open("open-expired", &sealed, Some(COOKIE), NOW + 601, &k),
        open("open-no-cookie", &sealed, None, NOW + 1, &k),
        open("open-other-cookie", &sealed, Some("b3RoZXItYnJvd3Nlci1jb29raWUtdmFsdWUtMDAwMDA"), NOW + 1, &k),
        open("open-other-key", &sealed, Some(COOKIE), NOW + 1, &other_key),
        open("open-tampered", &tampered(&sealed), Some(COOKIE), NOW + 1, &k),
        open("open-alg-none", &none, Some(COOKIE), NOW + 1, &k),
        open("open-code-context", &ctx, Some(COOKIE), NOW + 1, &k),
        json!({ "name": "issue", "op": "issue", "key": k, "now": NOW, "code": "code_Zm9yLXRlc3Rz", "state": state_out(&base) }),
        json!({ "name": "issue-bad-code", "op": "issue", "key": k, "now": NOW, "code": "a b", "state": state_out(&base) }),
        verify("verify", &ctx, &good, NOW + 10, &k),
        verify("verify-last-second", &ctx, &good, NOW + 300, &k),
        verify("verify-expired", &ctx, &good, NOW + 301, &k),
        verify(
            "verify-other-installation",
            &ctx,
            &exchange("ins_other", &base.return_url, &base.plugin_state, "code_Zm9yLXRlc3Rz"),
            NOW + 10,
            &k,
        ),
        verify(
            "verify-other-return-url",
            &ctx,
            &exchange(&base.install_id, "https://evil.example/", &base.plugin_state, "code_Zm9yLXRlc3Rz"),
            NOW + 10,
            &k,
        ),
        verify(
            "verify-other-state",
            &ctx,
            &exchange(&base.install_id, &base.return_url, "dddddddddddddddddddddd", "code_Zm9yLXRlc3Rz"),
            NOW + 10,
            &k,
        ),
        verify(
            "verify-other-code",
            &ctx,
            &exchange(&base.install_id, &base.return_url, &base.plugin_state, "code_other"),
            NOW + 10,
            &k,
        ),
        verify("verify-other-key", &ctx, &good, NOW + 10, &other_key),
        verify("verify-tampered", &tampered(&ctx), &good, NOW + 10, &k),
        verify("verify-proxy-state", &sealed, &good, NOW + 10, &k),
    ];
    json!({
        "description": "Authorization proxy tokens (docs/PROTOCOL.md §13): seal/open a PROXY STATE, issue/verify a CODE CONTEXT. `key` is the proxy key (base64url), `now` unix seconds; refusals carry the wire answer. Rust only.",
        "cases": cases,
    })
}
