//! Pipeline tests of the model: scopes, rate limits, idempotency, faults.

use super::*;

const CB: &str = "http://127.0.0.1:9/cb";

fn connect(s: &mut Store, client: (&str, &str), operator: &str, scope: &str, now: i64) -> TokenSet {
    let txn = s.authorize(client.0, CB, "code", Some(scope), None).ok().unwrap();
    let url = s.decide(&txn, true, Some(operator), now).unwrap();
    let code = url.split("code=").nth(1).unwrap().to_string();
    s.exchange_code(client.0, client.1, &code, CB, now).unwrap()
}

/// Tokens that outlive the clock jumps of these tests.
fn store() -> Store {
    let extra_clients = vec![("other".into(), "other-secret".into())];
    Store::new(Config { extra_clients, access_ttl_secs: 1_000_000_000, ..Config::default() })
}

fn main_client(s: &Store) -> (String, String) {
    (s.config().client_id.clone(), s.config().client_secret.clone())
}

fn call(s: &mut Store, method: &str, path: &str, token: &str, key: Option<&str>, body: &str, now: i64) -> ApiAnswer {
    let req = ApiRequest {
        bearer: Some(token),
        idempotency_key: key,
        body: body.as_bytes(),
        ..ApiRequest::new(method, path)
    };
    s.api(&req, now)
}

fn header<'a>(a: &'a ApiAnswer, name: &str) -> Option<&'a str> {
    a.headers.iter().find(|(h, _)| *h == name).map(|(_, v)| v.as_str())
}

#[test]
fn scopes_are_enforced_per_route() {
    let mut s = store();
    let (id, secret) = main_client(&s);
    let t = connect(&mut s, (&id, &secret), "opr_a", "public.contact:read", 0);
    let tok = t.access_token.as_str();
    assert_eq!(call(&mut s, "GET", "/2025-09/account", tok, None, "", 1).status, 200);
    assert_eq!(call(&mut s, "GET", "/2025-09/contacts/con_0001", tok, None, "", 1).status, 200);
    let a = call(&mut s, "GET", "/2025-09/orders", tok, None, "", 1);
    assert_eq!((a.status, a.code()), (403, Some("forbidden")));
    let a = call(&mut s, "POST", "/2025-09/contacts", tok, Some("k"), "{}", 1);
    assert_eq!((a.status, a.code()), (403, Some("forbidden")));
    let a = call(&mut s, "DELETE", "/2025-09/contacts", tok, None, "", 1);
    assert_eq!((a.status, a.code()), (404, Some("invalid_endpoint")));
    let a = call(&mut s, "GET", "/2025-09/contacts/con_9", tok, None, "", 1);
    assert_eq!((a.status, a.code()), (404, Some("resource_not_found")));
    assert!(header(&a, "request-id").is_some_and(|id| a.body["error"]["request_id"] == id));
}

#[test]
fn rate_limit_is_shared_by_clients_of_an_operator() {
    let mut s = store();
    let (id, secret) = main_client(&s);
    let a = connect(&mut s, (&id, &secret), "opr_a", "public.order:read", 0).access_token;
    let b = connect(&mut s, ("other", "other-secret"), "opr_a", "public.order:read", 0).access_token;
    let now = 6_000_000;
    for i in 0..10 {
        let token = if i % 2 == 0 { &a } else { &b };
        assert_eq!(call(&mut s, "GET", "/2025-09/orders", token, None, "", now).status, 200);
    }
    let r = call(&mut s, "GET", "/2025-09/orders", &b, None, "", now);
    assert_eq!((r.status, r.code()), (429, Some("too_many_requests")));
    assert_eq!(header(&r, "ratelimit-limit"), Some("10"));
    assert_eq!(header(&r, "ratelimit-reset"), Some("6000001"));
    assert_eq!(header(&r, "retry-after"), None);
    let c = s.counters();
    assert_eq!((c.rate_limited, c.operators["opr_a"].rate_limited, c.operators["opr_a"].api_requests), (1, 1, 10));
}

