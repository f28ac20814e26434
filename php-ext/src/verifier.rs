//! `Tessera\Verifier`: the broker side, for partners whose broker is PHP.
// PHP parameter names are camelCase (they are the named-argument names), so
// the Rust parameters that become them are too.
#![allow(non_snake_case)]

use std::cell::RefCell;

use ext_php_rs::boxed::ZBox;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendCallable, ZendHashTable, Zval};
use tessera_core::Secret;
use tessera_core::internals::connect;
use tessera_core::internals::verify::DEFAULT_WINDOW_SECS;
use tessera_core::{
    MemoryReplayStore, ReplayAnswer, Verifier as CoreVerifier, begin_connect_url, begin_uninstall_ticket,
    check_ownership_proof,
};

use crate::convert::{ArrayArg, Assoc, CallableArg, OptCallableArg, OptIntArg, StrArg, request_from_php};
use crate::errors::{Res, guard, invalid};
use crate::host::{call_php, unix_now};

/// Why `verify()` refuses up front without a replay store: a PHP object does
/// not outlive its request (PHP-FPM, mod_php), so a per-object store would
/// forget every nonce and let captured requests be replayed.
const NO_REPLAY_STORE: &str = "pass a shared replay store ($replay(string $key, int $expiresAt, int $now) \
     answering 'fresh', 'seen' or 'full'), or construct the Verifier with $replayCapacity in a long-running process: a per-request in-memory store would \
     not stop replays";

/// What the replay callable may answer.
const BAD_REPLAY_ANSWER: &str = "must return 'fresh', 'seen' or 'full' (or true for fresh, false for seen)";

/// Verifies signed plugin requests, connect URLs, uninstall tickets and
/// ownership proofs (broker side).
#[php_class]
#[php(name = "Tessera\\Verifier")]
#[php(flags = ext_php_rs::flags::ClassFlags::Final)]
pub struct Verifier {
    core: CoreVerifier,
    /// Only when asked for with `$replayCapacity`.
    replay: Option<RefCell<MemoryReplayStore>>,
}

/// Asks `$secretFor` — once — for the secret of `install_id`: its base64url
/// form (as received at registration), or `null` for an unknown installation.
fn secret_for(callable: &ZendCallable<'_>, install_id: &str) -> Res<Option<Secret>> {
    let z = call_php(callable, vec![&install_id], "secretFor")?;
    let z = z.dereference();
    if z.is_null() {
        return Ok(None);
    }
    Ok(Some(Secret::from_base64url(crate::convert::utf8(z, "secretFor")?)?))
}

/// The replay callable's answer: `'fresh'`, `'seen'`, `'full'`, or (for
/// compatibility) `true` = fresh and `false` = seen.
fn replay_answer(z: &Zval) -> Res<ReplayAnswer> {
    let z = z.dereference();
    if let Some(b) = z.bool() {
        return Ok(if b { ReplayAnswer::Fresh } else { ReplayAnswer::Seen });
    }
    match z.zend_str().map(|s| s.as_bytes()) {
        Some(b"fresh") => Ok(ReplayAnswer::Fresh),
        Some(b"seen") => Ok(ReplayAnswer::Seen),
        Some(b"full") => Ok(ReplayAnswer::Full),
        _ => Err(invalid("replay", BAD_REPLAY_ANSWER)),
    }
}

fn verified_to_php(v: &tessera_core::Verified) -> ZBox<ZendHashTable> {
    Assoc::new()
        .str("install_id", &v.install_id)
        .int("created", v.created)
        .int("expires", v.expires)
        .str("nonce", &v.nonce)
        .opt_str("idempotency_key", v.idempotency_key.as_deref())
        .opt_str("bearer", v.bearer.as_ref().map(tessera_core::BrokerToken::expose))
        .build()
}

