//! Storage: SQLite (through rusqlite, SQLite compiled in) as the embedded
//! default. One file holds four tables:
//!
//! * `installations`: one row per plugin installation (site URL, admin
//!   email, the sealed per-installation secret, status, ownership challenge,
//!   whether it proved its site, when it last signed);
//! * `connect_links`: every connect link opened (`install_id`, plugin
//!   `state`) until it expires, so that each opens once ([`connect`]);
//! * `connect_attempts`: one row per connect round, keyed by the broker's
//!   OAuth `state`: the SHA-256 of the browser cookie it is bound to, then
//!   the Stora tokens and account it obtained and the SHA-256 of its
//!   connect code, until the plugin completes it ([`connect`]);
//! * `grants`: the Stora grant of a connected installation: sealed access
//!   and refresh tokens, expiry, scope, the SHA-256 of the broker token
//!   the plugin presents, and the connect round it came from.
//!
//! Secrets are sealed by [`Vault`] before they reach SQL and opened after
//! they come back; nothing here ever logs a value. A partner swapping in
//! PostgreSQL keeps the same shape: the only property that matters is that
//! [`Store::rotate_tokens`] is one atomic compare-and-set.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use zeroize::Zeroizing;

use crate::crypto::Vault;

pub mod connect;

pub use connect::{AttemptStage, CodedAttempt, Completed, ConnectAttempt, Forgotten, LinkClaim, Obtained};

/// Result of storage calls.
pub type Result<T> = rusqlite::Result<T>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS installations (
    install_id     TEXT PRIMARY KEY,
    site_url       TEXT NOT NULL,
    admin_email    TEXT NOT NULL,
    platform       TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    secret         BLOB NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending_ownership', 'active', 'disabled')),
    challenge      TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    proven         INTEGER NOT NULL DEFAULT 0,
    last_seen      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS connect_links (
    install_id   TEXT NOT NULL REFERENCES installations(install_id) ON DELETE CASCADE,
    plugin_state TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    broker_state TEXT,
    PRIMARY KEY (install_id, plugin_state)
);
CREATE TABLE IF NOT EXISTS connect_attempts (
    broker_state      TEXT PRIMARY KEY,
    install_id        TEXT NOT NULL REFERENCES installations(install_id) ON DELETE CASCADE,
    plugin_state      TEXT NOT NULL,
    return_url        TEXT NOT NULL,
    scope             TEXT NOT NULL,
    expires_at        INTEGER NOT NULL,
    browser_hash      BLOB NOT NULL,
    stage             TEXT NOT NULL CHECK (stage IN ('consent', 'exchanging', 'authorized', 'completed')),
    access_token      BLOB,
    refresh_token     BLOB,
    access_expires_at INTEGER,
    granted_scope     TEXT,
    account_id        TEXT,
    account_name      TEXT,
    code_hash         BLOB UNIQUE,
    code_expires_at   INTEGER,
    completion_key    TEXT
);
CREATE TABLE IF NOT EXISTS grants (
    install_id        TEXT PRIMARY KEY REFERENCES installations(install_id) ON DELETE CASCADE,
    broker_token_hash BLOB NOT NULL UNIQUE,
    access_token      BLOB NOT NULL,
    refresh_token     BLOB NOT NULL,
    access_expires_at INTEGER NOT NULL,
    scope             TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    generation        INTEGER NOT NULL,
    connected_at      INTEGER NOT NULL,
    refreshed_at      INTEGER,
    connect_round     TEXT,
    account_id        TEXT
);
";

/// The schema version [`Store::open`] migrates to (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 3;

/// Brings an older database to [`SCHEMA_VERSION`], then creates what is
/// missing. Version 1 (single-use connect links, browser binding, connect
/// codes): `connect_attempts` changed shape — its rows live ten minutes, so
/// it is recreated rather than altered — and `grants` remembers the connect
/// round that made it (`connect_round`). Version 2 (revoke a previous
/// installation, idle expiry): `installations` remembers whether the
/// installation proved its site (`proven`; rows from before are `0`: nobody
/// knows) and when it last signed (`last_seen`; rows from before start their
/// idle time at the migration). Version 3 (per-operator pacing): `grants`
/// remembers the Stora account it belongs to (`account_id`; grants from
/// before have none and are paced per installation until they reconnect).
fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 1 {
        conn.execute_batch("DROP TABLE IF EXISTS connect_attempts;")?;
        let grants_without_round: i64 = conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'grants'
               AND NOT EXISTS (SELECT 1 FROM pragma_table_info('grants') WHERE name = 'connect_round')",
            [],
            |r| r.get(0),
        )?;
        if grants_without_round == 1 {
            conn.execute_batch("ALTER TABLE grants ADD COLUMN connect_round TEXT;")?;
        }
    }
    if version < 2 {
        let installations_without_proven: i64 = conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'installations'
               AND NOT EXISTS (SELECT 1 FROM pragma_table_info('installations') WHERE name = 'proven')",
            [],
            |r| r.get(0),
        )?;
        if installations_without_proven == 1 {
            conn.execute_batch(
                "ALTER TABLE installations ADD COLUMN proven INTEGER NOT NULL DEFAULT 0;
                 ALTER TABLE installations ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
                 UPDATE installations SET last_seen = CAST(strftime('%s', 'now') AS INTEGER);",
            )?;
        }
    }
    if version < 3 {
        let grants_without_account: i64 = conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'grants'
               AND NOT EXISTS (SELECT 1 FROM pragma_table_info('grants') WHERE name = 'account_id')",
            [],
            |r| r.get(0),
        )?;
        if grants_without_account == 1 {
            conn.execute_batch("ALTER TABLE grants ADD COLUMN account_id TEXT;")?;
        }
    }
    conn.execute_batch(SCHEMA)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

