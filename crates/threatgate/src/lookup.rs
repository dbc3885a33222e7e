//! Looking up one observable as an organisation may see it: the merged observable, the
//! source records the policy permits, linked STIX objects and sightings.
//!
//! Search, the REST API and the UI all call [`lookup`]. An observable with no visible
//! record is reported exactly as an unknown one, so nothing hints that others exist.

use chrono::Utc;
use serde::Serialize;

use crate::model::*;
use crate::policy::{read_scope, Channel, ReadScope};
use crate::store::{AuditEvent, Result, Store};

/// The policy scope for `org` at `at`: the only way read paths obtain one.
pub fn scope_for(store: &Store, org: &Org, at: Time, channel: Channel) -> Result<ReadScope> {
    let agreements = store.agreements(Some(org.id))?;
    Ok(read_scope(org, &agreements, at, channel))
}

#[derive(Debug, Clone, Serialize)]
pub struct ObservableView {
    pub observable: ObservableRow,
    pub records: Vec<RecordView>,
    pub objects: Vec<serde_json::Value>,
    pub sightings: Vec<Sighting>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    pub source: String,
    #[serde(flatten)]
    pub record: SourceRecord,
}

/// Canonicalise `value` (refanging, guessing its kind) and show what `viewer` may see.
/// The search is audited.
pub fn lookup(
    store: &Store,
    viewer: &Org,
    value: &str,
    channel: Channel,
) -> Result<Option<ObservableView>, LookupError> {
    let obs = Observable::detect(value).map_err(LookupError::Value)?;
    let scope = scope_for(store, viewer, Utc::now(), channel)?;
    let view = view_of(store, &scope, &obs)?;
    store.audit(AuditEvent::new(
        Some(viewer.id),
        "search",
        format!("{}:{}", obs.kind, obs.value),
        serde_json::json!({"found": view.is_some()}),
    ))?;
    Ok(view)
}

/// The view without auditing, for callers that audit a whole page at once.
pub fn view_of(
    store: &Store,
    scope: &ReadScope,
    obs: &Observable,
) -> Result<Option<ObservableView>> {
    let Some(row) = store.observable(obs.kind, &obs.value)? else {
        return Ok(None);
    };
    let records = store.visible_records(row.id, scope)?;
    if records.is_empty() {
        return Ok(None);
    }
    let orgs = store.orgs()?;
    let objects = store
        .visible_objects_for_observable(row.id, scope)?
        .into_iter()
        .filter_map(|o| serde_json::from_str(&o.json).ok())
        .collect();
    let visible_sources: Vec<OrgId> = records.iter().map(|r| r.org_id).collect();
    let sightings = store
        .sightings(row.id)?
        .into_iter()
        .filter(|s| scope.permits_sighting(s.org_id, &visible_sources))
        .collect();
    let records = records
        .into_iter()
        .map(|r| RecordView {
            source: orgs
                .iter()
                .find(|o| o.id == r.org_id)
                .map(|o| o.name.clone())
                .unwrap_or_default(),
            record: r,
        })
        .collect();
    Ok(Some(ObservableView {
        observable: row,
        records,
        objects,
        sightings,
    }))
}

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("{0}")]
    Value(observable::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
