//! TAXII collections, derived from the policy: which collections an organisation has, and
//! what each one contains. A collection is a *restriction* on what the org may read, never
//! a grant: every read still goes through [`crate::lookup::scope_for`] and the store's
//! scoped reads, so a collection can only narrow what the policy permits.
//!
//! Kinds (add one by adding a [`CollectionKind`] variant and a line in [`for_org`]):
//! - `shared-with-me`: everything the org may read through [`Channel::Bulk`]; read-only.
//! - `submissions`: what the org itself submitted; the write target of TAXII POST.
//! - (planned) one per operation and per country report, once `ops` records them.
//!
//! Collection ids are UUIDv5 of a stable name, so they are the same on every server node,
//! across restarts, and for every org (an org's view of "shared-with-me" is its own).

use uuid::Uuid;

use crate::model::{Org, OrgId};
use crate::policy::{role_allows, Action, Channel};
use crate::store::{CollectionQuery, Result, Store};

/// Namespace of collection ids (UUIDv5 of "threatgate.collections").
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6b1c_2f4e_9a4d_5e21_8f6a_3c7d_0e9b_1a42);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionKind {
    SharedWithMe,
    Submissions,
}

/// One collection as one caller sees it.
#[derive(Debug, Clone)]
pub struct Collection {
    pub kind: CollectionKind,
    pub id: Uuid,
    /// Stable short name (the TAXII `alias`).
    pub alias: String,
    pub title: String,
    pub description: String,
    pub can_read: bool,
    pub can_write: bool,
    /// The channel whose policy scope applies to reads.
    pub channel: Channel,
}

impl Collection {
    fn new(kind: CollectionKind, alias: &str, title: &str, description: &str) -> Collection {
        Collection {
            kind,
            id: Uuid::new_v5(&NAMESPACE, alias.as_bytes()),
            alias: alias.to_string(),
            title: title.to_string(),
            description: description.to_string(),
            can_read: false,
            can_write: false,
            channel: Channel::Bulk,
        }
    }

    /// Narrow a query to this collection's contents for `org`.
    pub fn restrict(&self, org: OrgId, q: &mut CollectionQuery) {
        match self.kind {
            CollectionKind::SharedWithMe => {}
            CollectionKind::Submissions => q.source_org = Some(org),
        }
    }

    /// Where a TAXII POST to this collection goes (only `submissions` accepts one).
    pub fn accepts_writes(&self) -> bool {
        self.kind == CollectionKind::Submissions
    }
}

/// The collections `org` has, with what a token of `role` may do in each.
///
/// `shared-with-me` is readable only while the policy lets the org receive anything from
/// others through [`Channel::Bulk`] (a receive agreement in force); otherwise reading it is
/// refused (403) rather than answered with an empty list, so the org knows why.
pub fn for_org(store: &Store, org: &Org, role: crate::model::TokenRole) -> Result<Vec<Collection>> {
    let bulk = crate::lookup::scope_for(store, org, chrono::Utc::now(), Channel::Bulk)?;
    Ok(for_org_scoped(org, role, &bulk))
}

/// [`for_org`] with the org's bulk scope already in hand (saves a lookup per request).
pub fn for_org_scoped(
    _org: &Org,
    role: crate::model::TokenRole,
    bulk: &crate::policy::ReadScope,
) -> Vec<Collection> {
    let read = role_allows(role, Action::Read);
    let submit = role_allows(role, Action::Submit);
    let v = bulk.visibility();
    let receives = !v.open.is_empty() || !v.if_shared.is_empty();
    let mut shared = Collection::new(
        CollectionKind::SharedWithMe,
        "shared-with-me",
        "Shared with me",
        "Every object the exchange's policy lets this organisation receive in bulk, under its agreement in force now and the TLP of each object.",
    );
    shared.can_read = read && receives;
    let mut own = Collection::new(
        CollectionKind::Submissions,
        "submissions",
        "Own submissions",
        "Objects this organisation submitted. Add objects here (TAXII POST): they are accepted only while an agreement that lets the organisation provide is in force, and only for types in its scope.",
    );
    own.can_read = read;
    own.can_write = submit;
    vec![shared, own]
}

/// One collection of `org` by id (its UUID or its alias), if it has it.
pub fn find(
    store: &Store,
    org: &Org,
    role: crate::model::TokenRole,
    id: &str,
) -> Result<Option<Collection>> {
    Ok(for_org(store, org, role)?
        .into_iter()
        .find(|c| c.id.to_string() == id.to_ascii_lowercase() || c.alias == id))
}
