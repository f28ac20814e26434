//! The request verifier's own tests (the checks one by one are pinned in
//! core/tests/pinned/verify.rs).

use super::*;
use crate::sign::LABEL;
use crate::signature::hmac_sign_generic;

const NOW: i64 = 1_700_000_000;
const SECRET: [u8; 32] = [7; 32];

/// A request signed for the profile, with `expires` = `created + delta`.
fn signed(keyid: &str, nonce: &str, created: i64, delta: i64) -> Request {
    let mut req = Request {
        method: "GET".into(),
        url: "https://broker.example/api/orders".into(),
        headers: vec![("content-digest".into(), crate::signature::content_digest(b""))],
        body: Vec::new(),
    };
    let input = format!(
        r#"{LABEL}=("@method" "@authority" "@path" "@query" "content-digest");created={created};expires={};nonce="{nonce}";alg="hmac-sha256";keyid="{keyid}";tag="tessera-v1""#,
        created + delta
    );
    let (_, sig) = hmac_sign_generic(&req, &input, &SECRET).unwrap();
    req.headers.push(("signature-input".into(), input));
    req.headers.push(("signature".into(), sig));
    req
}

fn verify(req: &Request, now: i64, store: &mut MemoryReplayStore) -> Result<Verified> {
    Verifier::default().verify(req, now, &mut |_| Some(Secret::from_bytes(&SECRET).unwrap()), store)
}

#[test]
fn expires_is_exactly_created_plus_300() {
    let mut store = MemoryReplayStore::new(10);
    for delta in [3600, 301, 299, 1, 0, -1] {
        let req = signed("ins_a", &format!("n{delta}"), NOW, delta);
        assert_eq!(verify(&req, NOW, &mut store), Err(Error::SignatureInvalid), "expires = created + {delta}");
    }
    assert!(store.is_empty(), "a refused signature stores no nonce");
    // Decided before the MAC: even without a secret.
    let long = signed("ins_a", "n", NOW, 3600);
    assert_eq!(Verifier::default().verify(&long, NOW, &mut |_| None, &mut store), Err(Error::SignatureInvalid));
    let ok = verify(&signed("ins_a", "ok", NOW, 300), NOW, &mut store).unwrap();
    assert_eq!(ok.expires, NOW + 300);
}

#[test]
fn a_nonce_is_kept_until_expires_and_no_longer() {
    // With a wide window the request still stops verifying at `expires`,
    // so the store keeps the nonce exactly that long.
    let wide = Verifier { window_secs: 3600 };
    let lookup = &mut |_: &str| Some(Secret::from_bytes(&SECRET).unwrap());
    let mut store = MemoryReplayStore::new(1);
    let req = signed("ins_a", "n1", NOW, 300);
    wide.verify(&req, NOW, lookup, &mut store).unwrap();
    assert_eq!(wide.verify(&req, NOW + 300, lookup, &mut store), Err(Error::Replayed));
    assert_eq!(wide.verify(&req, NOW + 301, lookup, &mut store), Err(Error::SignatureExpired));
    // Gone at expires + 1: the installation's share is free again.
    let next = signed("ins_a", "n2", NOW + 301, 300);
    wide.verify(&next, NOW + 301, lookup, &mut store).unwrap();
}

#[test]
fn a_flood_from_one_installation_leaves_the_others_alone() {
    let mut store = MemoryReplayStore::new(5);
    for n in 0..5 {
        verify(&signed("ins_flood", &format!("n{n}"), NOW, 300), NOW, &mut store).unwrap();
    }
    assert_eq!(verify(&signed("ins_flood", "n5", NOW, 300), NOW, &mut store), Err(Error::ReplayStoreFull));
    for n in 0..5 {
        verify(&signed("ins_other", &format!("n{n}"), NOW, 300), NOW, &mut store).unwrap();
    }
    assert_eq!(store.len_for("ins_flood"), 5);
    assert_eq!(store.len_for("ins_other"), 5);
}

