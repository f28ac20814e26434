//! Feeds arbitrary bytes (as UTF-8 text) to the RFC 8941 dictionary parser that
//! reads `Signature-Input`, `Signature` and `Content-Digest`, and for every
//! inner list to `covered_components` and `signature_base` over a fixed
//! request. Asserts: no panic; a parsed dictionary serialised canonically
//! parses back to the same dictionary (serialisation is a fixed point); the
//! signature base of a parsed inner list ends with its serialisation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::internals::sfv::{Dictionary, Member, parse_dictionary, write_bare, write_inner_list, write_params};
use tessera_core::internals::signature::{MessageView, covered_components, signature_base};

fn serialise(dict: &Dictionary) -> String {
    let mut out = String::new();
    for (i, (key, member)) in dict.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(key);
        match member {
            Member::InnerList(list) => {
                out.push('=');
                write_inner_list(&mut out, list);
            }
            Member::Item(item) => {
                if item.bare != tessera_core::internals::sfv::BareItem::Boolean(true) {
                    out.push('=');
                    write_bare(&mut out, &item.bare);
                }
                write_params(&mut out, &item.params);
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(dict) = parse_dictionary(text) else { return };
    let canonical = serialise(&dict);
    let again = parse_dictionary(&canonical).unwrap_or_else(|e| panic!("canonical form {canonical:?} fails: {e}"));
    assert_eq!(again, dict, "canonical form {canonical:?} parses differently");
    assert_eq!(serialise(&again), canonical);

    let headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("content-digest".to_string(), "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:".to_string()),
        ("date".to_string(), "Tue, 20 Apr 2021 02:07:55 GMT".to_string()),
    ];
    let msg = MessageView {
        method: "POST",
        scheme: "https",
        authority: "broker.example",
        path: "/api/x",
        query: Some("a=1"),
        headers: &headers,
    };
    for (_, member) in &dict {
        if let Member::InnerList(list) = member {
            let _ = covered_components(list);
            if let Ok(base) = signature_base(&msg, list) {
                let mut params = String::new();
                write_inner_list(&mut params, list);
                assert!(base.ends_with(&format!("\"@signature-params\": {params}")));
                assert_eq!(base.lines().count(), list.items.len() + 1, "a component value broke a line: {base:?}");
            }
        }
    }
});
