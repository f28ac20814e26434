//! The store's tests: migrations of old SQLite files, and the grant
//! lifecycle on each engine.

use super::events::{EVENT_RETENTION_SECS, MAX_EVENTS_PER_INSTALLATION};
use super::*;

fn temp_store() -> (Store, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("tessera-store-{}", crate::crypto::random_id("", 8)));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open_sqlite(&dir.join("broker.db"), Vault::new(&[1u8; 32])).unwrap();
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
    rusqlite::Connection::open(&path)
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
        let store = Store::open_sqlite(&path, Vault::new(&[1u8; 32])).expect("migrates (and reopens)");
        assert!(store.connect_attempt("bs").unwrap().is_none(), "the old rounds are dropped");
        let columns = "SELECT connect_round, account_id, refresh_started_at FROM grants";
        let row = store.conn().unwrap().query_opt(columns, args![]).unwrap();
        assert!(row.is_none(), "the columns exist (versions 1, 3 and 4)");
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
    let conn = rusqlite::Connection::open(&path).unwrap();
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
        rusqlite::params![sealed],
    )
    .unwrap();
    drop(conn);
    for _ in 0..2 {
        let store = Store::open_sqlite(&path, Vault::new(&[1u8; 32])).expect("migrates (and reopens)");
        let old = store.installation("ins_old").unwrap().unwrap();
        assert!(!old.proven, "nobody knows whether it proved its site");
        assert!(old.last_seen > 1_700_000_000, "its idle time starts at the migration");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// The environment variable naming a PostgreSQL database for these tests
/// (`scripts/test.d/30-e2e.sh` starts a throwaway cluster and sets it).
pub const PG_ENV: &str = "TESSERA_TEST_DATABASE_URL";

/// The PostgreSQL database to test against, if one is given.
pub fn postgres() -> Option<Database> {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => Some(Database::from_url(&url).expect("a postgres:// URL")),
        _ => {
            eprintln!("skipped on PostgreSQL: {PG_ENV} is unset");
            None
        }
    }
}

/// A store on a fresh SQLite file, and one on the PostgreSQL test database
/// when there is one.
pub(super) fn engines() -> Vec<Store> {
    let (sqlite, _dir) = temp_store();
    let mut stores = vec![sqlite];
    if let Some(pg) = postgres() {
        stores.push(Store::open(&pg, Vault::new(&[1u8; 32])).expect("PostgreSQL opens and migrates"));
    }
    stores
}

/// A new active installation with a random id (tests share the PostgreSQL
/// database).
fn installation(store: &Store) -> String {
    let id = crate::crypto::random_id("ins_", 12);
    let new = NewInstallation {
        install_id: id.clone(),
        site_url: "https://shop.example".into(),
        admin_email: "a@example.com".into(),
        platform: "wordpress".into(),
        plugin_version: "1.0".into(),
        secret: Zeroizing::new(vec![9u8; 32]),
    };
    store.insert_installation(&new, InstallStatus::Active, None, 1).unwrap();
    assert!(store.insert_installation(&new, InstallStatus::Active, None, 1).is_err(), "the id is taken");
    id
}

