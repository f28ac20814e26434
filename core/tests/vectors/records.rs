//! `timeline.json` and `metadata.json`: Timeline Event requests and Stora
//! metadata rules, inputs → expected (run by every binding's vector runner).

use serde_json::{Value, json};
use tessera_core::metadata::{Metadata, MetadataPatch, merge_patch_body, validate};

fn err(e: tessera_core::Error) -> Value {
    json!({ "error": e.code(), "message": e.to_string() })
}

pub fn compute_timeline(case: &Value) -> Value {
    match super::support::timeline_event_in(&case["event"]).to_request(case["external_id"].as_str().unwrap()) {
        Ok(r) => json!({
            "method": r.method,
            "path": r.path,
            "headers": Value::Object(r.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect()),
            "body": String::from_utf8(r.body).unwrap(),
        }),
        Err(e) => err(e),
    }
}

fn metadata_in(v: &Value) -> Metadata {
    v.as_object().unwrap().iter().map(|(k, x)| (k.clone(), x.as_str().unwrap().to_owned())).collect()
}

pub fn compute_metadata(case: &Value) -> Value {
    if let Some(m) = case.get("metadata") {
        return match validate(&metadata_in(m)) {
            Ok(()) => json!({ "ok": true }),
            Err(e) => err(e),
        };
    }
    let changes: MetadataPatch =
        case["changes"].as_object().unwrap().iter().map(|(k, x)| (k.clone(), x.as_str().map(str::to_owned))).collect();
    let current = case.get("current").map(metadata_in);
    match merge_patch_body(&changes, current.as_ref()) {
        Ok(body) => json!({ "body": body }),
        Err(e) => err(e),
    }
}

// ---- fixtures ------------------------------------------------------------------------

fn base() -> Value {
    json!({ "source_id": "src_tessera", "template_id": "tpl_contact_created", "external_url": "https://shop.example/enquiries/7" })
}