/// Lifecycle of an installation row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallStatus {
    /// Registered, waiting for the ownership proof.
    PendingOwnership,
    /// Registered (and proven when proofs are required).
    Active,
    /// Cut off by the operator of the broker (kill switch).
    Disabled,
}

impl InstallStatus {
    /// Database / wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InstallStatus::PendingOwnership => "pending_ownership",
            InstallStatus::Active => "active",
            InstallStatus::Disabled => "disabled",
        }
    }

    fn parse(s: &str) -> InstallStatus {
        match s {
            "active" => InstallStatus::Active,
            "pending_ownership" => InstallStatus::PendingOwnership,
            _ => InstallStatus::Disabled,
        }
    }
}

/// Fields of a registration.
#[derive(Clone)]
pub struct NewInstallation {
    /// `ins_…`, chosen by the plugin.
    pub install_id: String,
    /// The site URL the plugin reported.
    pub site_url: String,
    /// The admin's email.
    pub admin_email: String,
    /// `wordpress`, `browser-extension`, …
    pub platform: String,
    /// Plugin version string.
    pub plugin_version: String,
    /// The per-installation secret (raw bytes).
    pub secret: Zeroizing<Vec<u8>>,
}

/// An installation as stored (secret opened).
pub struct Installation {
    /// Installation id.
    pub install_id: String,
    /// Registered site URL.
    pub site_url: String,
    /// Admin email.
    pub admin_email: String,
    /// Platform.
    pub platform: String,
    /// Plugin version.
    pub plugin_version: String,
    /// The per-installation secret.
    pub secret: Zeroizing<Vec<u8>>,
    /// Status.
    pub status: InstallStatus,
    /// Pending ownership challenge.
    pub challenge: Option<String>,
    /// Whether the installation proved ownership of `site_url` (§5.2): set
    /// when its registration or site move passed the proof; `false` for one
    /// registered (or moved) without a proof, and while a move waits for it.
    pub proven: bool,
    /// When it last made a verified signed request or opened a URL-signed
    /// link (written at most hourly), or registered. Unix seconds.
    pub last_seen: i64,
}

/// An installation as the admin listing shows it: no secret, no email.
#[derive(Clone, Debug)]
pub struct InstallationSummary {
    /// Installation id.
    pub install_id: String,
    /// Registered site URL.
    pub site_url: String,
    /// Platform.
    pub platform: String,
    /// Plugin version.
    pub plugin_version: String,
    /// Status.
    pub status: InstallStatus,
    /// Whether it proved ownership of `site_url`.
    pub proven: bool,
    /// When it last signed (unix seconds; written at most hourly).
    pub last_seen: i64,
    /// Whether it holds an active Stora grant (connected, not revoked).
    pub connected: bool,
}

