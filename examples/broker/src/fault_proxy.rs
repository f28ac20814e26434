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
//! With several upstreams it spreads the requests over them round-robin, one
//! request at a time (never one connection at a time: plugins keep their
//! connection alive, and a request replayed on it must be free to land on
//! another instance). [`FaultProxy::front`] is the same proxy as the front of
//! several broker instances on one public URL (`harness::Env` with
//! `instances`): it keeps client connections alive, records nothing and
//! lives as long as its owner.
//!
//! Dropping the [`FaultProxy`] stops it; so does its maximum lifetime (not
//! a front's).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// The upstream the request was forwarded to (`None`: not forwarded).
    pub upstream: Option<String>,
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

struct Shared {
    rules: Mutex<VecDeque<Rule>>,
    seen: Mutex<Vec<Seen>>,
    /// Where requests go, `http://host:port` each; round-robin.
    upstreams: Mutex<Vec<String>>,
    /// Requests forwarded so far (picks the next upstream).
    forwarded: AtomicUsize,
    /// Record every request in `seen` (a fault proxy; a front does not).
    record: bool,
    /// Keep client connections open between requests (a front).
    keep_alive: bool,
}

/// The proxy. Stops when dropped.
pub struct FaultProxy {
    url: String,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Longest a fault proxy lives, whatever happens to the test that started
/// it (a front lives as long as its owner).
const MAX_LIFETIME: Duration = Duration::from_secs(600);

/// How long a front keeps an idle client connection open: longer than the
/// clients' own pools keep one (Node 4 s, ureq 15 s), so a client never
/// sends on a connection the front is closing.
const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(60);

impl FaultProxy {
    /// Binds `127.0.0.1:0`, forwarding to `upstream` (`http://host:port`,
    /// settable later with [`FaultProxy::set_upstream`]).
    pub fn start(upstream: &str) -> std::io::Result<FaultProxy> {
        Self::spawn(0, &[upstream], true, false, Some(MAX_LIFETIME))
    }

    /// A front for several instances of one server: binds `127.0.0.1:port`
    /// (0: ephemeral), spreads requests round-robin over `upstreams`, keeps
    /// client connections alive, records nothing, and runs until dropped.
    /// Faults can still be scheduled on it.
    pub fn front(port: u16, upstreams: &[&str]) -> std::io::Result<FaultProxy> {
        Self::spawn(port, upstreams, false, true, None)
    }

    fn spawn(
        port: u16,
        upstreams: &[&str],
        record: bool,
        keep_alive: bool,
        lifetime: Option<Duration>,
    ) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            rules: Mutex::default(),
            seen: Mutex::default(),
            upstreams: Mutex::new(upstreams.iter().map(|u| u.trim_end_matches('/').to_string()).collect()),
            forwarded: AtomicUsize::new(0),
            record,
            keep_alive,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (t_shared, t_stop) = (shared.clone(), stop.clone());
        let name = if keep_alive { "front" } else { "fault-proxy" };
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            let started = Instant::now();
            let agent = crate::stora::http_agent(Duration::from_secs(30));
            while !t_stop.load(Ordering::Relaxed) && lifetime.is_none_or(|l| started.elapsed() < l) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (shared, agent, stop) = (t_shared.clone(), agent.clone(), t_stop.clone());
                        std::thread::spawn(move || {
                            let _ = serve(stream, &shared, &agent, &stop);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        })?;
        Ok(FaultProxy { url, shared, stop, thread: Some(thread) })
    }

    /// The proxy's base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Changes where requests are forwarded (one upstream).
    pub fn set_upstream(&self, upstream: &str) {
        self.set_upstreams(&[upstream]);
    }

    /// Changes where requests are forwarded: round-robin over `upstreams`.
    pub fn set_upstreams(&self, upstreams: &[&str]) {
        *self.shared.upstreams.lock().unwrap_or_else(|e| e.into_inner()) =
            upstreams.iter().map(|u| u.trim_end_matches('/').to_string()).collect();
    }

    /// Requests forwarded so far (over every upstream).
    pub fn forwarded(&self) -> usize {
        self.shared.forwarded.load(Ordering::Relaxed)
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

/// One request: method, target, headers (names lowercase), body, and
/// whether the client wants the connection kept open afterwards.
struct RawRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    keep_alive: bool,
}

/// Reads one HTTP/1.1 request (head + `Content-Length` body); `None` when
/// the client closed the connection before sending one.
fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<RawRequest>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let http11 = parts.next() == Some("HTTP/1.1");
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
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.to_ascii_lowercase());
    let len = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0usize);
    // A chunked body is not read (no client of these tests sends one): the
    // connection cannot be reused after it.
    let keep_alive =
        http11 && header("connection").as_deref() != Some("close") && header("transfer-encoding").is_none();
    let mut body = vec![0u8; len.min(8 * 1024 * 1024)];
    reader.read_exact(&mut body)?;
    Ok(Some(RawRequest { method, target, headers, body, keep_alive }))
}

/// Waits until the client sends the first byte of its next request on a
/// kept-alive connection: `false` when it closed, went idle too long, or the
/// proxy is stopping.
fn next_request_arrives(reader: &mut BufReader<TcpStream>, stop: &AtomicBool) -> bool {
    let idle_until = Instant::now() + KEEP_ALIVE_IDLE;
    let _ = reader.get_ref().set_read_timeout(Some(Duration::from_millis(500)));
    let arrived = loop {
        match reader.fill_buf() {
            Ok(buf) => break !buf.is_empty(),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if stop.load(Ordering::Relaxed) || Instant::now() > idle_until {
                    break false;
                }
            }
            Err(_) => break false,
        }
    };
    let _ = reader.get_ref().set_read_timeout(Some(Duration::from_secs(30)));
    arrived
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

