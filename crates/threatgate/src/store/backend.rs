//! The engine-specific part of the store: connections, transactions, values and dialect.
//!
//! All store logic is written once, in SQL that both engines accept (`$1` placeholders,
//! `ON CONFLICT`, `RETURNING`), against the [`Backend`] and [`Conn`] traits. SQLite and
//! PostgreSQL each implement these traits; nothing else differs between them.

use std::fmt;

/// A store error: what failed, in which statement.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("the store's schema is version {found}, newer than this binary understands ({known}); upgrade threatgate")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A SQL value passed to or read from either engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::Text(v.clone())
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Int(v as i64)
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Val::Null)
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Val>);

impl Row {
    pub fn i64(&self, i: usize) -> Result<i64> {
        match self.0.get(i) {
            Some(Val::Int(v)) => Ok(*v),
            Some(Val::Real(v)) => Ok(*v as i64),
            Some(Val::Text(t)) => t
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("column {i}: {t:?} is not an integer"))),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: expected integer, got {other:?}"
            ))),
        }
    }
    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
        match self.0.get(i) {
            Some(Val::Null) | None => Ok(None),
            _ => self.i64(i).map(Some),
        }
    }
    pub fn str(&self, i: usize) -> Result<&str> {
        match self.0.get(i) {
            Some(Val::Text(t)) => Ok(t),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }
    pub fn opt_str(&self, i: usize) -> Result<Option<&str>> {
        match self.0.get(i) {
            Some(Val::Null) | None => Ok(None),
            _ => self.str(i).map(Some),
        }
    }
    pub fn string(&self, i: usize) -> Result<String> {
        self.str(i).map(str::to_string)
    }
    /// Move a text column out of the row (no copy; the column becomes NULL).
    pub fn take_string(&mut self, i: usize) -> Result<String> {
        match self.0.get_mut(i) {
            Some(Val::Text(t)) => Ok(std::mem::take(t)),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }
}

/// The SQL differences the shared statements must know about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Row locking suffix for read-modify-write sequences (SQLite serialises writers anyway).
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgresql",
        })
    }
}

/// An open connection, inside a transaction for writers.
pub trait Conn {
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64>;
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>>;
    /// Run several `;`-separated statements without parameters (DDL).
    fn batch(&mut self, sql: &str) -> Result<()>;

    fn query_one(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls back.
pub trait Tx: Conn {
    fn commit(self: Box<Self>) -> Result<()>;
}

/// A database engine.
pub trait Backend: Send + Sync {
    fn dialect(&self) -> Dialect;
    /// Start a write transaction. Writers are serialised: one submission at a time keeps
    /// `date_added` monotonic in commit order, which TAXII `added_after` paging relies on.
    fn begin(&self) -> Result<Box<dyn Tx + '_>>;
    /// Run `f` on a read connection (a consistent snapshot for its duration on both engines).
    fn read(&self, f: &mut dyn FnMut(&mut dyn Conn) -> Result<()>) -> Result<()>;
    /// A human-readable location, for messages.
    fn describe(&self) -> String;
}

/// Rewrite `$1`-style placeholders to SQLite's `?1` form.
pub fn to_sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_str = false;
    for c in sql.chars() {
        if c == '\'' {
            in_str = !in_str;
        }
        if c == '$' && !in_str {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}
