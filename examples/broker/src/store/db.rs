//! The two database engines behind [`Store`](super::Store): SQLite (one
//! file, compiled in; the default) and PostgreSQL (one server shared by
//! several broker instances).
//!
//! Every statement is written once, in PostgreSQL's spelling: numbered
//! parameters `$1`, `TRUE`/`FALSE`, and `FOR UPDATE` on the reads a
//! transaction goes on to change. For SQLite the text is rewritten on its way
//! in ([`sqlite_sql`]): `$n` becomes `?n` and `FOR UPDATE` is dropped, since
//! SQLite's `BEGIN IMMEDIATE` already holds the one write lock for the whole
//! transaction. Values cross as [`Arg`] (in) and [`Row`] (out), the few types
//! the schema uses: integers, text, bytes, booleans and `NULL`
//! ([`super::value`]).
//!
//! Connections come from a [`Pool`] ([`super::pool`]): SQLite opens one per caller when the
//! idle ones are taken (they are cheap); PostgreSQL keeps at most a fixed
//! number open and makes a caller wait for one — a server has a connection
//! limit that several instances share.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use postgres::types::{ToSql, Type};

pub use super::pool::{Pool, Pooled};
use super::value::Value;
pub(crate) use super::value::args;
pub use super::value::{Arg, Row};

/// A storage error: the engine's, or a row the broker cannot use.
#[derive(Debug)]
pub enum Error {
    /// SQLite refused or failed.
    Sqlite(rusqlite::Error),
    /// PostgreSQL refused or failed (or the connection is gone).
    Postgres(postgres::Error),
    /// A row that does not have the shape the schema promises, or a sealed
    /// value that does not open with the storage key.
    Corrupt(String),
    /// No PostgreSQL connection became free in time.
    PoolTimeout,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Sqlite(e) => write!(f, "sqlite: {e}"),
            Error::Postgres(e) => write!(f, "postgresql: {e}"),
            Error::Corrupt(what) => write!(f, "unusable row: {what}"),
            Error::PoolTimeout => f.write_str("no database connection became free in time"),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sqlite(e)
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::Postgres(e)
    }
}

/// Result of storage calls.
pub type Result<T> = std::result::Result<T, Error>;

/// Where the broker keeps its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// One SQLite file: a single broker instance.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgres://user@host:port/db`, or
    /// the `key=value` form): one database shared by every instance.
    Postgres(String),
}

impl Database {
    /// The database a `DATABASE_URL` names: `postgres://` or
    /// `postgresql://` is PostgreSQL, `sqlite:PATH` (or `sqlite://PATH`) a
    /// SQLite file. `None` for anything else.
    pub fn from_url(url: &str) -> Option<Database> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Some(Database::Postgres(url.to_string()));
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
        (!path.is_empty()).then(|| Database::Sqlite(PathBuf::from(path)))
    }

    /// For logs: the engine and, for SQLite, the file; never a password.
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite {}", path.display()),
            Database::Postgres(_) => "postgresql".to_string(),
        }
    }
}

/// The statement text SQLite is given: `$n` → `?n`, `FOR UPDATE` dropped.
/// The statements are the broker's own (no `$` or that phrase inside a
/// string literal).
pub fn sqlite_sql(sql: &str) -> String {
    sql.replace(" FOR UPDATE", "").replace('$', "?")
}

/// A PostgreSQL session and the statements it has prepared (each statement
/// text is parsed once per connection, not once per call).
pub struct PgConn {
    client: postgres::Client,
    prepared: HashMap<String, postgres::Statement>,
}

/// One connection of either engine.
pub enum Conn {
    /// A SQLite connection.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL session.
    Postgres(Box<PgConn>),
}

fn pg_row(row: &postgres::Row) -> Result<Row> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let value = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?.map(|v| Value::Int(v.into()))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)?.map(|v| Value::Int(v.into()))
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes)
        } else {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

fn sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    use rusqlite::types::ValueRef;
    let mut values = Vec::new();
    for i in 0..row.as_ref().column_count() {
        values.push(match row.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Int(v),
            ValueRef::Real(v) => Value::Int(v as i64),
            ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
            ValueRef::Blob(v) => Value::Bytes(v.to_vec()),
        });
    }
    Ok(Row(values))
}

