//! `tessera-broker`: the reference broker as a standalone server.
//!
//! Configured from the environment (the client secret and keys never go on
//! the command line, where `ps` would show them):
//!
//! | variable | meaning |
//! |---|---|
//! | `TESSERA_STORA_URL` | Stora base URL (required) |
//! | `TESSERA_CLIENT_ID` | OAuth client id (required) |
//! | `TESSERA_CLIENT_SECRET` | OAuth client secret (required) |
//! | `TESSERA_STORAGE_KEY` | 32 bytes, base64url: seals secrets and tokens at rest (required; losing it loses every grant) |
//! | `TESSERA_ADMIN_TOKEN` | bearer token of `/admin/…` (required) |
//! | `TESSERA_DB` | SQLite file (default `tessera-broker.sqlite3`) |
//! | `TESSERA_PUBLIC_URL` | the URL plugins are configured with (default `http://127.0.0.1:{port}`) |
//! | `TESSERA_PORT` | port on 127.0.0.1 (default 0: ephemeral); put a TLS terminator in front |
//! | `TESSERA_REQUIRE_OWNERSHIP` | `1`: ownership challenge at registration (and site move) for web sites of the platforms in `TESSERA_PROOF_PLATFORMS` |
//! | `TESSERA_PROOF_PLATFORMS` | the platforms whose web sites owe the proof, separated by spaces or commas; `*` = every platform (the default when `TESSERA_REQUIRE_OWNERSHIP=1`; setting this variable alone also turns proofs on). The platform is self-declared: naming only some lets a registrant skip the proof by declaring another. Browser extensions are never challenged |
//! | `TESSERA_ALLOWED_EXTENSION_IDS` | the browser extensions that may register (the `<id>` of `chrome-extension://<id>` / `moz-extension://<id>`), separated by spaces or commas; unset or empty: none (`403 extension_not_allowed`); `*`: every extension (development only) |
//! | `TESSERA_DEFAULT_SCOPE` | scope when the plugin names none (default `public.order:read`) |
//! | `TESSERA_ALLOWED_SCOPES` | the scopes a connect link may ask for, space-separated (default: the default scope); anything else is refused before Stora |
//! | `TESSERA_INSTALLATION_IDLE_DAYS` | forget installations that have not signed a request (or opened a signed link) for this many days, revoking their Stora grants (default 180; `0`: never) |
//! | `TESSERA_PACE_PER_SEC` | calls forwarded to Stora per operator in any one-second window (default 10, Stora's limit; `0`: no per-second pacing) |
//! | `TESSERA_PACE_PER_MIN` | the same in any sixty-second window (default 60; `0`: none; both `0`: pacing off) |
//! | `TESSERA_PACE_MAX_WAIT_MS` | longest a call waits for its operator's next slot before the broker answers `429 rate_limited` itself (default 2000) |
//! | `TESSERA_PACE_OVERRIDES` | per-operator limits, `opr_a=20/120,opr_b=5/30` (Stora account id = per second / per minute) |
//! | `TESSERA_MAX_LIFETIME` | stop after this many seconds (default: run until killed) |
//!
//! Prints `tessera-broker listening on http://127.0.0.1:PORT`, then one JSON
//! log line per call on standard error.

use std::time::Duration;

use tessera_broker::{Broker, BrokerConfig};

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required(name: &str) -> String {
    var(name).unwrap_or_else(|| {
        eprintln!("tessera-broker: {name} is required");
        std::process::exit(2)
    })
}

fn main() {
    let key_text = required("TESSERA_STORAGE_KEY");
    let key: [u8; 32] = tessera_core::internals::encoding::b64url_decode(&key_text)
        .and_then(|k| k.try_into().ok())
        .unwrap_or_else(|| {
            eprintln!("tessera-broker: TESSERA_STORAGE_KEY must be 32 bytes, base64url");
            std::process::exit(2)
        });
    let mut config = BrokerConfig::new(
        &required("TESSERA_STORA_URL"),
        &required("TESSERA_CLIENT_ID"),
        &required("TESSERA_CLIENT_SECRET"),
        var("TESSERA_DB").unwrap_or_else(|| "tessera-broker.sqlite3".into()).into(),
    );
    config.storage_key = key;
    config.admin_token = required("TESSERA_ADMIN_TOKEN");
    config.public_url = var("TESSERA_PUBLIC_URL");
    let list = |v: String| v.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>();
    config.require_ownership_proof(var("TESSERA_REQUIRE_OWNERSHIP").as_deref() == Some("1"));
    if let Some(platforms) = var("TESSERA_PROOF_PLATFORMS") {
        config.require_ownership_proof_for = list(platforms).into_iter().collect();
    }
    config.allowed_extension_ids = var("TESSERA_ALLOWED_EXTENSION_IDS").map(list).unwrap_or_default();
    if config.allowed_extension_ids.iter().any(|id| id == tessera_broker::WILDCARD) {
        eprintln!("tessera-broker: TESSERA_ALLOWED_EXTENSION_IDS=* admits every browser extension (development only)");
    }
    if let Some(scope) = var("TESSERA_DEFAULT_SCOPE") {
        config.default_scope = scope;
    }
    config.allowed_scopes = match var("TESSERA_ALLOWED_SCOPES") {
        Some(list) => list.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        None => config.default_scope.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
    };
    if let Some(days) = var("TESSERA_INSTALLATION_IDLE_DAYS") {
        config.installation_idle_days = days.parse().unwrap_or_else(|_| {
            eprintln!("tessera-broker: TESSERA_INSTALLATION_IDLE_DAYS must be a number of days (0: never)");
            std::process::exit(2)
        });
    }
    let number = |name: &str, default: u64| -> u64 {
        var(name).map_or(default, |v| {
            v.parse().unwrap_or_else(|_| {
                eprintln!("tessera-broker: {name} must be a whole number");
                std::process::exit(2)
            })
        })
    };
    let pace = &mut config.pacing;
    pace.per_sec = u32::try_from(number("TESSERA_PACE_PER_SEC", pace.per_sec.into())).unwrap_or(u32::MAX);
    pace.per_min = u32::try_from(number("TESSERA_PACE_PER_MIN", pace.per_min.into())).unwrap_or(u32::MAX);
    pace.max_queue_ms = number("TESSERA_PACE_MAX_WAIT_MS", pace.max_queue_ms);
    if let Some(text) = var("TESSERA_PACE_OVERRIDES") {
        pace.overrides = tessera_broker::pacing::Pacing::parse_overrides(&text).unwrap_or_else(|e| {
            eprintln!("tessera-broker: TESSERA_PACE_OVERRIDES: {e}");
            std::process::exit(2)
        });
    }
    let port: u16 = var("TESSERA_PORT").and_then(|p| p.parse().ok()).unwrap_or(0);
    let broker = Broker::start_on(config, port).unwrap_or_else(|e| {
        eprintln!("tessera-broker: cannot start: {e}");
        std::process::exit(1)
    });
    println!("tessera-broker listening on {}", broker.url());
    match var("TESSERA_MAX_LIFETIME").and_then(|s| s.parse::<u64>().ok()) {
        Some(secs) => std::thread::sleep(Duration::from_secs(secs)),
        None => loop {
            std::thread::park();
        },
    }
    drop(broker);
}
