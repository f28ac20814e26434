//! The proxy's tokens against an independent implementation: the keys by the
//! `hkdf` crate, the MAC by the `hmac` crate, the payload by serde_json and
//! base64url by the `base64` crate. The core's tokens equal it byte for
//! byte; tokens it signs correctly but with another header (`alg: none`,
//! reordered members, whitespace), or with a payload outside the strict
//! claim set, are refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tessera_core::{CodeContext, CodeExchange, ProxyKey, ProxyState};

const NOW: i64 = 1_700_000_000;
const STATE_HEADER: &str = r#"{"alg":"HS256","typ":"tessera-proxy-state"}"#;
const CODE_HEADER: &str = r#"{"alg":"HS256","typ":"tessera-code-context"}"#;
const STATE_INFO: &str = "tessera-proxy-state-v1";
const CODE_INFO: &str = "tessera-code-context-v1";

/// HKDF-SHA256(ikm, salt = empty, info, L = 32).
fn derive(ikm: &[u8], info: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&[]), ikm).expand(info.as_bytes(), &mut out).unwrap();
    out
}

/// A compact JWS of `header` and `payload` under `key`, computed here.
fn jws(key: &[u8], header: &str, payload: &str) -> String {
    let signed = format!("{}.{}", B64.encode(header), B64.encode(payload));
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(signed.as_bytes());
    format!("{signed}.{}", B64.encode(mac.finalize().into_bytes()))
}

fn sample_state(cookie: &str) -> ProxyState {
    ProxyState {
        install_id: "ins_BTrrnGcBGJrBvzfhg7XWVw".into(),
        return_url: "https://shop.example/wp-admin/admin.php?page=tessera&x=\"q\"".into(),
        plugin_state: "cccccccccccccccccccccc".into(),
        scope: None,
        browser_binding: ProxyState::binding_of(cookie),
    }
}

/// The state claims as the design writes them.
fn state_claims(s: &ProxyState, exp: i64) -> Value {
    json!({ "iid": s.install_id, "ret": s.return_url, "pst": s.plugin_state, "scp": s.scope,
            "bnd": s.browser_binding, "exp": exp })
}

fn code_claims(s: &ProxyState, code: &str, exp: i64) -> Value {
    json!({ "iid": s.install_id, "ret": s.return_url, "pst": s.plugin_state,
            "chs": B64.encode(Sha256::digest(code.as_bytes())), "exp": exp })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// The core's tokens are exactly the independent computation's.
    #[test]
    fn tokens_equal_an_independent_computation(
        ikm in prop::collection::vec(any::<u8>(), 32..=64),
        install_id in "[A-Za-z0-9._~-]{1,40}",
        ret in "[!-~]{0,80}",
        pst in "[A-Za-z0-9._~-]{1,64}",
        scope in proptest::option::of("[ -~]{1,40}"),
        cookie in "[A-Za-z0-9_-]{43}",
        code in "[!-~]{1,256}",
        now in 0i64..4_000_000_000,
    ) {
        let key = ProxyKey::new(&ikm).unwrap();
        let state = ProxyState {
            install_id, return_url: format!("https://s.example/{ret}"), plugin_state: pst, scope,
            browser_binding: B64.encode(Sha256::digest(cookie.as_bytes())),
        };
        prop_assert_eq!(&state.browser_binding, &ProxyState::binding_of(&cookie));
        let want = jws(&derive(&ikm, STATE_INFO), STATE_HEADER, &state_claims(&state, now + 600).to_string());
        prop_assert_eq!(state.seal(&key, now).unwrap(), want);
        let want = jws(&derive(&ikm, CODE_INFO), CODE_HEADER, &code_claims(&state, &code, now + 300).to_string());
        prop_assert_eq!(CodeContext::issue(&key, &code, &state, now).unwrap(), want);
    }
}

