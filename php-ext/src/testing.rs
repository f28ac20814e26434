//! `Tessera\Testing\…`: the test hooks, compiled only into the test build
//! (feature `test-hooks`, `scripts/build-php.sh --test-hooks` →
//! `tessera-test.so`). The shipped `tessera.so` has none of them: no way to
//! make a companion's randomness predictable, its clock scripted, or its
//! connect `state` chosen by the caller. The pure-PHP package has the same
//! functions in `php/tests/testing.php`, outside the package's autoload.
// PHP parameter names (the named-argument names) are camelCase.
#![allow(non_snake_case)]

use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendClassObject, Zval};

use crate::companion::Companion;
use crate::convert::{OptCallableArg, OptIntArg, OptStrArg, StrArg};
use crate::errors::{Res, busy, guard, invalid};

/// Draw `$companion`'s randomness (install id, secret, nonces, idempotency
/// keys, backoff jitter, connect state, seal nonces) from the core's
/// `SeededEntropy($seed)`, one stream across calls. `$seed` is exactly 32
/// bytes; `null` returns to the OS CSPRNG.
///
/// @throws \Tessera\Exception\InvalidInputException when the seed is not 32 bytes
#[php_function]
#[php(name = "Tessera\\Testing\\useSeededEntropy")]
pub fn use_seeded_entropy(companion: &ZendClassObject<Companion>, seed: OptStrArg) -> Res<()> {
    guard(|| {
        let seed = match seed.bytes("seed")? {
            Some(b) => Some(<[u8; 32]>::try_from(b).map_err(|_| invalid("seed", "must be exactly 32 bytes"))?),
            None => None,
        };
        companion.test_hooks().try_borrow_mut().map_err(|_| busy())?.set_seed(seed);
        Ok(())
    })
}

/// Read `$companion`'s `now` from `$clock(): int` (unix seconds) instead of
/// the system clock, in the drivers (once per event fed to the step machine)
/// and in every method whose `$now` is omitted. `null` returns to the system
/// clock.
///
/// @throws \Tessera\Exception\InvalidInputException when `$clock` is not callable
#[php_function]
#[php(name = "Tessera\\Testing\\useClock")]
pub fn use_clock(companion: &ZendClassObject<Companion>, clock: OptCallableArg) -> Res<()> {
    guard(|| {
        clock.get("clock")?;
        let clock = clock.0.map(Zval::shallow_clone);
        companion.test_hooks().try_borrow_mut().map_err(|_| busy())?.set_clock(clock);
        Ok(())
    })
}

/// `$companion->connectUrl()` with a fixed `$state` (16-128 characters of
/// `[A-Za-z0-9._~-]`) instead of 16 random bytes: reproducible vectors.
///
/// @throws \Tessera\Exception\InvalidInputException
/// @throws \Tessera\Exception\InvalidStateException
#[php_function]
#[php(name = "Tessera\\Testing\\connectUrl")]
pub fn connect_url(
    companion: &ZendClassObject<Companion>,
    returnUrl: StrArg,
    scope: OptStrArg,
    now: OptIntArg,
    state: StrArg,
) -> Res<String> {
    guard(|| {
        let return_url = returnUrl.utf8("returnUrl")?;
        let scope = scope.utf8("scope")?;
        companion.connect_url_with_state(return_url, scope, &now, &state)
    })
}

/// `Tessera\Testing\macChecks(): int`: the MACs verification computed so far
/// in this process (the core's `verify::mac_checks`), so a test proves that a
/// verification computes its MAC once.
#[php_function]
#[php(name = "Tessera\\Testing\\macChecks")]
pub fn mac_checks() -> i64 {
    i64::try_from(tessera_core::internals::verify::mac_checks()).unwrap_or(i64::MAX)
}

/// Adds the functions above to the module (their generated wrappers are
/// private to this file).
pub fn register(module: ModuleBuilder) -> ModuleBuilder {
    module
        .function(wrap_function!(use_seeded_entropy))
        .function(wrap_function!(use_clock))
        .function(wrap_function!(connect_url))
        .function(wrap_function!(mac_checks))
}
