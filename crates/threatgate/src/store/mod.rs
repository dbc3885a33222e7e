//! The store: one interface over SQLite (embedded default) and PostgreSQL.
//!
//! [`Store`] holds all the logic, written once in SQL both engines accept; the engines
//! differ only in their [`Backend`]. One conformance suite (`tests/store_conformance.rs`)
//! runs against both.
//!
//! Architecture invariant: the store never decides access. Read methods take a
//! [`ReadScope`] from [`crate::policy`] and render its [`Visibility`] as a prefilter, then
//! check every row with [`ReadScope::permits`].

pub mod backend;
mod bulk;
mod claim_text;
mod ops;
pub mod postgres;
pub mod schema;
mod server_support;
pub mod sqlite;
mod ui;
mod versions;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Utc;
use serde_json::Value;

pub use backend::{Backend, Conn, Dialect, Result, Row, RowView, StoreError, Tx, Val};
pub use bulk::{Entry, BULK_ROWS};
// ----- server support ----- (methods for TAXII and sync, in server_support.rs)
pub use ops::PurgeCount;
pub use server_support::{CollectionPage, CollectionQuery, PageRow, Subset, VersionSelect};

use crate::audit;
use crate::model::*;
use crate::policy::{ItemMeta, ReadScope, Visibility};

/// The exchange's persistent state.
pub struct Store {
    backend: Box<dyn Backend>,
}

/// The file name of the embedded database inside the data directory.
pub const SQLITE_FILE: &str = "threatgate.db";

impl Store {
    /// Open the embedded store in `dir` (created if needed) and migrate it.
    pub fn open_dir(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Db(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        Store::with_backend(Box::new(sqlite::SqliteBackend::open(
            &dir.join(SQLITE_FILE),
        )?))
    }

    /// Open a PostgreSQL store (optionally inside `schema`) and migrate it.
    pub fn open_postgres(url: &str, schema: Option<&str>) -> Result<Store> {
        Store::with_backend(Box::new(postgres::PostgresBackend::connect(url, schema)?))
    }

    pub fn with_backend(backend: Box<dyn Backend>) -> Result<Store> {
        Store::with_backend_at_schema(backend, schema::latest())
    }

    /// A store migrated only up to schema `version`: for migration tests, which fill an
    /// old store and then reopen it with [`Store::with_backend`].
    #[doc(hidden)]
    pub fn with_backend_at_schema(backend: Box<dyn Backend>, version: i64) -> Result<Store> {
        let store = Store { backend };
        let mut tx = store.backend.begin()?;
        schema::migrate_to(
            &mut *tx,
            store.backend.dialect(),
            &format_time(Utc::now()),
            version,
        )?;
        tx.commit()?;
        Ok(store)
    }

    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Run `f` in a read snapshot and return its result.
    pub fn read<T>(&self, mut f: impl FnMut(&mut dyn Conn) -> Result<T>) -> Result<T> {
        let mut out = None;
        self.backend.read(&mut |c| {
            out = Some(f(c)?);
            Ok(())
        })?;
        Ok(out.expect("read closure ran"))
    }

    /// Run `f` in a write transaction, appending the audit entries it returns, and commit.
    /// The data generation moves on in the same transaction (see [`Store::data_generation`]).
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<(T, Vec<AuditEvent>)>,
    ) -> Result<T> {
        self.write_tx(true, f)
    }