#[php_impl]
impl Verifier {
    /// A verifier accepting `created` within `$windowSecs` of the broker clock
    /// (default 300). `$replayCapacity` opts into an in-memory replay store of
    /// that many live nonces per installation (one that fills its share is
    /// refused, no other is), used when `verify()` gets no `$replay` callable;
    /// it only protects a long-running process (not PHP-FPM or mod_php, where
    /// objects die with the request). Without either, `verify()` refuses.
    pub fn __construct(windowSecs: OptIntArg, replayCapacity: OptIntArg) -> Res<Self> {
        guard(|| {
            let window = windowSecs.get("windowSecs")?.unwrap_or(DEFAULT_WINDOW_SECS);
            let replay = match replayCapacity.get("replayCapacity")? {
                None => None,
                Some(n) => Some(RefCell::new(MemoryReplayStore::new(
                    usize::try_from(n).map_err(|_| invalid("replayCapacity", "must not be negative"))?,
                ))),
            };
            Ok(Verifier { core: CoreVerifier { window_secs: window }, replay })
        })
    }

    /// Verifies a signed request (`method`, absolute `url` as the broker's
    /// public URL for it, `headers`, `body`), in the core's steps: what needs
    /// no secret; then `$secretFor(string $installId): ?string`, called once,
    /// returns the installation's secret (base64url, as registered) or null;
    /// then the MAC; then, only for a request whose MAC verified,
    /// `$replay(string $key, int $expiresAt, int $now)` records the nonce
    /// (`$key` is `install_id:nonce`) and answers `'fresh'`, `'seen'` or
    /// `'full'` (`true`/`false` are read as fresh/seen). Without `$replay` the
    /// in-memory store from `$replayCapacity` is used; without either the call
    /// is refused up front (`invalid_input`). Returns `install_id, created,
    /// expires, nonce, idempotency_key, bearer`.
    ///
    /// @throws \Tessera\Exception\VerificationException when the request does not verify (with the wire answer)
    pub fn verify(
        &self,
        request: ArrayArg,
        secretFor: CallableArg,
        replay: OptCallableArg,
        now: OptIntArg,
    ) -> Res<ZBox<ZendHashTable>> {
        guard(|| {
            let req = request_from_php(request.get("request")?)?;
            let secret_fn = secretFor.get("secretFor")?;
            let replay = replay.get("replay")?;
            let now = now.get("now")?.unwrap_or_else(unix_now);
            if replay.is_none() && self.replay.is_none() {
                return Err(invalid("replay", NO_REPLAY_STORE));
            }
            let pending = self.core.begin(&req, now)?;
            let secret = secret_for(&secret_fn, pending.keyid())?;
            let awaiting = pending.check(secret.as_ref())?;
            let verified = match (replay, &self.replay) {
                (Some(callable), _) => {
                    let (key, expires_at) = (awaiting.replay_key().to_owned(), awaiting.expires_at());
                    let answer = call_php(&callable, vec![&key, &expires_at, &now], "replay")?;
                    awaiting.finish(replay_answer(&answer)?)?
                }
                // No PHP code runs while the store is borrowed: the borrow cannot fail.
                (None, Some(store)) => {
                    awaiting.record_in(&mut *store.try_borrow_mut().map_err(|_| crate::errors::busy())?)?
                }
                (None, None) => return Err(invalid("replay", NO_REPLAY_STORE)),
            };
            Ok(verified_to_php(&verified))
        })
    }

    /// Verifies a connect URL (absolute, or just its query): its parameters
    /// and `ts` first, then `$secretFor(string $installId): ?string` (called
    /// once), then `sig` and the return URL. Returns `install_id, state,
    /// return_url, scope, ts`.
    ///
    /// @throws \Tessera\Exception\VerificationException when it does not verify (with the wire answer)
    pub fn verify_connect_url(url: StrArg, secretFor: CallableArg, now: OptIntArg) -> Res<ZBox<ZendHashTable>> {
        guard(|| {
            let url = url.utf8("url")?;
            let secret_fn = secretFor.get("secretFor")?;
            let now = now.get("now")?.unwrap_or_else(unix_now);
            let pending = begin_connect_url(url, now)?;
            let secret = secret_for(&secret_fn, pending.install_id())?;
            let p = pending.check(secret.as_ref())?;
            Ok(Assoc::new()
                .str("install_id", &p.install_id)
                .str("state", &p.state)
                .str("return_url", &p.return_url)
                .opt_str("scope", p.scope.as_deref())
                .int("ts", p.ts)
                .build())
        })
    }

