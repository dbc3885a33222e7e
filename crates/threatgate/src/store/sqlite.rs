//! SQLite engine: the embedded default. WAL mode, one writer connection, a small pool of
//! readers that see committed snapshots while a submission is being written.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use super::backend::{
    to_sqlite_placeholders, Backend, Conn, Dialect, InsertMany, Result, Row, RowView, StoreError,
    Tx, Val, ValRef,
};

/// How many idle read connections are kept open.
const READ_POOL: usize = 32;
/// How long a statement waits for a lock held by another process before failing.
const BUSY_TIMEOUT_MS: u64 = 30_000;
/// The writer's page cache between bulk loads (allocated only as used).
const WRITER_CACHE_KIB: i64 = 256 * 1024;
/// The writer's page cache during a bulk load ([`Tx::grow_for_bulk`]), given back at commit
/// or rollback. At 1 M indicators the indexes written at random keys (objects by STIX id,
/// observables by value) outgrow 256 MB together with the pages being appended, and every
/// evicted page is read back from the WAL (`walFindFrame` and `pread` were ~10 % of the
/// writer's samples). 384 MB: the 1 M-indicator ingest peaks at ~760 MB RSS (512 MB gave
/// ~900 MB for no clear further gain), under the 1 GB target (bench/INGEST_RESULTS.md).
const BULK_CACHE_KIB: i64 = 384 * 1024;

/// Page size of a new database. 16 KiB rather than SQLite's 4 KiB: a million-indicator
/// submission writes a quarter as many WAL frames (one `pwrite` each, and each frame's
/// 24-byte header leaves it unaligned, so the file system zeroes and merges two blocks per
/// frame), its B-trees are a level shallower, and the writer's page-cache lookups are a
/// quarter as many. Measured in `bench/INGEST_RESULTS.md` (1 M: ~0.9× the commit time and
/// system CPU). Larger pages cut system time further but make every point read (search,
/// policy lookups) copy 64 KiB per tree level.
const PAGE_SIZE: u32 = 16 * 1024;

fn set_cache_kib(c: &Connection, kib: i64) -> Result<()> {
    // Negative: a size in KiB rather than in pages.
    Ok(c.execute_batch(&format!("PRAGMA cache_size = -{kib}"))?)
}

pub struct SqliteBackend {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict(e.to_string())
            }
            _ => StoreError::Db(e.to_string()),
        }
    }
}

impl SqliteBackend {
    /// Open (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<SqliteBackend> {
        let writer = open_conn(path, true)?;
        // A 256 MB page cache for the writer (allocated only as used): a large submission's
        // index pages stay in memory instead of spilling to the WAL mid-transaction. WAL
        // with synchronous = NORMAL keeps every committed submission across a crash.
        // Only a new database takes the page size; an existing one keeps its own.
        writer.execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE}"))?;
        writer.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;",
        )?;
        set_cache_kib(&writer, WRITER_CACHE_KIB)?;
        Ok(SqliteBackend {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }
}

fn open_conn(path: &Path, create: bool) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let c = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Db(format!("cannot open {}: {e}", path.display())))?;
    c.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    c.execute_batch("PRAGMA foreign_keys = ON;")?;
    c.set_prepared_statement_cache_capacity(128);
    Ok(c)
}

impl ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::Null => ToSqlOutput::Owned(SqlValue::Null),
            Val::Int(i) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Val::Real(f) => ToSqlOutput::Owned(SqlValue::Real(*f)),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl ToSql for ValRef<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            ValRef::Null => ToSqlOutput::Owned(SqlValue::Null),
            ValRef::Int(i) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            ValRef::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