/// Fresh tokens from Stora.
pub struct NewTokens {
    /// Access token.
    pub access_token: Zeroizing<String>,
    /// Refresh token.
    pub refresh_token: Zeroizing<String>,
    /// Unix time the access token expires.
    pub expires_at: i64,
    /// Granted scope.
    pub scope: String,
}

/// A stored grant (tokens opened).
pub struct Grant {
    /// Installation.
    pub install_id: String,
    /// Current access token (empty once revoked).
    pub access_token: Zeroizing<String>,
    /// Current refresh token (empty once revoked).
    pub refresh_token: Zeroizing<String>,
    /// Unix time the access token expires.
    pub access_expires_at: i64,
    /// Granted scope.
    pub scope: String,
    /// Whether Stora said the grant is gone.
    pub revoked: bool,
    /// Bumped on every rotation; [`Store::rotate_tokens`] compares it.
    pub generation: i64,
    /// The Stora account (operator) the grant belongs to, as Stora named it
    /// at connect time. `None` for grants stored before schema version 3.
    pub account_id: Option<String>,
}

/// Idle connections kept for reuse.
const POOL_IDLE_MAX: usize = 16;

/// The broker's database: a small pool of SQLite connections (WAL mode, so
/// readers run in parallel and writers queue on SQLite's own lock).
pub struct Store {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    vault: Vault,
}

/// A pooled connection; goes back to the pool when dropped.
struct Pooled<'a> {
    store: &'a Store,
    conn: Option<Connection>,
}

