//! The schema and its migrations, for each engine.
//!
//! Both engines hold the same tables with the same meaning (see
//! [`super`]); the spellings differ (`BLOB`/`BYTEA`, `INTEGER`/`BIGINT`,
//! `0`/`1` and `BOOLEAN`). PostgreSQL also holds what several instances
//! share and a single SQLite instance keeps in memory: the replay store's
//! nonces and the per-operator pacing log.
//!
//! SQLite records its version in `PRAGMA user_version`, PostgreSQL in the
//! one-row table `tessera_schema`; instances starting together migrate one
//! at a time (an advisory lock).

use rusqlite::Connection;

use super::db::{Conn, Result, args};

/// The schema version [`migrate`] brings a database to.
pub const SCHEMA_VERSION: i64 = 7;

/// Brings the database behind `conn` to [`SCHEMA_VERSION`].
pub fn migrate(conn: &mut Conn) -> Result<()> {
    match conn {
        Conn::Sqlite(c) => Ok(migrate_sqlite(c)?),
        Conn::Postgres(_) => migrate_postgres(conn),
    }
}

const SQLITE_SCHEMA: &str = "
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
    last_seen      INTEGER NOT NULL DEFAULT 0,
    version        INTEGER NOT NULL DEFAULT 0
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
    account_id        TEXT,
    refresh_started_at INTEGER
);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    hook_id           TEXT PRIMARY KEY,
    install_id        TEXT NOT NULL UNIQUE REFERENCES installations(install_id) ON DELETE CASCADE,
    stora_endpoint_id TEXT NOT NULL,
    secret            BLOB NOT NULL,
    created_at        INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    install_id  TEXT NOT NULL REFERENCES installations(install_id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    api_version TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    data        TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (install_id, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_install ON events (install_id, seq);
CREATE TABLE IF NOT EXISTS event_push (
    install_id TEXT PRIMARY KEY REFERENCES installations(install_id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
";

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
/// Version 4 (several instances): `grants` remembers a refresh begun and
/// not finished (`refresh_started_at`). Version 5 (Stora's webhooks): the
/// new tables `webhook_endpoints` and `events`, created by the schema below.
/// Version 6 (a consistent installations cache): `installations.version`,
/// changed by every write of the row. Version 7 (pushed events): the new
/// table `event_push`, created by the schema below.
fn migrate_sqlite(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 1 {
        conn.execute_batch("DROP TABLE IF EXISTS connect_attempts;")?;
        add_column(conn, "grants", "connect_round", "ALTER TABLE grants ADD COLUMN connect_round TEXT;")?;
    }
    if version < 2 {
        add_column(
            conn,
            "installations",
            "proven",
            "ALTER TABLE installations ADD COLUMN proven INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE installations ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
             UPDATE installations SET last_seen = CAST(strftime('%s', 'now') AS INTEGER);",
        )?;
    }
    if version < 3 {
        add_column(conn, "grants", "account_id", "ALTER TABLE grants ADD COLUMN account_id TEXT;")?;
    }
    if version < 4 {
        add_column(conn, "grants", "refresh_started_at", "ALTER TABLE grants ADD COLUMN refresh_started_at INTEGER;")?;
    }
    if version < 6 {
        let ddl = "ALTER TABLE installations ADD COLUMN version INTEGER NOT NULL DEFAULT 0;";
        add_column(conn, "installations", "version", ddl)?;
    }
    conn.execute_batch(SQLITE_SCHEMA)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

/// Runs `ddl` when `table` exists without `column` (a table that does not
/// exist yet is created whole by the schema).
fn add_column(conn: &Connection, table: &str, column: &str, ddl: &str) -> rusqlite::Result<()> {
    let missing: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1
           AND NOT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
        rusqlite::params![table, column],
        |r| r.get(0),
    )?;
    if missing == 1 {
        conn.execute_batch(ddl)?;
    }
    Ok(())
}

const POSTGRES_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS installations (
    install_id     TEXT PRIMARY KEY,
    site_url       TEXT NOT NULL,
    admin_email    TEXT NOT NULL,
    platform       TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    secret         BYTEA NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending_ownership', 'active', 'disabled')),
    challenge      TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    proven         BOOLEAN NOT NULL DEFAULT FALSE,
    last_seen      BIGINT NOT NULL DEFAULT 0,
    version        BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS connect_links (
    install_id   TEXT NOT NULL REFERENCES installations(install_id) ON DELETE CASCADE,
    plugin_state TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    broker_state TEXT,
    PRIMARY KEY (install_id, plugin_state)
);
CREATE TABLE IF NOT EXISTS connect_attempts (
    broker_state      TEXT PRIMARY KEY,
    install_id        TEXT NOT NULL REFERENCES installations(install_id) ON DELETE CASCADE,
    plugin_state      TEXT NOT NULL,
    return_url        TEXT NOT NULL,
    scope             TEXT NOT NULL,
    expires_at        BIGINT NOT NULL,
    browser_hash      BYTEA NOT NULL,
    stage             TEXT NOT NULL CHECK (stage IN ('consent', 'exchanging', 'authorized', 'completed')),
    access_token      BYTEA,
    refresh_token     BYTEA,
    access_expires_at BIGINT,
    granted_scope     TEXT,
    account_id        TEXT,
    account_name      TEXT,
    code_hash         BYTEA UNIQUE,
    code_expires_at   BIGINT,
    completion_key    TEXT
);
CREATE TABLE IF NOT EXISTS grants (
    install_id         TEXT PRIMARY KEY REFERENCES installations(install_id) ON DELETE CASCADE,
    broker_token_hash  BYTEA NOT NULL UNIQUE,
    access_token       BYTEA NOT NULL,
    refresh_token      BYTEA NOT NULL,
    access_expires_at  BIGINT NOT NULL,
    scope              TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    generation         BIGINT NOT NULL,
    connected_at       BIGINT NOT NULL,
    refreshed_at       BIGINT,
    connect_round      TEXT,
    account_id         TEXT,
    refresh_started_at BIGINT
);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    hook_id           TEXT PRIMARY KEY,
    install_id        TEXT NOT NULL UNIQUE REFERENCES installations(install_id) ON DELETE CASCADE,
    stora_endpoint_id TEXT NOT NULL,
    secret            BYTEA NOT NULL,
    created_at        BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq         BIGSERIAL PRIMARY KEY,
    install_id  TEXT NOT NULL REFERENCES installations(install_id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    api_version TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    data        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (install_id, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_install ON events (install_id, seq);
CREATE TABLE IF NOT EXISTS event_push (
    install_id TEXT PRIMARY KEY REFERENCES installations(install_id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (
    install_id TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (install_id, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces (expires_at);
CREATE INDEX IF NOT EXISTS nonces_live ON nonces (install_id, expires_at);
CREATE TABLE IF NOT EXISTS pacing_slots (
    operator TEXT NOT NULL,
    at_ms    BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS pacing_slots_operator ON pacing_slots (operator, at_ms);
";

/// Key of the advisory lock migrations hold (any fixed number).
const MIGRATION_LOCK: i64 = 0x7465_7373_6572_6101;

/// PostgreSQL: the schema as of [`SCHEMA_VERSION`] (the first version this
/// engine was offered at), created under a transaction-scoped advisory lock
/// so that instances starting together do not race.
fn migrate_postgres(conn: &mut Conn) -> Result<()> {
    conn.transaction(|tx| {
        tx.execute("SELECT pg_advisory_xact_lock($1)", args![MIGRATION_LOCK])?;
        tx.batch("CREATE TABLE IF NOT EXISTS tessera_schema (version BIGINT NOT NULL)")?;
        let version = match tx.query_opt("SELECT version FROM tessera_schema", args![])? {
            Some(row) => row.int(0)?,
            None => {
                tx.execute("INSERT INTO tessera_schema (version) VALUES (0)", args![])?;
                0
            }
        };
        // Every table is `CREATE … IF NOT EXISTS`: a database at version 4
        // gains version 5's `webhook_endpoints` and `events` by running the
        // schema again. Later versions add their steps here, each guarded
        // by `version < n`.
        if version < SCHEMA_VERSION {
            tx.batch(POSTGRES_SCHEMA)?;
            if version < 6 {
                tx.batch("ALTER TABLE installations ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0")?;
            }
            tx.execute("UPDATE tessera_schema SET version = $1", args![SCHEMA_VERSION])?;
        }
        Ok(())
    })
}
