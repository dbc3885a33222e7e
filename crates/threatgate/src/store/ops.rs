//! Store methods for operations, targets, takedown events, liveness observations, counts,
//! disseminations, network abuse contacts and retention purges.
//!
//! Same rules as the rest of the store: SQL both engines accept, every change audited in
//! the same transaction, and no access decisions (the ops engine decides who may move a
//! target; the policy decides who may read).

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::json;

use super::{opt_time_col, time_col, AuditEvent, Conn, Result, Row, Store, StoreError, Val};
use crate::model::*;
use crate::ops::{
    Category, Counts, Dissemination, NewTarget, Observation, Operation, Snapshot, Target,
    TargetEvent, TargetState,
};

const OPERATION_COLS: &str = "id, name, window_from, window_to, filter, created_by, created_at";
const TARGET_COLS: &str = "id, operation_id, observable_id, kind, value, category, country, asn, network, registered_domain, abuse_contact, snapshot, needs_consent, tlp, state, identified_at, reported_at, actioned_at, updated_at";

/// What a retention purge removed (or would remove, in a dry run), per agreement.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PurgeCount {
    pub agreement_id: i64,
    pub org_id: OrgId,
    pub retention_days: i64,
    /// Records last provided before this instant are past retention.
    pub cutoff: String,
    pub records: i64,
    pub objects: i64,
}

impl Store {
    // ----- operations -----

