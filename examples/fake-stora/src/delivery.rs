//! The webhook delivery thread: one per running fake, it works through the
//! outbox ([`crate::model::webhooks`]) one delivery at a time and stops
//! with the server.
//!
//! A delivery is `POST {endpoint url}` with the raw body `{"event": {…}}`,
//! `Content-Type: application/json` and
//! `X-Stora-Signature: t=<unix ts>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
//! `t` is the wall clock (not moved by `/_control/advance_clock`: the
//! receiver compares it with its own clock). A non-2xx answer, no answer or
//! no answer within 5 s is retried after 100 ms, 200 ms, 400 ms, 800 ms (five
//! attempts; `retry_base_ms` changes the first pause), then given up. Real
//! Stora's schedule is not documented; a provider's is minutes to hours.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::Shared;
use crate::model::wall_clock;
use crate::model::webhooks::Pending;

/// How long a delivery waits for the receiver's answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// How often the thread looks at the outbox when it is idle.
const TICK: Duration = Duration::from_millis(20);

/// The header value for `body` signed with `secret` at `t`.
pub fn signature_header(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", hex(&hmac_sha256(secret.as_bytes(), format!("{t}.{body}").as_bytes())))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts the thread; it ends once `stop` is set.
pub fn start(shared: Arc<Shared>, stop: Arc<AtomicBool>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(TIMEOUT))
        .user_agent("fake-stora-webhooks/0.1")
        .build()
        .into();
    std::thread::Builder::new().name("fake-stora-webhooks".into()).spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let due = shared.lock().take_due(Instant::now());
            if due.is_empty() {
                std::thread::sleep(TICK);
                continue;
            }
            for pending in due {
                // Sent outside the store's lock: the receiver (a broker)
                // may call the fake's API meanwhile.
                let status = if stop.load(Ordering::Relaxed) { 0 } else { send(&agent, &shared, &pending) };
                shared.lock().delivery_done(pending, status);
            }
        }
    })
}

/// One attempt; the receiver's status, 0 when none came.
fn send(agent: &ureq::Agent, shared: &Shared, pending: &Pending) -> u16 {
    let controls = shared.lock().webhook_controls();
    let t = if controls.stale_timestamp { wall_clock() - 600 } else { wall_clock() };
    let secret = if controls.bad_signature { "whsec_not_the_endpoint_secret" } else { pending.secret.as_str() };
    let header = signature_header(secret, t, &pending.body);
    agent
        .post(&pending.url)
        .header("content-type", "application/json")
        .header("x-stora-signature", &header)
        .send(pending.body.as_bytes())
        .map(|resp| resp.status().as_u16())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_sha256_hex_over_t_dot_body() {
        // RFC 4231 test case 2 (key "Jefe"), with "t.body" as the message.
        let header = super::signature_header("Jefe", 0, "what do ya want for nothing?");
        let expected = super::hex(&super::hmac_sha256(b"Jefe", b"0.what do ya want for nothing?"));
        assert_eq!(header, format!("t=0,v1={expected}"));
        assert_eq!(
            super::hex(&super::hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