/// One single-row statement per row, prepared once. In-process, a statement costs no
/// round trip, and a single-row insert without `RETURNING` needs no statement journal,
/// which a multi-row insert (or any with `RETURNING`) keeps by copying every page it
/// touches; the stored row's key is the rowid SQLite just assigned.
fn run_insert_many(
    c: &Connection,
    spec: &InsertMany<'_>,
    rows: &[ValRef<'_>],
) -> Result<Vec<Option<i64>>> {
    let cols = spec.columns.len();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO NOTHING",
        spec.table,
        spec.columns.join(", "),
        (1..=cols)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", "),
        spec.conflict.join(", "),
    );
    let mut st = c.prepare_cached(&sql)?;
    let mut out = Vec::with_capacity(if spec.key.is_some() {
        rows.len() / cols
    } else {
        0
    });
    for row in rows.chunks_exact(cols) {
        for (i, v) in row.iter().enumerate() {
            st.raw_bind_parameter(i + 1, v)?;
        }
        let stored = st.raw_execute()? > 0;
        if spec.key.is_some() {
            out.push(stored.then(|| c.last_insert_rowid()));
        }
    }
    Ok(out)
}

fn owned_row(r: &rusqlite::Row<'_>) -> Result<Row> {
    let n = AsRef::<rusqlite::Statement<'_>>::as_ref(r).column_count();
    let mut vals = Vec::with_capacity(n);
    for i in 0..n {
        vals.push(match r.get_ref(i)? {
            ValueRef::Null => Val::Null,
            ValueRef::Integer(i) => Val::Int(i),
            ValueRef::Real(f) => Val::Real(f),
            ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Val::Text(String::from_utf8_lossy(b).into_owned()),
        });
    }
    Ok(Row(vals))
}

fn run_query(c: &Connection, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    run_query_each(c, sql, params, &mut |r| {
        out.push(r.to_row()?);
        Ok(())
    })?;
    Ok(out)
}

/// A row read in place from SQLite's own buffer.
struct SqliteRow<'a, 'r>(&'a rusqlite::Row<'r>);

impl RowView for SqliteRow<'_, '_> {
    fn i64(&self, i: usize) -> Result<i64> {
        match self.0.get_ref(i)? {
            ValueRef::Integer(v) => Ok(v),
            ValueRef::Real(v) => Ok(v as i64),
            _ => self
                .str(i)?
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("column {i}: expected integer"))),
        }
    }
    fn str(&self, i: usize) -> Result<&str> {
        match self.0.get_ref(i)? {
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                std::str::from_utf8(t).map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))
            }
            other => Err(StoreError::Corrupt(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }
    fn text_bytes(&self, i: usize) -> Result<&[u8]> {
        match self.0.get_ref(i)? {
            ValueRef::Text(t) | ValueRef::Blob(t) => Ok(t),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }
    fn to_row(&self) -> Result<Row> {
        owned_row(self.0)
    }
}

fn run_query_each(
    c: &Connection,
    sql: &str,
    params: &[Val],
    visit: &mut dyn FnMut(&dyn RowView) -> Result<()>,
) -> Result<()> {
    let mut st = c.prepare_cached(&to_sqlite_placeholders(sql))?;
    let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
    while let Some(r) = rows.next()? {
        visit(&SqliteRow(r))?;
    }
    Ok(())
}

fn run_execute(c: &Connection, sql: &str, params: &[Val]) -> Result<u64> {
    let mut st = c.prepare_cached(&to_sqlite_placeholders(sql))?;
    Ok(st.execute(rusqlite::params_from_iter(params.iter()))? as u64)
}

struct SqliteTx<'a> {
    conn: std::sync::MutexGuard<'a, Connection>,
    done: bool,
    /// The page cache was grown for a bulk load and is to be shrunk back when it ends.
    grown: bool,
}

impl SqliteTx<'_> {
    fn shrink_cache(&mut self) {
        if std::mem::take(&mut self.grown) {
            // Shrinking frees the cache's pages beyond the new size (all clean after
            // commit or rollback). A failure leaves a larger cache, nothing worse.
            let _ = set_cache_kib(&self.conn, WRITER_CACHE_KIB);
        }
    }
}