    /// [`Store::write`] for rows no read of data depends on (audit entries, TAXII status
    /// resources, federation cursors): the data generation stays, so caches stay warm.
    fn write_quiet<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<(T, Vec<AuditEvent>)>,
    ) -> Result<T> {
        self.write_tx(false, f)
    }

    fn write_tx<T>(
        &self,
        changes_data: bool,
        f: impl FnOnce(&mut dyn Conn) -> Result<(T, Vec<AuditEvent>)>,
    ) -> Result<T> {
        let mut tx = self.backend.begin()?;
        let (out, events) = f(&mut *tx)?;
        for e in events {
            append_audit(&mut *tx, &e)?;
        }
        if changes_data {
            bump_generation(&mut *tx)?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// A counter that every committed write of data moves on (in the writing transaction,
    /// in the database, so every server node sharing it sees every node's writes). Two reads
    /// at the same generation, with scopes of the same fingerprint, see the same data: a
    /// rendered read cached under (generation, fingerprint, query) stays true until then.
    pub fn data_generation(&self) -> Result<i64> {
        self.read(|c| {
            c.query_one(
                "SELECT value FROM settings WHERE key = 'data_generation'",
                &[],
            )?
            .map(|r| {
                r.str(0)?
                    .parse::<i64>()
                    .map_err(|_| StoreError::Corrupt("data generation".into()))
            })
            .transpose()
            .map(|g| g.unwrap_or(0))
        })
    }

    // ----- organisations -----

    pub fn create_org(&self, new: &NewOrg, actor: Option<OrgId>) -> Result<Org> {
        self.write(|c| {
            if new.kind == OrgKind::Hub
                && c.query_one("SELECT id FROM orgs WHERE kind = 'hub'", &[])?.is_some()
            {
                return Err(StoreError::Conflict("there is already a hub; an exchange has exactly one".into()));
            }
            if c.query_one("SELECT id FROM orgs WHERE name = $1", &[new.name.as_str().into()])?.is_some() {
                return Err(StoreError::Conflict(format!("an organisation named {:?} already exists", new.name)));
            }
            let now = Utc::now();
            let identity = format!("identity--{}", uuid::Uuid::new_v4());
            let row = c
                .query_one(
                    "INSERT INTO orgs (name, kind, country, identity_id, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[
                        new.name.as_str().into(),
                        new.kind.as_str().into(),
                        new.country.clone().into(),
                        identity.clone().into(),
                        format_time(now).into(),
                    ],
                )?
                .ok_or_else(|| StoreError::Db("insert returned no id".into()))?;
            let org = Org {
                id: row.i64(0)?,
                name: new.name.clone(),
                kind: new.kind,
                country: new.country.clone(),
                identity_id: identity,
                created_at: parse_stored_time(&format_time(now)).unwrap_or(now),
            };
            let ev = AuditEvent::new(actor, "org.create", format!("org:{}", org.id), serde_json::json!({
                "name": org.name, "kind": org.kind, "country": org.country
            }));
            Ok((org, vec![ev]))
        })
    }

    pub fn orgs(&self) -> Result<Vec<Org>> {
        self.read(|c| {
            c.query(&format!("SELECT {ORG_COLS} FROM orgs ORDER BY id"), &[])?
                .iter()
                .map(org_from_row)
                .collect()
        })
    }

    pub fn org(&self, id: OrgId) -> Result<Org> {
        self.read(|c| {
            let r = c
                .query_one(
                    &format!("SELECT {ORG_COLS} FROM orgs WHERE id = $1"),
                    &[id.into()],
                )?
                .ok_or_else(|| StoreError::NotFound(format!("organisation #{id}")))?;
            org_from_row(&r)
        })
    }

    pub fn org_by_name(&self, name: &str) -> Result<Option<Org>> {
        self.read(|c| {
            c.query_one(
                &format!("SELECT {ORG_COLS} FROM orgs WHERE name = $1"),
                &[name.into()],
            )?
            .map(|r| org_from_row(&r))
            .transpose()
        })
    }

    pub fn hub(&self) -> Result<Option<Org>> {
        self.read(|c| {
            c.query_one(
                &format!("SELECT {ORG_COLS} FROM orgs WHERE kind = 'hub'"),
                &[],
            )?
            .map(|r| org_from_row(&r))
            .transpose()
        })
    }

    // ----- agreements -----

    pub fn add_agreement(&self, a: &NewAgreement, actor: Option<OrgId>) -> Result<Agreement> {
        a.check().map_err(StoreError::Invalid)?;
        self.write(|c| {
            let now = format_time(Utc::now());
            let scope = a.scope.as_ref().map(|s| serde_json::to_string(s).expect("strings serialise"));
            let id = c
                .query_one(
                    "INSERT INTO agreements (org_id, role, signed_on, valid_from, valid_until, max_tlp, scope, purpose, retention_days, status, renews, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $11) RETURNING id",
                    &[
                        a.org_id.into(),
                        a.role.as_str().into(),
                        format_time(a.signed_on).into(),
                        format_time(a.valid_from).into(),
                        format_time(a.valid_until).into(),
                        a.max_tlp.as_str().into(),
                        scope.into(),
                        a.purpose.as_str().into(),
                        a.retention_days.into(),
                        a.renews.into(),
                        now.into(),
                    ],
                )?
                .ok_or_else(|| StoreError::Db("insert returned no id".into()))?
                .i64(0)?;
            let ag = agreement_by_id(c, id)?;
            let ev = AuditEvent::new(actor, if a.renews.is_some() { "agreement.renew" } else { "agreement.add" }, format!("agreement:{id}"), serde_json::to_value(&ag).unwrap_or(Value::Null));
            Ok((ag, vec![ev]))
        })
    }

    /// Agreements of one org, or of all orgs, oldest first.
    pub fn agreements(&self, org: Option<OrgId>) -> Result<Vec<Agreement>> {
        self.read(|c| {
            let rows = match org {
                Some(o) => c.query(
                    &format!(
                        "SELECT {AGREEMENT_COLS} FROM agreements WHERE org_id = $1 ORDER BY id"
                    ),
                    &[o.into()],
                )?,
                None => c.query(
                    &format!("SELECT {AGREEMENT_COLS} FROM agreements ORDER BY id"),
                    &[],
                )?,
            };
            rows.iter().map(agreement_from_row).collect()
        })
    }

    pub fn agreement(&self, id: i64) -> Result<Agreement> {
        self.read(|c| agreement_by_id(c, id))
    }

    /// Terminate an agreement early, effective at `at`.
    pub fn end_agreement(
        &self,
        id: i64,
        at: Time,
        reason: &str,
        actor: Option<OrgId>,
    ) -> Result<Agreement> {
        self.write(|c| {
            let a = agreement_by_id(c, id)?;
            if a.status == AgreementStatus::Terminated {
                return Err(StoreError::Conflict(format!(
                    "agreement #{id} was already terminated"
                )));
            }
            c.execute(
                "UPDATE agreements SET status = 'terminated', terminated_at = $1 WHERE id = $2",
                &[format_time(at).into(), id.into()],
            )?;
            let ag = agreement_by_id(c, id)?;
            let ev = AuditEvent::new(
                actor,
                "agreement.end",
                format!("agreement:{id}"),
                serde_json::json!({"at": stix_time(at), "reason": reason}),
            );
            Ok((ag, vec![ev]))
        })
    }

    // ----- tokens -----

    /// Store a token's hash. The secret itself is never stored (see [`crate::auth`]).
    pub fn create_token(
        &self,
        org_id: OrgId,
        role: TokenRole,
        label: &str,
        secret_hash: &str,
        actor: Option<OrgId>,
    ) -> Result<Token> {
        self.write(|c| {
            let now = Utc::now();
            let id = c
                .query_one(
                    "INSERT INTO tokens (org_id, role, label, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[org_id.into(), role.as_str().into(), label.into(), secret_hash.into(), format_time(now).into()],
                )?
                .ok_or_else(|| StoreError::Db("insert returned no id".into()))?
                .i64(0)?;
            let t = Token { id, org_id, role, label: label.to_string(), created_at: now, revoked_at: None };
            let ev = AuditEvent::new(actor, "token.create", format!("token:{id}"), serde_json::json!({"org": org_id, "role": role, "label": label}));
            Ok((t, vec![ev]))
        })
    }

    /// The token stored under this hash, with the stored hash itself.
    pub fn token_by_hash(&self, secret_hash: &str) -> Result<Option<(Token, String)>> {
        self.read(|c| {
            c.query_one(
                &format!("SELECT {TOKEN_COLS}, secret_hash FROM tokens WHERE secret_hash = $1"),
                &[secret_hash.into()],
            )?
            .map(|r| Ok((token_from_row(&r)?, r.string(6)?)))
            .transpose()
        })
    }

    pub fn tokens(&self, org: Option<OrgId>) -> Result<Vec<Token>> {
        self.read(|c| {
            let rows = match org {
                Some(o) => c.query(
                    &format!("SELECT {TOKEN_COLS} FROM tokens WHERE org_id = $1 ORDER BY id"),
                    &[o.into()],
                )?,
                None => c.query(&format!("SELECT {TOKEN_COLS} FROM tokens ORDER BY id"), &[])?,
            };
            rows.iter().map(token_from_row).collect()
        })
    }

    pub fn revoke_token(&self, id: i64, actor: Option<OrgId>) -> Result<()> {
        self.write(|c| {
            let n = c.execute(
                "UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                &[format_time(Utc::now()).into(), id.into()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("unrevoked token #{id}")));
            }
            Ok((
                (),
                vec![AuditEvent::new(
                    actor,
                    "token.revoke",
                    format!("token:{id}"),
                    Value::Null,
                )],
            ))
        })
    }

    // ----- submissions -----

    /// Start a submission: everything added through the writer commits or rolls back as one.
    pub fn begin_submission(&self, meta: SubmissionMeta) -> Result<SubmissionWriter<'_>> {
        let mut tx = self.backend.begin()?;
        let now = Utc::now();
        let id = tx
            .query_one(
                "INSERT INTO submissions (org_id, agreement_id, format, source_name, received_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    meta.org_id.into(),
                    meta.agreement_id.into(),
                    meta.format.as_str().into(),
                    meta.source_name.as_str().into(),
                    format_time(now).into(),
                ],
            )?
            .ok_or_else(|| StoreError::Db("insert returned no id".into()))?
            .i64(0)?;
        // `date_added` continues from the newest stored one, so it increases in commit
        // order even if the clock steps back or the last submission ran ahead of it.
        let last_added = tx
            .query_one("SELECT MAX(date_added) FROM objects", &[])?
            .map(|r| r.opt_str(0).map(|t| t.and_then(parse_stored_time)))
            .transpose()?
            .flatten();
        Ok(SubmissionWriter {
            tx,
            id,
            meta,
            now,
            last_added,
            known_observables: bulk::KnownObservables::default(),
            known_records: bulk::KnownRecords::default(),
            bulk: false,
            objects: 0,
            records: 0,
        })
    }

    // ----- observables and records -----

    pub fn observable(&self, kind: Kind, value: &str) -> Result<Option<ObservableRow>> {
        self.read(|c| {
            c.query_one(
                &format!("SELECT {OBS_COLS} FROM observables WHERE kind = $1 AND value = $2"),
                &[kind.as_str().into(), value.into()],
            )?
            .map(|r| observable_from_row(&r))
            .transpose()
        })
    }

    pub fn observable_by_id(&self, id: i64) -> Result<ObservableRow> {
        self.read(|c| {
            let r = c
                .query_one(
                    &format!("SELECT {OBS_COLS} FROM observables WHERE id = $1"),
                    &[id.into()],
                )?
                .ok_or_else(|| StoreError::NotFound(format!("observable #{id}")))?;
            observable_from_row(&r)
        })
    }

    /// The source records of one observable that `scope` permits.
    pub fn visible_records(
        &self,
        observable_id: i64,
        scope: &ReadScope,
    ) -> Result<Vec<SourceRecord>> {
        let kind = self.observable_by_id(observable_id)?.kind;
        self.read(|c| {
            let mut params = vec![Val::Int(observable_id)];
            let vis = visibility_sql(scope.visibility(), "r", "record", &mut params);
            let rows = c.query(
                &format!("SELECT {RECORD_COLS}, {shared} FROM records r WHERE r.observable_id = $1 AND {vis} ORDER BY r.org_id",
                    shared = shared_expr(scope, "r", "record", &mut params)),
                &params,
            )?;
            let mut out = vec![];
            for r in &rows {
                let rec = record_from_row(r)?;
                let shared = r.i64(RECORD_NCOLS)? != 0;
                let meta = ItemMeta { source: rec.org_id, tlp: rec.claim.tlp_or_default(), stix_type: kind.stix_type(), shared_with_viewer: shared };
                if scope.permits(&meta) {
                    out.push(rec);
                }
            }
            Ok(out)
        })
    }

    /// Observables that have at least one record `scope` permits, paged by id.
    /// Returns (observable, its visible records) pairs.
    pub fn visible_observables(
        &self,
        scope: &ReadScope,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<(ObservableRow, Vec<SourceRecord>)>> {
        self.read(|c| {
            let mut params = vec![Val::Int(after_id), Val::Int(limit as i64 * 4)];
            let vis = visibility_sql(scope.visibility(), "r", "record", &mut params);
            let shared = shared_expr(scope, "r", "record", &mut params);
            let rows = c.query(
                &format!(
                    "SELECT {RECORD_COLS}, {shared}, o.kind FROM records r JOIN observables o ON o.id = r.observable_id
                     WHERE r.observable_id > $1 AND {vis} ORDER BY r.observable_id, r.org_id LIMIT $2"
                ),
                &params,
            )?;
            let mut grouped: BTreeMap<i64, Vec<SourceRecord>> = BTreeMap::new();
            for r in &rows {
                let rec = record_from_row(r)?;
                let shared = r.i64(RECORD_NCOLS)? != 0;
                let kind: Kind = r.str(RECORD_NCOLS + 1)?.parse().map_err(|_| StoreError::Corrupt("observable kind".into()))?;
                let meta = ItemMeta { source: rec.org_id, tlp: rec.claim.tlp_or_default(), stix_type: kind.stix_type(), shared_with_viewer: shared };
                if scope.permits(&meta) {
                    grouped.entry(rec.observable_id).or_default().push(rec);
                }
            }
            let mut out = vec![];
            for (id, recs) in grouped.into_iter().take(limit) {
                let o = c
                    .query_one(&format!("SELECT {OBS_COLS} FROM observables WHERE id = $1"), &[id.into()])?
                    .ok_or_else(|| StoreError::NotFound(format!("observable #{id}")))?;
                out.push((observable_from_row(&o)?, recs));
            }
            Ok(out)
        })
    }

    pub fn set_enrichment(&self, items: &[(i64, Enrichment)]) -> Result<()> {
        self.write(|c| {
            let now = format_time(Utc::now());
            for (id, e) in items {
                c.execute(
                    "UPDATE observables SET country = $1, asn = $2, network = $3, registered_domain = $4, enriched_at = $5 WHERE id = $6",
                    &[e.country.clone().into(), e.asn.map(i64::from).into(), e.network.clone().into(), e.registered_domain.clone().into(), now.as_str().into(), (*id).into()],
                )?;
            }
            Ok(((), vec![]))
        })
    }

    /// All observables, paged by id (for enrichment and matching set builds).
    pub fn observables_page(&self, after_id: i64, limit: usize) -> Result<Vec<ObservableRow>> {
        self.read(|c| {
            c.query(
                &format!("SELECT {OBS_COLS} FROM observables WHERE id > $1 ORDER BY id LIMIT $2"),
                &[after_id.into(), (limit as i64).into()],
            )?
            .iter()
            .map(observable_from_row)
            .collect()
        })
    }

    // ----- objects -----

    /// STIX objects `scope` permits, in `date_added` order, for TAXII and exports.
    pub fn visible_objects(&self, scope: &ReadScope, q: &ObjectQuery) -> Result<Vec<StoredObject>> {
        self.read(|c| {
            let mut params: Vec<Val> = vec![];
            let mut wh = vec![visibility_sql(scope.visibility(), "x", "object", &mut params)];
            if let Some((added, pk)) = &q.after {
                params.push(added.clone().into());
                let a = params.len();
                params.push((*pk).into());
                wh.push(format!("(x.date_added > ${a} OR (x.date_added = ${a} AND x.pk > ${}))", a + 1));
            }
            if let Some(until) = &q.added_until {
                params.push(until.clone().into());
                wh.push(format!("x.date_added <= ${}", params.len()));
            }
            push_in(&mut wh, &mut params, "x.stix_id", &q.ids);
            push_in(&mut wh, &mut params, "x.stix_type", &q.types);
            push_in(&mut wh, &mut params, "x.spec_version", &q.spec_versions);
            push_in(&mut wh, &mut params, "x.version", &q.versions);
            if let Some(ok) = &q.only_pks {
                let list: Vec<String> = ok.iter().map(|v| v.to_string()).collect();
                wh.push(format!("x.pk IN ({})", if list.is_empty() { "NULL".into() } else { list.join(",") }));
            }
            let shared = shared_expr(scope, "x", "object", &mut params);
            params.push((q.limit as i64).into());
            let sql = format!(
                "SELECT {OBJECT_COLS}, {shared} FROM objects x WHERE {} ORDER BY x.date_added, x.pk LIMIT ${}",
                wh.join(" AND "),
                params.len()
            );
            let mut out = vec![];
            for mut r in c.query(&sql, &params)? {
                let o = object_from_row(&mut r)?;
                let shared = r.i64(OBJECT_NCOLS)? != 0;
                if scope.permits(&ItemMeta { source: o.org_id, tlp: o.tlp, stix_type: &o.stix_type, shared_with_viewer: shared }) {
                    out.push(o);
                }
            }
            Ok(out)
        })
    }

    /// STIX objects linked to an observable that `scope` permits.
    pub fn visible_objects_for_observable(
        &self,
        observable_id: i64,
        scope: &ReadScope,
    ) -> Result<Vec<StoredObject>> {
        let pks: Vec<i64> = self.read(|c| {
            c.query(
                "SELECT object_pk FROM object_observables WHERE observable_id = $1",
                &[observable_id.into()],
            )?
            .iter()
            .map(|r| r.i64(0))
            .collect()
        })?;
        self.visible_objects(
            scope,
            &ObjectQuery {
                only_pks: Some(pks),
                limit: 10_000,
                ..Default::default()
            },
        )
    }

    /// Observables linked to any stored version of the STIX object `stix_id` (for
    /// sightings that name an indicator). Access is the caller's to check.
    pub fn observables_of_object(&self, stix_id: &str) -> Result<Vec<i64>> {
        self.read(|c| {
            c.query(
                "SELECT DISTINCT oo.observable_id FROM object_observables oo JOIN objects o ON o.pk = oo.object_pk WHERE o.stix_id = $1 ORDER BY oo.observable_id",
                &[stix_id.into()],
            )?
            .iter()
            .map(|r| r.i64(0))
            .collect()
        })
    }

    // ----- shares -----

    /// Record explicit shares of records or objects with `recipient`. Idempotent.
    pub fn share(
        &self,
        recipient: OrgId,
        subjects: &[ShareSubject],
        granted_by: OrgId,
        reason: &str,
    ) -> Result<usize> {
        self.write(|c| {
            let now = format_time(Utc::now());
            let mut n = 0;
            for s in subjects {
                let (kind, id) = match s {
                    ShareSubject::Record(i) => ("record", *i),
                    ShareSubject::Object(i) => ("object", *i),
                };
                n += c.execute(
                    "INSERT INTO shares (recipient, subject_kind, subject_id, granted_by, reason, granted_at) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (recipient, subject_kind, subject_id) DO NOTHING",
                    &[recipient.into(), kind.into(), id.into(), granted_by.into(), reason.into(), now.as_str().into()],
                )? as usize;
            }
            let ev = AuditEvent::new(Some(granted_by), "share", format!("org:{recipient}"), serde_json::json!({"items": subjects.len(), "new": n, "reason": reason}));
            Ok((n, vec![ev]))
        })
    }

    // ----- sightings -----

    pub fn add_sighting(&self, s: &NewSighting) -> Result<i64> {
        self.write(|c| {
            let id = c
                .query_one(
                    "INSERT INTO sightings (observable_id, org_id, count, first_seen, last_seen, where_sighted, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING id",
                    &[s.observable_id.into(), s.org_id.into(), s.count.into(), format_time(s.first_seen).into(), format_time(s.last_seen).into(), s.where_sighted.as_str().into(), format_time(Utc::now()).into()],
                )?
                .ok_or_else(|| StoreError::Db("insert returned no id".into()))?
                .i64(0)?;
            let ev = AuditEvent::new(Some(s.org_id), "sighting", format!("observable:{}", s.observable_id), serde_json::json!({"count": s.count}));
            Ok((id, vec![ev]))
        })
    }

    pub fn sightings(&self, observable_id: i64) -> Result<Vec<Sighting>> {
        self.read(|c| {
            c.query("SELECT id, observable_id, org_id, count, first_seen, last_seen, where_sighted, created_at FROM sightings WHERE observable_id = $1 ORDER BY id", &[observable_id.into()])?
                .iter()
                .map(|r| {
                    Ok(Sighting {
                        id: r.i64(0)?,
                        observable_id: r.i64(1)?,
                        org_id: r.i64(2)?,
                        count: r.i64(3)?,
                        first_seen: time_col(r, 4)?,
                        last_seen: time_col(r, 5)?,
                        where_sighted: r.string(6)?,
                        created_at: time_col(r, 7)?,
                    })
                })
                .collect()
        })
    }

    // ----- audit -----

    /// Append one audit entry in its own transaction.
    pub fn audit(&self, ev: AuditEvent) -> Result<()> {
        self.write_quiet(|_| Ok(((), vec![ev])))
    }

    /// Audit entries with `seq > after`, oldest first.
    pub fn audit_entries(&self, after: i64, limit: usize) -> Result<Vec<(AuditEntry, String)>> {
        self.read(|c| {
            c.query(
                "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[after.into(), (limit as i64).into()],
            )?
            .iter()
            .map(|r| {
                let detail_text = r.string(5)?;
                Ok((
                    AuditEntry {
                        seq: r.i64(0)?,
                        at: time_col(r, 1)?,
                        actor: r.opt_i64(2)?,
                        action: r.string(3)?,
                        subject: r.string(4)?,
                        detail: serde_json::from_str(&detail_text).unwrap_or(Value::Null),
                        prev_hash: r.string(6)?,
                        hash: r.string(7)?,
                    },
                    detail_text,
                ))
            })
            .collect()
        })
    }

    /// The chain head (last seq and hash) kept beside the log, to detect truncation.
    pub fn audit_head(&self) -> Result<(i64, String)> {
        self.read(|c| audit_head(c))
    }

    /// Walk the whole chain. `Ok(n)` is the number of entries verified.
    pub fn verify_audit(&self) -> Result<std::result::Result<u64, audit::ChainBreak>> {
        let mut v = audit::Verifier::default();
        let mut after = 0;
        loop {
            let page = self.audit_entries(after, 10_000)?;
            if page.is_empty() {
                break;
            }
            for (e, text) in &page {
                if let Err(b) = v.check(e, text) {
                    return Ok(Err(b));
                }
            }
            after = page.last().map(|(e, _)| e.seq).unwrap_or(after);
        }
        let (seq, hash) = self.audit_head()?;
        Ok(v.finish(seq, &hash).map(|_| v.checked))
    }

    // ----- statistics -----

    /// Counts of visible records by observable type, by source org and by TLP.
    pub fn stats(&self, scope: &ReadScope) -> Result<Stats> {
        self.read(|c| {
            let mut params = vec![];
            let vis = visibility_sql(scope.visibility(), "r", "record", &mut params);
            let shared = shared_expr(scope, "r", "record", &mut params);
            let rows = c.query(
                &format!("SELECT o.kind, r.org_id, r.tlp, {shared}, COUNT(*) FROM records r JOIN observables o ON o.id = r.observable_id WHERE {vis} GROUP BY o.kind, r.org_id, r.tlp, 4"),
                &params,
            )?;
            let mut s = Stats::default();
            for r in rows {
                let kind: Kind = r.str(0)?.parse().map_err(|_| StoreError::Corrupt("kind".into()))?;
                let org = r.i64(1)?;
                let tlp = parse_tlp(r.str(2)?).map_err(corrupt("tlp"))?;
                let shared = r.i64(3)? != 0;
                if !scope.permits(&ItemMeta { source: org, tlp, stix_type: kind.stix_type(), shared_with_viewer: shared }) {
                    continue;
                }
                let n = r.i64(4)?;
                *s.by_type.entry(kind.as_str().to_string()).or_default() += n;
                *s.by_source.entry(org).or_default() += n;
                *s.by_tlp.entry(tlp.as_str().to_string()).or_default() += n;
                s.records += n;
            }
            let mut params = vec![];
            let vis = visibility_sql(scope.visibility(), "x", "object", &mut params);
            let rows = c.query(&format!("SELECT x.stix_type, COUNT(*) FROM objects x WHERE {vis} GROUP BY x.stix_type"), &params)?;
            for r in rows {
                *s.objects_by_type.entry(r.string(0)?).or_default() += r.i64(1)?;
            }
            Ok(s)
        })
    }

    /// Recent submissions, newest first.
    pub fn submissions(&self, org: Option<OrgId>, limit: usize) -> Result<Vec<Submission>> {
        self.read(|c| {
            let mut params = vec![Val::Int(limit as i64)];
            let filter = match org {
                Some(o) => {
                    params.push(o.into());
                    "WHERE org_id = $2"
                }
                None => "",
            };
            c.query(&format!("SELECT id, org_id, format, source_name, received_at, objects, records, rejected FROM submissions {filter} ORDER BY id DESC LIMIT $1"), &params)?
                .iter()
                .map(|r| {
                    Ok(Submission {
                        id: r.i64(0)?,
                        org_id: r.i64(1)?,
                        format: r.string(2)?,
                        source_name: r.string(3)?,
                        received_at: time_col(r, 4)?,
                        objects: r.i64(5)?,
                        records: r.i64(6)?,
                        rejected: r.i64(7)?,
                    })
                })
                .collect()
        })
    }
}

