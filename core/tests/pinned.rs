//! Tests that pin the core's checks, one module per source file (the
//! machine's split in two, the verifier's Content-Digest on its own). Each
//! test kills mutants that cargo-mutants found surviving the rest of the
//! suite: a check that can be broken without a test noticing is a check
//! that can be lost. `bash scripts/mutants.sh` proves it for the files listed
//! in .cargo/mutants.toml; core/mutants-equivalent.txt lists the few mutants
//! that change nothing observable.
//!
//! (A crate root's plain `mod x;` would look for tests/x.rs, hence the paths.)

#[path = "pinned/classify.rs"]
mod classify;
#[path = "pinned/companion.rs"]
mod companion;
#[path = "pinned/connect.rs"]
mod connect;
#[path = "pinned/events.rs"]
mod events;
#[path = "pinned/json.rs"]
mod json;
#[path = "pinned/machine.rs"]
mod machine;
#[path = "pinned/machine_leave.rs"]
mod machine_leave;
#[path = "pinned/metadata.rs"]
mod metadata;
#[path = "pinned/registration.rs"]
mod registration;
#[path = "pinned/seal.rs"]
mod seal;
#[path = "pinned/secret.rs"]
mod secret;
#[path = "pinned/sign.rs"]
mod sign;
#[path = "pinned/timeline.rs"]
mod timeline;
#[path = "pinned/url.rs"]
mod url;
#[path = "pinned/verify.rs"]
mod verify;
#[path = "pinned/verify_digest.rs"]
mod verify_digest;
