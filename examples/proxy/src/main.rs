//! `tessera-proxy`: the reference authorization proxy as a standalone server.
//!
//! Configured from the environment, with the broker's variables for what it
//! shares with the broker (`examples/broker/src/main.rs`), plus its own key:
//!
//! | variable | meaning |
//! |---|---|
//! | `TESSERA_PROXY_KEY` | 32-64 random bytes, base64url: signs the proxy's OAuth states and code contexts (required; never the client secret — refused) |
//! | `TESSERA_STORA_URL` | Stora base URL (required) |
//! | `TESSERA_CLIENT_ID`, `TESSERA_CLIENT_SECRET` | the OAuth client (required); the secret is only ever sent to Stora |
//! | `TESSERA_STORAGE_KEY` | 32 bytes, base64url: seals the installations' secrets at rest (required) |
//! | `TESSERA_ADMIN_TOKEN` | bearer token of the kill switch, `/admin/installations/{id}/disable|enable` (required) |
//! | `TESSERA_DB` | SQLite file of the installation registry (default `tessera-proxy.sqlite3`) |
//! | `TESSERA_PUBLIC_URL` | the URL plugins are configured with; `{it}/callback` is the redirect URI registered with Stora (default `http://127.0.0.1:{port}`) |
//! | `TESSERA_PORT` | port on 127.0.0.1 (default 0: ephemeral); put a TLS terminator in front |
//! | `TESSERA_DEFAULT_SCOPE`, `TESSERA_ALLOWED_SCOPES` | the scope when a link names none, and the scopes a link may ask for (space-separated) |
//! | `TESSERA_REQUIRE_OWNERSHIP`, `TESSERA_PROOF_PLATFORMS`, `TESSERA_ALLOWED_EXTENSION_IDS`, `TESSERA_INSTALLATION_IDLE_DAYS` | registration policy, as the broker's |
//! | `TESSERA_LOCAL_DEVELOPMENT` | `1`: accept `http` sites and return URLs on loopback hosts (never in production) |
//! | `TESSERA_MAX_LIFETIME` | stop after this many seconds (default: run until killed) |
//!
//! Prints `tessera-proxy listening on http://127.0.0.1:PORT`, then one JSON
//! log line per call on standard error (route, installation, status, error
//! code: never a token, code, code context, state or key).

use tessera_broker::env;
use tessera_proxy::{Proxy, ProxyConfig};
use zeroize::Zeroizing;

fn fail(message: &str, code: i32) -> ! {
    eprintln!("tessera-proxy: {message}");
    std::process::exit(code)
}

fn main() {
    let mut registry = env::config_from_env().unwrap_or_else(|e| fail(&e, 2));
    if env::var("TESSERA_DB").is_none() {
        registry.db_path = "tessera-proxy.sqlite3".into();
    }
    registry.allow_loopback_sites = env::var("TESSERA_LOCAL_DEVELOPMENT").as_deref() == Some("1");
    let key = Zeroizing::new(env::required("TESSERA_PROXY_KEY").unwrap_or_else(|e| fail(&e, 2)));
    let config =
        ProxyConfig::from_base64url(registry, &key).unwrap_or_else(|e| fail(&format!("TESSERA_PROXY_KEY: {e}"), 2));
    drop(key);
    if let Err(e) = config.proxy_key() {
        fail(&format!("TESSERA_PROXY_KEY: {e}"), 2);
    }
    let proxy = Proxy::start_on(config, env::port()).unwrap_or_else(|e| fail(&format!("cannot start: {e}"), 1));
    println!("tessera-proxy listening on {}", proxy.url());
    env::wait_for_lifetime();
    drop(proxy);
}
