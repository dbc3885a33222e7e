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
    /// The caller's input breaks a rule of the data model (not a clash with stored data).
    #[error("{0}")]
    Invalid(String),
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

/// A SQL value borrowed from the caller, for bulk writes that should not copy every value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValRef<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

impl<'a> ValRef<'a> {
    /// The owned form, for paths that need one.
    pub fn to_val(self) -> Val {
        match self {
            ValRef::Null => Val::Null,
            ValRef::Int(i) => Val::Int(i),
            ValRef::Text(t) => Val::Text(t.to_string()),
        }
    }
}

impl From<i64> for ValRef<'_> {
    fn from(v: i64) -> Self {
        ValRef::Int(v)
    }
}
impl<'a> From<&'a str> for ValRef<'a> {
    fn from(v: &'a str) -> Self {
        ValRef::Text(v)
    }
}
impl<'a> From<&'a String> for ValRef<'a> {
    fn from(v: &'a String) -> Self {
        ValRef::Text(v)
    }
}

/// An insert of many rows that skips rows whose unique key already exists
/// (`ON CONFLICT (conflict) DO NOTHING`), reporting which rows it stored.
pub struct InsertMany<'s> {
    pub table: &'s str,
    pub columns: &'s [&'s str],
    /// The unique columns of the conflict clause.
    pub conflict: &'s [&'s str],
    /// The table's integer primary key (SQLite: its rowid alias), reported per stored row;
    /// `None` when the caller needs no answer (the result is then empty).
    pub key: Option<&'s str>,
    /// Positions in `columns` whose values tell the rows of one call apart where they can
    /// conflict (the conflict columns that are not the same in every row).
    pub identity: &'s [usize],
}

/// Rows per multi-row statement: well under both engines' parameter limits (SQLite
/// 32,766, PostgreSQL 65,535) for the widest row (9 columns).
pub const ROWS_PER_STATEMENT: usize = 512;

/// `items` in chunks of [`ROWS_PER_STATEMENT`], the rest in powers of two: a statement
/// built per chunk size then has at most ten shapes, so it is prepared once and reused.
pub fn fixed_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= ROWS_PER_STATEMENT {
            ROWS_PER_STATEMENT
        } else {
            1 << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// `"($1, $2), ($3, $4)"` for `rows` rows of `cols` placeholders, numbered from `first`.
pub fn values_list(rows: usize, cols: usize, first: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 6);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            s.push('$');
            s.push_str(&(first + r * cols + c).to_string());
        }
        s.push(')');
    }
    s
}

