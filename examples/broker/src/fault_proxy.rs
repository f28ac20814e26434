//! A fault-injecting, recording HTTP/1.1 proxy on 127.0.0.1, for the fault
//! and secret-leak tests: it sits in front of a server (the broker, or the
//! fake Stora), records every request it sees (method, path and query,
//! headers), forwards it, and answers — unless a scheduled [`Fault`] matches
//! the request, in which case it answers a 5xx or a redirect, hangs, drops
//! the connection before or after forwarding, cuts the body short, or
//! replaces the body with something that is not what the protocol says.
//!
//! It is deliberately small and raw (std threads and sockets, one request per
//! connection, `Connection: close`), so that it can do what a well-behaved
//! HTTP server library would refuse to: announce a `Content-Length` and send
//! fewer bytes, or close the socket in the middle of an answer.
//!
//! Dropping the [`FaultProxy`] stops it; so does its maximum lifetime.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tessera_core::{Request, Response};

/// What the proxy does instead of (or on top of) a clean forward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answers `status` without forwarding (a gateway or load balancer in
    /// trouble), with an optional `Retry-After` and the given body and
    /// content type.
    Status {
        /// Status answered.
        status: u16,
        /// `Retry-After` header value, if any.
        retry_after: Option<String>,
        /// Content type of `body`.
        content_type: &'static str,
        /// Body.
        body: String,
    },
    /// Answers a redirect (`status`, `Location: location`) without
    /// forwarding: a trailing-slash rule, an HTTP → HTTPS rewrite or a moved
    /// host in front of the broker. A plugin must never follow it.
    Redirect {
        /// The 3xx status.
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// Reads the request, forwards nothing, answers nothing for this long,
    /// then closes (longer than the client's timeout: a timeout).
    Hang(Duration),
    /// Reads the request and closes the connection without forwarding.
    DropBeforeForward,
    /// Forwards (the server acts on the request), then closes without
    /// answering: the answer is lost.
    DropAfterForward,
    /// Forwards, then sends the status line, the headers with the full
    /// `Content-Length`, half of the body, and closes.
    DropMidBody,
    /// Forwards, then answers the server's status with only the first half
    /// of its body (a self-consistent `Content-Length`: a well-formed HTTP
    /// message whose JSON is cut). An empty body becomes a cut JSON object;
    /// a `204` becomes `200`.
    Truncated,
    /// Forwards, then answers the server's status with a body that is not
    /// JSON (`text/plain`); a `204` becomes `200`.
    NotJson,
    /// Forwards, then answers the server's status with well-formed JSON of
    /// the wrong shape; a `204` becomes `200`.
    WrongShape,
    /// Forwards, then answers the server's status with an empty body.
    EmptyBody,
}

impl Fault {
    /// A plain status without forwarding: `{"error":"server_error"}`-less,
    /// a short text body.
    pub fn status(status: u16) -> Fault {
        Fault::Status {
            status,
            retry_after: None,
            content_type: "text/plain",
            body: format!("upstream error {status}"),
        }
    }

    /// `503` with a `Retry-After` header.
    pub fn status_retry_after(status: u16, retry_after: &str) -> Fault {
        Fault::Status {
            status,
            retry_after: Some(retry_after.to_string()),
            content_type: "text/plain",
            body: "try later".into(),
        }
    }

