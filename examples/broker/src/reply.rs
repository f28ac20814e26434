//! What the handlers see and answer: [`Incoming`] (a request, fully read)
//! and [`Reply`] (status, headers, body, and what the log line needs),
//! turned into an HTTP response in one place ([`Reply::into_http`]), which
//! also marks every answer with `Tessera-Origin` ([`Origin`]).

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The header that tells the plugin who produced an answer.
pub const ORIGIN_HEADER: &str = "tessera-origin";

/// Who produced an answer (`Tessera-Origin`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// The broker's own answer: its errors (`502 stora_unavailable`, `401
    /// stora_reconnect_required`, its pacing `429`, …) and every route that
    /// is not the API proxy.
    #[default]
    Broker,
    /// Stora's answer (status, body, passthrough headers), relayed by the
    /// `/api/{*path}` proxy, whatever its status.
    Stora,
}

impl Origin {
    /// The header value: `broker` or `stora`.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Broker => "broker",
            Origin::Stora => "stora",
        }
    }
}

/// An incoming request, fully read, as the handlers see it.
#[derive(Clone, Debug)]
pub struct Incoming {
    /// Uppercase method.
    pub method: String,
    /// Path, percent-encoded as received.
    pub path: String,
    /// Raw query, without `?`.
    pub query: Option<String>,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Incoming {
    /// First value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Decoded query parameters.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// First decoded query parameter named `key`.
    pub fn param(&self, key: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Path and query as received.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// The `n`th path segment (0-based), e.g. the id in `/installations/{id}`.
    pub fn segment(&self, n: usize) -> Option<&str> {
        self.path.trim_start_matches('/').split('/').nth(n)
    }
}

/// What a handler answers, plus what the log line needs.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Installation, once known (for logs and counters).
    pub install_id: Option<String>,
    /// The broker's error code (for logs).
    pub error: Option<String>,
    /// Who produced the answer (the `Tessera-Origin` header).
    pub origin: Origin,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, value: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
            install_id: None,
            error: None,
            origin: Origin::Broker,
        }
    }

    /// `{"error": code, "error_description": description}`.
    pub fn error(status: u16, code: &str, description: &str) -> Reply {
        let mut reply = Reply::json(status, serde_json::json!({"error": code, "error_description": description}));
        reply.error = Some(code.to_string());
        reply
    }

    /// The core's answer to a failed verification ([`Refusal`]): its status,
    /// headers (`Date` on `signature_expired`) and body, unchanged — the
    /// broker decides no verification status itself.
    ///
    /// [`Refusal`]: tessera_core::Refusal
    pub fn refusal(refusal: &tessera_core::Refusal) -> Reply {
        Reply {
            status: refusal.status(),
            headers: refusal.headers(),
            body: refusal.body(),
            install_id: None,
            error: Some(refusal.code().to_owned()),
            origin: Origin::Broker,
        }
    }

    /// An empty answer (204).
    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
            install_id: None,
            error: None,
            origin: Origin::Broker,
        }
    }

    /// A `302 Found` to `location`.
    pub fn redirect(location: &str) -> Reply {
        Reply {
            status: 302,
            headers: vec![
                ("location".into(), location.to_string()),
                ("cache-control".into(), "no-store".into()),
                ("referrer-policy".into(), "no-referrer".into()),
            ],
            body: Vec::new(),
            install_id: None,
            error: None,
            origin: Origin::Broker,
        }
    }

    /// A small HTML page for browser-facing routes.
    pub fn page(status: u16, title: &str, message: &str, error: Option<&str>) -> Reply {
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let body = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n\
             <body><h1>{t}</h1><p>{m}</p></body></html>\n",
            t = esc(title),
            m = esc(message)
        );
        Reply {
            status,
            headers: vec![
                ("content-type".into(), "text/html; charset=utf-8".into()),
                ("cache-control".into(), "no-store".into()),
                ("x-frame-options".into(), "DENY".into()),
                ("content-security-policy".into(), "default-src 'none'; frame-ancestors 'none'".into()),
            ],
            body: body.into_bytes(),
            install_id: None,
            error: error.map(str::to_string),
            origin: Origin::Broker,
        }
    }

    /// Tags the reply with the installation it concerns.
    pub fn for_install(mut self, install_id: &str) -> Reply {
        self.install_id = Some(install_id.to_string());
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The HTTP response, marked with `Tessera-Origin` (only the reply's
    /// [`Origin`] decides it: a header of that name among the reply's own is
    /// dropped). No `Date` is set here unless the reply carries one: hyper
    /// adds the broker's own to every answer.
    pub fn into_http(self) -> Response {
        let mut resp = Response::new(Body::from(self.body));
        *resp.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in self.headers {
            if name.eq_ignore_ascii_case(ORIGIN_HEADER) {
                continue;
            }
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
                resp.headers_mut().append(name, value);
            }
        }
        resp.headers_mut().insert(ORIGIN_HEADER, HeaderValue::from_static(self.origin.as_str()));
        resp
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        self.into_http()
    }
}
