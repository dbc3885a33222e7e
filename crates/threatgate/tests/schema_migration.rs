//! Schema v6 (objects keyed by (stix_id, version, org_id), link table WITHOUT ROWID on
//! SQLite) migrates a filled v5 store without losing or changing a row, on both engines.

mod support;

use threatgate::ingest::{self, IngestOptions, NoProgress};
use threatgate::model::*;
use threatgate::store::backend::{Dialect, Val};
use threatgate::store::postgres::PostgresBackend;
use threatgate::store::sqlite::SqliteBackend;
use threatgate::store::{schema, Store, SQLITE_FILE};

/// Every table of schema v5, in creation order.
const TABLES: &[&str] = &[
    "orgs",
    "agreements",
    "tokens",
    "submissions",
    "observables",
    "records",
    "objects",
    "object_observables",
    "shares",
    "sightings",
    "audit_log",
    "settings",
    "schema_migrations",
    "taxii_status",
    "sync_state",
    "operations",
    "targets",
    "target_events",
    "target_observations",
    "operation_counts",
    "disseminations",
    "network_contacts",
];

fn dump(store: &Store) -> Vec<(String, Vec<Vec<Val>>)> {
    TABLES
        .iter()
        .map(|t| {
            let rows = store
                .read(|c| c.query(&format!("SELECT * FROM {t} ORDER BY 1, 2"), &[]))
                .unwrap();
            (t.to_string(), rows.into_iter().map(|r| r.0).collect())
        })
        .collect()
}

fn count(store: &Store, sql: &str) -> i64 {
    store
        .read(|c| c.query_one(sql, &[]))
        .unwrap()
        .unwrap()
        .i64(0)
        .unwrap()
}

fn indicator(id: &str, modified: &str, ip: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2024-01-01T00:00:00.000Z", "modified": modified,
        "pattern": format!("[ipv4-addr:value = '{ip}']"), "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z"
    })
}

/// Fill a v5 store: real example bundles plus several versions of one indicator, so that
/// the latest/first flags and the version index carry information.
fn fill(store: &Store) -> Org {
    let w = support::world(store);
    let opts = IngestOptions {
        partial: true,
        ..Default::default()
    };
    let examples = support::shared_data().join("oasis-stix-examples");
    ingest::ingest_paths(store, &w.partner, &[examples], &opts, &NoProgress).unwrap();
    let id = "indicator--6b5a1c2e-0f3d-4b8e-9d7c-2b1f3e4d5c6a";
    for (i, modified) in [
        "2024-03-01T00:00:00.000Z",
        "2024-01-01T00:00:00.000Z",
        "2024-02-01T00:00:00.000Z",
    ]
    .iter()
    .enumerate()
    {
        let objs = vec![indicator(id, modified, &format!("198.51.100.{}", i + 1))];
        ingest::ingest_stix_objects(store, &w.partner, "v5", objs.into_iter(), &opts).unwrap();
    }
    w.partner
}