    /// A load balancer's HTML error page.
    pub fn html_error(status: u16) -> Fault {
        Fault::Status {
            status,
            retry_after: None,
            content_type: "text/html",
            body: format!(
                "<!DOCTYPE html><html><head><title>{status} Bad Gateway</title></head>\
                 <body><h1>{status}</h1><p>The upstream server is unavailable.</p></body></html>"
            ),
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Fault {
        Fault::Redirect { status, location: location.to_string() }
    }

    /// Whether the upstream server sees (and acts on) the request.
    pub fn forwards(&self) -> bool {
        !matches!(self, Fault::Status { .. } | Fault::Redirect { .. } | Fault::Hang(_) | Fault::DropBeforeForward)
    }

    /// A short name for test messages.
    pub fn name(&self) -> String {
        match self {
            Fault::Status { status, retry_after: Some(r), .. } => format!("{status}+retry-after:{r}"),
            Fault::Status { status, content_type: "text/html", .. } => format!("{status}-html"),
            Fault::Status { status, .. } => status.to_string(),
            Fault::Redirect { status, .. } => format!("redirect-{status}"),
            Fault::Hang(d) => format!("hang-{}ms", d.as_millis()),
            Fault::DropBeforeForward => "drop-before-forward".into(),
            Fault::DropAfterForward => "drop-after-forward".into(),
            Fault::DropMidBody => "drop-mid-body".into(),
            Fault::Truncated => "truncated".into(),
            Fault::NotJson => "not-json".into(),
            Fault::WrongShape => "wrong-shape".into(),
            Fault::EmptyBody => "empty-body".into(),
        }
    }
}

/// A scheduled fault: applies to requests whose method matches (`None`:
/// any) and whose path starts with `path_prefix`, `times` times (`None`:
/// until cleared).
#[derive(Clone, Debug)]
pub struct Rule {
    /// Method to match, uppercase; `None` matches every method.
    pub method: Option<String>,
    /// Path prefix to match.
    pub path_prefix: String,
    /// The fault.
    pub fault: Fault,
    /// Remaining applications; `None` = every matching request.
    pub times: Option<u32>,
}

/// One request the proxy saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// Headers (names lowercase).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
    /// Status of the answer the client got (`None`: none, or a cut one).
    pub status: Option<u16>,
    /// The `Location` header of the answer, if any.
    pub location: Option<String>,
    /// Headers of the answer the client got.
    pub response_headers: Vec<(String, String)>,
    /// Body of the answer the client got (as much as was sent).
    pub response_body: Vec<u8>,
}

impl Seen {
    /// First value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

#[derive(Default)]
struct Shared {
    rules: Mutex<VecDeque<Rule>>,
    seen: Mutex<Vec<Seen>>,
}

/// The proxy. Stops when dropped.
pub struct FaultProxy {
    url: String,
    upstream: Arc<Mutex<String>>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Longest a proxy lives, whatever happens to the test that started it.
const MAX_LIFETIME: Duration = Duration::from_secs(600);

impl FaultProxy {
    /// Binds `127.0.0.1:0`, forwarding to `upstream` (`http://host:port`,
    /// settable later with [`FaultProxy::set_upstream`]).
    pub fn start(upstream: &str) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let upstream = Arc::new(Mutex::new(upstream.trim_end_matches('/').to_string()));
        let shared: Arc<Shared> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (t_upstream, t_shared, t_stop) = (upstream.clone(), shared.clone(), stop.clone());
        let thread = std::thread::Builder::new().name("fault-proxy".into()).spawn(move || {
            let started = Instant::now();
            let agent = crate::stora::http_agent(Duration::from_secs(30));
            while !t_stop.load(Ordering::Relaxed) && started.elapsed() < MAX_LIFETIME {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (upstream, shared, agent, stop) =
                            (t_upstream.clone(), t_shared.clone(), agent.clone(), t_stop.clone());
                        std::thread::spawn(move || {
                            let _ = serve(stream, &upstream, &shared, &agent, &stop);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        })?;
        Ok(FaultProxy { url, upstream, shared, stop, thread: Some(thread) })
    }

    /// The proxy's base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Changes where requests are forwarded.
    pub fn set_upstream(&self, upstream: &str) {
        *self.upstream.lock().unwrap_or_else(|e| e.into_inner()) = upstream.trim_end_matches('/').to_string();
    }

    /// Schedules `fault` for every request matching `method` (`None`: any)
    /// and `path_prefix`, until [`FaultProxy::clear`].
    pub fn fail_always(&self, method: Option<&str>, path_prefix: &str, fault: Fault) {
        self.push(Rule { method: method.map(str::to_string), path_prefix: path_prefix.into(), fault, times: None });
    }

    /// Schedules `fault` for the next `times` matching requests.
    pub fn fail_times(&self, method: Option<&str>, path_prefix: &str, fault: Fault, times: u32) {
        self.push(Rule {
            method: method.map(str::to_string),
            path_prefix: path_prefix.into(),
            fault,
            times: Some(times),
        });
    }

    /// Adds a rule (rules are tried in order; the first match applies).
    pub fn push(&self, rule: Rule) {
        self.shared.rules.lock().unwrap_or_else(|e| e.into_inner()).push_back(rule);
    }

    /// Removes every scheduled fault.
    pub fn clear(&self) {
        self.shared.rules.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets the requests seen so far.
    pub fn reset_seen(&self) {
        self.shared.seen.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Requests seen whose method is `method` and path starts with `path_prefix`.
    pub fn count(&self, method: &str, path_prefix: &str) -> usize {
        self.seen().iter().filter(|s| s.method == method && s.path().starts_with(path_prefix)).count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn take_fault(shared: &Shared, method: &str, path: &str) -> Option<Fault> {
    let mut rules = shared.rules.lock().unwrap_or_else(|e| e.into_inner());
    let index = rules.iter().position(|r| {
        r.method.as_deref().is_none_or(|m| m == method) && path.starts_with(&r.path_prefix) && r.times != Some(0)
    })?;
    let rule = &mut rules[index];
    let fault = rule.fault.clone();
    if let Some(n) = &mut rule.times {
        *n -= 1;
        if *n == 0 {
            rules.remove(index);
        }
    }
    Some(fault)
}

/// Method, target, headers (names lowercase) and body of one request.
type RawRequest = (String, String, Vec<(String, String)>, Vec<u8>);

/// Reads one HTTP/1.1 request (head + `Content-Length` body).
fn read_request(stream: &TcpStream) -> std::io::Result<RawRequest> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0usize);
    let mut body = vec![0u8; len.min(8 * 1024 * 1024)];
    reader.read_exact(&mut body)?;
    Ok((method, target, headers, body))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400..=499 => "Client Error",
        _ => "Server Error",
    }
}

fn head(status: u16, headers: &[(String, String)], content_length: usize) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        if !matches!(k.as_str(), "content-length" | "transfer-encoding" | "connection") {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if status != 204 {
        out.push_str(&format!("content-length: {content_length}\r\n"));
    }
    out.push_str("connection: close\r\n\r\n");
    out.into_bytes()
}

fn serve(
    mut stream: TcpStream,
    upstream: &Mutex<String>,
    shared: &Shared,
    agent: &ureq::Agent,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (method, target, headers, body) = read_request(&stream)?;
    let path = target.split('?').next().unwrap_or("").to_string();
    let fault = take_fault(shared, &method, &path);
    let index = {
        let mut seen = shared.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.push(Seen {
            method: method.clone(),
            target: target.clone(),
            headers: headers.clone(),
            body: body.clone(),
            fault: fault.clone(),
            status: None,
            location: None,
            response_headers: Vec::new(),
            response_body: Vec::new(),
        });
        seen.len() - 1
    };
    let record = |status: Option<u16>, headers: &[(String, String)], body: &[u8]| {
        let mut seen = shared.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = seen.get_mut(index) {
            s.status = status;
            s.location = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("location")).map(|(_, v)| v.clone());
            s.response_headers = headers.to_vec();
            s.response_body = body.to_vec();
        }
    };

    match &fault {
        Some(Fault::Status { status, retry_after, content_type, body }) => {
            let mut h = vec![("content-type".to_string(), content_type.to_string())];
            if let Some(r) = retry_after {
                h.push(("retry-after".into(), r.clone()));
            }
            stream.write_all(&head(*status, &h, body.len()))?;
            stream.write_all(body.as_bytes())?;
            record(Some(*status), &h, body.as_bytes());
            return stream.shutdown(Shutdown::Both);
        }
        Some(Fault::Redirect { status, location }) => {
            let h = vec![("location".to_string(), location.clone()), ("content-type".to_string(), "text/plain".into())];
            let body = format!("see {location}");
            stream.write_all(&head(*status, &h, body.len()))?;
            stream.write_all(body.as_bytes())?;
            record(Some(*status), &h, body.as_bytes());
            return stream.shutdown(Shutdown::Both);
        }
        Some(Fault::Hang(d)) => {
            let until = Instant::now() + *d;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
            return stream.shutdown(Shutdown::Both);
        }
        Some(Fault::DropBeforeForward) => return stream.shutdown(Shutdown::Both),
        _ => {}
    }

    let base = upstream.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let forwarded = Request {
        method: method.clone(),
        url: format!("{base}{target}"),
        headers: headers
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "host" | "content-length" | "connection" | "transfer-encoding"))
            .cloned()
            .collect(),
        body,
    };
    let answer = crate::plugin_host::send(agent, &forwarded)
        .unwrap_or_else(|_| Response::new(502, b"{\"error\":\"proxy_upstream_unreachable\"}".to_vec()));
    let not_204 = |s: u16| if s == 204 { 200 } else { s };
    let json_type = vec![("content-type".to_string(), "application/json".to_string())];
    let (status, out_headers, out_body) = match &fault {
        None => (answer.status, answer.headers.clone(), answer.body.clone()),
        Some(Fault::DropAfterForward) => return stream.shutdown(Shutdown::Both),
        Some(Fault::DropMidBody) => {
            let full =
                if answer.body.is_empty() { b"{\"ok\":true,\"padding\":\"xxxxxxxx\"}".to_vec() } else { answer.body };
            stream.write_all(&head(not_204(answer.status), &answer.headers, full.len()))?;
            stream.write_all(&full[..full.len() / 2])?;
            stream.flush()?;
            record(None, &answer.headers, &full[..full.len() / 2]);
            return stream.shutdown(Shutdown::Both);
        }
        Some(Fault::Truncated) => {
            let cut = if answer.body.is_empty() {
                b"{\"ok\":tr".to_vec()
            } else {
                answer.body[..answer.body.len() / 2].to_vec()
            };
            (not_204(answer.status), json_type, cut)
        }
        Some(Fault::NotJson) => (
            not_204(answer.status),
            vec![("content-type".to_string(), "text/plain".to_string())],
            b"OK, but this is not JSON".to_vec(),
        ),
        Some(Fault::WrongShape) => {
            (not_204(answer.status), json_type, b"{\"unexpected\":[1,2,3],\"data\":\"not a list\"}".to_vec())
        }
        Some(Fault::EmptyBody) => (answer.status, answer.headers.clone(), Vec::new()),
        Some(Fault::Status { .. } | Fault::Redirect { .. } | Fault::Hang(_) | Fault::DropBeforeForward) => {
            unreachable!("handled above")
        }
    };
    stream.write_all(&head(status, &out_headers, out_body.len()))?;
    if status != 204 {
        stream.write_all(&out_body)?;
    }
    stream.flush()?;
    record(Some(status), &out_headers, &out_body);
    stream.shutdown(Shutdown::Both)
}