/// Counts for summaries and the dashboard.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    pub records: i64,
    pub by_type: BTreeMap<String, i64>,
    pub by_source: BTreeMap<OrgId, i64>,
    pub by_tlp: BTreeMap<String, i64>,
    pub objects_by_type: BTreeMap<String, i64>,
}

/// Filters for [`Store::visible_objects`] (the TAXII query parameters, already parsed).
#[derive(Debug, Clone, Default)]
pub struct ObjectQuery {
    /// Cursor: strictly after this (date_added, pk).
    pub after: Option<(String, i64)>,
    pub added_until: Option<String>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: Vec<String>,
    pub spec_versions: Vec<String>,
    pub only_pks: Option<Vec<i64>>,
    pub limit: usize,
}

fn push_in(wh: &mut Vec<String>, params: &mut Vec<Val>, col: &str, vals: &[String]) {
    if vals.is_empty() {
        return;
    }
    let mut ph = vec![];
    for v in vals {
        params.push(v.clone().into());
        ph.push(format!("${}", params.len()));
    }
    wh.push(format!("{col} IN ({})", ph.join(", ")));
}

/// Render a policy [`Visibility`] as a SQL condition on table alias `t` (records or objects).
/// This is a prefilter only: rows are re-checked with [`ReadScope::permits`].
fn visibility_sql(v: &Visibility, t: &str, subject_kind: &str, params: &mut Vec<Val>) -> String {
    let mut any = vec![];
    let tlps = |list: &[Tlp]| {
        if list.is_empty() {
            return "NULL".to_string();
        }
        list.iter()
            .map(|t| format!("'{}'", t.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(own) = v.own_org {
        params.push(own.into());
        let mut cond = format!("{t}.org_id = ${}", params.len());
        if let Some(markings) = &v.own_markings {
            cond = format!("({cond} AND {t}.tlp IN ({}))", tlps(markings));
        }
        any.push(cond);
    }
    let mut others = vec![];
    if !v.open.is_empty() {
        others.push(format!("{t}.tlp IN ({})", tlps(&v.open)));
    }
    if let (false, Some(own)) = (v.if_shared.is_empty(), v.own_org) {
        others.push(format!(
            "({t}.tlp IN ({}) AND EXISTS (SELECT 1 FROM shares s WHERE s.recipient = {own} AND s.subject_kind = '{subject_kind}' AND s.subject_id = {t}.{pk}))",
            tlps(&v.if_shared),
            pk = if subject_kind == "record" { "id" } else { "pk" }
        ));
    }
    if !others.is_empty() {
        let mut cond = format!("({})", others.join(" OR "));
        if let Some(types) = &v.types {
            let list = |xs: Vec<String>| {
                if xs.is_empty() {
                    "NULL".to_string()
                } else {
                    xs.join(", ")
                }
            };
            let type_cond = if subject_kind == "record" {
                let kinds: Vec<String> = Kind::ALL
                    .iter()
                    .filter(|k| types.contains(k.stix_type()))
                    .map(|k| format!("'{}'", k.as_str()))
                    .collect();
                format!(
                    "{t}.observable_id IN (SELECT id FROM observables WHERE kind IN ({}))",
                    list(kinds)
                )
            } else {
                let names: Vec<String> = types
                    .iter()
                    .map(|s| format!("'{}'", s.replace('\'', "''")))
                    .collect();
                format!("{t}.stix_type IN ({})", list(names))
            };
            cond = format!("({cond} AND {type_cond})");
        }
        any.push(cond);
    }
    if any.is_empty() {
        "1 = 0".into()
    } else {
        format!("({})", any.join(" OR "))
    }
}

/// A 0/1 column saying whether the row was explicitly shared with the viewer.
fn shared_expr(scope: &ReadScope, t: &str, subject_kind: &str, _params: &mut Vec<Val>) -> String {
    match (scope.viewer, scope.shares_matter()) {
        (Some(v), true) => format!(
            "CASE WHEN EXISTS (SELECT 1 FROM shares s WHERE s.recipient = {v} AND s.subject_kind = '{subject_kind}' AND s.subject_id = {t}.{pk}) THEN 1 ELSE 0 END",
            pk = if subject_kind == "record" { "id" } else { "pk" }
        ),
        _ => "0".into(),
    }
}

/// Identifies a submission before it is written.
#[derive(Debug, Clone)]
pub struct SubmissionMeta {
    pub org_id: OrgId,
    pub agreement_id: Option<i64>,
    pub format: String,
    pub source_name: String,
}

/// A STIX object to store with a submission.
#[derive(Debug, Clone)]
pub struct NewObject {
    pub stix_id: String,
    pub stix_type: String,
    /// The `modified` (or `created`) timestamp as submitted; empty for objects without a
    /// version of their own (SCOs), which are stored once per distinct JSON.
    pub version: String,
    pub spec_version: String,
    pub tlp: Tlp,
    pub json: String,
}

#[derive(Debug, Clone)]
pub struct NewSighting {
    pub observable_id: i64,
    pub org_id: OrgId,
    pub count: i64,
    pub first_seen: Time,
    pub last_seen: Time,
    pub where_sighted: String,
}

/// An open submission. Dropping it without [`SubmissionWriter::finish`] rolls back.
pub struct SubmissionWriter<'a> {
    tx: Box<dyn Tx + 'a>,
    pub id: i64,
    meta: SubmissionMeta,
    now: chrono::DateTime<Utc>,
    /// The last `date_added` given out (microsecond precision, as stored).
    last_added: Option<Time>,
    /// Observable ids this submission already resolved (see [`bulk::KnownObservables`]).
    known_observables: bulk::KnownObservables,
    /// Records this submission wrote, with their claim text (see [`bulk::KnownRecords`]).
    known_records: bulk::KnownRecords,
    /// The transaction was told it is a bulk load ([`bulk::BULK_ROWS`]).
    bulk: bool,
    objects: i64,
    records: i64,
}

impl SubmissionWriter<'_> {
    /// Store an object version. Returns its pk, or `None` if this org already submitted
    /// exactly this version (re-ingesting the same file changes nothing). An empty
    /// `version` means the object has none of its own (see [`SubmissionWriter::add_entries`]).
    pub fn add_object(&mut self, o: &NewObject) -> Result<Option<i64>> {
        let entry = [Entry {
            object: Some(o),
            claims: &[],
        }];
        let (pks, stored) = self.write_objects(&entry)?;
        Ok(if stored[0] { pks[0] } else { None })
    }

    /// The pk of an object this org already stored (to link claims to it on re-ingest).
    pub fn existing_object(&mut self, stix_id: &str, version: &str) -> Result<Option<i64>> {
        self.tx
            .query_one(
                "SELECT pk FROM objects WHERE org_id = $1 AND stix_id = $2 AND version = $3",
                &[self.meta.org_id.into(), stix_id.into(), version.into()],
            )?
            .map(|r| r.i64(0))
            .transpose()
    }

    /// Merge this org's claim about an observable; link it to an object if given.
    /// Returns (observable id, record id).
    pub fn add_claim(
        &mut self,
        obs: &Observable,
        claim: &Claim,
        object_pk: Option<i64>,
    ) -> Result<(i64, i64)> {
        let oid = match self.tx.query_one(
            "SELECT id FROM observables WHERE kind = $1 AND value = $2",
            &[obs.kind.as_str().into(), obs.value.as_str().into()],
        )? {
            Some(r) => r.i64(0)?,
            None => self
                .tx
                .query_one(
                    "INSERT INTO observables (kind, value) VALUES ($1, $2) RETURNING id",
                    &[obs.kind.as_str().into(), obs.value.as_str().into()],
                )?
                .ok_or_else(|| StoreError::Db("insert returned no id".into()))?
                .i64(0)?,
        };
        let now = format_time(self.now);
        // Read back from the row itself; what it is after this call is remembered again.
        self.known_records.take(oid);
        let existing = self.tx.query_one(
            "SELECT id, claim FROM records WHERE observable_id = $1 AND org_id = $2",
            &[oid.into(), self.meta.org_id.into()],
        )?;
        let rid = match existing {
            Some(r) => {
                let rid = r.i64(0)?;
                let rewrite = self.merge_into_record(oid, rid, r.str(1)?, claim)?;
                self.rewrite_records(rewrite.as_slice(), &now)?;
                rid
            }
            None => {
                self.records += 1;
                self.tx
                    .query_one(
                        "INSERT INTO records (observable_id, org_id, submission_id, tlp, claim, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                        &[oid.into(), self.meta.org_id.into(), self.id.into(), claim.tlp_or_default().as_str().into(), claim_text::encode(claim).into(), now.into()],
                    )?
                    .ok_or_else(|| StoreError::Db("insert returned no id".into()))?
                    .i64(0)?
            }
        };
        if let Some(pk) = object_pk {
            self.tx.execute(
                "INSERT INTO object_observables (object_pk, observable_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[pk.into(), oid.into()],
            )?;
        }
        Ok((oid, rid))
    }

    /// Commit everything with one audit entry describing the submission.
    pub fn finish(mut self, rejected: i64, detail: Value) -> Result<Submission> {
        self.tx.execute(
            "UPDATE submissions SET objects = $1, records = $2, rejected = $3 WHERE id = $4",
            &[
                self.objects.into(),
                self.records.into(),
                rejected.into(),
                self.id.into(),
            ],
        )?;
        let mut detail = detail;
        if let Value::Object(m) = &mut detail {
            m.insert("submission".into(), self.id.into());
            m.insert("objects".into(), self.objects.into());
            m.insert("records_changed".into(), self.records.into());
            m.insert("rejected".into(), rejected.into());
        }
        append_audit(
            &mut *self.tx,
            &AuditEvent::new(
                Some(self.meta.org_id),
                "submission",
                format!("submission:{}", self.id),
                detail,
            ),
        )?;
        let s = Submission {
            id: self.id,
            org_id: self.meta.org_id,
            format: self.meta.format.clone(),
            source_name: self.meta.source_name.clone(),
            received_at: self.now,
            objects: self.objects,
            records: self.records,
            rejected,
        };
        bump_generation(&mut *self.tx)?;
        self.tx.commit()?;
        Ok(s)
    }
}

/// An audit entry to append; seq and hashes are assigned by the store.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub actor: Option<OrgId>,
    pub action: String,
    pub subject: String,
    pub detail: Value,
}