    pub fn create_operation(
        &self,
        name: &str,
        window: (Time, Time),
        filter: &str,
        actor: OrgId,
    ) -> Result<Operation> {
        self.write(|c| {
            if c.query_one("SELECT id FROM operations WHERE name = $1", &[name.into()])?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "an operation named {name:?} already exists; pick another name or use that one"
                )));
            }
            let now = format_time(Utc::now());
            let id = c
                .query_one(
                    "INSERT INTO operations (name, window_from, window_to, filter, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    &[name.into(), format_time(window.0).into(), format_time(window.1).into(), filter.into(), actor.into(), now.into()],
                )?
                .ok_or_else(|| StoreError::Db("insert returned no id".into()))?
                .i64(0)?;
            let op = operation_by(c, "id = $1", id.into())?.expect("just inserted");
            let ev = AuditEvent::new(Some(actor), "operation.create", format!("operation:{id}"), json!({
                "name": name, "window": [stix_time(window.0), stix_time(window.1)], "filter": filter
            }));
            Ok((op, vec![ev]))
        })
    }

    pub fn operation_by_name(&self, name: &str) -> Result<Option<Operation>> {
        self.read(|c| operation_by(c, "name = $1", name.into()))
    }

    pub fn operations(&self) -> Result<Vec<Operation>> {
        self.read(|c| {
            c.query(
                &format!("SELECT {OPERATION_COLS} FROM operations ORDER BY id"),
                &[],
            )?
            .iter()
            .map(operation_from_row)
            .collect()
        })
    }

    /// Store newly picked targets; targets already in the operation keep their state and
    /// history but get the fresh enrichment and snapshot. Returns (added, refreshed).
    pub fn upsert_targets(
        &self,
        op: i64,
        targets: &[NewTarget],
        actor: OrgId,
    ) -> Result<(usize, usize)> {
        self.write(|c| {
            let now = format_time(Utc::now());
            let (mut added, mut refreshed) = (0, 0);
            for t in targets {
                let snap = serde_json::to_string(&t.snapshot).expect("snapshot serialises");
                let existing = c.query_one(
                    "SELECT id FROM targets WHERE operation_id = $1 AND kind = $2 AND value = $3",
                    &[op.into(), t.kind.as_str().into(), t.value.as_str().into()],
                )?;
                let common: Vec<Val> = vec![
                    t.category.as_str().into(),
                    t.country.clone().into(),
                    t.asn.map(i64::from).into(),
                    t.network.clone().into(),
                    t.registered_domain.clone().into(),
                    t.abuse_contact.clone().into(),
                    snap.into(),
                    t.needs_consent.into(),
                    t.tlp.as_str().into(),
                    now.as_str().into(),
                ];
                match existing {
                    Some(r) => {
                        let mut p = common;
                        p.push(r.i64(0)?.into());
                        p.push(t.observable_id.into());
                        c.execute(
                            "UPDATE targets SET category = $1, country = $2, asn = $3, network = $4, registered_domain = $5, abuse_contact = $6, snapshot = $7, needs_consent = $8, tlp = $9, updated_at = $10, observable_id = $12 WHERE id = $11",
                            &p,
                        )?;
                        refreshed += 1;
                    }
                    None => {
                        let mut p = common;
                        p.extend([op.into(), t.observable_id.into(), t.kind.as_str().into(), t.value.as_str().into()]);
                        c.execute(
                            "INSERT INTO targets (category, country, asn, network, registered_domain, abuse_contact, snapshot, needs_consent, tlp, updated_at, identified_at, state, operation_id, observable_id, kind, value)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 'identified', $11, $12, $13, $14)",
                            &p,
                        )?;
                        added += 1;
                    }
                }
            }
            let ev = AuditEvent::new(Some(actor), "operation.targets", format!("operation:{op}"), json!({"added": added, "refreshed": refreshed}));
            Ok(((added, refreshed), vec![ev]))
        })
    }

    /// All targets of an operation, by id.
    pub fn targets(&self, op: i64) -> Result<Vec<Target>> {
        self.read(|c| {
            c.query(
                &format!("SELECT {TARGET_COLS} FROM targets WHERE operation_id = $1 ORDER BY id"),
                &[op.into()],
            )?
            .iter()
            .map(target_from_row)
            .collect()
        })
    }

    pub fn target(&self, id: i64) -> Result<Target> {
        self.read(|c| {
            let r = c
                .query_one(
                    &format!("SELECT {TARGET_COLS} FROM targets WHERE id = $1"),
                    &[id.into()],
                )?
                .ok_or_else(|| StoreError::NotFound(format!("target #{id}")))?;
            target_from_row(&r)
        })
    }

    /// Move a target from `from` to `to`, recording who, when and why. Compare-and-set: if
    /// the target is no longer in `from` (someone moved it meanwhile) nothing changes.
    /// Whether the move is allowed is decided by [`crate::ops::takedown`], not here.
    pub fn move_target(
        &self,
        target_id: i64,
        from: TargetState,
        to: TargetState,
        at: Time,
        actor: OrgId,
        evidence: &str,
    ) -> Result<TargetEvent> {
        let dialect = self.backend().dialect();
        self.write(|c| {
            let r = c
                .query_one(&format!("SELECT state FROM targets WHERE id = $1{}", dialect.for_update()), &[target_id.into()])?
                .ok_or_else(|| StoreError::NotFound(format!("target #{target_id}")))?;
            if r.str(0)? != from.as_str() {
                return Err(StoreError::Conflict(format!(
                    "target #{target_id} is now {}, not {from}: it was moved meanwhile; look at it again and retry",
                    r.str(0)?
                )));
            }
            let at_s = format_time(at);
            let mut sets = vec!["state = $1", "updated_at = $2"];
            if to == TargetState::Reported {
                sets.push("reported_at = COALESCE(reported_at, $2)");
            }
            if to.is_actioned() {
                sets.push("actioned_at = $2");
            }
            c.execute(
                &format!("UPDATE targets SET {} WHERE id = $3", sets.join(", ")),
                &[to.as_str().into(), at_s.as_str().into(), target_id.into()],
            )?;
            let id = c
                .query_one(
                    "INSERT INTO target_events (target_id, from_state, to_state, at, actor, evidence) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    &[target_id.into(), from.as_str().into(), to.as_str().into(), at_s.as_str().into(), actor.into(), evidence.into()],
                )?
                .ok_or_else(|| StoreError::Db("insert returned no id".into()))?
                .i64(0)?;
            let ev = AuditEvent::new(Some(actor), "target.state", format!("target:{target_id}"), json!({
                "from": from.as_str(), "to": to.as_str(), "at": stix_time(at), "evidence": evidence
            }));
            Ok((TargetEvent { id, target_id, from, to, at: parse_stored_time(&at_s).unwrap_or(at), actor, evidence: evidence.to_string() }, vec![ev]))
        })
    }

    /// State moves of the given targets (or of the whole operation), oldest first.
    pub fn target_events(&self, op: i64) -> Result<Vec<TargetEvent>> {
        self.read(|c| {
            c.query(
                "SELECT e.id, e.target_id, e.from_state, e.to_state, e.at, e.actor, e.evidence FROM target_events e JOIN targets t ON t.id = e.target_id WHERE t.operation_id = $1 ORDER BY e.id",
                &[op.into()],
            )?
            .iter()
            .map(|r| {
                Ok(TargetEvent {
                    id: r.i64(0)?,
                    target_id: r.i64(1)?,
                    from: r.str(2)?.parse().map_err(|_| StoreError::Corrupt("event state".into()))?,
                    to: r.str(3)?.parse().map_err(|_| StoreError::Corrupt("event state".into()))?,
                    at: time_col(r, 4)?,
                    actor: r.i64(5)?,
                    evidence: r.string(6)?,
                })
            })
            .collect()
        })
    }

    /// Record liveness observations; an identical one (same target, time, method, result)
    /// is kept once, so re-importing a status file changes nothing. Returns how many were new.
    pub fn add_observations(
        &self,
        op: i64,
        obs: &[Observation],
        actor: Option<OrgId>,
        source: &str,
    ) -> Result<usize> {
        self.write(|c| {
            let mut n = 0;
            for o in obs {
                n += c.execute(
                    "INSERT INTO target_observations (target_id, at, online, method, detail, recorded_by) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (target_id, at, method, online) DO NOTHING",
                    &[o.target_id.into(), format_time(o.at).into(), o.online.into(), o.method.as_str().into(), o.detail.as_str().into(), actor.into()],
                )? as usize;
            }
            let online = obs.iter().filter(|o| o.online).count();
            let ev = AuditEvent::new(actor, "operation.observations", format!("operation:{op}"), json!({
                "source": source, "observations": obs.len(), "new": n, "online": online, "offline": obs.len() - online
            }));
            Ok((n, vec![ev]))
        })
    }

    /// All observations of an operation's targets, by target then time.
    pub fn observations(&self, op: i64) -> Result<Vec<Observation>> {
        self.read(|c| {
            c.query(
                "SELECT o.target_id, o.at, o.online, o.method, o.detail FROM target_observations o JOIN targets t ON t.id = o.target_id WHERE t.operation_id = $1 ORDER BY o.target_id, o.at, o.id",
                &[op.into()],
            )?
            .iter()
            .map(|r| {
                Ok(Observation { target_id: r.i64(0)?, at: time_col(r, 1)?, online: r.i64(2)? != 0, method: r.string(3)?, detail: r.string(4)? })
            })
            .collect()
        })
    }

    /// Record the operation's seizure and arrest totals (the latest record is current).
    pub fn record_counts(
        &self,
        op: i64,
        seizures: i64,
        arrests: i64,
        note: &str,
        actor: OrgId,
    ) -> Result<()> {
        self.write(|c| {
            c.execute(
                "INSERT INTO operation_counts (operation_id, seizures, arrests, note, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[op.into(), seizures.into(), arrests.into(), note.into(), actor.into(), format_time(Utc::now()).into()],
            )?;
            let ev = AuditEvent::new(Some(actor), "operation.counts", format!("operation:{op}"), json!({"seizures": seizures, "arrests": arrests, "note": note}));
            Ok(((), vec![ev]))
        })
    }

    pub fn counts(&self, op: i64) -> Result<Counts> {
        self.read(|c| {
            Ok(match c.query_one("SELECT seizures, arrests, note, recorded_at FROM operation_counts WHERE operation_id = $1 ORDER BY id DESC LIMIT 1", &[op.into()])? {
                Some(r) => Counts { seizures: r.i64(0)?, arrests: r.i64(1)?, note: r.string(2)?, recorded_at: Some(time_col(&r, 3)?) },
                None => Counts::default(),
            })
        })
    }

    /// Record that a country's report was sent (the shares themselves go through
    /// [`Store::share`], which audits them).
    #[allow(clippy::too_many_arguments)]
    pub fn record_dissemination(
        &self,
        op: i64,
        country: &str,
        recipient: OrgId,
        targets: i64,
        records: i64,
        objects: i64,
        tlp: Tlp,
        actor: OrgId,
    ) -> Result<Dissemination> {
        self.write(|c| {
            let now = format_time(Utc::now());
            let id = c
                .query_one(
                    "INSERT INTO disseminations (operation_id, country, recipient, targets, records, objects, tlp, sent_by, sent_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING id",
                    &[op.into(), country.into(), recipient.into(), targets.into(), records.into(), objects.into(), tlp.as_str().into(), actor.into(), now.as_str().into()],
                )?
                .ok_or_else(|| StoreError::Db("insert returned no id".into()))?
                .i64(0)?;
            let ev = AuditEvent::new(Some(actor), "operation.disseminate", format!("operation:{op}"), json!({
                "country": country, "recipient": recipient, "targets": targets, "records": records, "objects": objects, "tlp": tlp.as_str()
            }));
            let d = Dissemination { id, operation_id: op, country: country.into(), recipient, targets, records, objects, tlp, sent_by: actor, sent_at: parse_stored_time(&now).unwrap_or_else(Utc::now) };
            Ok((d, vec![ev]))
        })
    }

    pub fn disseminations(&self, op: i64) -> Result<Vec<Dissemination>> {
        self.read(|c| {
            c.query("SELECT id, operation_id, country, recipient, targets, records, objects, tlp, sent_by, sent_at FROM disseminations WHERE operation_id = $1 ORDER BY id", &[op.into()])?
                .iter()
                .map(|r| {
                    Ok(Dissemination {
                        id: r.i64(0)?,
                        operation_id: r.i64(1)?,
                        country: r.string(2)?,
                        recipient: r.i64(3)?,
                        targets: r.i64(4)?,
                        records: r.i64(5)?,
                        objects: r.i64(6)?,
                        tlp: r.str(7)?.parse().map_err(|_| StoreError::Corrupt("dissemination tlp".into()))?,
                        sent_by: r.i64(8)?,
                        sent_at: time_col(r, 9)?,
                    })
                })
                .collect()
        })
    }

    /// The object pks shared with `recipient` as part of one report (the shares whose reason
    /// is [`crate::ops::report::share_reason`]): what a per-report TAXII collection narrows
    /// to. Reads still go through the policy; this only restricts.
    pub fn report_object_pks(&self, recipient: OrgId, reason: &str) -> Result<Vec<i64>> {
        self.read(|c| {
            c.query(
                "SELECT subject_id FROM shares WHERE recipient = $1 AND subject_kind = 'object' AND reason = $2 ORDER BY subject_id",
                &[recipient.into(), reason.into()],
            )?
            .iter()
            .map(|r| r.i64(0))
            .collect()
        })
    }

    // ----- network abuse contacts -----

    /// Replace the abuse contacts of these networks (from a table the hub loaded).
    pub fn set_network_contacts(&self, contacts: &[(u32, String)], source: &str) -> Result<usize> {
        self.write(|c| {
            let now = format_time(Utc::now());
            for (asn, contact) in contacts {
                c.execute(
                    "INSERT INTO network_contacts (asn, contact, source, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (asn) DO UPDATE SET contact = excluded.contact, source = excluded.source, updated_at = excluded.updated_at",
                    &[i64::from(*asn).into(), contact.as_str().into(), source.into(), now.as_str().into()],
                )?;
            }
            Ok((contacts.len(), vec![]))
        })
    }

    pub fn network_contacts(&self) -> Result<BTreeMap<u32, String>> {
        self.read(|c| {
            c.query("SELECT asn, contact FROM network_contacts", &[])?
                .iter()
                .map(|r| Ok((r.i64(0)? as u32, r.string(1)?)))
                .collect()
        })
    }

    // ----- retention -----

    /// Remove (or with `apply == false`, count) source data past its agreement's retention.
    ///
    /// A record's clock runs from its last update (`updated_at`): each re-submission is the
    /// source providing it again under its agreement, and the agreement that governs it is
    /// the one of the submission that last touched it. STIX object versions are immutable,
    /// so theirs runs from `date_added`. Data the hub submitted itself (no agreement) is
    /// never purged. Explicit shares of purged items go with them. One audit entry per
    /// agreement that had something to purge.
    pub fn purge_past_retention(
        &self,
        now: Time,
        apply: bool,
        actor: Option<OrgId>,
    ) -> Result<Vec<PurgeCount>> {
        let agreements: Vec<Agreement> = self
            .agreements(None)?
            .into_iter()
            .filter(|a| a.retention_days.is_some())
            .collect();
        let mut out = vec![];
        let run = |c: &mut dyn Conn, a: &Agreement, apply: bool| -> Result<PurgeCount> {
            let days = a.retention_days.unwrap_or(0);
            let cutoff = format_time(now - chrono::Duration::days(days));
            let rec_where = "FROM records WHERE updated_at < $1 AND submission_id IN (SELECT id FROM submissions WHERE agreement_id = $2)";
            let obj_where = "FROM objects WHERE date_added < $1 AND submission_id IN (SELECT id FROM submissions WHERE agreement_id = $2)";
            let p: Vec<Val> = vec![cutoff.as_str().into(), a.id.into()];
            let records = c
                .query_one(&format!("SELECT COUNT(*) {rec_where}"), &p)?
                .map(|r| r.i64(0))
                .transpose()?
                .unwrap_or(0);
            let objects = c
                .query_one(&format!("SELECT COUNT(*) {obj_where}"), &p)?
                .map(|r| r.i64(0))
                .transpose()?
                .unwrap_or(0);
            if apply && (records > 0 || objects > 0) {
                c.execute(&format!("DELETE FROM shares WHERE subject_kind = 'record' AND subject_id IN (SELECT id {rec_where})"), &p)?;
                c.execute(
                    &format!("DELETE FROM records WHERE id IN (SELECT id {rec_where})"),
                    &p,
                )?;
                c.execute(&format!("DELETE FROM shares WHERE subject_kind = 'object' AND subject_id IN (SELECT pk {obj_where})"), &p)?;
                c.execute(
                    &format!(
                        "DELETE FROM object_observables WHERE object_pk IN (SELECT pk {obj_where})"
                    ),
                    &p,
                )?;
                let touched: Vec<String> = c
                    .query(&format!("SELECT DISTINCT stix_id {obj_where}"), &p)?
                    .iter()
                    .map(|r| r.string(0))
                    .collect::<Result<_>>()?;
                c.execute(
                    &format!("DELETE FROM objects WHERE pk IN (SELECT pk {obj_where})"),
                    &p,
                )?;
                for id in &touched {
                    super::versions::mark_versions(c, id)?;
                }
            }
            Ok(PurgeCount {
                agreement_id: a.id,
                org_id: a.org_id,
                retention_days: days,
                cutoff,
                records,
                objects,
            })
        };
        for a in &agreements {
            let count = if apply {
                self.write(|c| {
                    let n = run(c, a, true)?;
                    let evs = if n.records > 0 || n.objects > 0 {
                        vec![AuditEvent::new(actor, "retention.purge", format!("agreement:{}", a.id), json!({
                            "org": a.org_id, "retention_days": n.retention_days, "cutoff": n.cutoff, "records": n.records, "objects": n.objects
                        }))]
                    } else {
                        vec![]
                    };
                    Ok((n, evs))
                })?
            } else {
                self.read(|c| run(c, a, false))?
            };
            out.push(count);
        }
        Ok(out)
    }
}

