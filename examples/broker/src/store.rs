//! Storage: SQLite (through rusqlite, SQLite compiled in) as the embedded
//! default for one broker instance, or PostgreSQL for several instances
//! sharing one database ([`db::Database`], chosen by `DATABASE_URL`). Both
//! hold the same tables ([`schema`]):
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
//!   the plugin presents, the connect round it came from, its generation
//!   (the fencing number every token write compares) and a refresh begun
//!   and not finished;
//! * `webhook_endpoints` and `events`: the Stora webhook endpoint of each
//!   connection (its secret sealed) and the queue of events received for
//!   the plugin to pull ([`events`]).
//!
//! PostgreSQL adds what the instances share ([`shared`]): the replay
//! store's nonces and the pacing log.
//!
//! Secrets are sealed by [`Vault`] before they reach SQL and opened after
//! they come back; nothing here ever logs a value. Installations (with
//! their opened secret) are kept in a small cache ([`cache`]) that every
//! change of the row invalidates, on every instance.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::crypto::Vault;

pub mod cache;
pub mod connect;
pub mod db;
pub mod events;
pub mod grants;
pub mod lock;
pub mod pool;
pub mod schema;
pub mod shared;
pub mod value;

pub use cache::InstallationCache;
pub use db::{Database, Error, Result};
use db::{Pool, Pooled, args};
pub(crate) use grants::upsert_grant;
pub use grants::{Grant, GrantSource, NewTokens};
pub use lock::GrantLock;

pub use connect::{AttemptStage, CodedAttempt, Completed, ConnectAttempt, Forgotten, LinkClaim, Obtained};
pub use events::{NewEvent, StoredEvent, WebhookEndpoint};

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
#[derive(Clone)]
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
    /// Changed by every write of the row (random at its creation, so that a
    /// row deleted and created again under the same id never repeats one).
    pub version: i64,
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

/// The broker's database: a pool of connections to one of the two
/// engines, the sealing key, the installations cache and the grant locks.
pub struct Store {
    pool: Pool,
    /// Connections that hold a grant's advisory lock (PostgreSQL): a pool of
    /// their own, so that a caller waiting for a lock never holds one of
    /// the connections the lock's holder needs to finish.
    lock_pool: Option<Pool>,
    vault: Vault,
    cache: Arc<InstallationCache>,
    locks: lock::LocalLocks,
    /// Nonces recorded by this instance ([`shared`]'s sweep schedule).
    sweeps: std::sync::atomic::AtomicU64,
}

/// Most PostgreSQL connections one instance opens for its queries.
pub const PG_POOL_SIZE: usize = 16;
/// Most PostgreSQL connections one instance holds for grant locks.
pub const PG_LOCK_POOL_SIZE: usize = 8;

