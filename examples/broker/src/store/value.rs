//! The values that cross between the broker and either engine: [`Arg`]
//! (bound to a statement's `$n`) and [`Row`] (a result row, read by column
//! with typed getters that never coerce).

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::db::{Error, Result};

/// A value bound to a statement parameter.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    /// `NULL`.
    Null,
    /// A 64-bit integer (`BIGINT`; SQLite `INTEGER`).
    Int(i64),
    /// Text.
    Text(&'a str),
    /// Bytes (`BYTEA`; SQLite `BLOB`).
    Bytes(&'a [u8]),
    /// A boolean (`BOOLEAN`; SQLite `0`/`1`).
    Bool(bool),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Arg::Bytes(v)
    }
}
impl<'a> From<&'a Vec<u8>> for Arg<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Arg::Bytes(v)
    }
}
impl<'a, T: Into<Arg<'a>>> From<Option<T>> for Arg<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Arg::Null, Into::into)
    }
}

/// The parameters of a statement: `args![a, b]` is `&[Arg::from(a), Arg::from(b)]`.
macro_rules! args {
    ($($value:expr),* $(,)?) => { &[$($crate::store::value::Arg::from($value)),*][..] };
}
pub(crate) use args;

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match *self {
            Arg::Null => ToSqlOutput::Owned(Value::Null),
            Arg::Int(v) => ToSqlOutput::Owned(Value::Integer(v)),
            Arg::Bool(v) => ToSqlOutput::Owned(Value::Integer(i64::from(v))),
            Arg::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Arg::Bytes(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

impl ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Arg::Null => Ok(IsNull::Yes),
            Arg::Int(v) if *ty == Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
            Arg::Int(v) => v.to_sql(ty, out),
            Arg::Text(v) => v.to_sql(ty, out),
            Arg::Bytes(v) => v.to_sql(ty, out),
            Arg::Bool(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        // Checked per value in `to_sql`, by the inner type's own encoder.
        true
    }

    to_sql_checked!();
}

/// A column's value as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// One result row, its columns in `SELECT` order.
#[derive(Debug)]
pub struct Row(pub(super) Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value> {
        self.0.get(i).ok_or_else(|| Error::Corrupt(format!("no column {i}")))
    }

    fn mismatch(&self, i: usize, wanted: &str) -> Error {
        Error::Corrupt(format!("column {i} is not {wanted}"))
    }

    /// An integer column.
    pub fn int(&self, i: usize) -> Result<i64> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            _ => Err(self.mismatch(i, "an integer")),
        }
    }

    /// A boolean column (SQLite: an integer, non-zero is true).
    pub fn flag(&self, i: usize) -> Result<bool> {
        self.int(i).map(|v| v != 0)
    }

    /// A text column that may be `NULL`.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v.clone())),
            _ => Err(self.mismatch(i, "text")),
        }
    }

    /// A text column.
    pub fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?.ok_or_else(|| self.mismatch(i, "text (it is NULL)"))
    }

    /// A bytes column that may be `NULL`.
    pub fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Bytes(v) => Ok(Some(v.clone())),
            _ => Err(self.mismatch(i, "bytes")),
        }
    }

    /// A bytes column.
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>> {
        self.opt_bytes(i)?.ok_or_else(|| self.mismatch(i, "bytes (it is NULL)"))
    }

    /// An integer column that may be `NULL`.
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }
}
