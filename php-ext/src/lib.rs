//! `tessera`: the PHP extension binding of tessera-core.
//!
//! Thin by design: every method converts PHP values to core types, calls the
//! core, and converts the result back. Core errors become
//! `Tessera\Exception\…` in one place ([`errors::class_for`]); a Rust panic
//! becomes a `TesseraException` with code `internal` ([`errors::guard`]).

use ext_php_rs::prelude::*;

pub mod companion;
pub mod convert;
pub mod errors;
pub mod events;
pub mod explain;
pub mod host;
pub mod previous;
pub mod records;
pub mod refresh_lock;
#[cfg(feature = "test-hooks")]
pub mod testing;
pub mod transports;
pub mod verifier;

/// Module startup: registers the exception classes (plain internal classes,
/// see [`errors`]) before the macro registers the Rust-backed classes.
unsafe extern "C" fn startup(_ty: i32, _module_number: i32) -> i32 {
    match std::panic::catch_unwind(errors::register) {
        Ok(Ok(())) => 0,
        _ => -1,
    }
}

/// Test-only: panics inside the binding, to prove a panic surfaces as a
/// `TesseraException` with code `internal` and the process survives.
#[cfg(feature = "test-hooks")]
#[php_function]
#[php(name = "Tessera\\Testing\\panic")]
pub fn test_panic() -> errors::Res<()> {
    // Keep the test output clean: no panic message for this deliberate one.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = errors::guard(|| panic!("deliberate test panic"));
    std::panic::set_hook(previous);
    result
}

/// The module entry point PHP calls when it loads `tessera.so`.
#[php_module]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    let module = module
        .name("tessera")
        .startup_function(startup)
        .class::<companion::Companion>()
        .class::<verifier::Verifier>()
        .class::<transports::Psr18Transport>()
        .class::<transports::WordPressTransport>();
    #[cfg(feature = "test-hooks")]
    let module = testing::register(module.function(wrap_function!(test_panic)));
    module
}
