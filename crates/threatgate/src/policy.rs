//! The one policy decision point: what an organisation may submit and what it may see.
//!
//! Every read path (REST, TAXII, exports, reports, search, the UI, the matcher's indicator
//! set) builds a [`ReadScope`] with [`read_scope`] and asks it. The store renders the same
//! scope as a SQL prefilter through [`ReadScope::visibility`], so that paging does not scan
//! what the viewer cannot see; rows are still checked with [`ReadScope::permits`], which is
//! defined in terms of that same visibility. No other module decides access.
//!
//! The rules (DESIGN.md, "Confidentiality"):
//!
//! | marking | who may see it |
//! |---|---|
//! | CLEAR, GREEN | any org with a receive agreement in force |
//! | AMBER | the source, the hub, orgs it was explicitly shared with |
//! | AMBER+STRICT | as AMBER, never in federation output |
//! | RED | the source and named recipients only, never in bulk output |
//!
//! The hub is the named recipient of every submission. A viewer's agreement ceiling caps
//! everything, and access ends at `valid_until` to the second.
//!
//! An org always reads its own items back, whatever their marking, except through
//! [`Channel::Federation`]: federation output lands at another exchange, a third party
//! even when the link's token belongs to the source, so its own AMBER+STRICT and RED stay
//! home like everyone else's.

use std::collections::BTreeSet;

use crate::model::{Agreement, Org, OrgId, OrgKind, Time, Tlp, TokenRole};

/// Where the data is going. Bulk and federation outputs are more restricted than an
/// analyst looking at one observable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Search, observable detail, UI pages: one item at a time to a person.
    Interactive,
    /// TAXII collections, exports, reports, the matcher's indicator set.
    Bulk,
    /// Output to another exchange (sync push, federation pulls).
    Federation,
}

/// What the policy needs to know about one item (a source record or a STIX object).
#[derive(Debug, Clone, Copy)]
pub struct ItemMeta<'a> {
    pub source: OrgId,
    pub tlp: Tlp,
    /// STIX type (for observables, the SCO type that carries them).
    pub stix_type: &'a str,
    /// Whether the item was explicitly shared with the viewer.
    pub shared_with_viewer: bool,
}

/// The visibility a viewer has, in a form a store can render as a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    /// Items from this org are visible (an org sees its own submissions)...
    pub own_org: Option<OrgId>,
    /// ...with these markings only; `None`: every marking.
    pub own_markings: Option<Vec<Tlp>>,
    /// Markings visible without an explicit share.
    pub open: Vec<Tlp>,
    /// Markings visible only when shared with the viewer.
    pub if_shared: Vec<Tlp>,
    /// Types in scope for others' items; `None` means every type.
    pub types: Option<BTreeSet<String>>,
}

impl Visibility {
    fn nothing(own_org: Option<OrgId>) -> Self {
        Visibility {
            own_org,
            own_markings: None,
            open: vec![],
            if_shared: vec![],
            types: None,
        }
    }
}

/// A viewer's read permissions at one instant, for one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadScope {
    pub viewer: Option<OrgId>,
    pub at: Time,
    pub channel: Channel,
    visibility: Visibility,
    viewer_is_hub: bool,
}