/// Open a v5 store, fill it, reopen it (migrating to the latest schema) and check it.
fn check(open_v5: &dyn Fn() -> Store, reopen: &dyn Fn() -> Store) {
    let (before, partner) = {
        let old = open_v5();
        assert_eq!(count(&old, "SELECT MAX(version) FROM schema_migrations"), 5);
        let partner = fill(&old);
        assert!(count(&old, "SELECT COUNT(*) FROM objects") > 10);
        assert!(count(&old, "SELECT COUNT(*) FROM object_observables") > 3);
        (dump(&old), partner)
    };
    let store = reopen();
    assert_eq!(
        count(&store, "SELECT MAX(version) FROM schema_migrations"),
        schema::latest()
    );
    let mut after = dump(&store);
    // The only new row is the migration's own record.
    let migrations = &mut after
        .iter_mut()
        .find(|(t, _)| t == "schema_migrations")
        .unwrap()
        .1;
    assert_eq!(migrations.pop().unwrap()[0], Val::Int(6));
    for ((table, b), (_, a)) in before.iter().zip(&after) {
        assert_eq!(b, a, "table {table} changed in migration");
    }
    assert!(store.verify_audit().unwrap().is_ok(), "audit chain broken");

    match store.backend().dialect() {
        Dialect::Sqlite => {
            let idx = count(
                &store,
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'objects_id_version'",
            );
            assert_eq!(idx, 0, "objects_id_version is redundant in v6");
            let without_rowid = count(
                &store,
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'object_observables' AND sql LIKE '%WITHOUT ROWID%'",
            );
            assert_eq!(without_rowid, 1);
            let dangling = store
                .read(|c| c.query("PRAGMA foreign_key_check", &[]))
                .unwrap();
            assert!(dangling.is_empty(), "{dangling:?}");
            // The hot lookups still seek an index.
            for q in [
                "SELECT pk FROM objects WHERE org_id = 1 AND stix_id = 'x' AND version = 'v'",
                "SELECT pk FROM objects y WHERE y.stix_id = 'x' ORDER BY y.version DESC, y.pk ASC LIMIT 1",
                "SELECT stix_id FROM objects WHERE stix_id IN ('a', 'b') GROUP BY stix_id HAVING COUNT(*) > 1",
                "SELECT object_pk FROM object_observables WHERE observable_id = 1",
                "SELECT pk FROM objects WHERE date_added > 'x' ORDER BY date_added, pk",
            ] {
                let plan = store
                    .read(|c| c.query(&format!("EXPLAIN QUERY PLAN {q}"), &[]))
                    .unwrap();
                let text = format!("{plan:?}");
                assert!(
                    !text.contains("SCAN objects") && !text.contains("SCAN object_observables")
                        && !text.contains("SCAN y"),
                    "{q}: {text}"
                );
            }
        }
        Dialect::Postgres => {
            let idx = count(
                &store,
                "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'objects_id_version'",
            );
            assert_eq!(idx, 0, "objects_id_version is redundant in v6");
        }
    }

    // Ingest still works: a new version is added, a repeated one is a duplicate.
    let objects = count(&store, "SELECT COUNT(*) FROM objects");
    let id = "indicator--6b5a1c2e-0f3d-4b8e-9d7c-2b1f3e4d5c6a";
    let opts = IngestOptions {
        partial: true,
        ..Default::default()
    };
    for _ in 0..2 {
        let objs = vec![indicator(id, "2024-04-01T00:00:00.000Z", "198.51.100.9")];
        ingest::ingest_stix_objects(&store, &partner, "v6", objs.into_iter(), &opts).unwrap();
    }
    assert_eq!(count(&store, "SELECT COUNT(*) FROM objects"), objects + 1);
    assert_eq!(
        count(
            &store,
            &format!("SELECT COUNT(*) FROM objects WHERE stix_id = '{id}' AND is_latest = 1")
        ),
        1
    );
    assert_eq!(
        count(
            &store,
            &format!("SELECT COUNT(*) FROM objects WHERE stix_id = '{id}' AND is_latest = 1 AND version LIKE '2024-04%'")
        ),
        1
    );
    assert!(store.verify_audit().unwrap().is_ok());
}

#[test]
fn v5_store_migrates_without_change_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SQLITE_FILE);
    check(
        &|| {
            Store::with_backend_at_schema(Box::new(SqliteBackend::open(&path).unwrap()), 5).unwrap()
        },
        &|| Store::open_dir(dir.path()).unwrap(),
    );
}

#[test]
fn v5_store_migrates_without_change_on_postgres() {
    let Some(url) = support::pg_url() else {
        return;
    };
    let schema_name = format!("tg_test_mig_{}", uuid::Uuid::new_v4().simple());
    let connect = || PostgresBackend::connect(&url, Some(&schema_name)).unwrap();
    let _cleanup = DropSchemaOnExit(connect());
    check(
        &|| Store::with_backend_at_schema(Box::new(connect()), 5).unwrap(),
        &|| Store::with_backend(Box::new(connect())).unwrap(),
    );
}

/// Drops the test's schema however the test ends (a failed assertion unwinds through it).
struct DropSchemaOnExit(PostgresBackend);

impl Drop for DropSchemaOnExit {
    fn drop(&mut self) {
        let _ = self.0.drop_schema();
    }
}