impl AuditEvent {
    pub fn new(
        actor: Option<OrgId>,
        action: &str,
        subject: impl Into<String>,
        detail: Value,
    ) -> Self {
        AuditEvent {
            actor,
            action: action.to_string(),
            subject: subject.into(),
            detail,
        }
    }
}

fn audit_head(c: &mut dyn Conn) -> Result<(i64, String)> {
    match c.query_one("SELECT value FROM settings WHERE key = 'audit_head'", &[])? {
        Some(r) => {
            let v = r.string(0)?;
            let (s, h) = v
                .split_once(':')
                .ok_or_else(|| StoreError::Corrupt("audit head".into()))?;
            Ok((
                s.parse()
                    .map_err(|_| StoreError::Corrupt("audit head seq".into()))?,
                h.to_string(),
            ))
        }
        None => Ok((0, audit::GENESIS.to_string())),
    }
}

/// Move the data generation on, inside the caller's write transaction.
fn bump_generation(c: &mut dyn Conn) -> Result<()> {
    c.execute(
        "INSERT INTO settings (key, value) VALUES ('data_generation', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)",
        &[],
    )?;
    Ok(())
}

/// Append inside the caller's transaction; writers are serialised by the backend.
pub fn append_audit(c: &mut dyn Conn, ev: &AuditEvent) -> Result<()> {
    let (seq, prev) = audit_head(c)?;
    let seq = seq + 1;
    let at = format_time(Utc::now());
    let detail = serde_json::to_string(&ev.detail).expect("json serialises");
    let hash = audit::entry_hash(&prev, seq, &at, ev.actor, &ev.action, &ev.subject, &detail);
    c.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        &[seq.into(), at.into(), ev.actor.into(), ev.action.as_str().into(), ev.subject.as_str().into(), detail.into(), prev.into(), hash.clone().into()],
    )?;
    c.execute(
        "INSERT INTO settings (key, value) VALUES ('audit_head', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[format!("{seq}:{hash}").into()],
    )?;
    Ok(())
}

