//! The fake over real HTTP on 127.0.0.1: Stora's error shapes and codes,
//! `Request-Id`, rate limits, idempotency with the simulated clock, the
//! token endpoint's bodies, scopes, metadata and the timeline.

use fake_stora::{Config, FakeStora};
use serde_json::{Value, json};

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(h, _)| h.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    /// Asserts Stora's nested error shape, the code, the status and that
    /// the body's request id is the `Request-Id` header.
    fn assert_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        let body = self.json();
        let error = &body["error"];
        assert_eq!(error["code"], code, "{}", self.body);
        let expected_type = if code == "api_error" || status >= 500 { "api_error" } else { "invalid_request_error" };
        assert_eq!(error["type"], expected_type);
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(error["details"].is_array() && error["links"].is_array());
        let id = error["request_id"].as_str().expect("request_id");
        assert!(id.starts_with("req_") && id.len() == 28 && id[4..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert_eq!(self.header("request-id"), Some(id));
        assert_eq!(body.as_object().unwrap().len(), 1, "only the error member");
        body
    }
}

struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(stora: &FakeStora) -> Client {
        let config = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build();
        Client { base: stora.url().to_string(), agent: config.into() }
    }

    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Answer {
        let url = format!("{}{path}", self.base);
        let result = match method {
            "GET" => headers.iter().fold(self.agent.get(&url), |r, (k, v)| r.header(*k, *v)).call(),
            "DELETE" => headers.iter().fold(self.agent.delete(&url), |r, (k, v)| r.header(*k, *v)).call(),
            m => {
                let builder = if m == "POST" { self.agent.post(&url) } else { self.agent.patch(&url) };
                let builder = headers.iter().fold(builder, |r, (k, v)| r.header(*k, *v));
                let has_type = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
                let builder = if has_type { builder } else { builder.header("content-type", "application/json") };
                builder.send(body.unwrap_or(""))
            }
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let status = resp.status().as_u16();
        Answer { status, headers, body: resp.body_mut().read_to_string().unwrap_or_default() }
    }

    fn api(&self, method: &str, path: &str, token: &str, key: Option<&str>, body: Option<&str>) -> Answer {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(key) = key {
            headers.push(("idempotency-key", key));
        }
        self.send(method, &format!("/2025-09/{path}"), &headers, body)
    }

    fn control(&self, path: &str, body: Value) -> Value {
        let a = self.send("POST", &format!("/_control/{path}"), &[], Some(&body.to_string()));
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        a.json()
    }

    fn get_json(&self, path: &str) -> Value {
        self.send("GET", path, &[], None).json()
    }

    /// Consent and code exchange over HTTP; `json_body` picks the token
    /// request's encoding (JSON with Basic credentials, or a form).
    fn connect(&self, operator: &str, scope: &str, json_body: bool) -> Value {
        let cb = "http://127.0.0.1:9/cb";
        let path = format!(
            "/oauth2/authorize?client_id=tessera-demo-client&response_type=code&state=s1&redirect_uri={}&scope={}",
            fake_stora::model::percent_encode(cb),
            fake_stora::model::percent_encode(scope)
        );
        let page = self.send("GET", &path, &[], None);
        assert_eq!(page.status, 200, "{}", page.body);
        let approve = page.body.split("id=\"approve\" href=\"").nth(1).unwrap().split('"').next().unwrap();
        let approve = approve.replace("&amp;", "&") + "&operator=" + operator;
        let redirect = self.send("GET", &approve, &[], None);
        let location = redirect.header("location").expect("redirect").to_string();
        let code = location.split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
        let answer = if json_body {
            let body = json!({"grant_type": "authorization_code", "code": code, "redirect_uri": cb});
            // base64("tessera-demo-client:tessera-demo-client-secret")
            let basic = "Basic dGVzc2VyYS1kZW1vLWNsaWVudDp0ZXNzZXJhLWRlbW8tY2xpZW50LXNlY3JldA==";
            let headers = [("content-type", "application/json"), ("authorization", basic)];
            self.send("POST", "/oauth2/token", &headers, Some(&body.to_string()))
        } else {
            let body = format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}&client_id=tessera-demo-client\
                 &client_secret=tessera-demo-client-secret",
                fake_stora::model::percent_encode(cb)
            );
            self.send("POST", "/oauth2/token", &[("content-type", "application/x-www-form-urlencoded")], Some(&body))
        };
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json()
    }
}

fn token(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_string()
}