impl Store {
    /// Opens `database` (creating the SQLite file if needed) and migrates it
    /// to [`schema::SCHEMA_VERSION`]. PostgreSQL: also starts listening for
    /// other instances' cache invalidations.
    pub fn open(database: &Database, vault: Vault) -> Result<Store> {
        let mut first = db::connect(database)?;
        schema::migrate(&mut first)?;
        let postgres = first.is_postgres();
        let cache = Arc::new(InstallationCache::new(!postgres));
        if postgres {
            cache::listen(database.clone(), Arc::downgrade(&cache));
        }
        let lock_pool =
            postgres.then(|| db::connect(database).map(|c| Pool::new(database.clone(), PG_LOCK_POOL_SIZE, c)));
        Ok(Store {
            pool: Pool::new(database.clone(), PG_POOL_SIZE, first),
            lock_pool: lock_pool.transpose()?,
            vault,
            cache,
            locks: lock::LocalLocks::default(),
            sweeps: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Opens a SQLite file (tests, the demo).
    pub fn open_sqlite(path: &std::path::Path, vault: Vault) -> Result<Store> {
        Store::open(&Database::Sqlite(path.to_path_buf()), vault)
    }

    fn conn(&self) -> Result<Pooled<'_>> {
        self.pool.get()
    }

    /// Whether the instances share this database (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.lock_pool.is_some()
    }

    /// The installations cache (counters, tests).
    pub fn cache(&self) -> &InstallationCache {
        &self.cache
    }

    /// A change of the installation row: forgotten by this instance's cache
    /// now and, through the database, by every other instance's.
    fn changed(&self, install_id: &str) -> Result<()> {
        self.cache.invalidate(install_id);
        if self.is_shared() {
            self.conn()?.execute("SELECT pg_notify($1, $2)", args![cache::CHANNEL, install_id])?;
        }
        Ok(())
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
                                        secret, status, challenge, created_at, updated_at, proven, last_seen,
                                        version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, FALSE, $9, $10)",
            args![
                &new.install_id,
                &new.site_url,
                &new.admin_email,
                &new.platform,
                &new.plugin_version,
                &secret,
                status.as_str(),
                challenge,
                now,
                first_version()
            ],
        )?;
        // A cached "unknown" does not exist; a row re-created under an id
        // deleted a moment ago must not meet its predecessor's secret.
        self.changed(&new.install_id)
    }

    /// Loads an installation, from the cache when it holds it: `(row, true)`
    /// from the cache, `(row, false)` just read. Only the signature check uses
    /// it: on SQLite the cache is never stale (one instance forgets a
    /// change as it writes it); on PostgreSQL another instance's change
    /// reaches this cache a moment later, so the caller confirms a cached row
    /// with [`Installation::version`] when it records the nonce
    /// ([`Store::record_nonce`]) and reads again on a mismatch.
    pub fn cached_installation(&self, install_id: &str) -> Result<Option<(Installation, bool)>> {
        if let Some(hit) = self.cache.get(install_id) {
            return Ok(Some((hit, true)));
        }
        Ok(self.installation(install_id)?.map(|i| (i, false)))
    }

    /// Loads an installation from the database (and keeps it in the cache).
    /// A secret that does not open is an error (the row is unusable, never
    /// "empty").
    pub fn installation(&self, install_id: &str) -> Result<Option<Installation>> {
        let ticket = self.cache.ticket();
        let Some(row) = self.conn()?.query_opt(
            "SELECT site_url, admin_email, platform, plugin_version, secret, status, challenge, proven, last_seen,
                    version
             FROM installations WHERE install_id = $1",
            args![install_id],
        )?
        else {
            return Ok(None);
        };
        let secret = self
            .vault
            .open("secret", install_id, &row.bytes(4)?)
            .ok_or_else(|| undecryptable("installations.secret"))?;
        let installation = Installation {
            install_id: install_id.to_string(),
            site_url: row.text(0)?,
            admin_email: row.text(1)?,
            platform: row.text(2)?,
            plugin_version: row.text(3)?,
            secret,
            status: InstallStatus::parse(&row.text(5)?),
            challenge: row.opt_text(6)?,
            proven: row.flag(7)?,
            last_seen: row.int(8)?,
            version: row.int(9)?,
        };
        self.cache.put(ticket, &installation);
        Ok(Some(installation))
    }

    /// The site URL of an installation (no secret opened). `None` if unknown.
    pub fn site_of(&self, install_id: &str) -> Result<Option<String>> {
        let row =
            self.conn()?.query_opt("SELECT site_url FROM installations WHERE install_id = $1", args![install_id])?;
        row.map(|r| r.text(0)).transpose()
    }

    /// Runs an `UPDATE` of one installation row; whether it matched. The
    /// caches forget the row either way.
    fn update_installation(&self, install_id: &str, sql: &str, args: &[db::Arg<'_>]) -> Result<bool> {
        let changed = self.conn()?.execute(sql, args)? == 1;
        self.changed(install_id)?;
        Ok(changed)
    }

    /// The installation passed its ownership proof at its current site URL:
    /// active, challenge cleared, `proven`. `false` if unknown.
    pub fn set_proven(&self, install_id: &str, now: i64) -> Result<bool> {
        self.update_installation(
            install_id,
            "UPDATE installations SET status = $2, challenge = NULL, proven = TRUE, updated_at = $3, version = version + 1
             WHERE install_id = $1",
            args![install_id, InstallStatus::Active.as_str(), now],
        )
    }

    /// Records that the installation signed at `now`. Not a change the
    /// caches need to forget: only this instance's copy learns the time, so
    /// each instance writes it at most once per throttle period.
    pub fn touch_last_seen(&self, install_id: &str, now: i64) -> Result<()> {
        self.conn()?.execute(
            "UPDATE installations SET last_seen = $2 WHERE install_id = $1 AND last_seen < $2",
            args![install_id, now],
        )?;
        self.cache.seen(install_id, now);
        Ok(())
    }

    /// When an installation was last seen. `None` if unknown.
    pub fn last_seen(&self, install_id: &str) -> Result<Option<i64>> {
        let row =
            self.conn()?.query_opt("SELECT last_seen FROM installations WHERE install_id = $1", args![install_id])?;
        row.map(|r| r.int(0)).transpose()
    }

    /// The installations (of any status) not seen since `before`.
    pub fn idle_installations(&self, before: i64) -> Result<Vec<String>> {
        let rows = self
            .conn()?
            .query("SELECT install_id FROM installations WHERE last_seen < $1 ORDER BY last_seen", args![before])?;
        rows.iter().map(|r| r.text(0)).collect()
    }

    /// Changes the status (and clears the challenge). `false` if unknown.
    pub fn set_installation_status(&self, install_id: &str, status: InstallStatus, now: i64) -> Result<bool> {
        self.update_installation(
            install_id,
            "UPDATE installations SET status = $2, challenge = NULL, updated_at = $3, version = version + 1 WHERE install_id = $1",
            args![install_id, status.as_str(), now],
        )
    }

    /// Records a new site URL (the site moved without a proof round): a
    /// different address is not proven. `false` if unknown.
    pub fn update_site_url(&self, install_id: &str, site_url: &str, now: i64) -> Result<bool> {
        self.update_installation(
            install_id,
            "UPDATE installations SET proven = (proven AND site_url = $2), site_url = $2, updated_at = $3, version = version + 1
             WHERE install_id = $1",
            args![install_id, site_url, now],
        )
    }

    /// Parks a move to `site_url` until the new address proves ownership:
    /// status `pending_ownership` with a fresh challenge (the registration
    /// round then activates it). `false` if unknown.
    pub fn begin_site_move(&self, install_id: &str, site_url: &str, challenge: &str, now: i64) -> Result<bool> {
        self.update_installation(
            install_id,
            "UPDATE installations SET site_url = $2, status = $3, challenge = $4, proven = FALSE, updated_at = $5, version = version + 1
             WHERE install_id = $1",
            args![install_id, site_url, InstallStatus::PendingOwnership.as_str(), challenge, now],
        )
    }

    /// Deletes an installation with its grant and connect attempts.
    pub fn delete_installation(&self, install_id: &str) -> Result<bool> {
        self.update_installation(install_id, "DELETE FROM installations WHERE install_id = $1", args![install_id])
    }

    /// Number of installations per status.
    pub fn installation_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = self
            .conn()?
            .query("SELECT status, COUNT(*) FROM installations GROUP BY status ORDER BY status", args![])?;
        rows.iter().map(|r| Ok((r.text(0)?, r.int(1)?))).collect()
    }

    /// A page of installations, ordered by id, for the admin listing: those
    /// with `status` (every status when `None`) whose id sorts after `after`
    /// (keyset pagination: pass the last id of the previous page), at most
    /// `limit`. No secret is read.
    pub fn list_installations(
        &self,
        status: Option<InstallStatus>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<InstallationSummary>> {
        // Every id starts with `ins_`, so "" sorts before all of them; the
        // status filter is added only when asked for (rather than
        // `$3 IS NULL OR …`, whose untyped parameter PostgreSQL refuses).
        let filter = if status.is_some() { "AND i.status = $3" } else { "" };
        let sql = format!(
            "SELECT i.install_id, i.site_url, i.platform, i.plugin_version, i.status, i.proven, i.last_seen,
                    (g.status IS NOT NULL AND g.status = 'active')
             FROM installations i LEFT JOIN grants g ON g.install_id = i.install_id
             WHERE i.install_id > $1 {filter}
             ORDER BY i.install_id LIMIT $2"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let status = status.map(InstallStatus::as_str);
        let mut params = args![after.unwrap_or(""), limit].to_vec();
        params.extend(status.map(db::Arg::Text));
        let rows = self.conn()?.query(&sql, &params)?;
        rows.iter()
            .map(|r| {
                Ok(InstallationSummary {
                    install_id: r.text(0)?,
                    site_url: r.text(1)?,
                    platform: r.text(2)?,
                    plugin_version: r.text(3)?,
                    status: InstallStatus::parse(&r.text(4)?),
                    proven: r.flag(5)?,
                    last_seen: r.int(6)?,
                    connected: r.flag(7)?,
                })
            })
            .collect()
    }
}

/// The version of a new installation row: random, below 2^62 (room to count up).
fn first_version() -> i64 {
    let mut bytes = [0u8; 8];
    crate::crypto::fill_random(&mut bytes);
    (u64::from_be_bytes(bytes) >> 2) as i64
}

fn undecryptable(what: &str) -> Error {
    Error::Corrupt(format!("{what}: sealed value does not open with the storage key"))
}

#[cfg(test)]
mod tests;