// ----- row mapping -----

const ORG_COLS: &str = "id, name, kind, country, identity_id, created_at";
const AGREEMENT_COLS: &str = "id, org_id, role, signed_on, valid_from, valid_until, max_tlp, scope, purpose, retention_days, status, terminated_at, renews, created_at";
const TOKEN_COLS: &str = "id, org_id, role, label, created_at, revoked_at";
const OBS_COLS: &str = "id, kind, value, country, asn, network, registered_domain";
const RECORD_COLS: &str =
    "r.id, r.observable_id, r.org_id, r.submission_id, r.claim, r.created_at, r.updated_at";
const RECORD_NCOLS: usize = 7;
const OBJECT_COLS: &str = "x.pk, x.stix_id, x.stix_type, x.version, x.spec_version, x.org_id, x.submission_id, x.tlp, x.date_added, x.json";
const OBJECT_NCOLS: usize = 10;

fn corrupt<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn time_col(r: &Row, i: usize) -> Result<Time> {
    let s = r.str(i)?;
    parse_stored_time(s)
        .ok_or_else(|| StoreError::Corrupt(format!("column {i}: bad timestamp {s:?}")))
}

fn opt_time_col(r: &Row, i: usize) -> Result<Option<Time>> {
    match r.opt_str(i)? {
        None => Ok(None),
        Some(_) => time_col(r, i).map(Some),
    }
}

