//! The machine scripts of authorization-proxy mode (`machine-proxy.json`,
//! docs/PROTOCOL.md §13, docs/HOST-CONTRACT.md `Lock`/`Unlock`): the code
//! exchange, calls straight to Stora, the refresh under the host's lock,
//! another worker's refresh, `invalid_grant`, disconnect and uninstall.

use tessera_core::{ApiRequest, Companion, Config, Event, Response};

use super::{Answer, Op, Scenario, after, code, net, resp, s};
use crate::support::{NOW, registration, rng};

const P: &str = "https://proxy.example";
const STORA: &str = "https://api.stora.example/2025-09";
const STATE: &str = "c2NyaXB0ZWQtcHJveHktc3RhdGU";
const CODE: &str = "code_c2NyaXB0ZWQtc3RvcmEtY29kZQ";
const CONTEXT: &str =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6InRlc3NlcmEtY29kZS1jb250ZXh0In0.eyJpaWQiOiJzY3JpcHRlZCJ9.c2NyaXB0ZWQtbWFj";
const RETURN: &str = "https://shop.example/wp-admin/admin.php?page=tessera";

fn tokens(access: &str, refresh: &str, expires_in: i64) -> String {
    format!(
        r#"{{"access_token":"{access}","refresh_token":"{refresh}","expires_in":{expires_in},"scope":"units:read","account":{{"id":"op_7","name":"Acme Self Storage"}}}}"#
    )
}

fn registered(seed: u8) -> Companion {
    let mut c = Companion::create(Config::proxy(P, STORA)).unwrap();
    c.registration_request(&registration("https://shop.example"), &mut rng(seed)).unwrap();
    c.handle_registration_response_at(&Response::new(201, b"{}".to_vec()), NOW - 4000).unwrap();
    c
}

fn pending(seed: u8) -> Companion {
    let mut c = registered(seed);
    c.connect_url_with_state(RETURN, None, NOW - 30, STATE).unwrap();
    c
}

/// Connected at `NOW` with the pair `at_1`/`rt_1`, valid for an hour.
fn connected(seed: u8) -> Companion {
    let mut c = registered(seed);
    c.connect_url_with_state(RETURN, None, NOW, STATE).unwrap();
    let call = c.start_complete_connect(&callback_url(), NOW).unwrap();
    after(c, call, vec![resp(200, &tokens("at_1", "rt_1", 3600))])
}

fn callback_url() -> String {
    format!("{RETURN}&state={STATE}&code={CODE}&code_context={CONTEXT}")
}

fn locked(c: &Companion) -> Answer {
    Answer::Event(Event::Locked(c.to_json()))
}

fn get(path: &str) -> Op {
    Op::Call(ApiRequest::new("GET", path))
}