fn head(status: u16, headers: &[(String, String)], content_length: usize, keep_alive: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        if !matches!(k.as_str(), "content-length" | "transfer-encoding" | "connection") {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if status != 204 {
        out.push_str(&format!("content-length: {content_length}\r\n"));
    }
    out.push_str(if keep_alive { "\r\n" } else { "connection: close\r\n\r\n" });
    out.into_bytes()
}

fn serve(stream: TcpStream, shared: &Shared, agent: &ureq::Agent, stop: &AtomicBool) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    // Answers go out whole, head and body in one write: no small segment
    // for Nagle's algorithm to hold back on a kept-alive connection.
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let Some(request) = read_request(&mut reader)? else {
            return Ok(());
        };
        // A fault ends the connection (the client must open a new one);
        // a clean forward keeps it when both sides want to.
        let keep_alive = shared.keep_alive && request.keep_alive;
        if !serve_one(&mut stream, request, keep_alive, shared, agent, stop)?
            || !next_request_arrives(&mut reader, stop)
        {
            return stream.shutdown(Shutdown::Both);
        }
    }
}

/// Answers one request; `Ok(true)` when the connection stays open.
fn serve_one(
    stream: &mut TcpStream,
    request: RawRequest,
    keep_alive: bool,
    shared: &Shared,
    agent: &ureq::Agent,
    stop: &AtomicBool,
) -> std::io::Result<bool> {
    let RawRequest { method, target, headers, body, .. } = request;
    let path = target.split('?').next().unwrap_or("").to_string();
    let fault = take_fault(shared, &method, &path);
    // Only a fault also decides whether the request is forwarded at all;
    // the upstream is picked (round-robin) when it is.
    let upstream = fault.as_ref().is_none_or(Fault::forwards).then(|| next_upstream(shared));
    let index = shared.record.then(|| {
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
            upstream: upstream.clone(),
        });
        seen.len() - 1
    });
    let record = |status: Option<u16>, headers: &[(String, String)], body: &[u8]| {
        let Some(index) = index else { return };
        let mut seen = shared.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = seen.get_mut(index) {
            s.status = status;
            s.location = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("location")).map(|(_, v)| v.clone());
            s.response_headers = headers.to_vec();
            s.response_body = body.to_vec();
        }
    };
    let close = |stream: &mut TcpStream| stream.shutdown(Shutdown::Both).map(|()| false);

    match &fault {
        Some(Fault::Status { status, retry_after, content_type, body }) => {
            let mut h = vec![("content-type".to_string(), content_type.to_string())];
            if let Some(r) = retry_after {
                h.push(("retry-after".into(), r.clone()));
            }
            stream.write_all(&head(*status, &h, body.len(), false))?;
            stream.write_all(body.as_bytes())?;
            record(Some(*status), &h, body.as_bytes());
            return close(stream);
        }
        Some(Fault::Redirect { status, location }) => {
            let h = vec![("location".to_string(), location.clone()), ("content-type".to_string(), "text/plain".into())];
            let body = format!("see {location}");
            stream.write_all(&head(*status, &h, body.len(), false))?;
            stream.write_all(body.as_bytes())?;
            record(Some(*status), &h, body.as_bytes());
            return close(stream);
        }
        Some(Fault::Hang(d)) => {
            let until = Instant::now() + *d;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
            return close(stream);
        }
        Some(Fault::DropBeforeForward) => return close(stream),
        _ => {}
    }

    let base = upstream.unwrap_or_default();
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
        None => (answer.status, answer.headers, answer.body),
        Some(Fault::DropAfterForward) => return close(stream),
        Some(Fault::DropMidBody) => {
            let full =
                if answer.body.is_empty() { b"{\"ok\":true,\"padding\":\"xxxxxxxx\"}".to_vec() } else { answer.body };
            stream.write_all(&head(not_204(answer.status), &answer.headers, full.len(), false))?;
            stream.write_all(&full[..full.len() / 2])?;
            stream.flush()?;
            record(None, &answer.headers, &full[..full.len() / 2]);
            return close(stream);
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
        Some(Fault::EmptyBody) => (answer.status, answer.headers, Vec::new()),
        Some(Fault::Status { .. } | Fault::Redirect { .. } | Fault::Hang(_) | Fault::DropBeforeForward) => {
            unreachable!("handled above")
        }
    };
    let keep_alive = keep_alive && fault.is_none();
    let mut answer = head(status, &out_headers, out_body.len(), keep_alive);
    if status != 204 {
        answer.extend_from_slice(&out_body);
    }
    stream.write_all(&answer)?;
    stream.flush()?;
    record(Some(status), &out_headers, &out_body);
    if keep_alive { Ok(true) } else { close(stream) }
}

/// The next upstream, round-robin (the empty string when there is none:
/// the forward then fails and the client gets a 502).
fn next_upstream(shared: &Shared) -> String {
    let upstreams = shared.upstreams.lock().unwrap_or_else(|e| e.into_inner());
    let n = shared.forwarded.fetch_add(1, Ordering::Relaxed);
    if upstreams.is_empty() { String::new() } else { upstreams[n % upstreams.len()].clone() }
}
