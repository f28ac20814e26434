//! `Tessera\Verifier`: the broker side, for partners whose broker is PHP.
// PHP parameter names are camelCase (they are the named-argument names), so
// the Rust parameters that become them are too.
#![allow(non_snake_case)]

use std::cell::{Cell, RefCell};

use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendCallable, ZendHashTable};
use tessera_core::Error;
use tessera_core::Secret;
use tessera_core::connect;
use tessera_core::registration;
use tessera_core::verify::{DEFAULT_WINDOW_SECS, MemoryReplayStore, ReplayStore, Verifier as CoreVerifier};

use crate::convert::{ArrayArg, Assoc, CallableArg, OptCallableArg, OptIntArg, StrArg, request_from_php};
use crate::errors::{Failure, Res, guard, invalid};
use crate::host::{call_php, unix_now};

/// Why `verify()` refuses to succeed without a replay store: a PHP object
/// does not outlive its request (PHP-FPM, mod_php), so a per-object store
/// would forget every nonce and let captured requests be replayed.
const NO_REPLAY_STORE: &str = "pass a shared replay store ($replay), or construct the Verifier with $replayCapacity \
     in a long-running process: a per-request in-memory store would not stop replays";

/// Stands in when there is no store: any request that reaches the replay
/// check (that is, would otherwise verify) is refused.
struct NoReplayStore;

impl tessera_core::ReplayStore for NoReplayStore {
    fn check_and_insert(&mut self, _: &str, _: i64, _: i64) -> tessera_core::Result<()> {
        Err(tessera_core::Error::InvalidInput { field: "replay", reason: NO_REPLAY_STORE })
    }
}

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

/// A `secret_for` lookup backed by a PHP callable returning the secret in its
/// base64url form (as received at registration) or `null`.
struct SecretLookup<'a> {
    callable: ZendCallable<'a>,
    failure: RefCell<Option<Failure>>,
}

impl<'a> SecretLookup<'a> {
    fn new(callable: ZendCallable<'a>) -> Self {
        SecretLookup { callable, failure: RefCell::new(None) }
    }

    fn lookup(&self, install_id: &str) -> Option<Secret> {
        if self.failure.borrow().is_some() {
            return None;
        }
        let result = call_php(&self.callable, vec![&install_id], "secretFor").and_then(|z| {
            let z = z.dereference();
            if z.is_null() {
                return Ok(None);
            }
            let text = crate::convert::utf8(z, "secretFor")?;
            Secret::from_base64url(text).map(Some).map_err(Failure::from)
        });
        match result {
            Ok(s) => s,
            Err(f) => {
                *self.failure.borrow_mut() = Some(f);
                None
            }
        }
    }

    /// The verification result, unless the callable failed (its failure wins).
    fn finish<T>(self, r: Result<T, Error>) -> Res<T> {
        match self.failure.into_inner() {
            Some(f) => Err(f),
            None => r.map_err(Failure::from),
        }
    }
}

/// A replay store backed by a PHP callable:
/// `function (string $key, int $expiresAt, int $now): bool` returning `true`
/// when the key was recorded now and `false` when it was already live.
struct PhpReplayStore<'a> {
    callable: ZendCallable<'a>,
    failure: Cell<Option<Failure>>,
}