fn with(members: Value) -> Value {
    let mut e = base();
    for (k, v) in members.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn vars(n: usize) -> Value {
    Value::Object((0..n).map(|i| (format!("v{i:02}"), json!("x"))).collect())
}

fn tl(name: &str, event: Value, external_id: &str) -> Value {
    json!({ "name": name, "event": event, "external_id": external_id })
}

pub fn timeline() -> Value {
    let full = json!({
        "source_id": "src_tessera",
        "template_id": "tpl_unit_reserved",
        "contact_id": "con_1",
        "site_id": "sit_2",
        "description": "Unit \"A-12\" reserved\nby the plugin ✓",
        "external_url": "https://shop.example/wp-admin/admin.php?page=rentals&id=7",
        "variables": { "unit": "A-12", "price.monthly": "99.00", "a_first_in_order": "z" }
    });
    let cases = vec![
        tl("minimal", base(), "8f0c6a52-7d1e-4c1b-9a0e-3f2b6c1d4e5f"),
        tl("full, members in the documented order, variables in given order", full, "order-7"),
        tl(
            "external url missing",
            {
                let mut e = base();
                e.as_object_mut().unwrap().remove("external_url");
                e
            },
            "k",
        ),
        tl("external url normalised", with(json!({ "external_url": "HTTPS://Shop.Example:443/a/b?x=1" })), "k"),
        tl("ids at 100 characters", with(json!({ "source_id": "s".repeat(100), "contact_id": "c".repeat(100) })), "k"),
        tl("source id over 100 characters", with(json!({ "source_id": "s".repeat(101) })), "k"),
        tl("empty template id", with(json!({ "template_id": "" })), "k"),
        tl("contact id with a space", with(json!({ "contact_id": "con 1" })), "k"),
        tl("site id not ASCII", with(json!({ "site_id": "sité" })), "k"),
        tl("description at 1000 characters (2 bytes each)", with(json!({ "description": "é".repeat(1000) })), "k"),
        tl("description over 1000 characters", with(json!({ "description": "é".repeat(1001) })), "k"),
        tl("external url plain http", with(json!({ "external_url": "http://shop.example/x" })), "k"),
        tl("external url relative", with(json!({ "external_url": "/wp-admin/x" })), "k"),
        tl(
            "external url at 2048 bytes",
            with(json!({ "external_url": format!("https://shop.example/{}", "a".repeat(2048 - 21)) })),
            "k",
        ),
        tl(
            "external url over 2048 bytes",
            with(json!({ "external_url": format!("https://shop.example/{}", "a".repeat(2049 - 21)) })),
            "k",
        ),
        tl("50 variables", with(json!({ "variables": vars(50) })), "k"),
        tl("51 variables", with(json!({ "variables": vars(51) })), "k"),
        tl("variable name uppercase", with(json!({ "variables": { "Unit": "x" } })), "k"),
        tl("variable name with a colon", with(json!({ "variables": { "a:b": "x" } })), "k"),
        tl("variable name at 40", with(json!({ "variables": { "n".repeat(40): "x" } })), "k"),
        tl("variable name over 40", with(json!({ "variables": { "n".repeat(41): "x" } })), "k"),
        tl("variable value at 500 (astral characters)", with(json!({ "variables": { "v": "😀".repeat(500) } })), "k"),
        tl("variable value over 500", with(json!({ "variables": { "v": "😀".repeat(501) } })), "k"),
        tl("external id at 124", base(), &"e".repeat(124)),
        tl("external id over 124", base(), &"e".repeat(125)),
        tl("external id empty", base(), ""),
        tl("external id with a space", base(), "order 7"),
    ];
    json!({
        "description": "TimelineEvent::to_request(external_id) / timelineEventRequest(event, externalId) / Timeline request: event (snake_case; variables an ordered object) → {method, path, headers (ordered), body} or {error, message}.",
        "cases": cases,
    })
}

fn many(n: usize) -> Value {
    Value::Object((0..n).map(|i| (format!("k{i:02}"), json!("v"))).collect())
}

pub fn metadata() -> Value {
    let v = |name: &str, m: Value| json!({ "name": name, "metadata": m });
    let p = |name: &str, changes: Value, current: Option<Value>| match current {
        Some(c) => json!({ "name": name, "changes": changes, "current": c }),
        None => json!({ "name": name, "changes": changes }),
    };
    let full = many(20);
    let cases = vec![
        v("empty", json!({})),
        v("typical", json!({ "crm.id": "c-1", "plan:tier": "gold", "synced_at": "2026-12-01" })),
        v("20 keys", many(20)),
        v("21 keys", many(21)),
        v("key at 40", json!({ "k".repeat(40): "v" })),
        v("key over 40", json!({ "k".repeat(41): "v" })),
        v("empty key", json!({ "": "v" })),
        v("key uppercase", json!({ "Plan": "v" })),
        v("key with a slash", json!({ "a/b": "v" })),
        v("value at 500 characters (astral)", json!({ "k": "😀".repeat(500) })),
        v("value over 500 characters", json!({ "k": "é".repeat(501) })),
        v("numeric keys", json!({ "10": "a", "2": "b" })),
        p("set and delete, sorted by key", json!({ "zeta": "1", "alpha": null, "mid": "x\"y" }), None),
        p("numeric keys sorted as strings", json!({ "2": "b", "10": "a" }), None),
        p("delete only", json!({ "gone": null }), Some(json!({ "gone": "x" }))),
        p("empty patch", json!({}), None),
        p("21 set without current", many(21), None),
        p("adding to a full object", json!({ "extra": "1" }), Some(full.clone())),
        p("replacing in a full object", json!({ "k00": "new" }), Some(full.clone())),
        p("delete one, add one to a full object", json!({ "k00": null, "extra": "1" }), Some(full)),
        p("bad key in a deletion", json!({ "Bad": null }), None),
        p("value over 500", json!({ "k": "x".repeat(501) }), None),
    ];
    json!({
        "description": "metadata::validate / validateMetadata(map) → {ok: true} or {error, message}; metadata::merge_patch_body / metadataPatch(changes, current?) (null deletes) → {body} or {error, message}.",
        "cases": cases,
    })
}
