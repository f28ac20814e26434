//! A plugin host in authorization-proxy mode for the core's tests: one
//! store (what it persisted last), a lock that is free or not, and a trace
//! of every action.

use super::{NOW, registration, rng};
use tessera_core::{Action, Call, Companion, Completion, Config, Event, Request, Response};

pub const PROXY: &str = "https://proxy.example";
pub const STORA: &str = "https://api.stora.example/2025-09";
pub const RETURN: &str = "https://shop.example/wp-admin/admin.php?page=tessera";
pub const STATE: &str = "pppppppppppppppppppppp";
pub const CODE: &str = "code_c29tZS1zdG9yYS1jb2Rl";
pub const CONTEXT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJpaWQiOiJ4In0.c2ln";

pub fn tokens_answer(access: &str, refresh: &str, expires_in: i64) -> Response {
    let body = format!(
        r#"{{"access_token":"{access}","refresh_token":"{refresh}","expires_in":{expires_in},"scope":"units:read","account":{{"id":"op_1","name":"Acme Storage"}}}}"#
    );
    Response::new(200, body.into_bytes())
}

pub fn registered() -> Companion {
    let mut c = Companion::create(Config::proxy(PROXY, STORA)).unwrap();
    c.registration_request(&registration("https://shop.example"), &mut rng(1)).unwrap();
    c.handle_registration_response_at(&Response::new(201, b"{}".to_vec()), NOW).unwrap();
    c
}

/// What one host does: a store (what it persisted last) and a trace.
pub struct Host {
    pub stored: String,
    pub trace: Vec<String>,
    pub sent: Vec<Request>,
    pub lock_free: bool,
    /// States other workers store while this one waits for the lock: each
    /// `Lock` first finds the next of them in the store.
    pub arrivals: std::collections::VecDeque<String>,
}

impl Host {
    pub fn new(c: &Companion) -> Host {
        Host::with_store(c.to_json())
    }

    /// A host whose store holds `stored` (another worker's write, a stale cache…).
    pub fn with_store(stored: String) -> Host {
        Host { stored, trace: Vec::new(), sent: Vec::new(), lock_free: true, arrivals: Default::default() }
    }

    pub fn run(
        &mut self,
        c: &mut Companion,
        mut call: Call,
        now: i64,
        mut answer: impl FnMut(&Request) -> Result<Response, ()>,
    ) -> tessera_core::Result<Completion> {
        let mut event = Event::Start;
        let mut rng = rng(7);
        for _ in 0..40 {
            let action = c.step(&mut call, event, now, &mut rng);
            event = match action {
                Action::Send(req) => {
                    self.trace.push(format!("send {} {}", req.method, req.url.split('?').next().unwrap()));
                    self.sent.push(req.clone());
                    match answer(&req) {
                        Ok(resp) => Event::Response(resp),
                        Err(()) => Event::TransportError(tessera_core::TransportError::Network),
                    }
                }
                Action::Sleep(_) => Event::Slept,
                Action::Persist(state) => {
                    self.trace.push("persist".into());
                    self.stored = state;
                    Event::Persisted
                }
                Action::Lock(name) => {
                    self.trace.push(format!("lock {name}"));
                    if let Some(newer) = self.arrivals.pop_front() {
                        self.stored = newer;
                    }
                    if self.lock_free { Event::Locked(self.stored.clone()) } else { Event::LockUnavailable }
                }
                Action::Unlock(_) => {
                    self.trace.push("unlock".into());
                    Event::Unlocked
                }
                Action::ServeProof(_) => Event::ProofServed,
                Action::Done(result) => {
                    self.trace.push(match &result {
                        Ok(_) => "done ok".into(),
                        Err(e) => format!("done {}", e.code()),
                    });
                    return result;
                }
            };
        }
        panic!("the call did not finish: {:?}", self.trace);
    }

    pub fn reset(&mut self) {
        self.trace.clear();
        self.sent.clear();
    }

    pub fn trace(&self) -> String {
        self.trace.join(", ")
    }
}

/// Registered and connected through the proxy: access token `at_1`, refresh
/// token `rt_1`, expiring an hour after `NOW`.
pub fn connected() -> (Companion, Host) {
    let mut c = registered();
    c.connect_url_with_state(RETURN, None, NOW, STATE).unwrap();
    let callback = format!("{RETURN}&state={STATE}&code={CODE}&code_context={CONTEXT}");
    let call = c.start_complete_connect(&callback, NOW).unwrap();
    let mut host = Host::new(&c);
    let done = host.run(&mut c, call, NOW, |_| Ok(tokens_answer("at_1", "rt_1", 3600))).unwrap();
    assert!(matches!(done, Completion::Connected { account } if account.id == "op_1"));
    (c, host)
}

pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
