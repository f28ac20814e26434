//! HTTP handlers of the OAuth endpoints: consent page, decision, token,
//! revoke and token info. Errors keep RFC 6749's flat shape.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::{Value, json};

use crate::model::{self, OAuthError};
use crate::{Shared, bearer, html_escape, json_response};

/// `GET /oauth2/authorize`: the consent page listing the requested scopes.
pub async fn authorize(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str);
    let result = shared.lock().authorize(
        get("client_id").unwrap_or(""),
        get("redirect_uri").unwrap_or(""),
        get("response_type").unwrap_or(""),
        get("scope"),
        get("state"),
    );
    match result {
        Ok(txn) => {
            let scope = shared.lock().pending_scope(&txn).unwrap_or_default();
            let client = html_escape(get("client_id").unwrap_or(""));
            let base = format!("/oauth2/authorize/decision?txn={}", model::percent_encode(&txn));
            let items: String = scope
                .split(' ')
                .map(|s| {
                    format!(
                        "<li><code>{}</code>: {}</li>\n",
                        html_escape(s),
                        html_escape(model::oauth::scope_description(s))
                    )
                })
                .collect();
            Html(format!(
                "<!doctype html>\n<html><head><title>Stora: authorize {client}</title></head>\n<body>\n\
                 <h1>Allow {client} to access your Stora account?</h1>\n\
                 <p>Requested access: <code>{scope}</code></p>\n<ul id=\"scopes\">\n{items}</ul>\n\
                 <p><a id=\"approve\" href=\"{base}&amp;decision=approve\">Approve</a>\n\
                 <a id=\"deny\" href=\"{base}&amp;decision=deny\">Deny</a></p>\n\
                 </body></html>\n",
                scope = html_escape(&scope),
            ))
            .into_response()
        }
        Err(Ok(message)) => (
            StatusCode::BAD_REQUEST,
            Html(format!(
                "<!doctype html><html><body><h1>Authorization error</h1><p>{}</p></body></html>",
                html_escape(&message)
            )),
        )
            .into_response(),
        Err(Err(url)) => Redirect::to(&url).into_response(),
    }
}

/// `GET /oauth2/authorize/decision`.
pub async fn decision(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let approve = q.get("decision").map(String::as_str) == Some("approve");
    let txn = q.get("txn").map(String::as_str).unwrap_or("");
    let operator = q.get("operator").map(String::as_str);
    let mut store = shared.lock();
    let now = store.clock();
    match store.decide(txn, approve, operator, now) {
        Some(url) => Redirect::to(&url).into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            Html("<!doctype html><html><body><h1>Unknown or finished authorization</h1></body></html>"),
        )
            .into_response(),
    }
}

/// Client credentials from the body or from HTTP Basic.
fn client_credentials(headers: &HeaderMap, params: &HashMap<String, String>) -> (String, String) {
    if let (Some(id), Some(secret)) = (params.get("client_id"), params.get("client_secret")) {
        return (id.clone(), secret.clone());
    }
    use base64::Engine as _;
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    match basic.as_deref().and_then(|s| s.split_once(':')) {
        Some((id, secret)) => (id.to_string(), secret.to_string()),
        None => (params.get("client_id").cloned().unwrap_or_default(), String::new()),
    }
}

/// The token request's parameters: a JSON object of strings when the
/// content type is `application/json`, else a form body.
fn token_params(headers: &HeaderMap, body: &[u8]) -> Option<HashMap<String, String>> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.trim_start().to_ascii_lowercase().starts_with("application/json") {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else { return None };
        return map.into_iter().map(|(k, v)| v.as_str().map(|s| (k, s.to_string()))).collect();
    }
    let text = std::str::from_utf8(body).ok()?;
    if !text.contains('=') {
        return None;
    }
    Some(form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

fn oauth_error(e: OAuthError) -> Response {
    let mut resp = json_response(StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), e.body());
    if e.error == "invalid_token" {
        let value = format!("Bearer error=\"invalid_token\", error_description=\"{}\"", e.description);
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

/// `POST /oauth2/token`.
pub async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(params) = token_params(&headers, &body) else {
        return oauth_error(OAuthError::new(400, "invalid_request", "a form or JSON object body of strings expected"));
    };
    let (client_id, client_secret) = client_credentials(&headers, &params);
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    let result = {
        let mut store = shared.lock();
        let now = store.clock();
        match get("grant_type") {
            "authorization_code" => {
                store.exchange_code(&client_id, &client_secret, get("code"), get("redirect_uri"), now)
            }
            "refresh_token" => store.refresh(&client_id, &client_secret, get("refresh_token"), now),
            _ => Err(OAuthError::new(400, "unsupported_grant_type", "use authorization_code or refresh_token")),
        }
    };
    match result {
        Ok(tokens) => {
            let mut resp = json_response(StatusCode::OK, serde_json::to_value(tokens).unwrap_or_default());
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => oauth_error(e),
    }
}

/// `GET /oauth2/token/info`.
pub async fn token_info(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let store = shared.lock();
    match store.token_info(bearer(&headers), store.clock()) {
        Ok(info) => json_response(StatusCode::OK, serde_json::to_value(info).unwrap_or_default()),
        Err(e) => oauth_error(e),
    }
}

#[derive(serde::Deserialize)]
struct RevokeBody {
    token: String,
    client_id: String,
    client_secret: String,
}

/// `POST /oauth2/revoke` (JSON `{token, client_id, client_secret}`).
pub async fn revoke(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<RevokeBody>(&body) else {
        return oauth_error(OAuthError::new(400, "invalid_request", "JSON {token, client_id, client_secret} expected"));
    };
    match shared.lock().revoke(&body.client_id, &body.client_secret, &body.token) {
        Ok(()) => json_response(StatusCode::OK, json!({})),
        Err(e) => oauth_error(e),
    }
}