impl PgConn {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.prepared.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

fn pg_args<'a>(args: &'a [Arg<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

impl Conn {
    /// Runs a statement; the number of rows it changed.
    pub fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64> {
        match self {
            Conn::Sqlite(c) => {
                let params = rusqlite::params_from_iter(args.iter());
                Ok(c.prepare_cached(&sqlite_sql(sql))?.execute(params)? as u64)
            }
            Conn::Postgres(c) => {
                let statement = c.statement(sql)?;
                Ok(c.client.execute(&statement, &pg_args(args))?)
            }
        }
    }

    /// Runs a query; every row.
    pub fn query(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>> {
        match self {
            Conn::Sqlite(c) => {
                let mut statement = c.prepare_cached(&sqlite_sql(sql))?;
                let rows = statement.query_map(rusqlite::params_from_iter(args.iter()), sqlite_row)?;
                Ok(rows.collect::<rusqlite::Result<Vec<Row>>>()?)
            }
            Conn::Postgres(c) => {
                let statement = c.statement(sql)?;
                c.client.query(&statement, &pg_args(args))?.iter().map(pg_row).collect()
            }
        }
    }

    /// Runs a query; its first row, if any.
    pub fn query_opt(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// Runs statements separated by `;`, with no parameters (schema).
    pub fn batch(&mut self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(c) => Ok(c.client.batch_execute(sql)?),
        }
    }

    /// Runs `work` in one transaction: committed when it returns `Ok`,
    /// rolled back otherwise. SQLite takes its write lock at the start
    /// (`BEGIN IMMEDIATE`); on PostgreSQL the statements lock the rows they
    /// read `FOR UPDATE`.
    pub fn transaction<T>(&mut self, work: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        self.batch(match self {
            Conn::Sqlite(_) => "BEGIN IMMEDIATE",
            Conn::Postgres(_) => "BEGIN",
        })?;
        match work(self) {
            Ok(value) => {
                self.batch("COMMIT")?;
                Ok(value)
            }
            Err(e) => {
                // The error that matters is the first; a failed rollback
                // leaves the connection broken, and it is then dropped.
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Whether this is a PostgreSQL session.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Conn::Postgres(_))
    }

    /// Whether the connection can be reused (PostgreSQL: still open).
    pub(super) fn reusable(&self) -> bool {
        match self {
            Conn::Sqlite(_) => true,
            Conn::Postgres(c) => !c.client.is_closed(),
        }
    }
}

/// How long a PostgreSQL statement may wait for a lock or run.
const PG_SESSION_SETTINGS: &str = "SET lock_timeout = '10s'; SET statement_timeout = '30s'";

/// Opens one connection to `database`.
pub fn connect(database: &Database) -> Result<Conn> {
    match database {
        Database::Sqlite(path) => Ok(Conn::Sqlite(open_sqlite(path)?)),
        Database::Postgres(url) => {
            let mut config: postgres::Config = url.parse()?;
            if config.get_connect_timeout().is_none() {
                config.connect_timeout(Duration::from_secs(10));
            }
            let mut client = config.connect(postgres::NoTls)?;
            client.batch_execute(PG_SESSION_SETTINGS)?;
            Ok(Conn::Postgres(Box::new(PgConn { client, prepared: HashMap::new() })))
        }
    }
}

fn open_sqlite(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_rewritten_for_sqlite() {
        assert_eq!(
            sqlite_sql("SELECT a FROM t WHERE b = $1 AND c = $12 FOR UPDATE"),
            "SELECT a FROM t WHERE b = ?1 AND c = ?12"
        );
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            Database::from_url("postgres://u@127.0.0.1:5/db"),
            Some(Database::Postgres("postgres://u@127.0.0.1:5/db".into()))
        );
        assert!(matches!(Database::from_url("postgresql://u@h/db"), Some(Database::Postgres(_))));
        assert_eq!(Database::from_url("sqlite:/tmp/b.db"), Some(Database::Sqlite("/tmp/b.db".into())));
        assert_eq!(Database::from_url("sqlite:///tmp/b.db"), Some(Database::Sqlite("/tmp/b.db".into())));
        assert_eq!(Database::from_url("mysql://x"), None);
        assert_eq!(Database::from_url("sqlite:"), None);
        assert_eq!(Database::Postgres("postgres://u:pw@h/db".into()).describe(), "postgresql");
    }

    #[test]
    fn sqlite_round_trip_of_every_type() {
        let mut conn = connect(&Database::Sqlite(":memory:".into())).unwrap();
        conn.batch("CREATE TABLE t (i INTEGER, s TEXT, b BLOB, f INTEGER, n TEXT)").unwrap();
        let blob = vec![0u8, 1, 255];
        let none: Option<&str> = None;
        assert_eq!(
            conn.execute("INSERT INTO t VALUES ($1, $2, $3, $4, $5)", args![7i64, "x", &blob, true, none]).unwrap(),
            1
        );
        let row = conn.query_opt("SELECT i, s, b, f, n FROM t WHERE s = $1", args!["x"]).unwrap().unwrap();
        assert_eq!((row.int(0).unwrap(), row.text(1).unwrap(), row.bytes(2).unwrap()), (7, "x".into(), blob));
        assert!(row.flag(3).unwrap());
        assert_eq!(row.opt_text(4).unwrap(), None);
        assert!(row.text(4).is_err() && row.int(1).is_err() && row.bytes(9).is_err(), "typed, never coerced");
        let err = conn.transaction(|c| {
            c.execute("DELETE FROM t", args![])?;
            Err::<(), _>(Error::Corrupt("stop".into()))
        });
        assert!(err.is_err());
        assert_eq!(conn.query("SELECT i FROM t", args![]).unwrap().len(), 1, "rolled back");
    }
}