/// Compute what `viewer` may read at instant `at` through `channel`.
///
/// `agreements` are the viewer's agreements (any status; only those in force count).
pub fn read_scope(viewer: &Org, agreements: &[Agreement], at: Time, channel: Channel) -> ReadScope {
    let mut visibility = if viewer.kind == OrgKind::Hub {
        // The hub coordinates: it sees everything submitted to it, within the channel limits.
        by_channel(Tlp::Red, true, channel, viewer.id, None)
    } else {
        let receiving: Vec<&Agreement> = agreements
            .iter()
            .filter(|a| a.org_id == viewer.id && a.role.receives() && a.in_force_at(at))
            .collect();
        match receiving.iter().map(|a| a.max_tlp).max() {
            None => Visibility::nothing(Some(viewer.id)),
            Some(ceiling) => {
                let types = if receiving.iter().any(|a| a.scope.is_none()) {
                    None
                } else {
                    Some(
                        receiving
                            .iter()
                            .flat_map(|a| a.scope.iter().flatten().cloned())
                            .collect(),
                    )
                };
                by_channel(ceiling, false, channel, viewer.id, types)
            }
        }
    };
    // Federation output leaves the exchange: the source's own items obey the channel too
    // (never AMBER+STRICT or RED), though not its receiving ceiling.
    if channel == Channel::Federation {
        visibility.own_markings = Some(
            Tlp::ALL
                .iter()
                .copied()
                .filter(|t| *t < Tlp::AmberStrict)
                .collect(),
        );
    }
    ReadScope {
        viewer: Some(viewer.id),
        at,
        channel,
        visibility,
        viewer_is_hub: viewer.kind == OrgKind::Hub,
    }
}

fn by_channel(
    ceiling: Tlp,
    is_hub: bool,
    channel: Channel,
    own: OrgId,
    types: Option<BTreeSet<String>>,
) -> Visibility {
    let mut open = vec![Tlp::Clear, Tlp::Green];
    let mut if_shared = vec![];
    if is_hub {
        open.extend([Tlp::Amber, Tlp::AmberStrict, Tlp::Red]);
    } else {
        if_shared.extend([Tlp::Amber, Tlp::AmberStrict, Tlp::Red]);
    }
    let allowed = |t: &Tlp| {
        *t <= ceiling
            && match channel {
                Channel::Interactive => true,
                Channel::Bulk => *t != Tlp::Red,
                Channel::Federation => *t < Tlp::AmberStrict,
            }
    };
    open.retain(allowed);
    if_shared.retain(allowed);
    Visibility {
        own_org: Some(own),
        own_markings: None,
        open,
        if_shared,
        types,
    }
}

impl ReadScope {
    /// Anonymous readers (public exports): TLP:CLEAR only.
    pub fn public(at: Time) -> ReadScope {
        ReadScope {
            viewer: None,
            at,
            channel: Channel::Bulk,
            visibility: Visibility {
                own_org: None,
                own_markings: None,
                open: vec![Tlp::Clear],
                if_shared: vec![],
                types: None,
            },
            viewer_is_hub: false,
        }
    }

    /// The scope in a form a store can turn into a query.
    pub fn visibility(&self) -> &Visibility {
        &self.visibility
    }

    /// Everything this scope's answers depend on except the instant it was computed for:
    /// two scopes with the same fingerprint permit exactly the same items. A scope
    /// recomputed after an agreement changed or ended has a different one.
    pub fn fingerprint(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{}",
            self.viewer, self.channel, self.visibility, self.viewer_is_hub
        )
    }

    /// The single yes/no answer for one item.
    pub fn permits(&self, item: &ItemMeta<'_>) -> bool {
        let v = &self.visibility;
        if v.own_org == Some(item.source)
            && v.own_markings
                .as_ref()
                .is_none_or(|m| m.contains(&item.tlp))
        {
            return true;
        }
        if let Some(types) = &v.types {
            if !types.contains(item.stix_type) {
                return false;
            }
        }
        v.open.contains(&item.tlp) || (item.shared_with_viewer && v.if_shared.contains(&item.tlp))
    }

    /// Whether a sighting reported by `sighter` may be shown, given the sources of the
    /// sighted observable that this viewer can already read. Sightings tell a source where
    /// its data was seen; they go to those sources, to the sighter itself and to the hub,
    /// never to other members (who would learn what another member's logs contain).
    pub fn permits_sighting(&self, sighter: OrgId, readable_sources: &[OrgId]) -> bool {
        let Some(viewer) = self.viewer else {
            return false;
        };
        self.viewer_is_hub || viewer == sighter || readable_sources.contains(&viewer)
    }

    /// Whether explicit shares can matter to this viewer (saves a lookup when not).
    pub fn shares_matter(&self) -> bool {
        !self.visibility.if_shared.is_empty()
    }
}