impl Deref for Pooled<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self.store.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < POOL_IDLE_MAX {
                idle.push(conn);
            }
        }
    }
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path, vault: Vault) -> Result<Store> {
        let conn = open_connection(path)?;
        migrate(&conn)?;
        Ok(Store { path: path.to_path_buf(), idle: Mutex::new(vec![conn]), vault })
    }

    fn conn(&self) -> Result<Pooled<'_>> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_connection(&self.path)?,
        };
        Ok(Pooled { store: self, conn: Some(conn) })
    }

    // ---- installations ------------------------------------------------------

    /// Inserts a new installation. Fails (constraint) if the id exists.
    pub fn insert_installation(
        &self,
        new: &NewInstallation,
        status: InstallStatus,
        challenge: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let secret = self.vault.seal("secret", &new.install_id, &new.secret);
        self.conn()?.execute(
            "INSERT INTO installations (install_id, site_url, admin_email, platform, plugin_version,
                                        secret, status, challenge, created_at, updated_at, proven, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 0, ?9)",
            params![
                new.install_id,
                new.site_url,
                new.admin_email,
                new.platform,
                new.plugin_version,
                secret,
                status.as_str(),
                challenge,
                now
            ],
        )?;
        Ok(())
    }

    /// Loads an installation. A secret that does not open is reported as a
    /// SQLite conversion error (the row is unusable, never "empty").
    pub fn installation(&self, install_id: &str) -> Result<Option<Installation>> {
        let row = self
            .conn()?
            .query_row(
                "SELECT site_url, admin_email, platform, plugin_version, secret, status, challenge, proven, last_seen
                 FROM installations WHERE install_id = ?1",
                params![install_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Vec<u8>>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, bool>(7)?,
                        r.get::<_, i64>(8)?,
                    ))
                },
            )
            .optional()?;
        let Some((site_url, admin_email, platform, plugin_version, sealed, status, challenge, proven, last_seen)) = row
        else {
            return Ok(None);
        };
        let secret =
            self.vault.open("secret", install_id, &sealed).ok_or_else(|| undecryptable("installations.secret"))?;
        Ok(Some(Installation {
            install_id: install_id.to_string(),
            site_url,
            admin_email,
            platform,
            plugin_version,
            secret,
            status: InstallStatus::parse(&status),
            challenge,
            proven,
            last_seen,
        }))
    }

    /// The site URL of an installation (no secret opened). `None` if unknown.
    pub fn site_of(&self, install_id: &str) -> Result<Option<String>> {
        self.conn()?
            .query_row("SELECT site_url FROM installations WHERE install_id = ?1", params![install_id], |r| r.get(0))
            .optional()
    }

    /// The installation passed its ownership proof at its current site URL:
    /// active, challenge cleared, `proven`. `false` if unknown.
    pub fn set_proven(&self, install_id: &str, now: i64) -> Result<bool> {
        Ok(self.conn()?.execute(
            "UPDATE installations SET status = ?2, challenge = NULL, proven = 1, updated_at = ?3
             WHERE install_id = ?1",
            params![install_id, InstallStatus::Active.as_str(), now],
        )? == 1)
    }

    /// Records that the installation signed at `now`.
    pub fn touch_last_seen(&self, install_id: &str, now: i64) -> Result<()> {
        self.conn()?.execute(
            "UPDATE installations SET last_seen = ?2 WHERE install_id = ?1 AND last_seen < ?2",
            params![install_id, now],
        )?;
        Ok(())
    }

    /// When an installation was last seen. `None` if unknown.
    pub fn last_seen(&self, install_id: &str) -> Result<Option<i64>> {
        self.conn()?
            .query_row("SELECT last_seen FROM installations WHERE install_id = ?1", params![install_id], |r| r.get(0))
            .optional()
    }

    /// The installations (of any status) not seen since `before`.
    pub fn idle_installations(&self, before: i64) -> Result<Vec<String>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT install_id FROM installations WHERE last_seen < ?1 ORDER BY last_seen")?;
        let rows = stmt.query_map(params![before], |r| r.get(0))?;
        rows.collect()
    }

    /// Changes the status (and clears the challenge). `false` if unknown.
    pub fn set_installation_status(&self, install_id: &str, status: InstallStatus, now: i64) -> Result<bool> {
        Ok(self.conn()?.execute(
            "UPDATE installations SET status = ?2, challenge = NULL, updated_at = ?3 WHERE install_id = ?1",
            params![install_id, status.as_str(), now],
        )? == 1)
    }

    /// Records a new site URL (the site moved without a proof round): a
    /// different address is not proven. `false` if unknown.
    pub fn update_site_url(&self, install_id: &str, site_url: &str, now: i64) -> Result<bool> {
        Ok(self.conn()?.execute(
            "UPDATE installations SET proven = (proven AND site_url = ?2), site_url = ?2, updated_at = ?3
             WHERE install_id = ?1",
            params![install_id, site_url, now],
        )? == 1)
    }

    /// Parks a move to `site_url` until the new address proves ownership:
    /// status `pending_ownership` with a fresh challenge (the registration
    /// round then activates it). `false` if unknown.
    pub fn begin_site_move(&self, install_id: &str, site_url: &str, challenge: &str, now: i64) -> Result<bool> {
        Ok(self.conn()?.execute(
            "UPDATE installations SET site_url = ?2, status = ?3, challenge = ?4, proven = 0, updated_at = ?5
             WHERE install_id = ?1",
            params![install_id, site_url, InstallStatus::PendingOwnership.as_str(), challenge, now],
        )? == 1)
    }

    /// Deletes an installation with its grant and connect attempts.
    pub fn delete_installation(&self, install_id: &str) -> Result<bool> {
        Ok(self.conn()?.execute("DELETE FROM installations WHERE install_id = ?1", params![install_id])? == 1)
    }

    /// Number of installations per status.
    pub fn installation_counts(&self) -> Result<Vec<(String, i64)>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT status, COUNT(*) FROM installations GROUP BY status ORDER BY status")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// A page of installations, ordered by id, for the admin listing: those
    /// with `status` (every status when `None`) whose id sorts after `after`
    /// (keyset pagination: pass the last id of the previous page), at most
    /// `limit`. No secret is read. Plain SQL that any engine runs as is.
    pub fn list_installations(
        &self,
        status: Option<InstallStatus>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<InstallationSummary>> {
        // Every id starts with `ins_`, so "" sorts before all of them; the
        // status filter is added only when asked for (rather than
        // `?3 IS NULL OR …`, whose untyped parameter other engines refuse).
        let filter = if status.is_some() { "AND i.status = ?3" } else { "" };
        let sql = format!(
            "SELECT i.install_id, i.site_url, i.platform, i.plugin_version, i.status, i.proven, i.last_seen,
                    CASE WHEN g.status = 'active' THEN 1 ELSE 0 END
             FROM installations i LEFT JOIN grants g ON g.install_id = i.install_id
             WHERE i.install_id > ?1 {filter}
             ORDER BY i.install_id LIMIT ?2"
        );
        let after = after.unwrap_or("");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let status = status.map(InstallStatus::as_str);
        let mut args: Vec<&dyn rusqlite::ToSql> = vec![&after, &limit];
        if let Some(status) = &status {
            args.push(status);
        }
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(&args[..], |r| {
            Ok(InstallationSummary {
                install_id: r.get(0)?,
                site_url: r.get(1)?,
                platform: r.get(2)?,
                plugin_version: r.get(3)?,
                status: InstallStatus::parse(&r.get::<_, String>(4)?),
                proven: r.get(5)?,
                last_seen: r.get(6)?,
                connected: r.get(7)?,
            })
        })?;
        rows.collect()
    }

    // ---- grants -------------------------------------------------------------

    /// Stores the grant of a (re)connected installation, replacing any
    /// previous one and its broker token (a new generation). `connect_round`
    /// is the broker state of the connect round that produced it.
    pub fn save_grant(
        &self,
        install_id: &str,
        broker_token_hash: &[u8],
        grant: &GrantSource<'_>,
        now: i64,
    ) -> Result<()> {
        upsert_grant(&*self.conn()?, &self.vault, install_id, broker_token_hash, grant, now)
    }

    /// The installation a broker token (by hash) belongs to.
    pub fn install_for_token(&self, broker_token_hash: &[u8]) -> Result<Option<String>> {
        self.conn()?
            .query_row("SELECT install_id FROM grants WHERE broker_token_hash = ?1", params![broker_token_hash], |r| {
                r.get(0)
            })
            .optional()
    }

    /// Loads the grant of an installation.
    pub fn grant(&self, install_id: &str) -> Result<Option<Grant>> {
        let row = self
            .conn()?
            .query_row(
                "SELECT access_token, refresh_token, access_expires_at, scope, status, generation, account_id
                 FROM grants WHERE install_id = ?1",
                params![install_id],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, Option<String>>(6)?,
                    ))
                },
            )
            .optional()?;
        let Some((access, refresh, access_expires_at, scope, status, generation, account_id)) = row else {
            return Ok(None);
        };
        let revoked = status == "revoked";
        let open = |column: &str, sealed: &[u8]| -> Result<Zeroizing<String>> {
            if revoked {
                return Ok(Zeroizing::new(String::new()));
            }
            self.vault.open_string(column, install_id, sealed).ok_or_else(|| undecryptable(column))
        };
        Ok(Some(Grant {
            install_id: install_id.to_string(),
            access_token: open("access_token", &access)?,
            refresh_token: open("refresh_token", &refresh)?,
            access_expires_at,
            scope,
            revoked,
            generation,
            account_id,
        }))
    }

    /// Writes a rotated token pair if the grant is still at `generation`
    /// (compare-and-set). Returns `false` when another writer got there
    /// first; the caller then re-reads.
    pub fn rotate_tokens(&self, install_id: &str, generation: i64, tokens: &NewTokens, now: i64) -> Result<bool> {
        let access = self.vault.seal("access_token", install_id, tokens.access_token.as_bytes());
        let refresh = self.vault.seal("refresh_token", install_id, tokens.refresh_token.as_bytes());
        Ok(self.conn()?.execute(
            "UPDATE grants SET access_token = ?3, refresh_token = ?4, access_expires_at = ?5,
                               scope = ?6, generation = generation + 1, refreshed_at = ?7
             WHERE install_id = ?1 AND generation = ?2 AND status = 'active'",
            params![install_id, generation, access, refresh, tokens.expires_at, tokens.scope, now],
        )? == 1)
    }

    /// Stora said the grant is gone: wipe the tokens, keep the row so the
    /// plugin's broker token maps to `stora_reconnect_required`. Only the
    /// grant still at `generation` is marked (compare-and-set): a reconnect
    /// or a rotation that landed since the caller read it is a different
    /// grant, and Stora's answer was not about it. Returns whether it was
    /// marked. Callers hold the installation's refresh lock.
    pub fn mark_grant_revoked(&self, install_id: &str, generation: i64) -> Result<bool> {
        Ok(self.conn()?.execute(
            "UPDATE grants SET status = 'revoked', access_token = x'', refresh_token = x'',
                               generation = generation + 1
             WHERE install_id = ?1 AND generation = ?2 AND status = 'active'",
            params![install_id, generation],
        )? == 1)
    }

    /// Deletes the grant and with it the broker token (disconnect).
    pub fn delete_grant(&self, install_id: &str) -> Result<bool> {
        Ok(self.conn()?.execute("DELETE FROM grants WHERE install_id = ?1", params![install_id])? == 1)
    }
}