/// Issue 14: `Verified.bearer` is a `BrokerToken`, so logging what the
/// verifier established never prints the token.
#[test]
fn verified_debug_does_not_print_the_bearer() {
    // Any text after "Bearer " is presented as is (here with a character
    // `BrokerToken::new` refuses): the broker finds it unknown.
    for token in ["btk_liveSECRETtoken", "btk_SECRET,not-b64token"] {
        let mut req = Request {
            method: "GET".into(),
            url: "https://broker.example/api/orders".into(),
            headers: vec![
                ("authorization".into(), format!("Bearer {token}")),
                ("content-digest".into(), crate::signature::content_digest(b"")),
            ],
            body: Vec::new(),
        };
        let input = format!(
            r#"{LABEL}=("@method" "@authority" "@path" "@query" "authorization" "content-digest");created={NOW};expires={};nonce="nb{}";alg="hmac-sha256";keyid="ins_a";tag="tessera-v1""#,
            NOW + 300,
            token.len()
        );
        let (_, sig) = hmac_sign_generic(&req, &input, &SECRET).unwrap();
        req.headers.push(("signature-input".into(), input));
        req.headers.push(("signature".into(), sig));
        let v = verify(&req, NOW, &mut MemoryReplayStore::new(10)).unwrap();
        assert_eq!(v.bearer.as_ref().map(BrokerToken::expose), Some(token));
        for text in [format!("{v:?}"), format!("{v:#?}"), format!("{:?}", v.bearer)] {
            assert!(!text.contains("SECRET"), "{text}");
            assert!(text.contains("[redacted]"), "{text}");
        }
    }
}

/// The sans-IO sequence: the secret is asked for once, after everything that
/// needs none; the nonce is recorded last; each step's failure carries the
/// wire answer.
#[test]
fn the_sequence_asks_for_the_secret_then_the_store() {
    let secret = Secret::from_bytes(&SECRET).unwrap();
    let req = signed("ins_a", "seq", NOW, 300);
    let pending = Verifier::default().begin(&req, NOW).unwrap();
    assert_eq!(pending.keyid(), "ins_a");
    let text = format!("{pending:?}");
    assert!(text.contains("ins_a") && !text.contains("base"), "{text}");
    let checked = pending.check(Some(&secret)).unwrap();
    assert_eq!((checked.replay_key(), checked.install_id(), checked.expires_at()), ("ins_a:seq", "ins_a", NOW + 300));
    assert_eq!(checked.now(), NOW);
    let v = checked.finish(ReplayAnswer::Fresh).unwrap();
    assert_eq!(v.nonce, "seq");

    let answer = |a| Verifier::default().begin(&req, NOW).unwrap().check(Some(&secret)).unwrap().finish(a);
    let seen = answer(ReplayAnswer::Seen).unwrap_err();
    assert_eq!((seen.status(), seen.code(), seen.error()), (401, "replayed", &Error::Replayed));
    let full = answer(ReplayAnswer::Full).unwrap_err();
    assert_eq!((full.status(), full.code()), (503, "replay_store_full"));

    // Unknown installation and a wrong secret stop before the store.
    let unknown = Verifier::default().begin(&req, NOW).unwrap().check(None).unwrap_err();
    assert_eq!((unknown.status(), unknown.code()), (401, "unknown_installation"));
    let wrong = Secret::from_bytes(&[8; 32]).unwrap();
    let forged = Verifier::default().begin(&req, NOW).unwrap().check(Some(&wrong)).unwrap_err();
    assert_eq!(forged.code(), "signature_invalid");

    // Out of its window: refused at the first step, with the broker's Date.
    let late = Verifier::default().begin(&req, NOW + 301).unwrap_err();
    assert_eq!((late.status(), late.code()), (401, "signature_expired"));
    assert!(late.headers().iter().any(|(k, v)| k == "date" && v == &crate::httpdate::format(NOW + 301)));
}

/// A store's own failure (not a replay, not full) is refused with that error.
#[test]
fn a_failing_store_refuses() {
    struct Broken;
    impl ReplayStore for Broken {
        fn check_and_insert(&mut self, _: &str, _: i64, _: i64) -> Result<()> {
            Err(Error::Internal("store down"))
        }
    }
    let secret = Secret::from_bytes(&SECRET).unwrap();
    let req = signed("ins_a", "broken", NOW, 300);
    let refusal = Verifier::default().begin(&req, NOW).unwrap().check(Some(&secret)).unwrap().record_in(&mut Broken);
    let refusal = refusal.unwrap_err();
    assert_eq!((refusal.status(), refusal.code()), (500, "internal"));
}

/// A link's `sig` (an uninstall ticket is a bearer capability for days) never
/// shows in `Debug`.
#[test]
fn pending_links_do_not_print_their_sig() {
    let id = "ins_AAAAAAAAAAAAAAAAAAAAAA";
    let ticket = begin_uninstall_ticket(id, &format!("ts={NOW}&sig=SECRETsig"), NOW, 60).unwrap();
    let text = format!("{ticket:?}");
    assert!(!text.contains("SECRETsig") && text.contains(id) && text.contains("[redacted]"), "{text}");
    let query = format!("install_id={id}&state=st&return_url=https%3A%2F%2Fshop.example%2Fcb&ts={NOW}&sig=SECRETsig");
    let connect = begin_connect_url(&query, NOW).unwrap();
    let text = format!("{connect:?}");
    assert!(!text.contains("SECRETsig") && text.contains(id) && text.contains("[redacted]"), "{text}");
}