    /// Verifies an uninstall ticket (the URL or its query) for `$installId`
    /// (taken from the path): `sig` present and `ts` at most `$maxAgeSecs`
    /// old (default 7 days, `UNINSTALL_TICKET_MAX_AGE_SECS`), then
    /// `$secretFor` (called once), then `sig`. Returns the ticket's `ts`.
    ///
    /// @throws \Tessera\Exception\VerificationException when it does not verify (with the wire answer)
    pub fn verify_uninstall_ticket(
        installId: StrArg,
        urlOrQuery: StrArg,
        secretFor: CallableArg,
        maxAgeSecs: OptIntArg,
        now: OptIntArg,
    ) -> Res<i64> {
        guard(|| {
            let install_id = installId.utf8("installId")?;
            let url = urlOrQuery.utf8("urlOrQuery")?;
            let secret_fn = secretFor.get("secretFor")?;
            let max_age = maxAgeSecs.get("maxAgeSecs")?.unwrap_or(connect::UNINSTALL_TICKET_MAX_AGE_SECS);
            let now = now.get("now")?.unwrap_or_else(unix_now);
            let pending = begin_uninstall_ticket(install_id, url, now, max_age)?;
            let secret = secret_for(&secret_fn, pending.install_id())?;
            Ok(pending.check(secret.as_ref())?)
        })
    }

    /// Generic RFC 9421 HMAC-SHA256 signing of `$request` (`method`,
    /// absolute `url`, `headers`, `body`) for one `Signature-Input` member
    /// (`label=(...);params`) under the raw `$key`; returns `signature_base`
    /// and `signature` (the `Signature` field value). For interoperability
    /// checks (it reproduces RFC 9421 Appendix B.2.5), not for the Tessera
    /// profile.
    ///
    /// @throws \Tessera\Exception\InvalidInputException
    /// @throws \Tessera\Exception\VerificationException when the signature input is malformed
    pub fn hmac_sign_generic(request: ArrayArg, signatureInput: StrArg, key: StrArg) -> Res<ZBox<ZendHashTable>> {
        guard(|| {
            let req = request_from_php(request.get("request")?)?;
            let (base, signature) = tessera_core::internals::signature::hmac_sign_generic(
                &req,
                signatureInput.utf8("signatureInput")?,
                key.bytes("key")?,
            )?;
            Ok(Assoc::new().str("signature_base", &base).str("signature", &signature).build())
        })
    }

    /// Checks an ownership proof fetched from the site, in constant time.
    /// `$secret` is the installation's secret (base64url, as registered);
    /// `$now` (unix seconds, the clock when null) is the broker time of the
    /// check.
    ///
    /// @throws \Tessera\Exception\VerificationException when it does not match (403, with the wire answer)
    pub fn verify_ownership_proof(
        secret: StrArg,
        installId: StrArg,
        challenge: StrArg,
        proof: StrArg,
        now: OptIntArg,
    ) -> Res<()> {
        guard(|| {
            let secret = Secret::from_base64url(secret.utf8("secret")?)?;
            let (install_id, challenge, proof) =
                (installId.utf8("installId")?, challenge.utf8("challenge")?, proof.utf8("proof")?);
            let now = now.get("now")?.unwrap_or_else(unix_now);
            Ok(check_ownership_proof(&secret, install_id, challenge, proof, now)?)
        })
    }
}