/// `"$2, $3, $4"`: a list of `n` placeholders numbered from `first`.
pub fn placeholders(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Appends one value to a row identity (typed and delimited, so that no two differ only
/// in where one value ends).
fn push_identity(key: &mut String, v: ValRef<'_>) {
    use std::fmt::Write;
    match v {
        ValRef::Null => key.push_str("n;"),
        ValRef::Int(i) => {
            let _ = write!(key, "i{i};");
        }
        ValRef::Text(t) => {
            let _ = write!(key, "t{}:{t};", t.len());
        }
    }
}

/// [`Conn::insert_many`] as multi-row statements with `RETURNING`, for engines where a
/// statement costs a round trip. Returned rows are matched to input rows by their
/// identity columns: within one statement the first row with a key is the one stored.
pub fn insert_many_multi_row(
    c: &mut dyn Conn,
    spec: &InsertMany<'_>,
    rows: &[ValRef<'_>],
) -> Result<Vec<Option<i64>>> {
    let cols = spec.columns.len();
    let rows: Vec<&[ValRef<'_>]> = rows.chunks_exact(cols).collect();
    let mut out = Vec::with_capacity(rows.len());
    let returning = spec.key.map(|key| {
        let mut r = format!(" RETURNING {key}");
        for &i in spec.identity {
            r.push_str(", ");
            r.push_str(spec.columns[i]);
        }
        r
    });
    for chunk in fixed_chunks(&rows) {
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) DO NOTHING{}",
            spec.table,
            spec.columns.join(", "),
            values_list(chunk.len(), cols, 1),
            spec.conflict.join(", "),
            returning.as_deref().unwrap_or(""),
        );
        let params: Vec<Val> = chunk
            .iter()
            .flat_map(|r| r.iter().map(|v| v.to_val()))
            .collect();
        if returning.is_none() {
            c.execute(&sql, &params)?;
            continue;
        }
        let mut stored: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
        for r in c.query(&sql, &params)? {
            let mut identity = String::new();
            for v in &r.0[1..] {
                push_identity(
                    &mut identity,
                    match v {
                        Val::Int(i) => ValRef::Int(*i),
                        Val::Text(t) => ValRef::Text(t),
                        Val::Null | Val::Real(_) => ValRef::Null,
                    },
                );
            }
            stored.insert(identity, r.i64(0)?);
        }
        for row in chunk {
            let mut identity = String::new();
            for &i in spec.identity {
                push_identity(&mut identity, row[i]);
            }
            out.push(stored.remove(&identity));
        }
    }
    Ok(out)
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

/// One result row borrowed from the engine, for hot paths that should not copy each value
/// into an owned [`Row`].
pub trait RowView {
    fn i64(&self, i: usize) -> Result<i64>;
    fn str(&self, i: usize) -> Result<&str>;
    /// A text column's bytes, unchecked where the engine can lend them without a UTF-8
    /// check (SQLite); the caller validates what it keeps ([`PageRow`]'s renderer checks a
    /// whole page at once instead of each row).
    ///
    /// [`PageRow`]: super::PageRow
    fn text_bytes(&self, i: usize) -> Result<&[u8]> {
        self.str(i).map(str::as_bytes)
    }
    /// An owned copy, for callers that keep the row.
    fn to_row(&self) -> Result<Row>;
}

impl RowView for Row {
    fn i64(&self, i: usize) -> Result<i64> {
        Row::i64(self, i)
    }
    fn str(&self, i: usize) -> Result<&str> {
        Row::str(self, i)
    }
    fn to_row(&self) -> Result<Row> {
        Ok(self.clone())
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

    /// Visit each result row in order without keeping it: engines that can lend their own
    /// row buffer do so, which spares a copy of every value on large reads.
    fn query_each(
        &mut self,
        sql: &str,
        params: &[Val],
        visit: &mut dyn FnMut(&dyn RowView) -> Result<()>,
    ) -> Result<()> {
        for r in self.query(sql, params)? {
            visit(&r)?;
        }
        Ok(())
    }

    fn query_one(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Insert `rows` (flattened: `spec.columns.len()` values per row) in order, skipping
    /// rows whose conflict key exists (in the table or earlier in `rows`). Returns, per
    /// row, its new key if it was stored (nothing if `spec.key` is `None`). Engines choose
    /// the fastest way to do it.
    fn insert_many(
        &mut self,
        spec: &InsertMany<'_>,
        rows: &[ValRef<'_>],
    ) -> Result<Vec<Option<i64>>>;

    /// Update rows by key: `rows` is flattened, `1 + spec.set.len()` values per row (the
    /// key, then the new values in `spec.set` order). Row by row here, which is as fast as
    /// anything on an embedded engine; a server engine overrides it to save round trips.
    fn update_many(&mut self, spec: &UpdateMany<'_>, rows: &[ValRef<'_>]) -> Result<()> {
        let sets: Vec<String> = spec
            .set
            .iter()
            .enumerate()
            .map(|(i, (col, _))| format!("{col} = ${}", i + 2))
            .collect();
        let sql = format!(
            "UPDATE {} SET {} WHERE {} = $1",
            spec.table,
            sets.join(", "),
            spec.key
        );
        for row in rows.chunks_exact(1 + spec.set.len()) {
            let params: Vec<Val> = row.iter().map(|v| v.to_val()).collect();
            self.execute(&sql, &params)?;
        }
        Ok(())
    }
}

/// Which table and columns [`Conn::update_many`] writes. Column types are PostgreSQL's
/// names, needed there because a `VALUES` list carries no column types of its own.
pub struct UpdateMany<'s> {
    pub table: &'s str,
    /// The integer key column that picks each row.
    pub key: &'s str,
    /// (column, PostgreSQL type) of each column set.
    pub set: &'s [(&'s str, &'s str)],
}

/// [`Conn::update_many`] as `UPDATE … FROM (VALUES …)` statements of up to
/// [`ROWS_PER_STATEMENT`] rows: one round trip per chunk instead of one per row.
pub fn update_many_multi_row(
    c: &mut dyn Conn,
    spec: &UpdateMany<'_>,
    rows: &[ValRef<'_>],
) -> Result<()> {
    let width = 1 + spec.set.len();
    let rows: Vec<&[ValRef<'_>]> = rows.chunks_exact(width).collect();
    let types: Vec<&str> = std::iter::once("bigint")
        .chain(spec.set.iter().map(|(_, t)| *t))
        .collect();
    let names: Vec<&str> = std::iter::once(spec.key)
        .chain(spec.set.iter().map(|(col, _)| *col))
        .collect();
    let assignments: Vec<String> = spec
        .set
        .iter()
        .map(|(col, _)| format!("{col} = v.{col}"))
        .collect();
    for chunk in fixed_chunks(&rows) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| {
                let cells: Vec<String> = types
                    .iter()
                    .enumerate()
                    .map(|(i, ty)| format!("${}::{ty}", r * width + i + 1))
                    .collect();
                format!("({})", cells.join(", "))
            })
            .collect();
        let sql = format!(
            "UPDATE {table} AS t SET {sets} FROM (VALUES {values}) AS v({names}) WHERE t.{key} = v.{key}",
            table = spec.table,
            sets = assignments.join(", "),
            values = values.join(", "),
            names = names.join(", "),
            key = spec.key,
        );
        let params: Vec<Val> = chunk
            .iter()
            .flat_map(|r| r.iter().map(|v| v.to_val()))
            .collect();
        c.execute(&sql, &params)?;
    }
    Ok(())
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls back.
pub trait Tx: Conn {
    fn commit(self: Box<Self>) -> Result<()>;
    /// The transaction has become a bulk load: the engine may give it more memory until it
    /// ends (SQLite: a larger page cache, so that index pages stay in memory instead of
    /// being re-read from the WAL). Durability and isolation are unchanged.
    fn grow_for_bulk(&mut self) -> Result<()> {
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_lists() {
        assert_eq!(values_list(2, 2, 1), "($1, $2), ($3, $4)");
        assert_eq!(placeholders(3, 2), "$2, $3, $4");
    }

    #[test]
    fn chunks_have_few_sizes_and_cover_everything() {
        let items: Vec<usize> = (0..ROWS_PER_STATEMENT * 2 + 300).collect();
        let chunks: Vec<&[usize]> = fixed_chunks(&items).collect();
        let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(
            sizes,
            [ROWS_PER_STATEMENT, ROWS_PER_STATEMENT, 256, 32, 8, 4]
        );
        assert_eq!(chunks.concat(), items);
        assert_eq!(fixed_chunks::<u8>(&[]).count(), 0);
        assert_eq!(fixed_chunks(&[1]).map(|c| c.len()).collect::<Vec<_>>(), [1]);
    }
}