/// A proxy state signed with the right key but another header, or an
/// out-of-profile payload, is `proxy_state_invalid`.
#[test]
fn state_forgeries_are_invalid() {
    let ikm = [11u8; 32];
    let key = ProxyKey::new(&ikm).unwrap();
    let k_state = derive(&ikm, STATE_INFO);
    let cookie = "c".repeat(43);
    let state = sample_state(&cookie);
    let claims = state_claims(&state, NOW + 600);
    let open = |token: &str| ProxyState::open(&key, token, Some(&cookie), NOW).map_err(|r| (r.status(), r.code()));
    // The independent token opens: the forgeries below differ in one thing each.
    assert_eq!(open(&jws(&k_state, STATE_HEADER, &claims.to_string())), Ok(state.clone()));

    let headers = [
        r#"{"alg":"none","typ":"tessera-proxy-state"}"#,
        r#"{"alg":"HS384","typ":"tessera-proxy-state"}"#,
        r#"{"typ":"tessera-proxy-state","alg":"HS256"}"#,
        r#"{"alg":"HS256", "typ":"tessera-proxy-state"}"#,
        r#"{"alg":"HS256","typ":"tessera-code-context"}"#,
        r#"{"alg":"HS256"}"#,
        r#"{"alg":"HS256","typ":"tessera-proxy-state","kid":"x"}"#,
    ];
    let mut forgeries: Vec<String> = headers.iter().map(|h| jws(&k_state, h, &claims.to_string())).collect();
    // alg none, unsigned: empty MAC segment, and no MAC segment at all.
    let none =
        format!("{}.{}", B64.encode(r#"{"alg":"none","typ":"tessera-proxy-state"}"#), B64.encode(claims.to_string()));
    forgeries.push(format!("{none}."));
    forgeries.push(none);
    // The right header, padded base64.
    let good = jws(&k_state, STATE_HEADER, &claims.to_string());
    let (h, rest) = good.split_once('.').unwrap();
    forgeries.push(format!("{h}=.{rest}"));
    // The right header and payload, the MAC left out, emptied or truncated.
    let unsigned = &good[..good.rfind('.').unwrap()];
    forgeries.push(unsigned.to_owned());
    forgeries.push(format!("{unsigned}."));
    forgeries.push(format!("{unsigned}.{}", &good[good.rfind('.').unwrap() + 1..][..40]));
    // Signed with K_code, or with the raw PROXY_KEY, or the client secret's place.
    forgeries.push(jws(&derive(&ikm, CODE_INFO), STATE_HEADER, &claims.to_string()));
    forgeries.push(jws(&ikm, STATE_HEADER, &claims.to_string()));
    // Payloads outside the claim set, correctly signed.
    let mut payloads = Vec::new();
    for drop in ["iid", "ret", "pst", "scp", "bnd", "exp"] {
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove(drop);
        payloads.push(c.to_string());
    }
    for (member, value) in [
        ("exp", json!("1700000600")),
        ("exp", json!(1_700_000_600.0)),
        ("exp", json!(null)),
        ("scp", json!(7)),
        ("iid", json!(null)),
        ("bnd", json!(["x"])),
        ("extra", json!("x")),
    ] {
        let mut c = claims.clone();
        c[member] = value;
        payloads.push(c.to_string());
    }
    let text = claims.to_string();
    payloads.push(text.replacen(r#""iid":"#, r#""iid":"x","iid":"#, 1));
    payloads.push(format!("[{text}]"));
    payloads.push(format!("{text} x"));
    payloads.push(text[..text.len() - 1].to_owned());
    forgeries.extend(payloads.iter().map(|p| jws(&k_state, STATE_HEADER, p)));
    for forged in &forgeries {
        assert_eq!(open(forged), Err((400, "proxy_state_invalid")), "{forged}");
    }
    // Whitespace and member order of a correctly signed payload are the
    // writer's business, not the verifier's: still the same claims.
    let spaced = text.replace(',', ", ");
    assert_eq!(open(&jws(&k_state, STATE_HEADER, &spaced)), Ok(state));
}

/// A code context signed with the right key but another header or payload,
/// or with K_state (a verifier that ignored `typ` would still refuse it), is
/// `code_context_invalid`.
#[test]
fn code_context_forgeries_are_invalid() {
    let ikm = [12u8; 32];
    let key = ProxyKey::new(&ikm).unwrap();
    let k_code = derive(&ikm, CODE_INFO);
    let state = sample_state("cookie");
    let claims = code_claims(&state, "code_1", NOW + 300);
    let exchange = CodeExchange {
        install_id: &state.install_id,
        return_url: &state.return_url,
        state: &state.plugin_state,
        code: "code_1",
    };
    let verify = |token: &str| CodeContext::verify(&key, token, &exchange, NOW).map_err(|r| (r.status(), r.code()));
    assert_eq!(verify(&jws(&k_code, CODE_HEADER, &claims.to_string())), Ok(()));
    let mut forgeries = vec![
        jws(&derive(&ikm, STATE_INFO), CODE_HEADER, &claims.to_string()),
        jws(&k_code, STATE_HEADER, &claims.to_string()),
        jws(&k_code, r#"{"alg":"none","typ":"tessera-code-context"}"#, &claims.to_string()),
        jws(&k_code, r#"{"typ":"tessera-code-context","alg":"HS256"}"#, &claims.to_string()),
        format!("{}.{}.", B64.encode(r#"{"alg":"none","typ":"tessera-code-context"}"#), B64.encode(claims.to_string())),
    ];
    for (member, value) in [("chs", json!(null)), ("exp", json!("x")), ("exp", json!(1.5)), ("scp", json!(null))] {
        let mut c = claims.clone();
        c[member] = value;
        forgeries.push(jws(&k_code, CODE_HEADER, &c.to_string()));
    }
    let mut c = claims.clone();
    c.as_object_mut().unwrap().remove("chs");
    forgeries.push(jws(&k_code, CODE_HEADER, &c.to_string()));
    let good = jws(&k_code, CODE_HEADER, &claims.to_string());
    let unsigned = &good[..good.rfind('.').unwrap()];
    forgeries.push(format!("{unsigned}."));
    forgeries.push(unsigned.to_owned());
    forgeries.push("a.b.c".into());
    forgeries.push(String::new());
    forgeries.push("x".repeat(5000));
    for forged in &forgeries {
        assert_eq!(verify(forged), Err((400, "code_context_invalid")), "{forged}");
    }
}

/// Two proxy keys that differ in one byte give unrelated tokens; the
/// derived keys are not the proxy key itself.
#[test]
fn derived_keys_are_distinct() {
    let ikm = [13u8; 40];
    let (ks, kc) = (derive(&ikm, STATE_INFO), derive(&ikm, CODE_INFO));
    assert_ne!(ks, kc);
    assert_ne!(&ks[..], &ikm[..32]);
    let mut other = ikm;
    other[39] ^= 1;
    let state = sample_state("c");
    assert_ne!(
        state.seal(&ProxyKey::new(&ikm).unwrap(), NOW).unwrap(),
        state.seal(&ProxyKey::new(&other).unwrap(), NOW).unwrap()
    );
}
