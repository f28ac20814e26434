//! `push.json`: pushed events (docs/PROTOCOL.md §14.4). Each case is a
//! state, then either a push (headers, raw body, now) to verify, or a push
//! URL to register (`url`, `null` to stop): inputs → the events or the
//! request, or the error code (run by every binding's vector runner).

use serde_json::{Value, json};
use tessera_core::{Companion, sign_push};

use super::support::{self, NOW};

fn err(e: tessera_core::Error) -> Value {
    json!({ "error": e.code() })
}

pub fn compute(case: &Value) -> Value {
    let c = Companion::from_json(case["state"].as_str().unwrap()).unwrap();
    if let Some(url) = case.get("url") {
        return match c.push_registration_request(url.as_str()) {
            Ok(r) => json!({ "method": r.method, "path": r.path, "body": String::from_utf8(r.body).unwrap() }),
            Err(e) => err(e),
        };
    }
    let headers: Vec<(String, String)> = case["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
        .collect();
    match c.verify_push(&headers, case["body"].as_str().unwrap().as_bytes(), case["now"].as_i64().unwrap()) {
        Ok(events) => json!({ "events": events.iter().map(|e| json!({
            "id": e.id, "type": e.event_type, "api_version": e.api_version,
            "created_at": e.created_at, "data_json": e.data_json,
        })).collect::<Vec<_>>() }),
        Err(e) => err(e),
    }
}

// ---- fixtures ------------------------------------------------------------------------

const EVENT: &str = r#"{"id":"evt_1","type":"contact.created","api_version":"2025-09","created_at":1700000000,"data":{"object":{"id":"con_1","name":"Zo\u00eb","total":12.5e1}}}"#;

fn body(n: usize) -> String {
    let events: Vec<String> = (0..n).map(|i| EVENT.replace("evt_1", &format!("evt_{i}"))).collect();
    format!(r#"{{"events":[{}]}}"#, events.join(","))
}

pub fn build() -> Value {
    let c = support::connected("https://broker.example", 40);
    let state = c.to_json();
    let inst = c.state().installation().unwrap();
    let (secret, id) = (inst.secret.clone(), inst.id.clone());
    let sign = |body: &str, t: i64| sign_push(&secret, &id, body.as_bytes(), t);
    let push = |name: &str, header: Option<String>, body: &str, now: i64| {
        let headers: Vec<Value> = header.into_iter().map(|h| json!(["Tessera-Push-Signature", h])).collect();
        json!({ "name": name, "state": state, "headers": headers, "body": body, "now": now })
    };
    let one = body(1);
    let good = sign(&one, NOW);
    let other_secret = tessera_core::Secret::from_bytes(&[9; 32]).unwrap();
    // The same installation having learned that the broker's clock is 600 s ahead.
    let skewed_state = state.replace(r#""clock_offset":0"#, r#""clock_offset":600"#);
    let mut cases = vec![
        push("one event", Some(good.clone()), &one, NOW + 30),
        push("ten events", Some(sign(&body(10), NOW)), &body(10), NOW),
        push("eleven events", Some(sign(&body(11), NOW)), &body(11), NOW),
        push("no events", Some(sign(r#"{"events":[]}"#, NOW)), r#"{"events":[]}"#, NOW),
        push("signed 300 s ahead", Some(good.clone()), &one, NOW - 300),
        push("signed 300 s ago", Some(good.clone()), &one, NOW + 300),
        push("signed 301 s ago", Some(good.clone()), &one, NOW + 301),
        push("signed 301 s ahead", Some(good.clone()), &one, NOW - 301),
        push("no signature header", None, &one, NOW),
        push("the body changed", Some(good.clone()), &one.replace("con_1", "con_2"), NOW),
        push(
            "signed for another installation",
            Some(sign_push(&secret, "ins_AAAAAAAAAAAAAAAAAAAAAA", one.as_bytes(), NOW)),
            &one,
            NOW,
        ),
        push("signed with another secret", Some(sign_push(&other_secret, &id, one.as_bytes(), NOW)), &one, NOW),
        push(
            "a second v1 matches",
            Some(format!("t={NOW},v1={},{}", "0".repeat(64), &good[good.find("v1=").unwrap()..])),
            &one,
            NOW,
        ),
        push("unknown keys ignored", Some(format!("{good},v0=zz,x=1")), &one, NOW),
        push("t twice", Some(format!("t={NOW},{good}")), &one, NOW),
        push("v1 of 63 hex digits", Some(format!("t={NOW},v1={}", "a".repeat(63))), &one, NOW),
        push("no v1", Some(format!("t={NOW}")), &one, NOW),
        push("v1 with a sign", Some(format!("t={NOW},v1=+f{}", &good[good.find("v1=").unwrap() + 5..])), &one, NOW),
        push("t of 13 digits", Some(format!("t=1{NOW:012},v1={}", "a".repeat(64))), &one, NOW),
        push("signed, not JSON", Some(sign("{", NOW)), "{", NOW),
        push(
            "signed, an event without data",
            Some(sign(&one.replace(r#","data":{"object":{"id":"con_1","name":"Zo\u00eb","total":12.5e1}}"#, ""), NOW)),
            &one.replace(r#","data":{"object":{"id":"con_1","name":"Zo\u00eb","total":12.5e1}}"#, ""),
            NOW,
        ),
    ];
    let mut late = push("the learned clock offset counts", Some(good), &one, NOW - 500);
    late["state"] = json!(skewed_state);
    cases.push(late);
    let register = |name: &str, url: Value| json!({ "name": name, "state": state, "url": url });
    cases.extend([
        register("push URL on the site's origin", json!("https://shop.example/wp-json/storefront-sync/v1/events")),
        register(
            "push URL with a query, normalised",
            json!("HTTPS://Shop.Example:443/?rest_route=/storefront-sync/v1/events"),
        ),
        register("stop pushing", Value::Null),
        register("push URL on another host", json!("https://evil.example/hook")),
        register("push URL on another port", json!("https://shop.example:8443/hook")),
        register("push URL over plain http", json!("http://shop.example/hook")),
        register("push URL relative", json!("/wp-json/storefront-sync/v1/events")),
        register("push URL over 2048 bytes", json!(format!("https://shop.example/{}", "a".repeat(2048)))),
    ]);
    json!({
        "description": "Pushed events (docs/PROTOCOL.md §14.4): verify_push(headers, body, now) on the given state → its events (data as compact JSON) or the error code; push_registration_request(url) → the signed call's method, path and body, or the error code",
        "cases": cases,
    })
}