fn org_from_row(r: &Row) -> Result<Org> {
    Ok(Org {
        id: r.i64(0)?,
        name: r.string(1)?,
        kind: r.str(2)?.parse().map_err(corrupt("org kind"))?,
        country: r.opt_str(3)?.map(str::to_string),
        identity_id: r.string(4)?,
        created_at: time_col(r, 5)?,
    })
}

fn agreement_by_id(c: &mut dyn Conn, id: i64) -> Result<Agreement> {
    let r = c
        .query_one(
            &format!("SELECT {AGREEMENT_COLS} FROM agreements WHERE id = $1"),
            &[id.into()],
        )?
        .ok_or_else(|| StoreError::NotFound(format!("agreement #{id}")))?;
    agreement_from_row(&r)
}

fn agreement_from_row(r: &Row) -> Result<Agreement> {
    Ok(Agreement {
        id: r.i64(0)?,
        org_id: r.i64(1)?,
        role: r.str(2)?.parse().map_err(corrupt("agreement role"))?,
        signed_on: time_col(r, 3)?,
        valid_from: time_col(r, 4)?,
        valid_until: time_col(r, 5)?,
        max_tlp: parse_tlp(r.str(6)?).map_err(corrupt("max tlp"))?,
        scope: r
            .opt_str(7)?
            .map(serde_json::from_str)
            .transpose()
            .map_err(corrupt("scope"))?,
        purpose: r.string(8)?,
        retention_days: r.opt_i64(9)?,
        status: r.str(10)?.parse().map_err(corrupt("status"))?,
        terminated_at: opt_time_col(r, 11)?,
        renews: r.opt_i64(12)?,
        created_at: time_col(r, 13)?,
    })
}

