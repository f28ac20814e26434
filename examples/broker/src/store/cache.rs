//! The installations cache: every signed request needs its installation's
//! row and opened secret, and reading both from the database for each
//! request cost several times the whole signature check. Entries are
//! opened installations (secret included, zeroised when dropped), at most
//! [`CAPACITY`] of them, each for at most [`TTL`].
//!
//! Every change of an installation row (status, kill switch, site, proof,
//! deletion) drops its entry here at once ([`super::Store`] calls
//! [`InstallationCache::invalidate`]) and, on PostgreSQL, on every other
//! instance: the change is announced with `pg_notify` on [`CHANNEL`] and
//! each instance's listener thread ([`listen`]) drops the entry. While an
//! instance's listener is not connected it cannot hear the others, so its
//! cache stays off (every lookup reads the database) until it listens
//! again; it starts empty then. A row read while an invalidation arrives is
//! not cached ([`InstallationCache::ticket`]), so a stale read cannot
//! outlive the announcement that should have dropped it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use super::Installation;
use super::db::Database;

/// Most installations kept.
pub const CAPACITY: usize = 10_000;
/// Longest an entry is trusted: a bound on staleness should an announcement
/// ever be missed (a SQLite file written by another process, say).
pub const TTL: Duration = Duration::from_secs(60);
/// The PostgreSQL notification channel of installation changes.
pub const CHANNEL: &str = "tessera_installation_changed";

/// Opened installations by id (see the module documentation).
pub struct InstallationCache {
    entries: Mutex<HashMap<String, (Installation, Instant)>>,
    /// Bumped by every invalidation: a row read before a bump is not kept.
    epoch: AtomicU64,
    /// Whether this instance hears every change (SQLite: always; PostgreSQL:
    /// while its listener is connected).
    live: AtomicBool,
    /// Switched off by the operator (or by `tessera-load` for its baseline).
    enabled: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Taken before a database read; [`InstallationCache::put`] keeps the row
/// only if no invalidation came in between.
#[derive(Clone, Copy)]
pub struct Ticket(u64);

impl InstallationCache {
    /// An empty cache; `live`: whether it may serve entries from the start.
    pub fn new(live: bool) -> InstallationCache {
        InstallationCache {
            entries: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            live: AtomicBool::new(live),
            enabled: AtomicBool::new(true),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Installation, Instant)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached installation, when there is a fresh one and the cache is live.
    pub fn get(&self, install_id: &str) -> Option<Installation> {
        let hit = if self.serving() {
            self.entries().get(install_id).filter(|(_, at)| at.elapsed() < TTL).map(|(i, _)| i.clone())
        } else {
            None
        };
        let counter = if hit.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    /// A ticket for a database read about to happen.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.epoch.load(Ordering::Acquire))
    }

    /// Keeps `installation`, read under `ticket`, unless something was
    /// invalidated since (or the cache is off).
    pub fn put(&self, ticket: Ticket, installation: &Installation) {
        if !self.serving() {
            return;
        }
        let mut entries = self.entries();
        // Checked under the lock invalidations also take.
        if self.epoch.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        if entries.len() >= CAPACITY && !entries.contains_key(&installation.install_id) {
            entries.retain(|_, (_, at)| at.elapsed() < TTL);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(installation.install_id.clone(), (installation.clone(), Instant::now()));
    }

    /// Drops the entry of `install_id`.
    pub fn invalidate(&self, install_id: &str) {
        let mut entries = self.entries();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.remove(install_id);
    }

    /// Drops every entry and turns the cache on or off.
    fn reset(&self, live: bool) {
        let mut entries = self.entries();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        self.live.store(live, Ordering::Release);
    }

    /// This instance wrote `last_seen = now` for `install_id`.
    pub fn seen(&self, install_id: &str, now: i64) {
        if let Some((installation, _)) = self.entries().get_mut(install_id) {
            installation.last_seen = installation.last_seen.max(now);
        }
    }

    /// Whether entries are being served.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    fn serving(&self) -> bool {
        self.live.load(Ordering::Acquire) && self.enabled.load(Ordering::Acquire)
    }

    /// Turns the cache on (the default) or off; off, every lookup reads the
    /// database and nothing is kept.
    pub fn set_enabled(&self, on: bool) {
        let mut entries = self.entries();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        self.enabled.store(on, Ordering::Release);
    }

    /// `(hits, misses)` since start.
    pub fn counts(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }
}

/// Starts the thread that hears other instances' changes on PostgreSQL and
/// drops their entries from `cache`; it ends when the cache is dropped.
pub fn listen(database: Database, cache: Weak<InstallationCache>) {
    let spawned = std::thread::Builder::new().name("tessera-cache-listener".into()).spawn(move || {
        while cache.strong_count() > 0 {
            if let Err(e) = listen_once(&database, &cache) {
                // Deaf: serve nothing from the cache until listening again.
                if let Some(cache) = cache.upgrade() {
                    cache.reset(false);
                }
                eprintln!("{{\"level\":\"warn\",\"event\":\"cache_listener_down\",\"error\":{:?}}}", e.to_string());
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    });
    if spawned.is_err() {
        eprintln!("{{\"level\":\"warn\",\"event\":\"cache_listener_not_started\"}}");
    }
}

fn listen_once(database: &Database, cache: &Weak<InstallationCache>) -> Result<(), postgres::Error> {
    let Database::Postgres(url) = database else { return Ok(()) };
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    // Listening from here on: whatever changed before is not in the
    // (emptied) cache, whatever changes next is heard.
    match cache.upgrade() {
        Some(cache) => cache.reset(true),
        None => return Ok(()),
    }
    use postgres::fallible_iterator::FallibleIterator;
    loop {
        {
            let mut notifications = client.notifications();
            let mut heard = notifications.timeout_iter(Duration::from_secs(1));
            while let Some(note) = heard.next()? {
                match cache.upgrade() {
                    Some(cache) => cache.invalidate(note.payload()),
                    None => return Ok(()),
                }
            }
        }
        if cache.strong_count() == 0 {
            return Ok(());
        }
        // No notification for a second: make sure the session is alive.
        client.batch_execute("")?;
    }
}