#[test]
fn grant_lifecycle_and_compare_and_set() {
    for store in engines() {
        let id = installation(&store);
        let id = id.as_str();
        let got = store.installation(id).unwrap().unwrap();
        assert_eq!(&got.secret[..], &[9u8; 32]);

        let a = tokens("a");
        let source = GrantSource { tokens: &a, connect_round: None, account_id: Some("opr_x") };
        let token_hash = crate::crypto::random_id("hash_", 12);
        store.save_grant(id, token_hash.as_bytes(), &source, 1).unwrap();
        assert_eq!(store.install_for_token(token_hash.as_bytes()).unwrap().as_deref(), Some(id));
        let g = store.grant(id).unwrap().unwrap();
        assert_eq!(g.refresh_token.as_str(), "srt_a");
        assert_eq!(g.account_id.as_deref(), Some("opr_x"));
        assert_eq!(g.refresh_started_at, None);
        // The admin listing (keyset pagination: the page after a prefix of the id starts with it).
        let page = store.list_installations(Some(InstallStatus::Active), Some(&id[..id.len() - 1]), 1).unwrap();
        assert_eq!((page[0].install_id.as_str(), page[0].connected, page[0].proven), (id, true, false));
        assert!(
            store
                .list_installations(Some(InstallStatus::Disabled), Some(&id[..id.len() - 1]), 1)
                .unwrap()
                .first()
                .is_none_or(|i| i.install_id != id)
        );

        // A refresh: marked (fenced on the generation), then written (CAS).
        assert!(!store.begin_refresh(id, g.generation + 1, 2).unwrap(), "another generation");
        assert!(store.begin_refresh(id, g.generation, 2).unwrap());
        assert_eq!(store.grant(id).unwrap().unwrap().refresh_started_at, Some(2));
        assert!(store.rotate_tokens(id, g.generation, &tokens("b"), 2).unwrap());
        assert!(!store.rotate_tokens(id, g.generation, &tokens("c"), 2).unwrap(), "stale generation");
        let g = store.grant(id).unwrap().unwrap();
        assert_eq!((g.refresh_token.as_str(), g.refresh_started_at), ("srt_b", None));
        assert!(store.begin_refresh(id, g.generation, 3).unwrap());
        store.end_refresh(id, g.generation).unwrap();
        assert_eq!(store.grant(id).unwrap().unwrap().refresh_started_at, None, "Stora answered without rotating");

        assert!(!store.mark_grant_revoked(id, g.generation - 1).unwrap(), "another generation: untouched");
        assert!(!store.grant(id).unwrap().unwrap().revoked);
        assert!(store.mark_grant_revoked(id, g.generation).unwrap());
        let g = store.grant(id).unwrap().unwrap();
        assert!(g.revoked && g.refresh_token.is_empty());
        assert!(!store.mark_grant_revoked(id, g.generation).unwrap(), "already revoked");

        assert!(store.delete_installation(id).unwrap());
        assert!(store.installation(id).unwrap().is_none(), "not served from the cache");
        assert!(store.grant(id).unwrap().is_none(), "cascade");
    }
}

#[test]
fn the_cache_serves_rows_and_forgets_changes() {
    for store in engines().into_iter().take(1) {
        let id = installation(&store);
        let cached = |id: &str| store.cached_installation(id).unwrap().map(|(i, hit)| (i.status, i.version, hit));
        let (_, misses) = store.cache().counts();
        let (status, version, hit) = cached(&id).unwrap();
        assert_eq!((status, hit), (InstallStatus::Active, false));
        assert_eq!(cached(&id).unwrap(), (InstallStatus::Active, version, true));
        assert_eq!(store.cache().counts(), (1, misses + 1), "read once, then served");
        assert!(store.set_installation_status(&id, InstallStatus::Disabled, 5).unwrap());
        assert_eq!(cached(&id).unwrap(), (InstallStatus::Disabled, version + 1, false), "forgotten at once");
        assert!(store.delete_installation(&id).unwrap());
        assert_eq!(cached(&id), None);
    }
}

