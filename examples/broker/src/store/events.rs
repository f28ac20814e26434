//! Stora's webhooks: the endpoint registered at Stora for each connected
//! installation (`webhook_endpoints`: the random `hook_id` of its URL,
//! Stora's endpoint id, the signing secret sealed like the tokens) and the
//! per-installation queue of events received (`events`: an ascending
//! sequence number per engine — the pull cursor —, de-duplicated by
//! (installation, Stora's event id), at most [`MAX_EVENTS_PER_INSTALLATION`]
//! and [`EVENT_RETENTION_SECS`] old).

use zeroize::Zeroizing;

use super::db::{Conn, Result, args};
use super::{Store, undecryptable};

/// Most events kept per installation: a new one beyond drops the oldest.
pub const MAX_EVENTS_PER_INSTALLATION: i64 = 1000;

/// How long an event is kept (7 days).
pub const EVENT_RETENTION_SECS: i64 = 7 * 86_400;

/// The endpoint of an installation (secret opened).
pub struct WebhookEndpoint {
    /// The random id in the receiving URL.
    pub hook_id: String,
    /// The installation whose connection it serves.
    pub install_id: String,
    /// Stora's id of the endpoint (`we_…`), to delete it there.
    pub stora_endpoint_id: String,
    /// The signing secret Stora gave (`whsec_…`).
    pub secret: Zeroizing<Vec<u8>>,
}

/// An event as received (checked by the caller).
pub struct NewEvent<'a> {
    /// Stora's `event.id`.
    pub event_id: &'a str,
    /// `event.type`.
    pub event_type: &'a str,
    /// `event.api_version`.
    pub api_version: &'a str,
    /// `event.created_at` (Stora's epoch seconds).
    pub created_at: i64,
    /// The JSON text of `event.data`.
    pub data: &'a str,
}

/// A queued event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Position in the queue (the cursor).
    pub seq: i64,
    /// Stora's `event.id`.
    pub event_id: String,
    /// `event.type`.
    pub event_type: String,
    /// `event.api_version`.
    pub api_version: String,
    /// `event.created_at`.
    pub created_at: i64,
    /// The JSON text of `event.data`.
    pub data: String,
}