fn token_from_row(r: &Row) -> Result<Token> {
    Ok(Token {
        id: r.i64(0)?,
        org_id: r.i64(1)?,
        role: r.str(2)?.parse().map_err(corrupt("token role"))?,
        label: r.string(3)?,
        created_at: time_col(r, 4)?,
        revoked_at: opt_time_col(r, 5)?,
    })
}

fn observable_from_row(r: &Row) -> Result<ObservableRow> {
    Ok(ObservableRow {
        id: r.i64(0)?,
        kind: r.str(1)?.parse().map_err(corrupt("observable kind"))?,
        value: r.string(2)?,
        enrichment: Enrichment {
            country: r.opt_str(3)?.map(str::to_string),
            asn: r.opt_i64(4)?.map(|v| v as u32),
            network: r.opt_str(5)?.map(str::to_string),
            registered_domain: r.opt_str(6)?.map(str::to_string),
        },
    })
}

fn record_from_row(r: &Row) -> Result<SourceRecord> {
    let id = r.i64(0)?;
    Ok(SourceRecord {
        id,
        observable_id: r.i64(1)?,
        org_id: r.i64(2)?,
        submission_id: r.i64(3)?,
        claim: claim_text::decode(r.str(4)?)
            .map_err(|e| StoreError::Corrupt(format!("record #{id} claim: {e}")))?,
        created_at: time_col(r, 5)?,
        updated_at: time_col(r, 6)?,
    })
}

/// The object in the first [`OBJECT_NCOLS`] columns; its texts are moved out of the row
/// (pages of large objects are not copied again).
fn object_from_row(r: &mut Row) -> Result<StoredObject> {
    Ok(StoredObject {
        pk: r.i64(0)?,
        stix_id: r.take_string(1)?,
        stix_type: r.take_string(2)?,
        version: r.take_string(3)?,
        spec_version: r.take_string(4)?,
        org_id: r.i64(5)?,
        submission_id: r.i64(6)?,
        tlp: parse_tlp(r.str(7)?).map_err(corrupt("object tlp"))?,
        date_added: time_col(r, 8)?,
        json: r.take_string(9)?,
    })
}
