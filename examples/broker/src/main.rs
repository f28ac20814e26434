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
//! | `DATABASE_URL` | `postgres://user@host:port/db`: the state in PostgreSQL, shared by every instance started with the same URL, storage key, admin token and public URL (run as many as you like behind one load balancer); `sqlite:PATH`: a SQLite file. Unset: `TESSERA_DB` |
//! | `TESSERA_DB` | SQLite file (default `tessera-broker.sqlite3`): one instance |
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
//! | `TESSERA_REPLAY_CAPACITY` | live nonces kept per installation; an installation that fills its share is answered `503 replay_store_full` (default 1000) |
//! | `TESSERA_REFRESH_MARGIN_SECS` | refresh Stora's access token when it expires within this many seconds (default 300) |
//! | `TESSERA_MAX_LIFETIME` | stop after this many seconds (default: run until killed) |
//!
//! Prints `tessera-broker listening on http://127.0.0.1:PORT`, then one JSON
//! log line per call on standard error.

use tessera_broker::Broker;
use tessera_broker::env;

fn main() {
    let config = env::config_from_env().unwrap_or_else(|e| {
        eprintln!("tessera-broker: {e}");
        std::process::exit(2)
    });
    if config.allowed_extension_ids.iter().any(|id| id == tessera_broker::WILDCARD) {
        eprintln!("tessera-broker: TESSERA_ALLOWED_EXTENSION_IDS=* admits every browser extension (development only)");
    }
    let broker = Broker::start_on(config, env::port()).unwrap_or_else(|e| {
        eprintln!("tessera-broker: cannot start: {e}");
        std::process::exit(1)
    });
    println!("tessera-broker listening on {}", broker.url());
    env::wait_for_lifetime();
    drop(broker);
}
