//! Pulling Stora's events (core/src/events.rs, core/src/machine/pull.rs):
//! every bound at the bound and one over, the cursor's rules, and the
//! acknowledgement that moves it.

use tessera_core::{Companion, Completion, Config, Error, EventPage, ProxyConfig, Response};

use super::machine::{BROKER, connected, registered, run};

/// A page of `n` events `evt_0…`, ending at `cursor`.
fn page(n: usize, cursor: &str, has_more: bool) -> String {
    let events: Vec<String> = (0..n)
        .map(|i| {
            format!(r#"{{"id":"evt_{i}","type":"order.updated","api_version":"2025-09","created_at":{i},"data":{{}}}}"#)
        })
        .collect();
    format!(r#"{{"events":[{}],"cursor":"{cursor}","has_more":{has_more}}}"#, events.join(","))
}

/// One event with these members (JSON text) in place of the usual ones.
fn one(id: &str, event_type: &str, api_version: &str) -> String {
    format!(
        r#"{{"events":[{{"id":"{id}","type":"{event_type}","api_version":"{api_version}","created_at":-1,"data":{{"n":[1,true,null,"x"]}}}}],"cursor":"1","has_more":false}}"#
    )
}

/// Pulls `limit` from `c`; the broker answers `body`.
fn pull(c: &mut Companion, limit: u32, body: &str) -> tessera_core::Result<EventPage> {
    let call = c.start_pull_events(limit)?;
    let r = run(c, call, vec![tessera_core::Event::Response(Response::new(200, body.as_bytes().to_vec()))]);
    match r.result? {
        Completion::Events(p) => Ok(p),
        other => panic!("{other:?}"),
    }
}

fn refused(r: tessera_core::Result<EventPage>) -> &'static str {
    match r {
        Err(Error::ResponseInvalid(why)) => why,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_limit_is_1_to_100_and_bounds_the_page() {
    let mut c = connected(1);
    for bad in [0, 101] {
        assert!(matches!(c.start_pull_events(bad), Err(Error::InvalidInput { field: "limit", .. })), "{bad}");
    }
    assert_eq!(pull(&mut c, 1, &page(1, "1", true)).unwrap().events.len(), 1);
    assert_eq!(pull(&mut c, 100, &page(100, "100", false)).unwrap().events.len(), 100);
    assert_eq!(refused(pull(&mut c, 2, &page(3, "3", false))), "more events than the limit asked for");
    let call = c.start_pull_events(100).unwrap();
    let r =
        run(&mut c, call, vec![tessera_core::Event::Response(Response::new(200, page(0, "0", false).into_bytes()))]);
    assert_eq!(r.sent[0].url, format!("{BROKER}/events?limit=100"));
}

#[test]
fn names_up_to_255_bytes_and_the_data_as_sent() {
    let mut c = connected(2);
    let long = "e".repeat(255);
    let p = pull(&mut c, 1, &one(&long, &long, &long)).unwrap();
    let e = &p.events[0];
    assert_eq!((e.id.len(), e.event_type.len(), e.api_version.len(), e.created_at), (255, 255, 255, -1));
    assert_eq!(e.data_json, r#"{"n":[1,true,null,"x"]}"#);
    assert!(pull(&mut c, 1, &one("e", "t", "")).is_ok(), "an empty api_version is a string");
    let over = "e".repeat(256);
    assert_eq!(refused(pull(&mut c, 1, &one(&over, "t", ""))), "an event's id must be 1 to 255 bytes");
    assert_eq!(refused(pull(&mut c, 1, &one("", "t", ""))), "an event's id must be 1 to 255 bytes");
    assert_eq!(refused(pull(&mut c, 1, &one("e", &over, ""))), "an event's type must be 1 to 255 bytes");
    assert_eq!(
        refused(pull(&mut c, 1, &one("e", "t", &over))),
        "an event's api_version must be a string of at most 255 bytes"
    );
    assert_eq!(
        refused(pull(&mut c, 1, r#"{"events":[1],"cursor":"1","has_more":false}"#)),
        "an event is not an object"
    );
    let array_data = one("e", "t", "").replace(r#""data":{"n":[1,true,null,"x"]}"#, r#""data":[]"#);
    assert_eq!(refused(pull(&mut c, 1, &array_data)), "an event's data must be an object");
}

#[test]
fn the_cursor_never_goes_back_and_moves_past_new_events() {
    let mut c = connected(3);
    assert!(c.acknowledge_events("5").unwrap());
    // Equal to `after` is fine on an empty page, not on one with events.
    assert!(pull(&mut c, 5, &page(0, "5", false)).is_ok());
    assert_eq!(refused(pull(&mut c, 5, &page(1, "5", false))), "cursor went backwards");
    assert_eq!(refused(pull(&mut c, 5, &page(0, "4", false))), "cursor went backwards");
    assert_eq!(pull(&mut c, 5, &page(1, "6", false)).unwrap().cursor, "6");
    assert_eq!(pull(&mut c, 5, &page(0, "999999999999999999", false)).unwrap().cursor, "999999999999999999");
    assert_eq!(
        refused(pull(&mut c, 5, &page(0, "1000000000000000000", false))),
        "cursor must be 1 to 18 decimal digits"
    );
    assert_eq!(refused(pull(&mut c, 5, &page(0, "", false))), "cursor must be 1 to 18 decimal digits");
    assert_eq!(refused(pull(&mut c, 5, &page(0, "-6", false))), "cursor must be 1 to 18 decimal digits");
    // Pulling never moved it.
    assert_eq!(c.events_cursor(), Some("5"));
}

#[test]
fn acknowledging_moves_the_cursor_forward_only_and_it_is_persisted() {
    let mut c = connected(4);
    assert_eq!(c.events_cursor(), None);
    assert!(!c.to_json().contains("events_cursor"), "no member until there is a cursor");
    assert!(c.acknowledge_events("007").unwrap());
    assert_eq!(c.events_cursor(), Some("7"), "kept as its value");
    assert!(!c.acknowledge_events("7").unwrap(), "the same cursor again");
    assert!(!c.acknowledge_events("6").unwrap(), "an older page acknowledged late");
    assert_eq!(c.events_cursor(), Some("7"));
    assert!(c.acknowledge_events("8").unwrap());
    assert_eq!(c.state().events_cursor(), Some("8"));
    for bad in ["", "x", "-1", "1234567890123456789"] {
        assert!(matches!(c.acknowledge_events(bad), Err(Error::InvalidInput { field: "cursor", .. })), "{bad:?}");
    }
    let json = c.to_json();
    assert!(json.ends_with(r#","events_cursor":"8"}"#), "{json}");
    assert_eq!(Companion::from_json(&json).unwrap().events_cursor(), Some("8"));
    for bad in [r#""events_cursor":"x""#, r#""events_cursor":"""#, r#""events_cursor":"1234567890123456789""#] {
        let corrupt = json.replace(r#""events_cursor":"8""#, bad);
        assert!(matches!(Companion::from_json(&corrupt), Err(Error::StateCorrupt(_))), "{bad}");
    }
    // The next pull starts after it.
    let call = c.start_pull_events(3).unwrap();
    let r =
        run(&mut c, call, vec![tessera_core::Event::Response(Response::new(200, page(0, "8", false).into_bytes()))]);
    assert_eq!(r.sent[0].url, format!("{BROKER}/events?after=8&limit=3"));
}

#[test]
fn only_a_registered_broker_installation_pulls() {
    let mut fresh = Companion::create(Config::new(BROKER)).unwrap();
    assert_eq!(fresh.acknowledge_events("1"), Err(Error::NotRegistered));
    assert!(matches!(fresh.start_pull_events(1), Err(Error::NotRegistered)));
    let mut registered = registered(5);
    assert!(matches!(registered.start_pull_events(1), Err(Error::NotConnected)));
    assert!(registered.acknowledge_events("1").unwrap(), "a registered installation keeps its cursor");
    let mut config = Config::new(BROKER);
    config.proxy = Some(ProxyConfig { stora_api_url: "https://api.stora.example".into(), ..ProxyConfig::default() });
    let proxied = Companion::create(config).unwrap();
    assert!(matches!(proxied.start_pull_events(1), Err(Error::InvalidState(_))));
}

#[test]
fn a_push_url_is_http_on_the_sites_own_origin() {
    use tessera_core::check_push_url;
    let site = "https://shop.example";
    assert_eq!(check_push_url(site, "https://shop.example/hook").unwrap(), "https://shop.example/hook");
    assert_eq!(check_push_url(site, "https://SHOP.example:443/hook").unwrap(), "https://shop.example/hook");
    for bad in
        ["https://shop.example.evil/hook", "https://evil.example/?https://shop.example", "http://shop.example/hook"]
    {
        assert!(matches!(check_push_url(site, bad), Err(Error::InvalidUrl { .. })), "{bad}");
    }
    let extension = "chrome-extension://abcdefghijklmnopabcdefghijklmnop";
    let same = format!("{extension}/events");
    assert!(matches!(check_push_url(extension, &same), Err(Error::InvalidUrl { .. })), "no push to an extension");
    let long = format!("https://shop.example/{}", "a".repeat(2048 - 21));
    assert_eq!(check_push_url(site, &long).unwrap().len(), 2048);
    assert!(matches!(check_push_url(site, &format!("{long}a")), Err(Error::TooLarge { .. })));
}

#[test]
fn a_push_signature_is_the_documented_hmac() {
    use tessera_core::{Secret, sign_push};
    // Computed independently (Python's hmac module).
    let secret = Secret::from_bytes(&[7; 32]).unwrap();
    assert_eq!(
        sign_push(&secret, "ins_x", b"{}", 1_700_000_000),
        "t=1700000000,v1=0bd1826a005871a4822e641ad6c538ca53113fc163a9dc003703c405396a20d3"
    );
}

#[test]
fn a_push_verifies_at_its_bounds() {
    use tessera_core::internals::events::MAX_PUSH_BODY;
    use tessera_core::sign_push;
    let c = connected(6);
    let inst = c.state().installation().unwrap().clone();
    let body = br#"{"events":[{"id":"evt_1","type":"t","api_version":"","created_at":1,"data":{}}]}"#;
    let header = sign_push(&inst.secret, &inst.id, body, 1_700_000_000);
    let h = |value: String| vec![("Tessera-Push-Signature".to_string(), value)];
    assert_eq!(c.verify_push(&h(header.clone()), body, 1_700_000_000).unwrap()[0].id, "evt_1");
    // The same matching v1 twice still matches (no match cancels another).
    let v1 = header.split_once(",v1=").unwrap().1;
    assert!(c.verify_push(&h(format!("{header},v1={v1}")), body, 1_700_000_000).is_ok());
    // Up to 8 v1 are read; a ninth makes the header malformed.
    let zeros = format!(",v1={}", "0".repeat(64));
    assert!(c.verify_push(&h(format!("{header}{}", zeros.repeat(7))), body, 1_700_000_000).is_ok());
    assert_eq!(
        c.verify_push(&h(format!("{header}{}", zeros.repeat(8))), body, 1_700_000_000),
        Err(Error::SignatureMalformed("Tessera-Push-Signature"))
    );
    // The body bound: at it the signature decides, one byte over is too large.
    let big = vec![b' '; MAX_PUSH_BODY];
    assert_eq!(c.verify_push(&h(header.clone()), &big, 1_700_000_000), Err(Error::SignatureInvalid));
    let over = vec![b' '; MAX_PUSH_BODY + 1];
    assert!(matches!(c.verify_push(&h(header), &over, 1_700_000_000), Err(Error::TooLarge { field: "body", .. })));
}

#[test]
fn a_signature_header_takes_hex_digits_only() {
    use tessera_core::internals::events::parse_timestamped_signature;
    let mac = "ab".repeat(32);
    assert!(parse_timestamped_signature(&format!("t=1,v1={mac}")).is_some());
    assert!(parse_timestamped_signature(&format!("t=1,v1={}", mac.to_uppercase())).is_some());
    for bad in ["+f".repeat(32), format!("{} ", &mac[..63]), format!("+{}", &mac[..63])] {
        assert!(parse_timestamped_signature(&format!("t=1,v1={bad}")).is_none(), "{bad}");
    }
}