/// The advisory-lock number serialising an installation's event inserts
/// (another namespace than the grant locks').
fn event_lock_key(install_id: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("tessera-events:{install_id}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("eight bytes"))
}

/// Inside a transaction: deletes the installation's endpoint row (locked
/// first) and returns its Stora id, if it had one.
fn take_endpoint(tx: &mut Conn, install_id: &str) -> Result<Option<String>> {
    let previous = tx.query_opt(
        "SELECT stora_endpoint_id FROM webhook_endpoints WHERE install_id = $1 FOR UPDATE",
        args![install_id],
    )?;
    tx.execute("DELETE FROM webhook_endpoints WHERE install_id = $1", args![install_id])?;
    previous.map(|r| r.text(0)).transpose()
}

impl Store {
    /// Makes `hook_id` the installation's endpoint, replacing any previous
    /// one; returns the previous endpoint's Stora id (to delete it there).
    pub fn save_webhook_endpoint(
        &self,
        install_id: &str,
        hook_id: &str,
        stora_endpoint_id: &str,
        secret: &[u8],
        now: i64,
    ) -> Result<Option<String>> {
        let sealed = self.vault.seal("webhook_secret", hook_id, secret);
        self.conn()?.transaction(|tx| {
            let previous = take_endpoint(tx, install_id)?;
            tx.execute(
                "INSERT INTO webhook_endpoints (hook_id, install_id, stora_endpoint_id, secret, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                args![hook_id, install_id, stora_endpoint_id, &sealed, now],
            )?;
            Ok(previous)
        })
    }

    fn endpoint_where(&self, column: &str, value: &str) -> Result<Option<WebhookEndpoint>> {
        let sql =
            format!("SELECT hook_id, install_id, stora_endpoint_id, secret FROM webhook_endpoints WHERE {column} = $1");
        let Some(row) = self.conn()?.query_opt(&sql, args![value])? else {
            return Ok(None);
        };
        let hook_id = row.text(0)?;
        let secret = self
            .vault
            .open("webhook_secret", &hook_id, &row.bytes(3)?)
            .ok_or_else(|| undecryptable("webhook_endpoints.secret"))?;
        Ok(Some(WebhookEndpoint { hook_id, install_id: row.text(1)?, stora_endpoint_id: row.text(2)?, secret }))
    }

    /// The endpoint whose URL carries `hook_id`.
    pub fn webhook_endpoint(&self, hook_id: &str) -> Result<Option<WebhookEndpoint>> {
        self.endpoint_where("hook_id", hook_id)
    }

    /// The installation's endpoint.
    pub fn webhook_endpoint_of(&self, install_id: &str) -> Result<Option<WebhookEndpoint>> {
        self.endpoint_where("install_id", install_id)
    }

    /// Forgets the installation's endpoint, its queued events and its push
    /// URL (a disconnect); returns the endpoint's Stora id, if it had one.
    pub fn delete_webhook_endpoint(&self, install_id: &str) -> Result<Option<String>> {
        self.conn()?.transaction(|tx| {
            let previous = take_endpoint(tx, install_id)?;
            tx.execute("DELETE FROM events WHERE install_id = $1", args![install_id])?;
            tx.execute("DELETE FROM event_push WHERE install_id = $1", args![install_id])?;
            Ok(previous)
        })
    }

    /// Sets (or with `None` removes) the URL the installation's events are
    /// pushed to (docs/PROTOCOL.md §14.4; checked by the caller).
    pub fn set_event_push(&self, install_id: &str, url: Option<&str>, now: i64) -> Result<()> {
        let mut conn = self.conn()?;
        match url {
            Some(url) => conn.execute(
                "INSERT INTO event_push (install_id, url, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (install_id) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at",
                args![install_id, url, now],
            )?,
            None => conn.execute("DELETE FROM event_push WHERE install_id = $1", args![install_id])?,
        };
        Ok(())
    }

    /// The URL the installation's events are pushed to, if it set one.
    pub fn event_push(&self, install_id: &str) -> Result<Option<String>> {
        let row = self.conn()?.query_opt("SELECT url FROM event_push WHERE install_id = $1", args![install_id])?;
        row.map(|r| r.text(0)).transpose()
    }

    /// Queues an event unless the installation already has one with that
    /// id (`false`: a duplicate delivery). A new one drops what is past the
    /// retention or beyond the [`MAX_EVENTS_PER_INSTALLATION`] newest.
    pub fn insert_event(&self, install_id: &str, event: &NewEvent<'_>, now: i64) -> Result<bool> {
        let postgres = self.is_shared();
        self.conn()?.transaction(|tx| {
            if postgres {
                // The cursor is a sequence number, handed out at INSERT and
                // seen at COMMIT: two instances inserting for one
                // installation could commit 12 before 11, and a pull between
                // the commits would move its cursor past 11 for good. One
                // insert at a time per installation (until its commit) keeps
                // each installation's numbers in commit order. (SQLite's
                // BEGIN IMMEDIATE already admits one writer.)
                tx.execute("SELECT pg_advisory_xact_lock($1)", args![event_lock_key(install_id)])?;
            }
            let inserted = tx.execute(
                "INSERT INTO events (install_id, event_id, type, api_version, created_at, data, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (install_id, event_id) DO NOTHING",
                args![
                    install_id,
                    event.event_id,
                    event.event_type,
                    event.api_version,
                    event.created_at,
                    event.data,
                    now
                ],
            )? == 1;
            if inserted {
                // The newest MAX are kept: everything at or below the seq of
                // the (MAX+1)th newest goes (nothing when there are fewer:
                // `seq <= NULL` holds for no row).
                tx.execute(
                    "DELETE FROM events WHERE install_id = $1 AND (received_at < $2 OR seq <= (
                         SELECT seq FROM events WHERE install_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $3))",
                    args![install_id, now - EVENT_RETENTION_SECS, MAX_EVENTS_PER_INSTALLATION],
                )?;
            }
            Ok(inserted)
        })
    }

    /// The installation's events after the cursor `after`, oldest first, at
    /// most `limit`, none older than the retention at `now`.
    pub fn events_after(&self, install_id: &str, after: i64, limit: i64, now: i64) -> Result<Vec<StoredEvent>> {
        let rows = self.conn()?.query(
            "SELECT seq, event_id, type, api_version, created_at, data FROM events
             WHERE install_id = $1 AND seq > $2 AND received_at >= $3
             ORDER BY seq LIMIT $4",
            args![install_id, after, now - EVENT_RETENTION_SECS, limit],
        )?;
        rows.iter()
            .map(|r| {
                Ok(StoredEvent {
                    seq: r.int(0)?,
                    event_id: r.text(1)?,
                    event_type: r.text(2)?,
                    api_version: r.text(3)?,
                    created_at: r.int(4)?,
                    data: r.text(5)?,
                })
            })
            .collect()
    }
}
