//! Retention: purging source data kept past its agreement's retention period.
//!
//! The rule (DESIGN: "data past its source's retention is purged by `threatgate retention
//! --apply`, logged"), with the choices written down in [`Store::purge_past_retention`]:
//! a record's retention runs from its **last update** (each re-submission is the source
//! providing it again under its agreement), governed by the agreement of the submission
//! that last touched it; object versions run from `date_added`; the hub's own data has no
//! agreement and is kept. Each purge is one audit entry per agreement.
//!
//! Operations keep their statistics after a purge: targets hold a snapshot of value,
//! country, ASN, network, labels and sources, and their events and observations are the
//! hub's own records, not source data.

use chrono::Utc;

use crate::model::{OrgId, Time};
use crate::store::{PurgeCount, Result, Store};

/// Count (dry run) or purge what is past retention at `now`.
pub fn run(store: &Store, now: Time, apply: bool, actor: Option<OrgId>) -> Result<Vec<PurgeCount>> {
    store.purge_past_retention(now, apply, actor)
}

/// [`run`] at the current instant.
pub fn run_now(store: &Store, apply: bool, actor: Option<OrgId>) -> Result<Vec<PurgeCount>> {
    run(store, Utc::now(), apply, actor)
}