/// What a grant is made of when it is stored: the tokens, the connect round
/// that produced it and the Stora account it belongs to.
#[derive(Clone, Copy)]
pub struct GrantSource<'a> {
    /// Stora's tokens.
    pub tokens: &'a NewTokens,
    /// Broker state of the connect round that produced the grant.
    pub connect_round: Option<&'a str>,
    /// The Stora account (operator) id.
    pub account_id: Option<&'a str>,
}

/// The statement behind [`Store::save_grant`], on a given connection (the
/// connect completion runs it inside its transaction).
pub(crate) fn upsert_grant(
    conn: &Connection,
    vault: &Vault,
    install_id: &str,
    broker_token_hash: &[u8],
    grant: &GrantSource<'_>,
    now: i64,
) -> Result<()> {
    let GrantSource { tokens, connect_round, account_id } = *grant;
    let access = vault.seal("access_token", install_id, tokens.access_token.as_bytes());
    let refresh = vault.seal("refresh_token", install_id, tokens.refresh_token.as_bytes());
    conn.execute(
        "INSERT INTO grants (install_id, broker_token_hash, access_token, refresh_token, access_expires_at,
                             scope, status, generation, connected_at, refreshed_at, connect_round, account_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', 0, ?7, NULL, ?8, ?9)
         ON CONFLICT (install_id) DO UPDATE SET
             broker_token_hash = excluded.broker_token_hash,
             access_token = excluded.access_token,
             refresh_token = excluded.refresh_token,
             access_expires_at = excluded.access_expires_at,
             scope = excluded.scope,
             status = 'active',
             generation = grants.generation + 1,
             connected_at = excluded.connected_at,
             refreshed_at = NULL,
             connect_round = excluded.connect_round,
             account_id = excluded.account_id",
        params![
            install_id,
            broker_token_hash,
            access,
            refresh,
            tokens.expires_at,
            tokens.scope,
            now,
            connect_round,
            account_id
        ],
    )?;
    Ok(())
}

