//! TAXII collections, derived from the policy: which collections an organisation has, and
//! what each one contains. A collection is a *restriction* on what the org may read, never
//! a grant: every read still goes through [`crate::lookup::scope_for`] and the store's
//! scoped reads, so a collection can only narrow what the policy permits.
//!
//! Kinds (add one by adding a [`CollectionKind`] variant and a line in [`for_org`]):
//! - `shared-with-me`: everything the org may read through [`Channel::Bulk`]; read-only.
//! - `submissions`: what the org itself submitted; the write target of TAXII POST.
//! - `operation-NAME`: objects about one operation's targets, for the org that runs it and
//!   the orgs it sent a report of it to; read-only.
//! - `report-NAME-CC`: the objects shared as one operation's report for country CC, for its
//!   recipients and its sender; read-only.
//!
//! Which of these an org has is decided from what happened (it created the operation, a
//! report was sent to it); what is *in* them is always what [`Channel::Bulk`] lets it read.
//!
//! Collection ids are UUIDv5 of a stable name, so they are the same on every server node,
//! across restarts, and for every org (an org's view of "shared-with-me" is its own).

use uuid::Uuid;

use crate::model::{Org, OrgId};
use crate::policy::{role_allows, Action, Channel, ReadScope};
use crate::store::{CollectionQuery, Result, Store, Subset};

/// Namespace of collection ids (UUIDv5 of "threatgate.collections").
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6b1c_2f4e_9a4d_5e21_8f6a_3c7d_0e9b_1a42);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionKind {
    SharedWithMe,
    Submissions,
    /// One operation's objects (those linked to its targets).
    Operation {
        id: i64,
    },
    /// One country report of an operation, as shared (see [`crate::ops::report::share_reason`]).
    Report {
        reason: String,
        /// The reading org received it (else it sent it).
        received: bool,
    },
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
        // Ids are the same for every org: an org without the collection gets 404 for it.
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
        match &self.kind {
            CollectionKind::SharedWithMe => {}
            CollectionKind::Submissions => q.source_org = Some(org),
            CollectionKind::Operation { id } => q.subset = Some(Subset::OperationTargets(*id)),
            CollectionKind::Report { reason, received } => {
                q.subset = Some(Subset::ReportShares {
                    reason: reason.clone(),
                    recipient: received.then_some(org),
                    granted_by: (!received).then_some(org),
                })
            }
        }
    }

    /// Where a TAXII POST to this collection goes (only `submissions` accepts one).
    pub fn accepts_writes(&self) -> bool {
        self.kind == CollectionKind::Submissions
    }
}

/// The collections `org` has, with what a token of `role` may do in each.
///
/// `shared-with-me` (and the operation and report collections) are readable only while
/// the policy lets the org receive anything from others through [`Channel::Bulk`] (a
/// receive agreement in force); otherwise reading them is refused (403) rather than
/// answered with an empty list, so the org knows why.
pub fn for_org(store: &Store, org: &Org, role: crate::model::TokenRole) -> Result<Vec<Collection>> {
    let bulk = crate::lookup::scope_for(store, org, chrono::Utc::now(), Channel::Bulk)?;
    let mut all = fixed(org, role, &bulk);
    all.extend(from_operations(store, org, role, &bulk)?);
    Ok(all)
}

/// One collection of `org` by id (its UUID or its alias), if it has it. `bulk` is the
/// org's bulk scope, already in hand; the operation collections are only looked up when
/// `id` is not one of the fixed ones.
pub fn find_scoped(
    store: &Store,
    org: &Org,
    role: crate::model::TokenRole,
    bulk: &ReadScope,
    id: &str,
) -> Result<Option<Collection>> {
    let id = id.to_ascii_lowercase();
    let is = |c: &Collection| c.id.to_string() == id || c.alias == id;
    if let Some(c) = fixed(org, role, bulk).into_iter().find(is) {
        return Ok(Some(c));
    }
    Ok(from_operations(store, org, role, bulk)?
        .into_iter()
        .find(is))
}

/// One collection of `org` by id (its UUID or its alias), if it has it.
pub fn find(
    store: &Store,
    org: &Org,
    role: crate::model::TokenRole,
    id: &str,
) -> Result<Option<Collection>> {
    let bulk = crate::lookup::scope_for(store, org, chrono::Utc::now(), Channel::Bulk)?;
    find_scoped(store, org, role, &bulk, id)
}

fn receives(bulk: &ReadScope) -> bool {
    let v = bulk.visibility();
    !v.open.is_empty() || !v.if_shared.is_empty()
}

/// `shared-with-me` and `submissions`, which every org has.
fn fixed(_org: &Org, role: crate::model::TokenRole, bulk: &ReadScope) -> Vec<Collection> {
    let read = role_allows(role, Action::Read);
    let submit = role_allows(role, Action::Submit);
    let mut shared = Collection::new(
        CollectionKind::SharedWithMe,
        "shared-with-me",
        "Shared with me",
        "Every object the exchange's policy lets this organisation receive in bulk, under its agreement in force now and the TLP of each object.",
    );
    shared.can_read = read && receives(bulk);
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

/// One collection per operation `org` runs or received a report of, and one per country
/// report it received or sent. Aliases are lower-case, as lookups are.
fn from_operations(
    store: &Store,
    org: &Org,
    role: crate::model::TokenRole,
    bulk: &ReadScope,
) -> Result<Vec<Collection>> {
    let can_read = role_allows(role, Action::Read) && receives(bulk);
    let mut out = vec![];
    for op in store.operations()? {
        let sent = store.disseminations(op.id)?;
        let involved = op.created_by == org.id
            || sent
                .iter()
                .any(|d| d.recipient == org.id || d.sent_by == org.id);
        if !involved {
            continue;
        }
        let name = op.name.to_ascii_lowercase();
        let mut c = Collection::new(
            CollectionKind::Operation { id: op.id },
            &format!("operation-{name}"),
            &format!("Operation {}", op.name),
            "Objects about this operation's targets that the exchange's policy lets this organisation receive in bulk.",
        );
        c.can_read = can_read;
        out.push(c);
        let mut countries: Vec<(&str, bool)> = sent
            .iter()
            .filter_map(|d| {
                if d.recipient == org.id {
                    Some((d.country.as_str(), true))
                } else if d.sent_by == org.id {
                    Some((d.country.as_str(), false))
                } else {
                    None
                }
            })
            .collect();
        countries.sort();
        countries.dedup();
        for (cc, received) in countries {
            let mut c = Collection::new(
                CollectionKind::Report {
                    reason: crate::ops::report::share_reason(&op, cc),
                    received,
                },
                &format!("report-{name}-{}", cc.to_ascii_lowercase()),
                &format!("Operation {}: report for {cc}", op.name),
                "The objects shared as this country report, as far as the exchange's policy lets this organisation receive them in bulk.",
            );
            c.can_read = can_read;
            out.push(c);
        }
    }
    Ok(out)
}
