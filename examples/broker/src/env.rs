//! The broker's configuration from the environment (the `tessera-broker`
//! binary's table of variables), shared with the reference authorization
//! proxy's binary (`examples/proxy`), which reads the same variables for its
//! installation registry and Stora client. The client secret and keys come
//! from the environment, never the command line, where `ps` would show them.

use std::time::Duration;

use crate::BrokerConfig;
use crate::pacing::Pacing;

/// The variable `name`, when set and not empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The variable `name`, or the error `{name} is required`.
pub fn required(name: &str) -> Result<String, String> {
    var(name).ok_or_else(|| format!("{name} is required"))
}

/// A whole number from `name`, `default` when unset.
fn number(name: &str, default: u64) -> Result<u64, String> {
    var(name).map_or(Ok(default), |v| v.parse().map_err(|_| format!("{name} must be a whole number")))
}

/// Items separated by spaces or commas.
fn list(text: &str) -> Vec<String> {
    text.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// A [`BrokerConfig`] from the `TESSERA_*` variables of the broker's binary
/// (`src/main.rs` lists them); the message names the variable at fault.
pub fn config_from_env() -> Result<BrokerConfig, String> {
    let key: [u8; 32] = tessera_core::internals::encoding::b64url_decode(&required("TESSERA_STORAGE_KEY")?)
        .and_then(|k| k.try_into().ok())
        .ok_or("TESSERA_STORAGE_KEY must be 32 bytes, base64url")?;
    let mut config = BrokerConfig::new(
        &required("TESSERA_STORA_URL")?,
        &required("TESSERA_CLIENT_ID")?,
        &required("TESSERA_CLIENT_SECRET")?,
        var("TESSERA_DB").unwrap_or_else(|| "tessera-broker.sqlite3".into()).into(),
    );
    config.storage_key = key;
    if let Some(url) = var("DATABASE_URL") {
        config.database_url = Some(url);
        config.database()?;
    }
    config.admin_token = required("TESSERA_ADMIN_TOKEN")?;
    config.public_url = var("TESSERA_PUBLIC_URL");
    config.require_ownership_proof(var("TESSERA_REQUIRE_OWNERSHIP").as_deref() == Some("1"));
    if let Some(platforms) = var("TESSERA_PROOF_PLATFORMS") {
        config.require_ownership_proof_for = list(&platforms).into_iter().collect();
    }
    config.allowed_extension_ids = var("TESSERA_ALLOWED_EXTENSION_IDS").map(|v| list(&v)).unwrap_or_default();
    if let Some(scope) = var("TESSERA_DEFAULT_SCOPE") {
        config.default_scope = scope;
    }
    let scopes = var("TESSERA_ALLOWED_SCOPES").unwrap_or_else(|| config.default_scope.clone());
    config.allowed_scopes = scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
    if let Some(days) = var("TESSERA_INSTALLATION_IDLE_DAYS") {
        config.installation_idle_days = days
            .parse()
            .map_err(|_| "TESSERA_INSTALLATION_IDLE_DAYS must be a number of days (0: never)".to_string())?;
    }
    config.replay_capacity = usize::try_from(number("TESSERA_REPLAY_CAPACITY", config.replay_capacity as u64)?)
        .map_err(|_| "TESSERA_REPLAY_CAPACITY is too large".to_string())?;
    if let Some(secs) = var("TESSERA_REFRESH_MARGIN_SECS") {
        config.refresh_margin_secs =
            secs.parse().map_err(|_| "TESSERA_REFRESH_MARGIN_SECS must be a number of seconds".to_string())?;
    }
    let pace = &mut config.pacing;
    pace.per_sec = u32::try_from(number("TESSERA_PACE_PER_SEC", pace.per_sec.into())?).unwrap_or(u32::MAX);
    pace.per_min = u32::try_from(number("TESSERA_PACE_PER_MIN", pace.per_min.into())?).unwrap_or(u32::MAX);
    pace.max_queue_ms = number("TESSERA_PACE_MAX_WAIT_MS", pace.max_queue_ms)?;
    if let Some(text) = var("TESSERA_PACE_OVERRIDES") {
        pace.overrides = Pacing::parse_overrides(&text).map_err(|e| format!("TESSERA_PACE_OVERRIDES: {e}"))?;
    }
    Ok(config)
}

/// `TESSERA_PORT` (default 0: ephemeral).
pub fn port() -> u16 {
    var("TESSERA_PORT").and_then(|p| p.parse().ok()).unwrap_or(0)
}

/// Blocks for `TESSERA_MAX_LIFETIME` seconds, or forever when it is unset.
pub fn wait_for_lifetime() {
    match var("TESSERA_MAX_LIFETIME").and_then(|s| s.parse::<u64>().ok()) {
        Some(secs) => std::thread::sleep(Duration::from_secs(secs)),
        None => loop {
            std::thread::park();
        },
    }
}