fn undecryptable(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnName(format!("{what}: sealed value does not open with the storage key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store() -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("tessera-store-{}", crate::crypto::random_id("", 8)));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("broker.db"), Vault::new(&[1u8; 32])).unwrap();
        (store, dir)
    }

    fn tokens(tag: &str) -> NewTokens {
        NewTokens {
            access_token: Zeroizing::new(format!("sat_{tag}")),
            refresh_token: Zeroizing::new(format!("srt_{tag}")),
            expires_at: 100,
            scope: "public.order:read".into(),
        }
    }

    #[test]
    fn a_version_0_database_is_migrated() {
        let dir = std::env::temp_dir().join(format!("tessera-store-{}", crate::crypto::random_id("", 8)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broker.db");
        // The shape before single-use links and connect codes.
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE connect_attempts (broker_state TEXT PRIMARY KEY, install_id TEXT NOT NULL,
                     plugin_state TEXT NOT NULL, return_url TEXT NOT NULL, scope TEXT NOT NULL,
                     expires_at INTEGER NOT NULL);
                 INSERT INTO connect_attempts VALUES ('bs', 'ins_x', 'ps', 'https://s.example', 'o', 1);
                 CREATE TABLE grants (install_id TEXT PRIMARY KEY, broker_token_hash BLOB NOT NULL UNIQUE,
                     access_token BLOB NOT NULL, refresh_token BLOB NOT NULL, access_expires_at INTEGER NOT NULL,
                     scope TEXT NOT NULL, status TEXT NOT NULL, generation INTEGER NOT NULL,
                     connected_at INTEGER NOT NULL, refreshed_at INTEGER);",
            )
            .unwrap();
        for _ in 0..2 {
            let store = Store::open(&path, Vault::new(&[1u8; 32])).expect("migrates (and reopens)");
            assert!(store.connect_attempt("bs").unwrap().is_none(), "the old rounds are dropped");
            let round: Option<String> = store
                .conn()
                .unwrap()
                .query_row("SELECT connect_round FROM grants", [], |r| r.get(0))
                .optional()
                .unwrap();
            assert!(round.is_none(), "the column exists");
            let account: Option<Option<String>> =
                store.conn().unwrap().query_row("SELECT account_id FROM grants", [], |r| r.get(0)).optional().unwrap();
            assert!(account.is_none(), "and so does account_id (version 3)");
        }
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_version_1_database_gains_proven_and_last_seen() {
        let dir = std::env::temp_dir().join(format!("tessera-store-{}", crate::crypto::random_id("", 8)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broker.db");
        let vault = Vault::new(&[1u8; 32]);
        let sealed = vault.seal("secret", "ins_old", &[9u8; 32]);
        // The installations table before `proven` and `last_seen`.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE installations (install_id TEXT PRIMARY KEY, site_url TEXT NOT NULL,
                 admin_email TEXT NOT NULL, platform TEXT NOT NULL, plugin_version TEXT NOT NULL,
                 secret BLOB NOT NULL, status TEXT NOT NULL, challenge TEXT,
                 created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO installations VALUES ('ins_old', 'https://shop.example', 'a@example.com', 'wordpress',
                 '1.0', ?1, 'active', NULL, 5, 5)",
            params![sealed],
        )
        .unwrap();
        drop(conn);
        for _ in 0..2 {
            let store = Store::open(&path, Vault::new(&[1u8; 32])).expect("migrates (and reopens)");
            let old = store.installation("ins_old").unwrap().unwrap();
            assert!(!old.proven, "nobody knows whether it proved its site");
            assert!(old.last_seen > 1_700_000_000, "its idle time starts at the migration");
        }
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn grant_lifecycle_and_compare_and_set() {
        let (store, dir) = temp_store();
        let new = NewInstallation {
            install_id: "ins_x".into(),
            site_url: "https://shop.example".into(),
            admin_email: "a@example.com".into(),
            platform: "wordpress".into(),
            plugin_version: "1.0".into(),
            secret: Zeroizing::new(vec![9u8; 32]),
        };
        store.insert_installation(&new, InstallStatus::Active, None, 1).unwrap();
        assert!(store.insert_installation(&new, InstallStatus::Active, None, 1).is_err());
        let got = store.installation("ins_x").unwrap().unwrap();
        assert_eq!(&got.secret[..], &[9u8; 32]);

        let a = tokens("a");
        let source = GrantSource { tokens: &a, connect_round: None, account_id: Some("opr_x") };
        store.save_grant("ins_x", b"hash", &source, 1).unwrap();
        assert_eq!(store.install_for_token(b"hash").unwrap().as_deref(), Some("ins_x"));
        let g = store.grant("ins_x").unwrap().unwrap();
        assert_eq!(g.refresh_token.as_str(), "srt_a");
        assert_eq!(g.account_id.as_deref(), Some("opr_x"));
        assert!(store.rotate_tokens("ins_x", g.generation, &tokens("b"), 2).unwrap());
        assert!(!store.rotate_tokens("ins_x", g.generation, &tokens("c"), 2).unwrap(), "stale generation");
        assert_eq!(store.grant("ins_x").unwrap().unwrap().refresh_token.as_str(), "srt_b");

        let g = store.grant("ins_x").unwrap().unwrap();
        assert!(!store.mark_grant_revoked("ins_x", g.generation - 1).unwrap(), "another generation: untouched");
        assert!(!store.grant("ins_x").unwrap().unwrap().revoked);
        assert!(store.mark_grant_revoked("ins_x", g.generation).unwrap());
        let g = store.grant("ins_x").unwrap().unwrap();
        assert!(g.revoked && g.refresh_token.is_empty());
        assert!(!store.mark_grant_revoked("ins_x", g.generation).unwrap(), "already revoked");

        assert!(store.delete_installation("ins_x").unwrap());
        assert!(store.grant("ins_x").unwrap().is_none(), "cascade");
        std::fs::remove_dir_all(dir).ok();
    }
}