impl Conn for SqliteTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        run_execute(&self.conn, sql, params)
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        run_query(&self.conn, sql, params)
    }
    fn query_each(
        &mut self,
        sql: &str,
        params: &[Val],
        visit: &mut dyn FnMut(&dyn RowView) -> Result<()>,
    ) -> Result<()> {
        run_query_each(&self.conn, sql, params, visit)
    }
    fn insert_many(
        &mut self,
        spec: &InsertMany<'_>,
        rows: &[ValRef<'_>],
    ) -> Result<Vec<Option<i64>>> {
        run_insert_many(&self.conn, spec, rows)
    }
    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }
}

impl Tx for SqliteTx<'_> {
    fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        self.done = true;
        self.shrink_cache();
        Ok(())
    }

    fn grow_for_bulk(&mut self) -> Result<()> {
        if !self.grown {
            set_cache_kib(&self.conn, BULK_CACHE_KIB)?;
            self.grown = true;
        }
        Ok(())
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.shrink_cache();
    }
}

struct ReadConn<'a>(&'a Connection);

impl Conn for ReadConn<'_> {
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        run_execute(self.0, sql, params)
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        run_query(self.0, sql, params)
    }
    fn query_each(
        &mut self,
        sql: &str,
        params: &[Val],
        visit: &mut dyn FnMut(&dyn RowView) -> Result<()>,
    ) -> Result<()> {
        run_query_each(self.0, sql, params, visit)
    }
    fn insert_many(
        &mut self,
        spec: &InsertMany<'_>,
        rows: &[ValRef<'_>],
    ) -> Result<Vec<Option<i64>>> {
        run_insert_many(self.0, spec, rows)
    }
    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.0.execute_batch(sql)?)
    }
}

impl Backend for SqliteBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn begin(&self) -> Result<Box<dyn Tx + '_>> {
        let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        // IMMEDIATE takes the write lock now, so another process fails fast at BEGIN
        // (after busy_timeout) instead of midway through a submission.
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(SqliteTx {
            conn,
            done: false,
            grown: false,
        }))
    }

    fn read(&self, f: &mut dyn FnMut(&mut dyn Conn) -> Result<()>) -> Result<()> {
        let conn = match self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            Some(c) => c,
            None => open_conn(&self.path, false)?,
        };
        conn.execute_batch("BEGIN")?;
        let result = f(&mut ReadConn(&conn));
        let _ = conn.execute_batch("COMMIT");
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < READ_POOL {
            pool.push(conn);
        }
        result
    }

    fn describe(&self) -> String {
        format!("SQLite database {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_kib(c: &mut dyn Conn) -> i64 {
        -c.query("PRAGMA cache_size", &[]).unwrap()[0]
            .i64(0)
            .unwrap()
    }

    /// A bulk load's larger page cache lasts until its transaction ends, committed or not.
    #[test]
    fn bulk_page_cache_is_given_back_at_commit_and_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteBackend::open(&dir.path().join("t.db")).unwrap();
        let mut tx = db.begin().unwrap();
        assert_eq!(cache_kib(&mut *tx), WRITER_CACHE_KIB);
        tx.grow_for_bulk().unwrap();
        assert_eq!(cache_kib(&mut *tx), BULK_CACHE_KIB);
        tx.batch("CREATE TABLE t (x)").unwrap();
        tx.commit().unwrap();
        let mut tx = db.begin().unwrap();
        assert_eq!(cache_kib(&mut *tx), WRITER_CACHE_KIB, "after commit");
        tx.grow_for_bulk().unwrap();
        tx.batch("INSERT INTO t VALUES (1)").unwrap();
        drop(tx);
        let mut tx = db.begin().unwrap();
        assert_eq!(cache_kib(&mut *tx), WRITER_CACHE_KIB, "after rollback");
        assert_eq!(
            tx.query("SELECT COUNT(*) FROM t", &[]).unwrap()[0]
                .i64(0)
                .unwrap(),
            0
        );
    }
}
