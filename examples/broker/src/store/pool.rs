//! A pool of connections to one database: SQLite opens one per caller
//! when the idle ones are taken (they are cheap); PostgreSQL keeps at most
//! a fixed number open and makes a caller wait for one, since a server has
//! a connection limit that several instances share.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::db::{Conn, Database, Error, Result, connect};

/// Idle connections kept for reuse.
const IDLE_MAX: usize = 16;

/// How long a caller waits for a PostgreSQL connection.
const POOL_WAIT: Duration = Duration::from_secs(10);

/// A pool of connections to one database.
pub struct Pool {
    database: Database,
    /// PostgreSQL: most connections open at once (`None`: SQLite, no limit).
    limit: Option<usize>,
    state: Mutex<PoolState>,
    freed: Condvar,
}

struct PoolState {
    idle: Vec<Conn>,
    open: usize,
}

/// A connection taken from a [`Pool`]; returned to it when dropped.
pub struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Conn>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Pooled<'_> {
    /// Closes the connection instead of returning it to the pool.
    pub fn discard(mut self) {
        if self.conn.take().is_some() {
            let mut state = self.pool.state.lock().unwrap_or_else(|e| e.into_inner());
            state.open = state.open.saturating_sub(1);
            drop(state);
            self.pool.freed.notify_one();
        }
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let mut state = self.pool.state.lock().unwrap_or_else(|e| e.into_inner());
        if conn.reusable() && state.idle.len() < IDLE_MAX {
            state.idle.push(conn);
        } else {
            state.open = state.open.saturating_sub(1);
        }
        drop(state);
        self.pool.freed.notify_one();
    }
}

impl Pool {
    /// A pool for `database`, holding at most `limit` PostgreSQL
    /// connections; starts with `first` (already open) idle.
    pub fn new(database: Database, limit: usize, first: Conn) -> Pool {
        let limit = matches!(database, Database::Postgres(_)).then_some(limit.max(1));
        Pool { database, limit, state: Mutex::new(PoolState { idle: vec![first], open: 1 }), freed: Condvar::new() }
    }

    /// The database this pool connects to.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// An idle connection, a new one, or (PostgreSQL, at the limit) the next
    /// one freed within [`POOL_WAIT`].
    pub fn get(&self) -> Result<Pooled<'_>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = std::time::Instant::now() + POOL_WAIT;
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(Pooled { pool: self, conn: Some(conn) });
            }
            if self.limit.is_none_or(|limit| state.open < limit) {
                state.open += 1;
                drop(state);
                return match connect(&self.database) {
                    Ok(conn) => Ok(Pooled { pool: self, conn: Some(conn) }),
                    Err(e) => {
                        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                        state.open -= 1;
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(Error::PoolTimeout);
            }
            state = self.freed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}
