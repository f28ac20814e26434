//! Broker side of URL-signed links: feeds start line `<now> <secret-base64url>
//! <url> [<install_id>]` to `verify_connect_url` (every install id maps to the
//! secret) and to `verify_uninstall_ticket` for `<install_id>`. Asserts: no
//! panic; an accepted connect URL has a fresh `ts`, the install id it was
//! asked about, and a return URL of the documented shape; an accepted ticket
//! is within its age.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::internals::connect::{CONNECT_TTL_SECS, FUTURE_SKEW_SECS, UNINSTALL_TICKET_MAX_AGE_SECS};
use tessera_core::{verify_connect_url, verify_uninstall_ticket};
use tessera_fuzz::{Message, parse_now, secret_or_default};

fuzz_target!(|data: &[u8]| {
    let m = Message::parse(data);
    let now = parse_now(m.field(0));
    let secret = secret_or_default(m.field(1));
    let url = m.field(2);
    let mut asked = Vec::new();
    let mut secret_for = |id: &str| {
        asked.push(id.to_owned());
        Some(secret.clone())
    };
    if let Ok(p) = verify_connect_url(url, now, &mut secret_for) {
        assert_eq!(asked, std::slice::from_ref(&p.install_id));
        assert!(p.ts <= now + FUTURE_SKEW_SECS && now - p.ts <= CONNECT_TTL_SECS);
        assert!(p.return_url.len() <= 2048 && p.return_url.bytes().all(|b| b.is_ascii_graphic()));
        assert!(p.return_url.contains("://") && !p.return_url.contains('#'));
    }
    let id = m.field(3);
    let mut secret_for = |_: &str| Some(secret.clone());
    if let Ok(ts) = verify_uninstall_ticket(id, url, now, UNINSTALL_TICKET_MAX_AGE_SECS, &mut secret_for) {
        assert!(ts <= now + FUTURE_SKEW_SECS && now - ts <= UNINSTALL_TICKET_MAX_AGE_SECS);
    }
});