fn operation_by(c: &mut dyn Conn, cond: &str, v: Val) -> Result<Option<Operation>> {
    c.query_one(
        &format!("SELECT {OPERATION_COLS} FROM operations WHERE {cond}"),
        &[v],
    )?
    .map(|r| operation_from_row(&r))
    .transpose()
}

fn operation_from_row(r: &Row) -> Result<Operation> {
    Ok(Operation {
        id: r.i64(0)?,
        name: r.string(1)?,
        window_from: time_col(r, 2)?,
        window_to: time_col(r, 3)?,
        filter: r.string(4)?,
        created_by: r.i64(5)?,
        created_at: time_col(r, 6)?,
    })
}

fn target_from_row(r: &Row) -> Result<Target> {
    let id = r.i64(0)?;
    let bad = |what: &str| StoreError::Corrupt(format!("target #{id}: {what}"));
    let snapshot: Snapshot =
        serde_json::from_str(r.str(11)?).map_err(|e| bad(&format!("snapshot: {e}")))?;
    Ok(Target {
        id,
        operation_id: r.i64(1)?,
        observable_id: r.opt_i64(2)?,
        kind: r.str(3)?.parse().map_err(|_| bad("kind"))?,
        value: r.string(4)?,
        category: r.str(5)?.parse::<Category>().map_err(|_| bad("category"))?,
        country: r.opt_str(6)?.map(str::to_string),
        asn: r.opt_i64(7)?.map(|v| v as u32),
        network: r.opt_str(8)?.map(str::to_string),
        registered_domain: r.opt_str(9)?.map(str::to_string),
        abuse_contact: r.opt_str(10)?.map(str::to_string),
        snapshot,
        needs_consent: r.i64(12)? != 0,
        tlp: r.str(13)?.parse().map_err(|_| bad("tlp"))?,
        state: r.str(14)?.parse().map_err(|_| bad("state"))?,
        identified_at: time_col(r, 15)?,
        reported_at: opt_time_col(r, 16)?,
        actioned_at: opt_time_col(r, 17)?,
        updated_at: time_col(r, 18)?,
    })
}