/// Why a submission was refused. Shown to the submitter as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{org} has no agreement with the hub; ask the hub to record one (threatgate agreement add --org {org} --role provide ...)")]
    NoAgreement { org: String },
    #[error("{org} may not submit at {at}: {details}")]
    NotInForce {
        org: String,
        at: String,
        details: String,
    },
    #[error("{org}'s agreement #{agreement} does not cover these types: {types}")]
    OutOfScope {
        org: String,
        agreement: i64,
        types: String,
    },
}

/// Decide whether `org` may submit objects of `types` at instant `at`.
/// Returns the agreement the submission is made under (`None` for the hub's own data).
pub fn may_submit<'a>(
    org: &Org,
    agreements: &'a [Agreement],
    at: Time,
    types: &BTreeSet<String>,
) -> Result<Option<&'a Agreement>, Refusal> {
    if org.kind == OrgKind::Hub {
        return Ok(None);
    }
    let mine: Vec<&Agreement> = agreements.iter().filter(|a| a.org_id == org.id).collect();
    if mine.is_empty() {
        return Err(Refusal::NoAgreement {
            org: org.name.clone(),
        });
    }
    let providing: Vec<&&Agreement> = mine
        .iter()
        .filter(|a| a.role.provides() && a.in_force_at(at))
        .collect();
    if providing.is_empty() {
        let details = mine
            .iter()
            .map(|a| describe_why_not(a, at))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Refusal::NotInForce {
            org: org.name.clone(),
            at: crate::model::stix_time(at),
            details,
        });
    }
    // Any in-force providing agreement that covers every type accepts the submission.
    if let Some(a) = providing
        .iter()
        .find(|a| types.iter().all(|t| a.covers_type(t)))
    {
        return Ok(Some(a));
    }
    let a = providing[0];
    let outside: Vec<&str> = types
        .iter()
        .filter(|t| !a.covers_type(t))
        .map(String::as_str)
        .collect();
    Err(Refusal::OutOfScope {
        org: org.name.clone(),
        agreement: a.id,
        types: outside.join(", "),
    })
}

fn describe_why_not(a: &Agreement, at: Time) -> String {
    use crate::model::{stix_time, AgreementStatus};
    let dates = format!(
        "valid {} to {}",
        a.valid_from.format("%Y-%m-%d"),
        a.valid_until.format("%Y-%m-%d")
    );
    let why = if !a.role.provides() {
        "is receive-only".to_string()
    } else if a.status == AgreementStatus::Suspended {
        "is suspended".to_string()
    } else if a.status == AgreementStatus::Terminated && a.terminated_at.is_some_and(|t| at >= t) {
        format!(
            "was terminated at {}",
            stix_time(a.terminated_at.unwrap_or(at))
        )
    } else if at < a.valid_from {
        "is not yet in force".to_string()
    } else {
        format!("expired at {}", stix_time(a.valid_until))
    };
    format!("agreement #{} ({}, {dates}) {why}", a.id, a.role)
}

/// Actions a token may attempt, by role. Data visibility is separate (see [`read_scope`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Submit,
    /// Record takedown progress, create operations, share reports.
    Operate,
    /// Manage orgs, agreements and tokens; read the audit log.
    Administer,
}

