//! Interop: requests signed by tessera-core verify with an independent RFC 9421
//! implementation from crates.io (`httpsig`), whose own structured-field parser
//! and serialiser rebuild the signature parameters. Component values are
//! derived here from the request as sent, with the `http` crate's URI parser,
//! not with Tessera's code.

mod support;

use httpsig::prelude::message_component::{HttpMessageComponent, HttpMessageComponentId};
use httpsig::prelude::*;
use support::*;
use tessera_core::internals::encoding::b64_encode;
use tessera_core::{ApiRequest, Request, SignOptions};

/// Field values of one component of `req`, derived independently.
fn values(req: &Request, id: &HttpMessageComponentId) -> Vec<String> {
    let uri: http::Uri = req.url.parse().expect("the signed URL parses as an http::Uri");
    let name = id.to_string();
    let name = name.trim_matches('"');
    match name {
        "@method" => vec![req.method.clone()],
        "@authority" => vec![uri.authority().unwrap().as_str().to_ascii_lowercase()],
        "@path" => vec![uri.path().to_owned()],
        "@query" => vec![format!("?{}", uri.query().unwrap_or(""))],
        header => req.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(header)).map(|(_, v)| v.clone()).collect(),
    }
}

/// Verifies `req` with httpsig under `secret`; returns httpsig's signature base.
fn httpsig_verify(req: &Request, secret: &[u8]) -> Result<String, String> {
    let sig = req.header("signature").unwrap();
    let input = req.header("signature-input").unwrap();
    let map = HttpSignatureHeaders::try_parse(sig, input).map_err(|e| e.to_string())?;
    let headers = map.get("tessera").ok_or("no tessera label")?;
    let params = headers.signature_params();
    let lines: Vec<HttpMessageComponent> = params
        .covered_components
        .iter()
        .map(|id| HttpMessageComponent::try_from((id, values(req, id).as_slice())).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let base = HttpSignatureBase::try_new(&lines, params).map_err(|e| e.to_string())?;
    let key = SharedKey::from_base64(&AlgorithmName::HmacSha256, &b64_encode(secret)).map_err(|e| e.to_string())?;
    base.verify_signature_headers(&key, headers).map_err(|e| e.to_string())?;
    Ok(String::from_utf8(base.as_bytes()).unwrap())
}

/// httpsig checks `expires` against the wall clock, so these tests sign "now".
fn wall_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn requests() -> Vec<ApiRequest> {
    vec![
        ApiRequest::new("GET", "/api/orders"),
        ApiRequest::new("GET", "/api/orders?limit=3&status=open"),
        ApiRequest::new("GET", "/api/search?q=a:b%2fc"),
        ApiRequest::json("POST", "/api/events", br#"{"type":"note","text":"Gr\u00fc\u00dfe"}"#.to_vec()),
        ApiRequest::new("DELETE", "/api/events/42"),
        ApiRequest::json("PATCH", "/api/contacts/7", b"{}".to_vec()),
    ]
}

#[test]
fn tessera_signatures_verify_with_httpsig() {
    for (i, broker) in ["https://broker.example", "http://127.0.0.1:8080/base"].iter().enumerate() {
        let c = connected(broker, 70 + i as u8);
        let secret = secret_of(&c);
        for req in requests() {
            let signed =
                c.sign_request(&req, &SignOptions { now: wall_now(), ..Default::default() }, &mut rng(9)).unwrap();
            let base = httpsig_verify(&signed, secret.expose())
                .unwrap_or_else(|e| panic!("httpsig rejected {} {}: {e}", signed.method, signed.url));
            // httpsig re-serialised the parameters itself: the bases agree byte for byte.
            let ours = signed.header("signature-input").unwrap().strip_prefix("tessera=").unwrap();
            assert!(base.ends_with(&format!("\"@signature-params\": {ours}")), "{base}");
        }
    }
}

#[test]
fn httpsig_rejects_altered_requests() {
    let c = connected("https://broker.example", 80);
    let secret = secret_of(&c);
    let signed = c
        .sign_request(
            &ApiRequest::new("GET", "/api/orders?limit=3"),
            &SignOptions { now: wall_now(), ..Default::default() },
            &mut rng(1),
        )
        .unwrap();
    let mut other_query = signed.clone();
    other_query.url = other_query.url.replace("limit=3", "limit=300");
    assert!(httpsig_verify(&other_query, secret.expose()).is_err());
    let mut other_token = signed.clone();
    for (k, v) in &mut other_token.headers {
        if k == "authorization" {
            *v = "Bearer btk_other".into();
        }
    }
    assert!(httpsig_verify(&other_token, secret.expose()).is_err());
    assert!(httpsig_verify(&signed, &[0u8; 32]).is_err());
}
