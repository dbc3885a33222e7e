//! Shared test fixtures: stores on both engines, real-data paths, org/agreement setup.
#![allow(dead_code)]

pub mod cli;
pub mod server;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, Utc};
use threatgate::model::*;
use threatgate::store::postgres::PostgresBackend;
use threatgate::store::Store;

/// A store under test and what must be cleaned up after it.
pub struct TestStore {
    pub engine: &'static str,
    /// Shared so that an in-process server can serve it too.
    pub store: Arc<Store>,
    _dir: Option<tempfile::TempDir>,
    pg_cleanup: Option<PostgresBackend>,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(b) = &self.pg_cleanup {
            let _ = b.drop_schema();
        }
    }
}

pub fn sqlite_store() -> TestStore {
    let dir = tempfile::tempdir().expect("tempdir");
    TestStore {
        engine: "sqlite",
        store: Arc::new(Store::open_dir(dir.path()).expect("open sqlite")),
        _dir: Some(dir),
        pg_cleanup: None,
    }
}

/// The PostgreSQL URL for tests. In CI it must be set: skipping there would hide failures.
pub fn pg_url() -> Option<String> {
    match std::env::var("THREATGATE_TEST_PG") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("CI is set but THREATGATE_TEST_PG is not: the PostgreSQL conformance run would be skipped silently");
            }
            None
        }
    }
}

/// A fresh PostgreSQL schema, dropped when the returned store is dropped.
pub fn pg_store() -> Option<TestStore> {
    let url = pg_url()?;
    let schema = format!(
        "tg_test_{}_{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let store = Store::open_postgres(&url, Some(&schema)).expect("open postgres");
    let cleanup = PostgresBackend::connect(&url, Some(&schema)).expect("cleanup connection");
    Some(TestStore {
        engine: "postgres",
        store: Arc::new(store),
        _dir: None,
        pg_cleanup: Some(cleanup),
    })
}

/// Every engine available to this run: SQLite always, PostgreSQL when configured.
pub fn all_stores() -> Vec<TestStore> {
    let mut v = vec![sqlite_store()];
    v.extend(pg_store());
    v
}

/// The shared real data. Missing data fails in CI instead of skipping.
pub fn shared_data() -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    assert!(
        p.join("README.md").exists(),
        "shared data not found at {}",
        p.display()
    );
    p
}

pub fn t(s: &str) -> Time {
    parse_time(s).expect("test time")
}

/// An organisation, recorded as created by `by` (the hub, usually).
pub fn new_org(
    store: &Store,
    name: &str,
    kind: OrgKind,
    country: Option<&str>,
    by: Option<&Org>,
) -> Org {
    store
        .create_org(
            &NewOrg {
                name: name.into(),
                kind,
                country: country.map(str::to_string),
            },
            by.map(|o| o.id),
        )
        .unwrap()
}

/// An agreement of `org` in force from `valid.0` until `valid.1` (signed when it starts),
/// recorded by `by`.
pub fn agreement(
    store: &Store,
    org: &Org,
    role: AgreementRole,
    valid: (Time, Time),
    max_tlp: Tlp,
    scope: Option<Vec<String>>,
    by: &Org,
) -> Agreement {
    store
        .add_agreement(
            &NewAgreement {
                org_id: org.id,
                role,
                signed_on: valid.0,
                valid_from: valid.0,
                valid_until: valid.1,
                max_tlp,
                scope,
                purpose: "test".into(),
                retention_days: None,
                renews: None,
            },
            Some(by.id),
        )
        .unwrap()
}

/// A hub, a partner providing under an agreement in force now, and members receiving.
pub struct World {
    pub hub: Org,
    pub partner: Org,
    pub members: Vec<Org>,
}

pub fn world(store: &Store) -> World {
    let hub = new_org(store, "hub", OrgKind::Hub, None, None);
    let partner = new_org(store, "vendor", OrgKind::Partner, None, Some(&hub));
    let now = Utc::now();
    let valid = (now - Duration::days(365), now + Duration::days(4 * 365));
    agreement(
        store,
        &partner,
        AgreementRole::Both,
        valid,
        Tlp::Amber,
        None,
        &hub,
    );
    let mut members = vec![];
    for cc in ["FR", "DE"] {
        let m = new_org(
            store,
            &format!("cert-{}", cc.to_lowercase()),
            OrgKind::Member,
            Some(cc),
            Some(&hub),
        );
        let valid = (now - Duration::days(30), now + Duration::days(365));
        agreement(
            store,
            &m,
            AgreementRole::Receive,
            valid,
            Tlp::Amber,
            None,
            &hub,
        );
        members.push(m);
    }
    World {
        hub,
        partner,
        members,
    }
}