fn start() -> FakeStora {
    FakeStora::start(Config::default()).unwrap()
}

#[test]
fn every_documented_code_has_the_nested_shape() {
    let stora = start();
    let c = Client::new(&stora);
    let t = token(&c.connect("opr_a", "public.contact:read public.contact:write", false));
    c.control("config", json!({"rate_per_sec": 0, "rate_per_min": 0}));
    let ok = c.api("GET", "account", &t, None, None);
    assert_eq!(ok.status, 200);
    assert!(ok.header("request-id").is_some_and(|id| id.starts_with("req_")), "Request-Id on success too");
    c.api("GET", "nowhere", &t, None, None).assert_error(404, "invalid_endpoint");
    c.send("GET", "/2024-01/orders", &[], None).assert_error(404, "invalid_endpoint");
    c.api("GET", "contacts/con_404", &t, None, None).assert_error(404, "resource_not_found");
    c.api("GET", "orders", &t, None, None).assert_error(403, "forbidden");
    let a = c.api("GET", "account", "sat_wrong", None, None);
    a.assert_error(401, "invalid_token");
    assert!(a.header("www-authenticate").is_some_and(|v| v.contains("invalid_token")));
    c.api("POST", "contacts", &t, Some("k-bad"), Some("{nope")).assert_error(400, "invalid_request");
    let body = c.api("POST", "contacts", &t, Some("k-meta"), Some(r#"{"metadata":{"BAD":"x"}}"#));
    let body = body.assert_error(422, "invalid_content");
    assert_eq!(body["error"]["details"][0]["field"], "metadata.BAD");
    for q in ["abc", "0", "101"] {
        c.api("GET", &format!("contacts?limit={q}"), &t, None, None).assert_error(422, "invalid_url_param");
    }
    let two = c.api("GET", "contacts?limit=1", &t, None, None).json();
    assert_eq!((two["data"].as_array().unwrap().len(), &two["has_more"]), (1, &json!(true)));
    let auth = format!("Bearer {t}");
    let html = c.send("GET", "/2025-09/account", &[("authorization", &auth), ("accept", "text/html")], None);
    html.assert_error(406, "invalid_format");
    let any = c.send("GET", "/2025-09/account", &[("authorization", &auth), ("accept", "text/html, */*;q=0.1")], None);
    assert_eq!(any.status, 200);
    c.api("POST", "contacts", &t, Some("k1"), Some("{}")).status.eq(&201).then_some(()).unwrap();
    c.api("POST", "contacts", &t, Some("k1"), Some(r#"{"name":"x"}"#)).assert_error(409, "conflict");
    c.control("faults", json!({"status": 400, "code": "api_error"}));
    c.api("GET", "account", &t, None, None).assert_error(400, "api_error");
    c.control("faults", json!({"status": 500}));
    c.api("GET", "account", &t, None, None).assert_error(500, "internal_server_error");
    c.control("faults", json!({"status": 503, "retry_after": 7}));
    let a = c.api("GET", "account", &t, None, None);
    a.assert_error(503, "internal_server_error");
    assert_eq!(a.header("retry-after"), Some("7"));
    c.control("faults", json!({"latency_ms": 50}));
    assert_eq!(c.api("GET", "account", &t, None, None).status, 200, "latency-only faults pass through");
    let bad = c.send("POST", "/_control/faults", &[], Some(r#"{"status":400,"code":"teapot"}"#));
    assert_eq!(bad.status, 400);
    c.control("config", json!({"operator": "opr_a", "rate_per_sec": 1}));
    c.api("GET", "account", &t, None, None);
    c.api("GET", "account", &t, None, None).assert_error(429, "too_many_requests");
    let log = c.get_json("/_control/requests");
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["status"].as_u64(), last["request_id"].as_str().map(|s| s.len())), (Some(429), Some(28)));
}

#[test]
fn rate_limit_is_per_operator_across_clients_and_consume() {
    let stora = start();
    let c = Client::new(&stora);
    let a = token(&c.connect("opr_r", "public.order:read", false));
    let b = token(&c.connect("opr_r", "public.order:read", true));
    let other = token(&c.connect("opr_s", "public.order:read", false));
    c.control("config", json!({"rate_per_sec": 0, "rate_per_min": 60}));
    let spent = c.control("consume", json!({"operator": "opr_r", "count": 58}));
    assert_eq!(spent, json!({"accepted": 58, "refused": 0}));
    assert_eq!(c.api("GET", "orders", &a, None, None).status, 200);
    assert_eq!(c.api("GET", "orders", &b, None, None).status, 200);
    let now = c.control("advance_clock", json!({"secs": 0}))["now"].as_i64().unwrap();
    let limited = c.api("GET", "orders", &a, None, None);
    limited.assert_error(429, "too_many_requests");
    assert_eq!(limited.header("ratelimit-limit"), Some("60"));
    let reset: i64 = limited.header("ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset > now && reset <= now + 61 && reset % 60 == 0, "absolute reset {reset} vs now {now}");
    assert_eq!(limited.header("retry-after"), None);
    assert_eq!(c.api("GET", "orders", &b, None, None).status, 429, "the other client shares the budget");
    assert_eq!(c.api("GET", "orders", &other, None, None).status, 200, "another operator does not");
    c.control("advance_clock", json!({"secs": 61}));
    assert_eq!(c.api("GET", "orders", &a, None, None).status, 200, "a new window");
    let counters = c.get_json("/_control/counters");
    assert_eq!(counters["operators"]["opr_r"]["rate_limited"], 2);
    assert_eq!(counters["rate_limited"], 2);
}

#[test]
fn idempotent_replay_of_201_and_500_conflict_and_expiry() {
    let stora = start();
    let c = Client::new(&stora);
    let t = token(&c.connect("opr_i", "public.contact:write public.timeline_event:write", true));
    let body = r#"{"name":"Grace","metadata":{"crm.id":"7"}}"#;
    let first = c.api("POST", "contacts", &t, Some("key-1"), Some(body));
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = c.api("POST", "contacts", &t, Some("key-1"), Some(body));
    assert_eq!((again.status, again.header("idempotent-replayed")), (201, Some("true")));
    assert_eq!(again.json(), first.json());
    assert_ne!(again.header("request-id"), first.header("request-id"));
    c.api("POST", "contacts", &t, Some("key-1"), Some(r#"{"name":"Ada"}"#)).assert_error(409, "conflict");
    c.api("POST", "contacts/", &t, Some("key-1"), Some(body)).assert_error(409, "conflict");
    assert_eq!(stora.store().created_contacts(), 1);

    let event = r#"{"source":{"id":"wp"},"template":{"id":"booking"}}"#;
    c.control("faults", json!({"status": 500, "path_prefix": "/2025-09/timeline"}));
    let failed = c.api("POST", "timeline/events", &t, Some("key-2"), Some(event));
    let failed_body = failed.assert_error(500, "internal_server_error");
    let replay = c.api("POST", "timeline/events", &t, Some("key-2"), Some(event));
    assert_eq!((replay.status, replay.header("idempotent-replayed")), (500, Some("true")));
    assert_eq!(replay.json(), failed_body, "the stored 500, request_id included");
    assert_eq!(c.get_json("/_control/timeline?operator=opr_i"), json!([]));

    c.control("advance_clock", json!({"secs": 86_401}));
    // The access token expired meanwhile (7200 s): a 401 is not stored.
    c.api("POST", "timeline/events", &t, Some("key-2"), Some(event)).assert_error(401, "invalid_token");
    let fresh = token(&c.connect("opr_i", "public.contact:write public.timeline_event:write", false));
    let processed = c.api("POST", "timeline/events", &fresh, Some("key-2"), Some(event));
    assert_eq!((processed.status, processed.header("idempotent-replayed")), (201, None), "{}", processed.body);
    let created = c.api("POST", "contacts", &fresh, Some("key-1"), Some(body));
    assert_eq!((created.status, created.header("idempotent-replayed")), (201, None));
    assert_eq!(stora.store().created_contacts(), 2);

    assert_eq!(c.api("POST", "contacts", &fresh, None, Some("{}")).status, 201);
    let counters = c.get_json("/_control/counters");
    assert_eq!(counters["posts_without_idempotency_key"], 1);
    assert_eq!(counters["operators"]["opr_i"]["posts_without_idempotency_key"], 1);
    let log = c.get_json("/_control/requests");
    let replays = log.as_array().unwrap().iter().filter(|r| r["idempotent_replayed"] == true).count();
    assert_eq!(replays, 2);
}

#[test]
fn token_bodies_token_info_and_scopes() {
    let stora = start();
    let c = Client::new(&stora);
    for json_body in [false, true] {
        let tokens = c.connect("opr_t", "public.order:read", json_body);
        assert_eq!(tokens["expires_in"], 7200, "a duration in the token answer");
        let t = token(&tokens);
        let auth = format!("Bearer {t}");
        let info = c.send("GET", "/oauth2/token/info", &[("authorization", &auth)], None);
        assert_eq!(info.status, 200);
        let info = info.json();
        let now = c.control("advance_clock", json!({"secs": 0}))["now"].as_i64().unwrap();
        let expires = info["expires_in"].as_i64().unwrap();
        assert!((now + 7190..=now + 7200).contains(&expires), "absolute: {expires} vs {now}");
        assert_eq!((info["operator"].as_str(), info["scope"].as_str()), (Some("opr_t"), Some("public.order:read")));
    }
    let bad = c.send("GET", "/oauth2/token/info", &[("authorization", "Bearer nope")], None);
    assert_eq!((bad.status, bad.json()["error"].as_str()), (401, Some("invalid_token")));
    let bad = c.send("POST", "/oauth2/token", &[("content-type", "application/json")], Some("[1]"));
    assert_eq!((bad.status, bad.json()["error"].as_str()), (400, Some("invalid_request")));
    let page = c.send(
        "GET",
        "/oauth2/authorize?client_id=tessera-demo-client&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb\
         &scope=public.timeline_event%3Awrite%20public.contact%3Aread",
        &[],
        None,
    );
    assert!(page.body.contains("<code>public.timeline_event:write</code>") && page.body.contains("<li>"));
    let old = c.send(
        "GET",
        "/oauth2/authorize?client_id=tessera-demo-client&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb\
         &scope=orders%3Aread",
        &[],
        None,
    );
    assert!(old.header("location").is_some_and(|l| l.contains("error=invalid_scope")));
    let t = token(&c.connect("opr_t", "public.order:read", false));
    assert_eq!(c.api("GET", "orders/ord_1001", &t, None, None).status, 200);
    c.api("PATCH", "orders/ord_1001", &t, None, Some(r#"{"metadata":{}}"#)).assert_error(403, "forbidden");
    c.api("POST", "timeline/events", &t, Some("k"), Some("{}")).assert_error(403, "forbidden");
    c.api("GET", "contacts", &t, None, None).assert_error(403, "forbidden");
}

#[test]
fn metadata_rules_and_merge_patch() {
    let stora = start();
    let c = Client::new(&stora);
    let scope = "public.contact:read public.contact:write public.order:read public.order:write";
    let t = token(&c.connect("opr_m", scope, false));
    c.control("config", json!({"rate_per_sec": 0, "rate_per_min": 0}));
    let many: serde_json::Map<String, Value> = (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
    let long_key = "k".repeat(41);
    let cases = [
        (json!({"metadata": many}), "metadata".to_string()),
        (json!({"metadata": {long_key.clone(): "v"}}), format!("metadata.{long_key}")),
        (json!({"metadata": {"Upper": "v"}}), "metadata.Upper".to_string()),
        (json!({"metadata": {"k": "x".repeat(501)}}), "metadata.k".to_string()),
    ];
    for (i, (body, field)) in cases.iter().enumerate() {
        for (method, path) in [("POST", "contacts"), ("PATCH", "contacts/con_0001"), ("PATCH", "orders/ord_1002")] {
            let key = format!("m{i}{method}");
            let a = c.api(method, path, &t, Some(&key), Some(&body.to_string()));
            let error = a.assert_error(422, "invalid_content");
            assert_eq!(error["error"]["details"][0]["field"], field.as_str(), "{method} {path}");
        }
    }
    let patch = |path: &str, body: Value| {
        let a = c.api("PATCH", path, &t, None, Some(&body.to_string()));
        assert_eq!(a.status, 200, "{}", a.body);
        a.json()
    };
    patch("orders/ord_1002", json!({"metadata": {"a": "1", "b": "2"}}));
    let order = patch("orders/ord_1002", json!({"metadata": {"a": null, "c": "3"}}));
    assert_eq!(order["metadata"], json!({"b": "2", "c": "3"}));
    let listed = c.api("GET", "orders", &t, None, None).json();
    assert_eq!(listed["data"][1]["metadata"], json!({"b": "2", "c": "3"}), "persists across requests");
    c.api("PATCH", "orders/ord_1002", &t, None, Some(r#"{"status":"gone"}"#)).assert_error(422, "invalid_content");
    c.api("PATCH", "orders/ord_9", &t, None, Some("{}")).assert_error(404, "resource_not_found");
    let contact = patch("contacts/con_0002", json!({"name": "Alan M. Turing", "metadata": {"x": "y"}}));
    assert_eq!((contact["name"].as_str(), &contact["metadata"]), (Some("Alan M. Turing"), &json!({"x": "y"})));
    let got = c.api("GET", "contacts/con_0002", &t, None, None).json();
    assert_eq!(got, contact);
    c.control("reset", json!({}));
    let t = token(&c.connect("opr_m", scope, false));
    assert_eq!(c.api("GET", "orders/ord_1002", &t, None, None).json()["metadata"], json!({}), "reset forgets");
}

#[test]
fn timeline_create_patch_list_and_page() {
    let stora = start();
    let c = Client::new(&stora);
    let t = token(&c.connect("opr_tl", "public.timeline_event:write", true));
    c.control("config", json!({"rate_per_sec": 0, "rate_per_min": 0}));
    let event = json!({
        "source": {"id": "wordpress"}, "template": {"id": "booking.created"}, "contact": {"id": "con_0001"},
        "site": {"id": "site_1"}, "description": "<b>Booked</b> unit A-12",
        "external": {"id": "wp-42", "url": "https://shop.example/booking/42?a=1&b=2"},
        "variables": {"unit": "A-12"}
    });
    let created = c.api("POST", "timeline/events", &t, Some("e1"), Some(&event.to_string()));
    assert_eq!(created.status, 201, "{}", created.body);
    let created = created.json();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("tle_") && created["created_at"].is_i64());
    assert_eq!(created["variables"], json!({"unit": "A-12"}));
    let patched = c.api("PATCH", &format!("timeline/events/{id}"), &t, None, Some(r#"{"description":"Moved"}"#));
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!((patched.json()["description"].as_str(), &patched.json()["source"]), (Some("Moved"), &event["source"]));
    c.api("PATCH", "timeline/events/tle_nope", &t, None, Some("{}")).assert_error(404, "resource_not_found");
    let bad = c.api("PATCH", &format!("timeline/events/{id}"), &t, None, Some(r#"{"template":null}"#));
    assert_eq!(bad.assert_error(422, "invalid_content")["error"]["details"][0]["field"], "template.id");
    let invalid = [
        (json!({"template": {"id": "t"}}), "source.id"),
        (json!({"source": {"id": "s"}, "template": {"id": "x".repeat(101)}}), "template.id"),
        (json!({"source": {"id": "s"}, "template": {"id": "t"}, "description": "d".repeat(1001)}), "description"),
        (
            json!({"source": {"id": "s"}, "template": {"id": "t"}, "external": {"id": "e", "url": "http://x"}}),
            "external.url",
        ),
        (
            json!({"source": {"id": "s"}, "template": {"id": "t"}, "external": {"id": "e".repeat(256), "url": "https://x"}}),
            "external.id",
        ),
        (json!({"source": {"id": "s"}, "template": {"id": "t"}, "variables": {"n": 1}}), "variables.n"),
    ];
    for (i, (body, field)) in invalid.iter().enumerate() {
        let a = c.api("POST", "timeline/events", &t, Some(&format!("bad{i}")), Some(&body.to_string()));
        assert_eq!(a.assert_error(422, "invalid_content")["error"]["details"][0]["field"], *field);
    }
    let second = json!({"source": {"id": "s"}, "template": {"id": "t2"}});
    assert_eq!(c.api("POST", "timeline/events", &t, Some("e2"), Some(&second.to_string())).status, 201);
    let list = c.get_json("/_control/timeline?operator=opr_tl");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!((list[0]["id"].as_str(), list[0]["description"].as_str()), (Some(id.as_str()), Some("Moved")));
    assert_eq!(list[1]["template"]["id"], "t2", "newest last");
    assert_eq!(c.get_json("/_control/timeline?operator=opr_other"), json!([]));
    let page = c.send("GET", "/_operator/timeline?operator=opr_tl", &[], None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("2 events") && page.body.contains("booking.created"));
    c.api("PATCH", &format!("timeline/events/{id}"), &t, None, Some(r#"{"description":"<script>x</script>"}"#));
    let page = c.send("GET", "/_operator/timeline?operator=opr_tl", &[], None);
    assert!(page.body.contains("&lt;script&gt;x&lt;/script&gt;") && !page.body.contains("<script>"));
    assert!(page.body.contains("href=\"https://shop.example/booking/42?a=1&amp;b=2\""));
}
