//! Versioned schema migrations, written once for both engines.
//!
//! `{pk}` becomes the engine's auto-increment primary key and `{int}` its 64-bit integer.
//! Timestamps are fixed-width UTC text (see [`crate::model::format_time`]) so they compare
//! correctly as strings on both engines; JSON is text so that it is kept byte for byte.
//! A migration is never edited once released: add a new one.

use super::backend::{Conn, Dialect, Result, StoreError};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
    /// PostgreSQL's text where it differs from `sql` (SQLite rebuilds tables, PG alters them).
    pub postgres_sql: Option<&'static str>,
}

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "core: orgs, agreements, tokens, submissions, observables, records, objects, shares, sightings, audit",
    sql: r#"
CREATE TABLE orgs (
    id {pk},
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    country TEXT,
    identity_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE agreements (
    id {pk},
    org_id {int} NOT NULL REFERENCES orgs(id),
    role TEXT NOT NULL,
    signed_on TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    max_tlp TEXT NOT NULL,
    scope TEXT,
    purpose TEXT NOT NULL,
    retention_days {int},
    status TEXT NOT NULL,
    terminated_at TEXT,
    renews {int} REFERENCES agreements(id),
    created_at TEXT NOT NULL
);
CREATE INDEX agreements_org ON agreements(org_id);
CREATE TABLE tokens (
    id {pk},
    org_id {int} NOT NULL REFERENCES orgs(id),
    role TEXT NOT NULL,
    label TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE submissions (
    id {pk},
    org_id {int} NOT NULL REFERENCES orgs(id),
    agreement_id {int} REFERENCES agreements(id),
    format TEXT NOT NULL,
    source_name TEXT NOT NULL,
    received_at TEXT NOT NULL,
    objects {int} NOT NULL DEFAULT 0,
    records {int} NOT NULL DEFAULT 0,
    rejected {int} NOT NULL DEFAULT 0
);
CREATE TABLE observables (
    id {pk},
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    country TEXT,
    asn {int},
    network TEXT,
    registered_domain TEXT,
    enriched_at TEXT,
    UNIQUE (kind, value)
);
CREATE TABLE records (
    id {pk},
    observable_id {int} NOT NULL REFERENCES observables(id),
    org_id {int} NOT NULL REFERENCES orgs(id),
    submission_id {int} NOT NULL REFERENCES submissions(id),
    tlp TEXT NOT NULL,
    claim TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (observable_id, org_id)
);
CREATE INDEX records_org ON records(org_id);
CREATE TABLE objects (
    pk {pk},
    stix_id TEXT NOT NULL,
    stix_type TEXT NOT NULL,
    version TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    org_id {int} NOT NULL REFERENCES orgs(id),
    submission_id {int} NOT NULL REFERENCES submissions(id),
    tlp TEXT NOT NULL,
    date_added TEXT NOT NULL,
    json TEXT NOT NULL,
    UNIQUE (org_id, stix_id, version)
);
CREATE INDEX objects_added ON objects(date_added, pk);
CREATE INDEX objects_id ON objects(stix_id);
CREATE TABLE object_observables (
    object_pk {int} NOT NULL REFERENCES objects(pk),
    observable_id {int} NOT NULL REFERENCES observables(id),
    PRIMARY KEY (object_pk, observable_id)
);
CREATE INDEX object_observables_obs ON object_observables(observable_id);
CREATE TABLE shares (
    id {pk},
    recipient {int} NOT NULL REFERENCES orgs(id),
    subject_kind TEXT NOT NULL,
    subject_id {int} NOT NULL,
    granted_by {int} NOT NULL REFERENCES orgs(id),
    reason TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    UNIQUE (recipient, subject_kind, subject_id)
);
CREATE INDEX shares_subject ON shares(subject_kind, subject_id);
CREATE TABLE sightings (
    id {pk},
    observable_id {int} NOT NULL REFERENCES observables(id),
    org_id {int} NOT NULL REFERENCES orgs(id),
    count {int} NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    where_sighted TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX sightings_obs ON sightings(observable_id);
CREATE TABLE audit_log (
    seq {int} PRIMARY KEY,
    at TEXT NOT NULL,
    actor {int},
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#,
    postgres_sql: None,
}, Migration {
    version: 3,
    name: "server: TAXII status resources, federation cursors",
    sql: r#"
CREATE TABLE taxii_status (
    id TEXT PRIMARY KEY,
    org_id {int} NOT NULL REFERENCES orgs(id),
    created_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE sync_state (
    key TEXT PRIMARY KEY,
    direction TEXT NOT NULL,
    remote TEXT NOT NULL,
    local_org {int} NOT NULL REFERENCES orgs(id),
    cursor TEXT,
    updated_at TEXT NOT NULL
);
"#,
    postgres_sql: None,
}, Migration {
    version: 4,
    name: "operations: operations, targets (with snapshots), target events, observations, counts, disseminations",
    sql: r#"
CREATE TABLE operations (
    id {pk},
    name TEXT NOT NULL UNIQUE,
    window_from TEXT NOT NULL,
    window_to TEXT NOT NULL,
    filter TEXT NOT NULL,
    created_by {int} NOT NULL REFERENCES orgs(id),
    created_at TEXT NOT NULL
);
CREATE TABLE targets (
    id {pk},
    operation_id {int} NOT NULL REFERENCES operations(id),
    observable_id {int},
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    category TEXT NOT NULL,
    country TEXT,
    asn {int},
    network TEXT,
    registered_domain TEXT,
    abuse_contact TEXT,
    snapshot TEXT NOT NULL,
    needs_consent {int} NOT NULL,
    tlp TEXT NOT NULL,
    state TEXT NOT NULL,
    identified_at TEXT NOT NULL,
    reported_at TEXT,
    actioned_at TEXT,
    updated_at TEXT NOT NULL,
    UNIQUE (operation_id, kind, value)
);
CREATE INDEX targets_observable ON targets(observable_id);
CREATE TABLE target_events (
    id {pk},
    target_id {int} NOT NULL REFERENCES targets(id),
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    at TEXT NOT NULL,
    actor {int} NOT NULL REFERENCES orgs(id),
    evidence TEXT NOT NULL
);
CREATE INDEX target_events_target ON target_events(target_id);
CREATE TABLE target_observations (
    id {pk},
    target_id {int} NOT NULL REFERENCES targets(id),
    at TEXT NOT NULL,
    online {int} NOT NULL,
    method TEXT NOT NULL,
    detail TEXT NOT NULL,
    recorded_by {int} REFERENCES orgs(id),
    UNIQUE (target_id, at, method, online)
);
CREATE INDEX target_observations_target ON target_observations(target_id, at);
CREATE TABLE operation_counts (
    id {pk},
    operation_id {int} NOT NULL REFERENCES operations(id),
    seizures {int} NOT NULL,
    arrests {int} NOT NULL,
    note TEXT NOT NULL,
    recorded_by {int} NOT NULL REFERENCES orgs(id),
    recorded_at TEXT NOT NULL
);
CREATE TABLE disseminations (
    id {pk},
    operation_id {int} NOT NULL REFERENCES operations(id),
    country TEXT NOT NULL,
    recipient {int} NOT NULL REFERENCES orgs(id),
    targets {int} NOT NULL,
    records {int} NOT NULL,
    objects {int} NOT NULL,
    tlp TEXT NOT NULL,
    sent_by {int} NOT NULL REFERENCES orgs(id),
    sent_at TEXT NOT NULL
);
CREATE TABLE network_contacts (
    asn {int} PRIMARY KEY,
    contact TEXT NOT NULL,
    source TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"#,
    postgres_sql: None,
}, Migration {
    version: 5,
    name: "objects: latest/first version flags maintained at write time, (stix_id, version) index",
    // `is_latest`: no stored row of the same STIX id has a later version, nor the same
    // version with a smaller pk (an earlier copy from another source). `is_first` likewise
    // for the earliest version. Such a row is the answer to `match[version]=last` (`first`)
    // for any reader who may see it, so collection reads skip the per-row version
    // subqueries for it. Kept by `store::versions::mark_versions` in the writing
    // transaction; new rows start at 1 (right for a new STIX id) until it runs.
    sql: r#"
ALTER TABLE objects ADD COLUMN is_latest {int} NOT NULL DEFAULT 1;
ALTER TABLE objects ADD COLUMN is_first {int} NOT NULL DEFAULT 1;
DROP INDEX objects_id;
CREATE INDEX objects_id_version ON objects(stix_id, version, pk);
UPDATE objects SET
    is_latest = CASE WHEN EXISTS (SELECT 1 FROM objects y WHERE y.stix_id = objects.stix_id
        AND (y.version > objects.version OR (y.version = objects.version AND y.pk < objects.pk))) THEN 0 ELSE 1 END,
    is_first = CASE WHEN EXISTS (SELECT 1 FROM objects y WHERE y.stix_id = objects.stix_id
        AND (y.version < objects.version OR (y.version = objects.version AND y.pk < objects.pk))) THEN 0 ELSE 1 END;
"#,
    postgres_sql: None,
}, Migration {
    version: 6,
    name: "objects: unique (stix_id, version, org_id) serves id/version lookups; objects_id_version dropped; object_observables WITHOUT ROWID",
    // SQLite cannot change a table's unique constraint: the documented table rebuild.
    // Foreign keys stay on (migrations run in one transaction, where the pragma is a
    // no-op), so no step may leave a dangling reference: the new link table points at
    // `objects_new` (renaming it renames that reference too), the old link table is
    // dropped before the old objects table, and nothing else references either.
    sql: r#"
CREATE TABLE objects_new (
    pk INTEGER PRIMARY KEY,
    stix_id TEXT NOT NULL,
    stix_type TEXT NOT NULL,
    version TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    tlp TEXT NOT NULL,
    date_added TEXT NOT NULL,
    json TEXT NOT NULL,
    is_latest INTEGER NOT NULL DEFAULT 1,
    is_first INTEGER NOT NULL DEFAULT 1,
    UNIQUE (stix_id, version, org_id)
);
INSERT INTO objects_new (pk, stix_id, stix_type, version, spec_version, org_id, submission_id, tlp, date_added, json, is_latest, is_first)
    SELECT pk, stix_id, stix_type, version, spec_version, org_id, submission_id, tlp, date_added, json, is_latest, is_first FROM objects;
CREATE TABLE object_observables_new (
    object_pk INTEGER NOT NULL REFERENCES objects_new(pk),
    observable_id INTEGER NOT NULL REFERENCES observables(id),
    PRIMARY KEY (object_pk, observable_id)
) WITHOUT ROWID;
INSERT INTO object_observables_new (object_pk, observable_id)
    SELECT object_pk, observable_id FROM object_observables;
DROP TABLE object_observables;
DROP TABLE objects;
ALTER TABLE objects_new RENAME TO objects;
ALTER TABLE object_observables_new RENAME TO object_observables;
CREATE INDEX objects_added ON objects(date_added, pk);
CREATE INDEX object_observables_obs ON object_observables(observable_id);
"#,
    postgres_sql: Some(
        r#"
ALTER TABLE objects DROP CONSTRAINT objects_org_id_stix_id_version_key;
ALTER TABLE objects ADD CONSTRAINT objects_stix_id_version_org_id_key UNIQUE (stix_id, version, org_id);
DROP INDEX objects_id_version;
"#,
    ),
}];

fn render(sql: &str, d: Dialect) -> String {
    let (pk, int) = match d {
        Dialect::Sqlite => ("INTEGER PRIMARY KEY", "INTEGER"),
        Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "BIGINT"),
    };
    sql.replace("{pk}", pk).replace("{int}", int)
}

/// The newest schema version this binary knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

/// Bring the schema up to date inside the caller's transaction. Returns versions applied.
pub fn migrate(c: &mut dyn Conn, d: Dialect, now: &str) -> Result<Vec<i64>> {
    migrate_to(c, d, now, latest())
}

/// [`migrate`], stopping after version `upto` (tests build old stores with it).
pub fn migrate_to(c: &mut dyn Conn, d: Dialect, now: &str, upto: i64) -> Result<Vec<i64>> {
    c.batch("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")?;
    let current = c
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);
    if current > latest() {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known: latest(),
        });
    }
    let mut applied = vec![];
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > current && m.version <= upto)
    {
        let sql = match (d, m.postgres_sql) {
            (Dialect::Postgres, Some(pg)) => pg,
            _ => m.sql,
        };
        c.batch(&render(sql, d))?;
        c.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[m.version.into(), m.name.into(), now.into()],
        )?;
        applied.push(m.version);
    }
    Ok(applied)
}