/// Two instances on one PostgreSQL database.
fn two_instances() -> Option<(Store, Store)> {
    let pg = postgres()?;
    let open = || Store::open(&pg, Vault::new(&[1u8; 32])).unwrap();
    Some((open(), open()))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_nonce_recorded_by_one_instance_is_a_replay_at_another() {
    let Some((a, b)) = two_instances() else { return };
    let id = installation(&a);
    let v = a.installation(&id).unwrap().unwrap().version;
    use tessera_core::ReplayAnswer::{Fresh, Full, Seen};
    assert_eq!(a.record_nonce(&id, "n1", 200, 100, 2, v).unwrap(), Some(Fresh));
    assert_eq!(b.record_nonce(&id, "n1", 200, 100, 2, v).unwrap(), Some(Seen), "replayed to another instance");
    assert_eq!(b.record_nonce(&id, "n2", 200, 100, 2, v).unwrap(), Some(Fresh));
    assert_eq!(a.record_nonce(&id, "n3", 200, 100, 2, v).unwrap(), Some(Full), "the installation's share is full");
    let other = installation(&a);
    let v_other = a.installation(&other).unwrap().unwrap().version;
    assert_ne!(v, v_other, "versions start at random");
    assert_eq!(a.record_nonce(&other, "n3", 200, 100, 2, v_other).unwrap(), Some(Fresh), "no other installation");
    // Past its expiry a nonce no longer counts, and its row may be reused.
    assert_eq!(b.record_nonce(&id, "n1", 400, 201, 2, v).unwrap(), Some(Fresh));
    // A row changed since it was read (the kill switch at another instance):
    // nothing is recorded, the caller reads again.
    assert!(b.set_installation_status(&id, InstallStatus::Disabled, 5).unwrap());
    assert_eq!(a.record_nonce(&id, "n9", 400, 201, 9, v).unwrap(), None);
    assert_eq!(a.record_nonce(&id, "n9", 400, 201, 9, v + 1).unwrap(), Some(Fresh), "recorded once read again");
    assert!(a.delete_installation(&id).unwrap());
    assert_eq!(b.record_nonce(&id, "n8", 400, 201, 9, v + 1).unwrap(), None, "a deleted row");
}

#[test]
fn a_grant_lock_held_by_one_instance_makes_the_other_wait() {
    let Some((a, b)) = two_instances() else { return };
    let id = installation(&a);
    let held = a.lock_grant(&id).unwrap();
    let (sent, got) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _lock = b.lock_grant(&id).unwrap();
            sent.send(()).unwrap();
        });
        assert!(got.recv_timeout(std::time::Duration::from_millis(400)).is_err(), "both held the lock");
        drop(held);
        got.recv_timeout(std::time::Duration::from_secs(5)).expect("released to the other instance");
    });
    // Another grant's lock is free meanwhile.
    let _one = a.lock_grant(&id).unwrap();
    let _other = b.lock_grant(&installation(&b)).unwrap();
}

#[test]
fn a_change_at_one_instance_is_forgotten_by_the_others_cache() {
    let Some((a, b)) = two_instances() else { return };
    wait_until("both listen", || a.cache().is_live() && b.cache().is_live());
    let id = installation(&a);
    let cached = |id: &str| a.cached_installation(id).unwrap().map(|(i, hit)| (i.status, hit));
    assert_eq!(cached(&id), Some((InstallStatus::Active, false)));
    assert_eq!(cached(&id), Some((InstallStatus::Active, true)), "served from the cache");
    // The kill switch, thrown at the other instance (the signature check
    // confirms a cached row's version in the database: handlers::verify_with).
    assert!(b.set_installation_status(&id, InstallStatus::Disabled, 5).unwrap());
    wait_until("the first instance's cache hears of the kill switch", || {
        cached(&id).is_some_and(|(status, _)| status == InstallStatus::Disabled)
    });
    assert!(b.delete_installation(&id).unwrap());
    wait_until("the first instance's cache forgets the deleted row", || cached(&id).is_none());
}

#[test]
fn instances_share_each_operators_pacing() {
    let Some((a, b)) = two_instances() else { return };
    let operator = crate::crypto::random_id("opr_", 10);
    let pacing = crate::pacing::Pacing { per_sec: 2, per_min: 0, max_queue_ms: 0, ..crate::pacing::Pacing::default() };
    use crate::pacing::Slot;
    assert_eq!(a.pace_slot(&pacing, &operator, 1_000_000).unwrap(), Slot::Now);
    assert_eq!(b.pace_slot(&pacing, &operator, 1_000_000).unwrap(), Slot::Now);
    assert!(matches!(a.pace_slot(&pacing, &operator, 1_000_010).unwrap(), Slot::Refused(_)), "two a second in all");
    assert_eq!(b.pace_slot(&pacing, &operator, 1_001_100).unwrap(), Slot::Now, "the next second");
}