pub fn role_allows(role: TokenRole, action: Action) -> bool {
    match role {
        TokenRole::Admin => true,
        TokenRole::Analyst => matches!(action, Action::Read | Action::Operate | Action::Submit),
        TokenRole::Ingest => matches!(action, Action::Submit | Action::Read),
        TokenRole::Read => matches!(action, Action::Read),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{parse_time, AgreementRole, AgreementStatus};

    fn org(id: OrgId, kind: OrgKind) -> Org {
        Org {
            id,
            name: format!("org{id}"),
            kind,
            country: None,
            identity_id: String::new(),
            created_at: parse_time("2019-01-01").unwrap(),
        }
    }

    fn agreement(org_id: OrgId, role: AgreementRole, max_tlp: Tlp) -> Agreement {
        Agreement {
            id: org_id * 10,
            org_id,
            role,
            signed_on: parse_time("2019-07-03").unwrap(),
            valid_from: parse_time("2019-07-03").unwrap(),
            valid_until: parse_time("2024-07-03").unwrap(),
            max_tlp,
            scope: None,
            purpose: String::new(),
            retention_days: None,
            status: AgreementStatus::Active,
            terminated_at: None,
            renews: None,
            created_at: parse_time("2019-07-03").unwrap(),
        }
    }

    fn item(source: OrgId, tlp: Tlp, shared: bool) -> ItemMeta<'static> {
        ItemMeta {
            source,
            tlp,
            stix_type: "ipv4-addr",
            shared_with_viewer: shared,
        }
    }

    #[test]
    fn table_for_a_member_with_amber_ceiling() {
        let m = org(3, OrgKind::Member);
        let ags = [agreement(3, AgreementRole::Receive, Tlp::Amber)];
        let at = parse_time("2020-01-01").unwrap();
        let s = read_scope(&m, &ags, at, Channel::Interactive);
        assert!(s.permits(&item(2, Tlp::Clear, false)));
        assert!(s.permits(&item(2, Tlp::Green, false)));
        assert!(!s.permits(&item(2, Tlp::Amber, false)));
        assert!(s.permits(&item(2, Tlp::Amber, true)));
        // The ceiling caps even explicit shares.
        assert!(!s.permits(&item(2, Tlp::AmberStrict, true)));
        assert!(!s.permits(&item(2, Tlp::Red, true)));
        assert!(s.permits(&item(3, Tlp::Red, false)), "own data");
    }

    #[test]
    fn red_never_in_bulk_and_strict_never_federated() {
        let m = org(3, OrgKind::Member);
        let ags = [agreement(3, AgreementRole::Receive, Tlp::Red)];
        let at = parse_time("2020-01-01").unwrap();
        assert!(read_scope(&m, &ags, at, Channel::Interactive).permits(&item(2, Tlp::Red, true)));
        assert!(!read_scope(&m, &ags, at, Channel::Bulk).permits(&item(2, Tlp::Red, true)));
        assert!(read_scope(&m, &ags, at, Channel::Bulk).permits(&item(2, Tlp::AmberStrict, true)));
        assert!(
            !read_scope(&m, &ags, at, Channel::Federation).permits(&item(
                2,
                Tlp::AmberStrict,
                true
            ))
        );
        let hub = org(1, OrgKind::Hub);
        assert!(read_scope(&hub, &[], at, Channel::Interactive).permits(&item(2, Tlp::Red, false)));
        assert!(!read_scope(&hub, &[], at, Channel::Bulk).permits(&item(2, Tlp::Red, false)));
    }

    /// Hub/partner exchange: RED (and AMBER+STRICT) never leave for another exchange, not
    /// even when the link's token belongs to the source; the source still reads its own
    /// RED back on this exchange (interactively and in bulk, e.g. its "submissions").
    #[test]
    fn own_red_never_federated_but_read_back_at_home() {
        let at = parse_time("2020-01-01").unwrap();
        let p = org(2, OrgKind::Partner);
        let provide = [agreement(2, AgreementRole::Provide, Tlp::Red)];
        let m = org(3, OrgKind::Member);
        let receive = [agreement(3, AgreementRole::Receive, Tlp::Red)];
        for (who, ags) in [(&p, &provide[..]), (&m, &receive[..])] {
            let own = who.id;
            for ch in [Channel::Interactive, Channel::Bulk] {
                let s = read_scope(who, ags, at, ch);
                assert!(s.permits(&item(own, Tlp::Red, false)), "{ch:?}");
                assert!(s.permits(&item(own, Tlp::AmberStrict, false)), "{ch:?}");
            }
            let fed = read_scope(who, ags, at, Channel::Federation);
            assert!(!fed.permits(&item(own, Tlp::Red, false)));
            assert!(!fed.permits(&item(own, Tlp::Red, true)));
            assert!(!fed.permits(&item(own, Tlp::AmberStrict, false)));
            for t in [Tlp::Clear, Tlp::Green, Tlp::Amber] {
                assert!(
                    fed.permits(&item(own, t, false)),
                    "own {t} may be federated"
                );
            }
        }
        // The provider has no receive agreement: it federates its own AMBER but nobody
        // else's GREEN.
        let fed = read_scope(&p, &provide, at, Channel::Federation);
        assert!(!fed.permits(&item(4, Tlp::Green, false)));
        let hub = org(1, OrgKind::Hub);
        let fed = read_scope(&hub, &[], at, Channel::Federation);
        assert!(!fed.permits(&item(1, Tlp::Red, false)));
        assert!(!fed.permits(&item(2, Tlp::Red, false)));
        assert!(fed.permits(&item(2, Tlp::Amber, false)));
    }

    #[test]
    fn access_ends_exactly_at_valid_until() {
        let m = org(3, OrgKind::Member);
        let ags = [agreement(3, AgreementRole::Receive, Tlp::Green)];
        let before = parse_time("2024-07-02T23:59:59Z").unwrap();
        let at_end = parse_time("2024-07-03T00:00:00Z").unwrap();
        assert!(read_scope(&m, &ags, before, Channel::Bulk).permits(&item(2, Tlp::Green, false)));
        assert!(!read_scope(&m, &ags, at_end, Channel::Bulk).permits(&item(2, Tlp::Green, false)));
        assert!(!read_scope(&m, &ags, at_end, Channel::Bulk).permits(&item(2, Tlp::Clear, false)));
    }

    #[test]
    fn provide_only_agreement_gives_no_read() {
        let p = org(2, OrgKind::Partner);
        let ags = [agreement(2, AgreementRole::Provide, Tlp::Red)];
        let s = read_scope(
            &p,
            &ags,
            parse_time("2020-01-01").unwrap(),
            Channel::Interactive,
        );
        assert!(!s.permits(&item(4, Tlp::Clear, false)));
        assert!(s.permits(&item(2, Tlp::Red, false)));
    }

    #[test]
    fn submissions_need_a_providing_agreement_in_force_and_scope() {
        let p = org(2, OrgKind::Partner);
        let mut a = agreement(2, AgreementRole::Provide, Tlp::Red);
        a.scope = Some(vec!["indicator".into(), "ipv4-addr".into()]);
        let ags = [a];
        let types: BTreeSet<String> = ["indicator".to_string()].into();
        assert!(may_submit(&p, &ags, parse_time("2020-01-01").unwrap(), &types).is_ok());
        let err = may_submit(&p, &ags, parse_time("2025-01-01").unwrap(), &types).unwrap_err();
        assert!(err.to_string().contains("agreement #20"), "{err}");
        assert!(
            err.to_string().contains("2019-07-03 to 2024-07-03"),
            "{err}"
        );
        assert!(err.to_string().contains("expired"), "{err}");
        let wide: BTreeSet<String> = [
            "indicator".to_string(),
            "malware".to_string(),
            "url".to_string(),
        ]
        .into();
        let err = may_submit(&p, &ags, parse_time("2020-01-01").unwrap(), &wide).unwrap_err();
        assert_eq!(
            err,
            Refusal::OutOfScope {
                org: "org2".into(),
                agreement: 20,
                types: "malware, url".into()
            }
        );
        let recv = [agreement(2, AgreementRole::Receive, Tlp::Red)];
        let err = may_submit(&p, &recv, parse_time("2020-01-01").unwrap(), &types).unwrap_err();
        assert!(err.to_string().contains("receive-only"), "{err}");
    }
}
