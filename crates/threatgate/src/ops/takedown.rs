//! Takedown tracking: the state machine each target moves through, and who may move it.
//!
//! ```text
//! identified ──► reported ──► acknowledged ──► taken-down | sinkholed | cleaned
//!     │             │  └──────────────┬──────────► (actioned directly, without an ack)
//!     │             └──► rejected ◄───┘
//!     └──► false-positive ◄── (from identified, reported or acknowledged)
//! ```
//!
//! Actioned (taken-down, sinkholed, cleaned), rejected and false-positive are final.
//! Who may move a target:
//! - the hub: any allowed move;
//! - the member whose country the target is in: to acknowledged, actioned or rejected;
//! - anyone else: nothing.
//!
//! Every move records the time, the acting org and the evidence (required), in one
//! transaction with its audit entry; a refused move changes nothing.

use chrono::Utc;

use super::{Operation, OpsError, Result, Target, TargetEvent, TargetState};
use crate::model::{Kind, Observable, Org, OrgKind, Time};
use crate::store::Store;

use TargetState::*;

/// Longest evidence text accepted.
pub const MAX_EVIDENCE_LEN: usize = 4000;

/// The states a target may move to from `from`.
pub fn next_states(from: TargetState) -> &'static [TargetState] {
    match from {
        Identified => &[Reported, FalsePositive],
        Reported => &[
            Acknowledged,
            TakenDown,
            Sinkholed,
            Cleaned,
            Rejected,
            FalsePositive,
        ],
        Acknowledged => &[TakenDown, Sinkholed, Cleaned, Rejected, FalsePositive],
        TakenDown | Sinkholed | Cleaned | Rejected | FalsePositive => &[],
    }
}

/// Whether `actor` may move `target` to `to` (the move itself being allowed).
pub fn may_move(actor: &Org, target: &Target, to: TargetState) -> std::result::Result<(), String> {
    if actor.kind == OrgKind::Hub {
        return Ok(());
    }
    let own_country =
        actor.kind == OrgKind::Member && actor.country.is_some() && actor.country == target.country;
    if !own_country {
        return Err(format!(
            "{} may not change targets in {}: only the hub and that country's member may",
            actor.name,
            target.country.as_deref().unwrap_or("an unknown country")
        ));
    }
    if matches!(to, Acknowledged | Rejected) || to.is_actioned() {
        Ok(())
    } else {
        Err(format!(
            "{} may move its country's targets to acknowledged, taken-down, sinkholed, cleaned or rejected, not to {to}; the hub makes that move",
            actor.name
        ))
    }
}

/// Resolve what the user asked for: a state name, or `actioned` (the category's action).
pub fn resolve_state(target: &Target, requested: &str) -> Result<TargetState> {
    if requested.trim().eq_ignore_ascii_case("actioned") {
        return Ok(target.category.actioned_state());
    }
    requested
        .parse()
        .map_err(|e: crate::model::ParseError| OpsError::Invalid(e.0))
}

/// Find a target of `op` by id (`12` or `#12`) or by value (refanged and canonicalised).
pub fn find_target(store: &Store, op: &Operation, reference: &str) -> Result<Target> {
    let targets = store.targets(op.id)?;
    let r = reference.trim();
    if let Ok(id) = r.trim_start_matches('#').parse::<i64>() {
        if let Some(t) = targets.iter().find(|t| t.id == id) {
            return Ok(t.clone());
        }
    }
    let canonical = [Kind::Ipv4, Kind::Ipv6, Kind::Url, Kind::Domain]
        .iter()
        .filter_map(|k| Observable::parse(*k, r).ok())
        .collect::<Vec<_>>();
    targets
        .into_iter()
        .find(|t| t.value == r || canonical.iter().any(|o| o.kind == t.kind && o.value == t.value))
        .ok_or_else(|| {
            OpsError::Invalid(format!(
                "operation {:?} has no target {r:?}; list them with `threatgate operation targets {}`",
                op.name, op.name
            ))
        })
}

/// Move a target. `at` backdates the move (hub only, e.g. when entering a takedown that
/// happened before tracking started); it may not be in the future nor before the
/// target's last move.
pub fn move_target(
    store: &Store,
    target: &Target,
    requested: &str,
    actor: &Org,
    evidence: &str,
    at: Option<Time>,
) -> Result<TargetEvent> {
    let to = resolve_state(target, requested)?;
    let from = target.state;
    if !next_states(from).contains(&to) {
        let allowed = next_states(from)
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>();
        return Err(OpsError::Invalid(format!(
            "target #{} ({}) is {from}; it cannot move to {to}: {}",
            target.id,
            target.value,
            if allowed.is_empty() {
                format!("{from} is final")
            } else {
                format!("allowed next: {}", allowed.join(", "))
            }
        )));
    }
    may_move(actor, target, to).map_err(OpsError::NotAllowed)?;
    let evidence = evidence.trim();
    if evidence.is_empty() || evidence.len() > MAX_EVIDENCE_LEN {
        return Err(OpsError::Invalid(format!(
            "every move needs evidence (1 to {MAX_EVIDENCE_LEN} bytes): say what happened, e.g. --evidence \"hoster confirmed suspension, ticket 4711\""
        )));
    }
    let now = Utc::now();
    let at = match at {
        None => now,
        Some(t) => {
            if actor.kind != OrgKind::Hub {
                return Err(OpsError::NotAllowed(
                    "only the hub may backdate a move (--at)".into(),
                ));
            }
            if t > now {
                return Err(OpsError::Invalid("--at is in the future".into()));
            }
            let last = store
                .target_events(target.operation_id)?
                .into_iter()
                .filter(|e| e.target_id == target.id)
                .map(|e| e.at)
                .max();
            if let Some(last) = last.filter(|l| t < *l) {
                return Err(OpsError::Invalid(format!(
                    "--at {} is before the target's last move ({}); moves are recorded in order",
                    crate::model::stix_time(t),
                    crate::model::stix_time(last)
                )));
            }
            t
        }
    };
    Ok(store.move_target(target.id, from, to, at, actor.id, evidence)?)
}