#[test]
fn webhook_endpoints_and_the_event_queue() {
    for store in engines() {
        let id = installation(&store);
        let other = installation(&store);
        let hook = crate::crypto::random_id("", 24);
        assert_eq!(store.save_webhook_endpoint(&id, &hook, "we_1", b"whsec_a", 5).unwrap(), None);
        let endpoint = store.webhook_endpoint(&hook).unwrap().expect("by hook");
        assert_eq!((endpoint.install_id.as_str(), endpoint.stora_endpoint_id.as_str()), (id.as_str(), "we_1"));
        assert_eq!(&endpoint.secret[..], b"whsec_a", "sealed, and opened");
        let raw =
            store.conn().unwrap().query_opt("SELECT secret FROM webhook_endpoints WHERE hook_id = $1", args![&hook]);
        assert!(!raw.unwrap().unwrap().bytes(0).unwrap().windows(7).any(|w| w == b"whsec_a"), "never stored in clear");
        // A new connection's endpoint replaces the previous one.
        let hook2 = crate::crypto::random_id("", 24);
        assert_eq!(store.save_webhook_endpoint(&id, &hook2, "we_2", b"whsec_b", 6).unwrap().as_deref(), Some("we_1"));
        assert!(store.webhook_endpoint(&hook).unwrap().is_none(), "the old hook is unknown now");

        let event = |event_id: &'static str| NewEvent {
            event_id,
            event_type: "order.updated",
            api_version: "2025-09",
            created_at: 1,
            data: r#"{"object":{}}"#,
        };
        let now = 1_000_000;
        assert!(store.insert_event(&id, &event("evt_1"), now).unwrap());
        assert!(!store.insert_event(&id, &event("evt_1"), now).unwrap(), "a duplicate");
        assert!(store.insert_event(&other, &event("evt_1"), now).unwrap(), "another installation's");
        assert!(store.insert_event(&id, &event("evt_2"), now).unwrap());
        let all = store.events_after(&id, 0, 10, now).unwrap();
        assert_eq!(all.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["evt_1", "evt_2"]);
        assert!(all[0].seq < all[1].seq);
        assert_eq!(store.events_after(&id, all[0].seq, 10, now).unwrap(), all[1..]);
        assert_eq!(store.events_after(&id, 0, 1, now).unwrap().len(), 1, "limit");
        assert!(store.events_after(&id, 0, 10, now + EVENT_RETENTION_SECS + 1).unwrap().is_empty(), "7 days");

        // At most MAX per installation: the oldest go.
        let ids: Vec<String> = (0..MAX_EVENTS_PER_INSTALLATION).map(|n| format!("evt_bulk_{n}")).collect();
        for event_id in &ids {
            let e = NewEvent { event_id, event_type: "t", api_version: "v", created_at: 1, data: "{}" };
            store.insert_event(&id, &e, now).unwrap();
        }
        let kept = store.events_after(&id, 0, 2 * MAX_EVENTS_PER_INSTALLATION, now).unwrap();
        assert_eq!(kept.len() as i64, MAX_EVENTS_PER_INSTALLATION);
        assert_eq!(kept[0].event_id, "evt_bulk_0", "evt_1 and evt_2 dropped");

        assert_eq!(store.delete_webhook_endpoint(&id).unwrap().as_deref(), Some("we_2"));
        assert!(store.events_after(&id, 0, 10, now).unwrap().is_empty(), "the queue goes with it");
        assert_eq!(store.events_after(&other, 0, 10, now).unwrap().len(), 1, "not another's");
        assert!(store.delete_installation(&other).unwrap());
        assert!(store.events_after(&other, 0, 10, now).unwrap().is_empty(), "cascade");
    }
}
