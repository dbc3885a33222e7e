//! PostgreSQL engine, for deployments where several `threatgate serve` nodes share one store.
//!
//! Uses the `postgres` crate (the blocking client of the tokio-postgres project): the store
//! API is synchronous and the server calls it from blocking tasks. Writers take a
//! transaction-scoped advisory lock so that submissions commit one at a time across all
//! nodes, which keeps TAXII `date_added` monotonic in commit order and the audit chain linear.

use std::error::Error as StdError;
use std::sync::Mutex;

use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls};

use super::backend::{
    insert_many_multi_row, update_many_multi_row, Backend, Conn, Dialect, InsertMany, Result, Row,
    RowView, StoreError, Tx, UpdateMany, Val, ValRef,
};

/// Idle connections kept per node.
const POOL: usize = 16;
/// Advisory lock key that serialises writers (an arbitrary constant: "tg" in ASCII).
const WRITER_LOCK: i64 = 0x7467;

pub struct PostgresBackend {
    url: String,
    schema: Option<String>,
    pool: Mutex<Vec<Client>>,
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            if db.code().code().starts_with("23") {
                return StoreError::Conflict(db.message().to_string());
            }
            return StoreError::Db(format!("{}: {}", db.code().code(), db.message()));
        }
        StoreError::Db(e.to_string())
    }
}

impl PostgresBackend {
    /// Connect to `url`. With `schema`, every connection works inside that schema (created
    /// if missing); tests use this to isolate each run.
    pub fn connect(url: &str, schema: Option<&str>) -> Result<PostgresBackend> {
        let b = PostgresBackend {
            url: url.to_string(),
            schema: schema.map(str::to_string),
            pool: Mutex::new(Vec::new()),
        };
        let mut c = b.new_client()?;
        if let Some(s) = &b.schema {
            c.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {}; SET search_path TO {};",
                quote_ident(s),
                quote_ident(s)
            ))?;
        }
        b.pool.lock().unwrap_or_else(|p| p.into_inner()).push(c);
        Ok(b)
    }

    fn new_client(&self) -> Result<Client> {
        let mut c = Client::connect(&self.url, NoTls).map_err(|e| {
            StoreError::Db(format!(
                "cannot connect to PostgreSQL at {}: {e}",
                redact(&self.url)
            ))
        })?;
        if let Some(s) = &self.schema {
            c.batch_execute(&format!("SET search_path TO {}", quote_ident(s)))?;
        }
        Ok(c)
    }

    fn take(&self) -> Result<Client> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(c) if !c.is_closed() => Ok(c),
            _ => self.new_client(),
        }
    }

    fn give_back(&self, c: Client) {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL && !c.is_closed() {
            pool.push(c);
        }
    }

    /// Drop the schema this backend was opened with (tests clean up after themselves).
    pub fn drop_schema(&self) -> Result<()> {
        if let Some(s) = &self.schema {
            let mut c = self.take()?;
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(s)))?;
        }
        Ok(())
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => match *ty {
                Type::INT2 => (*i as i16).to_sql(ty, out),
                Type::INT4 => (*i as i32).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Val::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            Val::Text(s) => s.as_str().to_sql(ty, out),
        }
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

fn params(vals: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    vals.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn convert(rows: Vec<postgres::Row>) -> Result<Vec<Row>> {
    rows.iter().map(owned_row).collect()
}

fn owned_row(r: &postgres::Row) -> Result<Row> {
    let mut vals = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let v = match *col.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Val::Int),
            Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(|v| Val::Int(v.into())),
            Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(|v| Val::Int(v.into())),
            Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(|v| Val::Int(v as i64)),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?.map(Val::Real),
            Type::FLOAT4 => r.try_get::<_, Option<f32>>(i)?.map(|v| Val::Real(v.into())),
            Type::NUMERIC => {
                return Err(StoreError::Db(format!(
                    "column {} is NUMERIC: cast it in the query",
                    col.name()
                )))
            }
            _ => r.try_get::<_, Option<String>>(i)?.map(Val::Text),
        };
        vals.push(v.unwrap_or(Val::Null));
    }
    Ok(Row(vals))
}

/// A row read in place from the client's receive buffer.
struct PgRow<'a>(&'a postgres::Row);