impl ReplayStore for PhpReplayStore<'_> {
    fn check_and_insert(&mut self, key: &str, expires_at: i64, now: i64) -> Result<(), Error> {
        match call_php(&self.callable, vec![&key, &expires_at, &now], "replay") {
            Ok(z) => match z.dereference().bool() {
                Some(true) => Ok(()),
                Some(false) => Err(Error::Replayed),
                None => {
                    self.failure.set(Some(invalid("replay", "must return a bool")));
                    Err(Error::Replayed)
                }
            },
            Err(f) => {
                self.failure.set(Some(f));
                Err(Error::Replayed)
            }
        }
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

use ext_php_rs::boxed::ZBox;

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
    /// public URL for it, `headers`, `body`). `$secretFor(string $installId):
    /// ?string` returns the installation's secret (base64url, as registered).
    /// `$replay(string $key, int $expiresAt, int $now): bool` records a nonce
    /// (true) or reports it already seen (false); without it the verifier's
    /// in-memory store is used. Returns `install_id, created, expires, nonce,
    /// idempotency_key, bearer`.
    ///
    /// @throws \Tessera\Exception\VerificationException when the request does not verify
    pub fn verify(
        &self,
        request: ArrayArg,
        secretFor: CallableArg,
        replay: OptCallableArg,
        now: OptIntArg,
    ) -> Res<ZBox<ZendHashTable>> {
        guard(|| {
            let req = request_from_php(request.get("request")?)?;
            let lookup = SecretLookup::new(secretFor.get("secretFor")?);
            let now = now.get("now")?.unwrap_or_else(unix_now);
            let mut secret_fn = |id: &str| lookup.lookup(id);
            let result = match replay.get("replay")? {
                Some(callable) => {
                    let mut store = PhpReplayStore { callable, failure: Cell::new(None) };
                    let r = self.core.verify(&req, now, &mut secret_fn, &mut store);
                    if let Some(f) = store.failure.take() {
                        return Err(f);
                    }
                    r
                }
                None => match &self.replay {
                    Some(replay) => {
                        let mut store = replay.try_borrow_mut().map_err(|_| crate::errors::busy())?;
                        self.core.verify(&req, now, &mut secret_fn, &mut *store)
                    }
                    None => self.core.verify(&req, now, &mut secret_fn, &mut NoReplayStore),
                },
            };
            lookup.finish(result).map(|v| verified_to_php(&v))
        })
    }

    /// Verifies a connect URL (absolute, or just its query). Returns
    /// `install_id, state, return_url, scope, ts`.
    ///
    /// @throws \Tessera\Exception\VerificationException when it does not verify
    pub fn verify_connect_url(url: StrArg, secretFor: CallableArg, now: OptIntArg) -> Res<ZBox<ZendHashTable>> {
        guard(|| {
            let url = url.utf8("url")?;
            let lookup = SecretLookup::new(secretFor.get("secretFor")?);
            let now = now.get("now")?.unwrap_or_else(unix_now);
            let r = connect::verify_connect_url(url, now, &mut |id: &str| lookup.lookup(id));
            let p = lookup.finish(r)?;
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
    /// (taken from the path); returns the ticket's `ts`. `$maxAgeSecs`
    /// defaults to 7 days (`UNINSTALL_TICKET_MAX_AGE_SECS`).
    ///
    /// @throws \Tessera\Exception\VerificationException when it does not verify
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
            let lookup = SecretLookup::new(secretFor.get("secretFor")?);
            let max_age = maxAgeSecs.get("maxAgeSecs")?.unwrap_or(connect::UNINSTALL_TICKET_MAX_AGE_SECS);
            let now = now.get("now")?.unwrap_or_else(unix_now);
            let r = connect::verify_uninstall_ticket(install_id, url, now, max_age, &mut |id: &str| lookup.lookup(id));
            lookup.finish(r)
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
            let (base, signature) = tessera_core::signature::hmac_sign_generic(
                &req,
                signatureInput.utf8("signatureInput")?,
                key.bytes("key")?,
            )?;
            Ok(Assoc::new().str("signature_base", &base).str("signature", &signature).build())
        })
    }

    /// Checks an ownership proof fetched from the site, in constant time.
    /// `$secret` is the installation's secret (base64url, as registered).
    ///
    /// @throws \Tessera\Exception\VerificationException when it does not match
    pub fn verify_ownership_proof(secret: StrArg, installId: StrArg, challenge: StrArg, proof: StrArg) -> Res<()> {
        guard(|| {
            let secret = Secret::from_base64url(secret.utf8("secret")?)?;
            registration::verify_ownership_proof(
                &secret,
                installId.utf8("installId")?,
                challenge.utf8("challenge")?,
                proof.utf8("proof")?,
            )
            .map_err(Failure::from)
        })
    }
}