pub fn scenarios() -> Vec<Scenario> {
    let g = "proxy";
    // `after` drives at NOW: a pair got at NOW expires at NOW + 3600.
    let fresh_later = connected;
    let mut v = vec![
        s(
            g,
            "proxy: connect completed",
            &[
                "the consumed pending connect is persisted before the send",
                "POST {token}: code, code_context, state and return_url, signed, no bearer",
                "the token pair and the account stored, persisted",
            ],
            151,
            pending(151),
            Op::CompleteConnect(callback_url()),
            vec![locked(&pending(151)), resp(200, &tokens("at_1", "rt_1", 3600))],
            "lock, persist, send POST, persist, unlock, done connected",
        ),
        s(
            g,
            "proxy: connect answer lost",
            &["the code exchange is never retried: a Stora code is single use"],
            152,
            pending(152),
            Op::CompleteConnect(callback_url()),
            vec![locked(&pending(152)), net()],
            "lock, persist, send POST, unlock, done server_unavailable",
        ),
        s(
            g,
            "proxy: callback without code_context",
            &["no exchange without the proxy's code context"],
            153,
            pending(153),
            Op::CompleteConnect(format!("{RETURN}&state={STATE}&code={CODE}")),
            vec![locked(&pending(153))],
            "lock, persist, unlock, done callback_invalid",
        ),
        s(
            g,
            "proxy: call with a fresh token",
            &["straight to Stora: /api/<rest> → {stora_api_url}/<rest>", "Authorization: Bearer, Accept, no signature"],
            154,
            connected(154),
            get("/api/units?limit=2"),
            vec![resp(200, "[]")],
            "send GET, done response",
        ),
        s(
            g,
            "proxy: POST 503 then 201",
            &["an Idempotency-Key on every POST, the same on the retry"],
            155,
            fresh_later(155),
            Op::Call(ApiRequest::json("POST", "/api/units/u_1/notes", r#"{"text":"hi"}"#.to_owned())),
            vec![code(503, "unavailable"), resp(201, "{}")],
            "send POST, sleep *, send POST, done response",
        ),
        s(
            g,
            "proxy: Stora refuses the access token",
            &["401 invalid_token: refreshed once under the lock, then the call again with the new token"],
            156,
            fresh_later(156),
            get("/api/units"),
            vec![
                resp(401, r#"{"error":{"type":"authentication_error","code":"invalid_token","message":"expired"}}"#),
                locked(&connected(156)),
                resp(200, &tokens("at_2", "rt_2", 3600)),
                resp(200, "[]"),
            ],
            "send GET, lock, send POST, persist, unlock, send GET, done response",
        ),
        s(
            g,
            "proxy: disconnect",
            &["POST {revoke} with the refresh token; the pair dropped and persisted"],
            157,
            fresh_later(157),
            Op::Disconnect,
            vec![locked(&connected(157)), resp(200, "{}")],
            "lock, send POST, persist, unlock, done disconnected",
        ),
        s(
            g,
            "proxy: uninstall",
            &["revoke, deregister, wipe"],
            158,
            fresh_later(158),
            Op::Uninstall,
            vec![locked(&connected(158)), resp(200, "{}"), resp(204, "")],
            "lock, send POST, persist, send DELETE, persist, unlock, done uninstalled",
        ),
        s(
            g,
            "proxy: not connected",
            &["a call without a pair fails before any action"],
            159,
            registered(159),
            get("/api/units"),
            vec![],
            "start_error not_connected",
        ),
    ];
    // The refresh ahead of expiry: the scripts start 60 s before the pair
    // expires (inside the 120 s margin).
    let mut expiring = vec![
        s(
            g,
            "proxy: expiring token refreshed",
            &[
                "Lock, then the stored state read",
                "POST {refresh} signed, with the refresh token",
                "the new pair persisted before the unlock and before it is used",
            ],
            160,
            fresh_later(160),
            get("/api/units"),
            vec![locked(&connected(160)), resp(200, &tokens("at_2", "rt_2", 3600)), resp(200, "[]")],
            "lock, send POST, persist, unlock, send GET, done response",
        ),
        s(
            g,
            "proxy: another worker refreshed",
            &["a newer pair in the stored state is used: no second refresh"],
            161,
            fresh_later(161),
            get("/api/units"),
            vec![locked_json(refreshed_elsewhere(&fresh_later(161))), resp(200, "[]")],
            "lock, unlock, send GET, done response",
        ),
        s(
            g,
            "proxy: invalid_grant",
            &["the pair dropped and persisted, the lock released, reconnect_required (invalid_grant)"],
            162,
            fresh_later(162),
            get("/api/units"),
            vec![locked(&connected(162)), code(400, "invalid_grant")],
            "lock, send POST, persist, unlock, done reconnect_required",
        ),
        s(
            g,
            "proxy: lock unavailable",
            &["nothing sent without the lock"],
            163,
            fresh_later(163),
            get("/api/units"),
            vec![Answer::Event(Event::LockUnavailable)],
            "lock, done lock_unavailable",
        ),
        s(
            g,
            "proxy: refresh answer lost",
            &["a refresh is never retried (the token is single use); the pair is kept"],
            164,
            fresh_later(164),
            get("/api/units"),
            vec![locked(&connected(164)), net()],
            "lock, send POST, unlock, done server_unavailable",
        ),
    ];
    for sc in &mut expiring {
        sc.now = NOW + 3600 - 60;
    }
    v.append(&mut expiring);
    v
}

/// The state another worker stored after refreshing `c`'s pair an hour
/// later: the next generation, valid for another hour.
fn refreshed_elsewhere(c: &Companion) -> String {
    let json = c.to_json();
    let next = json
        .replace("\"access_token\":\"at_1\"", "\"access_token\":\"at_9\"")
        .replace("\"refresh_token\":\"rt_1\"", "\"refresh_token\":\"rt_9\"")
        .replace(&format!("\"expires_at\":{}", NOW + 3600), &format!("\"expires_at\":{}", NOW + 7140))
        .replace("\"token_generation\":1", "\"token_generation\":2");
    assert_ne!(next, json);
    Companion::from_json(&next).unwrap().to_json()
}

fn locked_json(stored: String) -> Answer {
    Answer::Event(Event::Locked(stored))
}