impl RowView for PgRow<'_> {
    fn i64(&self, i: usize) -> Result<i64> {
        let r = self.0;
        let ty = r.columns().get(i).map(|c| c.type_().clone());
        let v = match ty {
            Some(Type::INT8) => r.try_get::<_, Option<i64>>(i)?,
            Some(Type::INT4) => r.try_get::<_, Option<i32>>(i)?.map(i64::from),
            Some(Type::INT2) => r.try_get::<_, Option<i16>>(i)?.map(i64::from),
            Some(Type::BOOL) => r.try_get::<_, Option<bool>>(i)?.map(i64::from),
            _ => return owned_row(r)?.i64(i),
        };
        v.ok_or_else(|| StoreError::Corrupt(format!("column {i}: expected integer, got NULL")))
    }
    fn str(&self, i: usize) -> Result<&str> {
        self.0
            .try_get::<_, Option<&str>>(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("column {i}: expected text, got NULL")))
    }
    fn to_row(&self) -> Result<Row> {
        owned_row(self.0)
    }
}

struct PgConn<'a> {
    backend: &'a PostgresBackend,
    client: Option<Client>,
    in_tx: bool,
}

impl PgConn<'_> {
    fn client(&mut self) -> &mut Client {
        self.client.as_mut().expect("client present until drop")
    }
}

impl Conn for PgConn<'_> {
    fn execute(&mut self, sql: &str, p: &[Val]) -> Result<u64> {
        let c = self.client();
        let st = c.prepare(sql)?;
        Ok(c.execute(&st, &params(p))?)
    }
    fn query(&mut self, sql: &str, p: &[Val]) -> Result<Vec<Row>> {
        let c = self.client();
        let st = c.prepare(sql)?;
        convert(c.query(&st, &params(p))?)
    }
    fn query_each(
        &mut self,
        sql: &str,
        p: &[Val],
        visit: &mut dyn FnMut(&dyn RowView) -> Result<()>,
    ) -> Result<()> {
        let c = self.client();
        let st = c.prepare(sql)?;
        for r in &c.query(&st, &params(p))? {
            visit(&PgRow(r))?;
        }
        Ok(())
    }
    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.client().batch_execute(sql)?)
    }
    fn insert_many(
        &mut self,
        spec: &InsertMany<'_>,
        rows: &[ValRef<'_>],
    ) -> Result<Vec<Option<i64>>> {
        insert_many_multi_row(self, spec, rows)
    }
    fn update_many(&mut self, spec: &UpdateMany<'_>, rows: &[ValRef<'_>]) -> Result<()> {
        update_many_multi_row(self, spec, rows)
    }
}

impl Tx for PgConn<'_> {
    fn commit(mut self: Box<Self>) -> Result<()> {
        self.client().batch_execute("COMMIT")?;
        self.in_tx = false;
        Ok(())
    }

    /// Refresh the planner's statistics of the tables a bulk load grows, inside the
    /// transaction (ANALYZE counts the transaction's own new rows). Without it a table that
    /// was empty or never analysed keeps PostgreSQL's default estimate for `col IN (…)`
    /// (0.5 % of the table per value), so a batch lookup of 512 ids is planned as a
    /// sequential scan, and the load grows quadratically: 200 k indicators read 40 M rows.
    fn grow_for_bulk(&mut self) -> Result<()> {
        Ok(self
            .client()
            .batch_execute("ANALYZE objects, observables, records, object_observables")?)
    }
}

impl Drop for PgConn<'_> {
    fn drop(&mut self) {
        if let Some(mut c) = self.client.take() {
            if self.in_tx && c.batch_execute("ROLLBACK").is_err() {
                return; // a broken connection is not returned to the pool
            }
            self.backend.give_back(c);
        }
    }
}

impl Backend for PostgresBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn begin(&self) -> Result<Box<dyn Tx + '_>> {
        let mut client = self.take()?;
        client.batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK});"
        ))?;
        Ok(Box::new(PgConn {
            backend: self,
            client: Some(client),
            in_tx: true,
        }))
    }

    fn read(&self, f: &mut dyn FnMut(&mut dyn Conn) -> Result<()>) -> Result<()> {
        let mut client = self.take()?;
        client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        let mut conn = PgConn {
            backend: self,
            client: Some(client),
            in_tx: true,
        };
        f(&mut conn)
    }

    fn describe(&self) -> String {
        format!("PostgreSQL {}", redact(&self.url))
    }
}