#[test]
fn idempotency_replays_conflicts_and_expires() {
    let mut s = store();
    let (id, secret) = main_client(&s);
    let t = connect(&mut s, (&id, &secret), "opr_a", "public.contact:write", 0).access_token;
    let body = r#"{"name":"Grace"}"#;
    let first = call(&mut s, "POST", "/2025-09/contacts", &t, Some("k1"), body, 1);
    let again = call(&mut s, "POST", "/2025-09/contacts", &t, Some("k1"), body, 2);
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(first.body, again.body);
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    assert_eq!(header(&first, "idempotent-replayed"), None);
    assert_eq!(s.created_contacts(), 1);
    let other = call(&mut s, "POST", "/2025-09/contacts", &t, Some("k1"), r#"{"name":"Ada"}"#, 3);
    assert_eq!((other.status, other.code()), (409, Some("conflict")));
    // A failed first answer is stored too.
    let bad = call(&mut s, "POST", "/2025-09/contacts", &t, Some("k2"), "{not json", 4);
    let bad_again = call(&mut s, "POST", "/2025-09/contacts", &t, Some("k2"), "{not json", 5);
    assert_eq!((bad.status, bad_again.status), (400, 400));
    assert_eq!(bad.body, bad_again.body, "same request_id replayed in the body");
    // 86400 s later the key is forgotten.
    let later = call(&mut s, "POST", "/2025-09/contacts", &t, Some("k1"), body, 1 + 86_400);
    assert_eq!(later.status, 201);
    assert_ne!(later.body["id"], first.body["id"]);
    assert_eq!(s.counters().idempotent_replays, 2);
    let log = s.requests();
    assert_eq!(log.iter().filter(|r| r.idempotent_replayed).count(), 2);
}

#[test]
fn faulted_post_is_stored_and_replayed() {
    let mut s = store();
    let (id, secret) = main_client(&s);
    let t = connect(&mut s, (&id, &secret), "opr_a", "public.timeline_event:write", 0).access_token;
    let body = r#"{"source":{"id":"s"},"template":{"id":"t"}}"#;
    let fault = Fault { status: Some(500), ..Fault::default() };
    let req = ApiRequest {
        bearer: Some(&t),
        idempotency_key: Some("k"),
        body: body.as_bytes(),
        fault: Some(fault),
        ..ApiRequest::new("POST", "/2025-09/timeline/events")
    };
    let a = s.api(&req, 10);
    assert_eq!((a.status, a.code()), (500, Some("internal_server_error")));
    assert_eq!(a.body["error"]["type"], "api_error");
    let b = call(&mut s, "POST", "/2025-09/timeline/events", &t, Some("k"), body, 10 + 86_399);
    assert_eq!(b.status, 500);
    assert_eq!(b.body, a.body);
    assert!(s.timeline("opr_a").is_empty());
    let c = call(&mut s, "POST", "/2025-09/timeline/events", &t, Some("k"), body, 10 + 86_400);
    assert_eq!(c.status, 201);
    assert_eq!(s.timeline("opr_a").len(), 1);
}

#[test]
fn refused_requests_are_not_stored_and_keyless_posts_are_counted() {
    let mut s = store();
    let (id, secret) = main_client(&s);
    let t = connect(&mut s, (&id, &secret), "opr_a", "public.contact:write", 0).access_token;
    s.set_operator_limits("opr_a", Some(1), None);
    assert_eq!(call(&mut s, "GET", "/2025-09/account", &t, None, "", 50).status, 200);
    let limited = call(&mut s, "POST", "/2025-09/contacts", &t, Some("k"), "{}", 50);
    assert_eq!(limited.status, 429);
    let bad_token = call(&mut s, "POST", "/2025-09/contacts", "nope", Some("k"), "{}", 51);
    assert_eq!(bad_token.status, 401);
    let ok = call(&mut s, "POST", "/2025-09/contacts", &t, Some("k"), "{}", 52);
    assert_eq!((ok.status, header(&ok, "idempotent-replayed")), (201, None));
    assert_eq!(call(&mut s, "POST", "/2025-09/contacts", &t, None, "{}", 53).status, 201);
    let c = s.counters();
    assert_eq!((c.posts_without_idempotency_key, c.operators["opr_a"].posts_without_idempotency_key), (1, 1));
}
