//! Operations on both engines: operations, targets, takedown moves, observations, counts,
//! disseminations, retention. Runs on SQLite and, when `THREATGATE_TEST_PG` is set (CI
//! sets it), on PostgreSQL in a fresh schema.

mod support;

use chrono::{Duration, Utc};
use serde_json::json;
use support::*;
use threatgate::lookup::scope_for;
use threatgate::model::*;
use threatgate::ops::{self, report, summary, takedown, targets, Observation, TargetState};
use threatgate::policy::Channel;
use threatgate::store::{NewObject, Store, StoreError, SubmissionMeta};

macro_rules! conformance {
    ($name:ident, |$ts:ident| $body:block) => {
        #[test]
        fn $name() {
            for $ts in all_stores() {
                eprintln!("-- {} on {}", stringify!($name), $ts.engine);
                $body
            }
        }
    };
}

fn claim(tlp: Tlp, pap: Option<Pap>, labels: &[&str]) -> Claim {
    Claim {
        tlp: Some(tlp),
        pap,
        labels: labels.iter().map(|s| s.to_string()).collect(),
        malware: vec!["Emotet".into()],
        confidence: Some(80),
        first_seen: Some(Utc::now() - Duration::days(10)),
        last_seen: Some(Utc::now() - Duration::days(1)),
        ..Default::default()
    }
}

/// Submit claims as `org` (with an object linked to each) and enrich them with a country.
/// A GREEN claim that allows active action (PAP:GREEN), with one label.
fn green(label: &str) -> Claim {
    claim(Tlp::Green, Some(Pap::Green), &[label])
}

fn submit(store: &Store, org: &Org, items: &[(&str, Claim, &str)]) {
    let agreement = store
        .agreements(Some(org.id))
        .unwrap()
        .first()
        .map(|a| a.id);
    let mut w = store
        .begin_submission(SubmissionMeta {
            org_id: org.id,
            agreement_id: agreement,
            format: "test".into(),
            source_name: "test".into(),
        })
        .unwrap();
    for (v, c, _) in items {
        let o = Observable::detect(v).unwrap();
        let id = format!("indicator--{}", uuid::Uuid::new_v4());
        let pk = w
            .add_object(&NewObject {
                stix_id: id.clone(),
                stix_type: "indicator".into(),
                version: "2024-01-01T00:00:00.000Z".into(),
                spec_version: "2.1".into(),
                tlp: c.tlp_or_default(),
                json: json!({"type": "indicator", "id": id, "pattern": format!("[{} = '{}']", o.kind.stix_path(), o.value)}).to_string(),
            })
            .unwrap();
        w.add_claim(&o, c, pk).unwrap();
    }
    w.finish(0, json!({})).unwrap();
    let mut e = vec![];
    for (v, _, cc) in items {
        let o = Observable::detect(v).unwrap();
        let row = store.observable(o.kind, &o.value).unwrap().unwrap();
        e.push((
            row.id,
            Enrichment {
                country: Some(cc.to_string()),
                asn: Some(64500),
                network: Some("Example Net".into()),
                registered_domain: None,
            },
        ));
    }
    store.set_enrichment(&e).unwrap();
}

fn window() -> (Time, Time) {
    (
        Utc::now() - Duration::days(30),
        Utc::now() + Duration::days(1),
    )
}

conformance!(operations_are_created_once_and_only_by_the_hub, |ts| {
    let w = world(&ts.store);
    let op = ops::operation::create(&ts.store, &w.hub, "op-1", window(), "label = c2").unwrap();
    assert_eq!(ts.store.operation_by_name("op-1").unwrap().unwrap(), op);
    let dup = ops::operation::create(&ts.store, &w.hub, "op-1", window(), "").unwrap_err();
    assert!(dup.to_string().contains("already exists"), "{dup}");
    let member =
        ops::operation::create(&ts.store, &w.members[0], "op-2", window(), "").unwrap_err();
    assert!(member.to_string().contains("only the hub"), "{member}");
    let bad = ops::operation::create(&ts.store, &w.hub, "op-3", window(), "label = c2 AND (")
        .unwrap_err();
    assert!(bad.to_string().contains("column"), "{bad}");
    assert!(
        ts.store.operation_by_name("op-3").unwrap().is_none(),
        "nothing stored"
    );
    assert_eq!(ts.store.operations().unwrap().len(), 1);
});

conformance!(targets_follow_filter_window_policy_and_pap, |ts| {
    let w = world(&ts.store);
    submit(
        &ts.store,
        &w.partner,
        &[
            (
                "198.51.100.1",
                claim(Tlp::Amber, Some(Pap::Green), &["c2"]),
                "FR",
            ),
            ("198.51.100.2", claim(Tlp::Green, None, &["c2"]), "FR"),
            (
                "198.51.100.3",
                claim(Tlp::Red, Some(Pap::Clear), &["c2"]),
                "FR",
            ),
            ("198.51.100.4", green("c2"), "US"),
            (
                "http://shop.example.com/wp/x.exe",
                claim(Tlp::Green, Some(Pap::Amber), &["malware_download"]),
                "DE",
            ),
            ("198.51.100.5", green("scanner"), "FR"),
        ],
    );
    let op = ops::operation::create(
        &ts.store,
        &w.hub,
        "op",
        window(),
        "country IN (FR, DE) AND confidence >= 60",
    )
    .unwrap();
    let p = targets::pick_now(&ts.store, &op, &w.hub).unwrap();
    let ts_ = ts.store.targets(op.id).unwrap();
    let values: Vec<&str> = ts_.iter().map(|t| t.value.as_str()).collect();
    // RED never in bulk; US filtered out; the scanner has no category.
    assert_eq!(
        values,
        [
            "198.51.100.1",
            "198.51.100.2",
            "http://shop.example.com/wp/x.exe"
        ]
    );
    assert_eq!((p.matched, p.added, p.needs_consent), (3, 3, 2));
    let consent: Vec<bool> = ts_.iter().map(|t| t.needs_consent).collect();
    assert_eq!(
        consent,
        [false, true, true],
        "missing PAP and PAP:AMBER need consent"
    );
    assert_eq!(ts_[2].category, ops::Category::CompromisedWebsite);
    assert_eq!(ts_[0].tlp, Tlp::Amber);
    assert_eq!(ts_[0].snapshot.sources, ["vendor"]);
    // Picking again refreshes, keeps state.
    let again = targets::pick_now(&ts.store, &op, &w.hub).unwrap();
    assert_eq!((again.added, again.refreshed), (0, 3));
    // A window that ended before anything was seen picks nothing.
    let old = ops::operation::create(
        &ts.store,
        &w.hub,
        "old",
        (t("2019-01-01"), t("2019-02-01")),
        "",
    )
    .unwrap();
    assert_eq!(
        targets::pick_now(&ts.store, &old, &w.hub).unwrap().matched,
        0
    );
});

conformance!(takedown_moves_are_checked_recorded_and_audited, |ts| {
    let w = world(&ts.store);
    submit(
        &ts.store,
        &w.partner,
        &[("198.51.100.1", green("c2"), "FR")],
    );
    let op = ops::operation::create(&ts.store, &w.hub, "op", window(), "").unwrap();
    targets::pick_now(&ts.store, &op, &w.hub).unwrap();
    let (fr, de) = (&w.members[0], &w.members[1]);
    let get = || takedown::find_target(&ts.store, &op, "198.51.100.1").unwrap();
    let audit_before = ts.store.audit_head().unwrap().0;
    // Nobody but the hub reports; a member cannot skip ahead, another country cannot touch it.
    let e = takedown::move_target(&ts.store, &get(), "reported", fr, "x", None).unwrap_err();
    assert!(e.to_string().contains("not to reported"), "{e}");
    let e =
        takedown::move_target(&ts.store, &get(), "acknowledged", &w.hub, "x", None).unwrap_err();
    assert!(
        e.to_string()
            .contains("allowed next: reported, false-positive"),
        "{e}"
    );
    takedown::move_target(
        &ts.store,
        &get(),
        "reported",
        &w.hub,
        "sent to cert-fr",
        None,
    )
    .unwrap();
    let e = takedown::move_target(&ts.store, &get(), "acknowledged", de, "x", None).unwrap_err();
    assert!(
        e.to_string().contains("may not change targets in FR"),
        "{e}"
    );
    let e = takedown::move_target(&ts.store, &get(), "acknowledged", &w.partner, "x", None)
        .unwrap_err();
    assert!(matches!(e, ops::OpsError::NotAllowed(_)), "{e}");
    let e = takedown::move_target(&ts.store, &get(), "acknowledged", fr, "  ", None).unwrap_err();
    assert!(e.to_string().contains("evidence"), "{e}");
    let e = takedown::move_target(
        &ts.store,
        &get(),
        "acknowledged",
        fr,
        "ok",
        Some(t("2020-01-01")),
    )
    .unwrap_err();
    assert!(e.to_string().contains("only the hub may backdate"), "{e}");
    assert_eq!(
        get().state,
        TargetState::Reported,
        "refused moves change nothing"
    );
    assert_eq!(
        ts.store.audit_head().unwrap().0,
        audit_before + 1,
        "only the one accepted move was audited"
    );
    takedown::move_target(&ts.store, &get(), "acknowledged", fr, "ticket 4711", None).unwrap();
    let ev = takedown::move_target(
        &ts.store,
        &get(),
        "actioned",
        fr,
        "hoster suspended the server",
        None,
    )
    .unwrap();
    assert_eq!(
        ev.to,
        TargetState::TakenDown,
        "actioned means taken-down for a C2"
    );
    let e = takedown::move_target(&ts.store, &get(), "rejected", &w.hub, "x", None).unwrap_err();
    assert!(e.to_string().contains("taken-down is final"), "{e}");
    let t = get();
    assert!(t.reported_at.is_some() && t.actioned_at.is_some());
    let events = ts.store.target_events(op.id).unwrap();
    let moves: Vec<(TargetState, TargetState, OrgId)> =
        events.iter().map(|e| (e.from, e.to, e.actor)).collect();
    assert_eq!(
        moves,
        [
            (TargetState::Identified, TargetState::Reported, w.hub.id),
            (TargetState::Reported, TargetState::Acknowledged, fr.id),
            (TargetState::Acknowledged, TargetState::TakenDown, fr.id),
        ]
    );
    assert_eq!(events[1].evidence, "ticket 4711");
    // Compare-and-set: a stale move is refused.
    let stale = ts
        .store
        .move_target(
            t.id,
            TargetState::Reported,
            TargetState::Rejected,
            Utc::now(),
            w.hub.id,
            "x",
        )
        .unwrap_err();
    assert!(matches!(stale, StoreError::Conflict(_)), "{stale}");
    assert!(ts.store.verify_audit().unwrap().is_ok());
});

conformance!(observations_counts_and_time_to_takedown, |ts| {
    let w = world(&ts.store);
    submit(
        &ts.store,
        &w.partner,
        &[
            ("198.51.100.1", green("c2"), "FR"),
            ("198.51.100.2", green("c2"), "FR"),
            ("198.51.100.3", green("c2"), "DE"),
        ],
    );
    let op = ops::operation::create(&ts.store, &w.hub, "op", window(), "").unwrap();
    targets::pick_now(&ts.store, &op, &w.hub).unwrap();
    let tg = ts.store.targets(op.id).unwrap();
    let r0 = Utc::now() - Duration::days(5);
    for t in &tg {
        takedown::move_target(&ts.store, t, "reported", &w.hub, "sent", Some(r0)).unwrap();
    }
    let obs = vec![
        Observation {
            target_id: tg[0].id,
            at: r0 - Duration::hours(1),
            online: false,
            method: "tcp".into(),
            detail: "before report".into(),
        },
        Observation {
            target_id: tg[0].id,
            at: r0 + Duration::hours(10),
            online: false,
            method: "tcp".into(),
            detail: "".into(),
        },
        Observation {
            target_id: tg[1].id,
            at: r0 + Duration::hours(30),
            online: true,
            method: "http".into(),
            detail: "".into(),
        },
        Observation {
            target_id: tg[2].id,
            at: r0 + Duration::hours(20),
            online: false,
            method: "tcp".into(),
            detail: "".into(),
        },
    ];
    assert_eq!(
        ts.store
            .add_observations(op.id, &obs, Some(w.hub.id), "test")
            .unwrap(),
        4
    );
    assert_eq!(
        ts.store
            .add_observations(op.id, &obs, Some(w.hub.id), "test")
            .unwrap(),
        0,
        "idempotent"
    );
    assert_eq!(ts.store.observations(op.id).unwrap().len(), 4);
    ts.store
        .record_counts(op.id, 1, 0, "first", w.hub.id)
        .unwrap();
    ts.store
        .record_counts(op.id, 3, 2, "update", w.hub.id)
        .unwrap();
    let s = summary::summarise(&ts.store, &op).unwrap();
    assert_eq!((s.seizures, s.arrests), (3, 2));
    assert_eq!(
        (s.overall.targets, s.overall.reported, s.overall.taken_down),
        (3, 3, 2)
    );
    assert_eq!(s.overall.taken_down_pct, Some(66.7));
    assert_eq!(s.overall.time_to_takedown.samples, 2);
    assert_eq!(s.overall.time_to_takedown.median_hours, Some(10.0));
    assert_eq!(s.overall.time_to_takedown.p90_hours, Some(20.0));
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["countries"]["FR"]["targets"], 2);
    assert_eq!(json["countries"]["FR"]["taken_down"], 1);
    assert_eq!(json["countries"]["DE"]["taken_down"], 1);
    assert_eq!(json["networks"]["AS64500"]["targets"], 3);
    assert_eq!(json["country_count"], 2);
});

conformance!(dissemination_lets_that_country_read_and_no_other, |ts| {
    let w = world(&ts.store);
    submit(
        &ts.store,
        &w.partner,
        &[
            (
                "198.51.100.1",
                claim(Tlp::Amber, Some(Pap::Green), &["c2"]),
                "FR",
            ),
            (
                "198.51.100.2",
                claim(Tlp::Amber, Some(Pap::Green), &["c2"]),
                "DE",
            ),
        ],
    );
    let (fr, de) = (&w.members[0], &w.members[1]);
    let op = ops::operation::create(&ts.store, &w.hub, "op", window(), "").unwrap();
    targets::pick_now(&ts.store, &op, &w.hub).unwrap();
    let fr_obs = ts
        .store
        .observable(Kind::Ipv4, "198.51.100.1")
        .unwrap()
        .unwrap();
    let sees = |org: &Org, ch: Channel| {
        let scope = scope_for(&ts.store, org, Utc::now(), ch).unwrap();
        (
            ts.store.visible_records(fr_obs.id, &scope).unwrap().len(),
            ts.store
                .visible_objects_for_observable(fr_obs.id, &scope)
                .unwrap()
                .len(),
        )
    };
    assert_eq!(
        sees(fr, Channel::Bulk),
        (0, 0),
        "AMBER is not visible before the report is sent"
    );
    let sent = report::disseminate(&ts.store, &op, &w.hub, "fr").unwrap();
    assert_eq!(
        (
            sent.country.as_str(),
            sent.targets,
            sent.records,
            sent.objects,
            sent.newly_reported
        ),
        ("FR", 1, 1, 1, 1)
    );
    assert_eq!(sent.recipients, ["cert-fr"]);
    assert_eq!(sent.readable_by_recipient, [("cert-fr".to_string(), 1)]);
    for ch in [Channel::Bulk, Channel::Interactive] {
        assert_eq!(
            sees(fr, ch),
            (1, 1),
            "the recipient reads it through {ch:?}"
        );
        assert_eq!(sees(de, ch), (0, 0), "another member does not");
    }
    let t = takedown::find_target(&ts.store, &op, "198.51.100.1").unwrap();
    assert_eq!(t.state, TargetState::Reported);
    assert_eq!(
        takedown::find_target(&ts.store, &op, "198.51.100.2")
            .unwrap()
            .state,
        TargetState::Identified
    );
    let pks = ts
        .store
        .report_object_pks(fr.id, &report::share_reason(&op, "FR"))
        .unwrap();
    assert_eq!(
        pks.len(),
        1,
        "the report's objects are identifiable for a per-report collection"
    );
    assert!(ts
        .store
        .report_object_pks(de.id, &report::share_reason(&op, "FR"))
        .unwrap()
        .is_empty());
    let d = ts.store.disseminations(op.id).unwrap();
    assert_eq!((d.len(), d[0].recipient, d[0].tlp), (1, fr.id, Tlp::Amber));
    // Unknown country, a country without targets, a country without a member: clear errors.
    let e = report::disseminate(&ts.store, &op, &w.hub, "XX").unwrap_err();
    assert!(e.to_string().contains("ISO 3166-1"), "{e}");
    let e = report::disseminate(&ts.store, &op, &w.hub, "US").unwrap_err();
    assert!(e.to_string().contains("no targets in US"), "{e}");
    let e = report::disseminate(&ts.store, &op, de, "DE").unwrap_err();
    assert!(e.to_string().contains("only the hub"), "{e}");
    let shares: Vec<String> = ts
        .store
        .audit_entries(0, 10_000)
        .unwrap()
        .into_iter()
        .map(|(e, _)| e.action)
        .filter(|a| a == "share" || a == "operation.disseminate")
        .collect();
    assert_eq!(shares, ["share", "operation.disseminate"]);
});

conformance!(
    retention_purges_past_the_agreement_and_keeps_operation_figures,
    |ts| {
        let w = world(&ts.store);
        let now = Utc::now();
        let short = ts
            .store
            .create_org(
                &NewOrg {
                    name: "short-keeper".into(),
                    kind: OrgKind::Partner,
                    country: None,
                },
                Some(w.hub.id),
            )
            .unwrap();
        ts.store
            .add_agreement(
                &NewAgreement {
                    org_id: short.id,
                    role: AgreementRole::Provide,
                    signed_on: now - Duration::days(400),
                    valid_from: now - Duration::days(400),
                    valid_until: now + Duration::days(400),
                    max_tlp: Tlp::Amber,
                    scope: None,
                    purpose: "test".into(),
                    retention_days: Some(30),
                    renews: None,
                },
                Some(w.hub.id),
            )
            .unwrap();
        submit(&ts.store, &short, &[("198.51.100.7", green("c2"), "FR")]);
        submit(
            &ts.store,
            &w.partner,
            &[("198.51.100.8", green("c2"), "FR")],
        );
        let op = ops::operation::create(&ts.store, &w.hub, "op", window(), "").unwrap();
        targets::pick_now(&ts.store, &op, &w.hub).unwrap();
        let before = summary::summarise(&ts.store, &op).unwrap();
        // Nothing is past 30 days yet.
        let dry = threatgate::retention::run(&ts.store, now, false, Some(w.hub.id)).unwrap();
        assert_eq!(dry.iter().map(|c| c.records).sum::<i64>(), 0);
        let later = now + Duration::days(31);
        let dry = threatgate::retention::run(&ts.store, later, false, Some(w.hub.id)).unwrap();
        assert_eq!((dry.len(), dry[0].records, dry[0].objects), (1, 1, 1));
        let head = ts.store.audit_head().unwrap().0;
        assert!(ts
            .store
            .observable(Kind::Ipv4, "198.51.100.7")
            .unwrap()
            .is_some());
        assert_eq!(
            ts.store.audit_head().unwrap().0,
            head,
            "a dry run changes nothing"
        );
        let done = threatgate::retention::run(&ts.store, later, true, Some(w.hub.id)).unwrap();
        assert_eq!((done[0].records, done[0].objects), (1, 1));
        let hub_scope = scope_for(&ts.store, &w.hub, Utc::now(), Channel::Interactive).unwrap();
        let gone = ts
            .store
            .observable(Kind::Ipv4, "198.51.100.7")
            .unwrap()
            .unwrap();
        assert!(
            ts.store
                .visible_records(gone.id, &hub_scope)
                .unwrap()
                .is_empty(),
            "records purged"
        );
        let kept = ts
            .store
            .observable(Kind::Ipv4, "198.51.100.8")
            .unwrap()
            .unwrap();
        assert_eq!(
            ts.store.visible_records(kept.id, &hub_scope).unwrap().len(),
            1,
            "no retention: kept"
        );
        let audit: Vec<String> = ts
            .store
            .audit_entries(head, 100)
            .unwrap()
            .into_iter()
            .map(|(e, _)| e.action)
            .collect();
        assert_eq!(audit, ["retention.purge"]);
        let after = summary::summarise(&ts.store, &op).unwrap();
        assert_eq!(after.overall, before.overall, "targets keep their snapshot");
        assert_eq!(after.countries, before.countries);
        let t = takedown::find_target(&ts.store, &op, "198.51.100.7").unwrap();
        assert_eq!((t.country.as_deref(), t.asn), (Some("FR"), Some(64500)));
        assert!(ts.store.verify_audit().unwrap().is_ok());
    }
);

conformance!(urlhaus_status_import_records_online_and_offline, |ts| {
    let w = world(&ts.store);
    submit(
        &ts.store,
        &w.partner,
        &[
            (
                "http://shop.example.com/a.exe",
                green("malware_download"),
                "DE",
            ),
            (
                "http://shop.example.com/b.exe",
                green("malware_download"),
                "DE",
            ),
        ],
    );
    let op = ops::operation::create(&ts.store, &w.hub, "op", window(), "").unwrap();
    targets::pick_now(&ts.store, &op, &w.hub).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("urlhaus.csv");
    std::fs::write(
        &f,
        "id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\
         \"1\",\"2025-04-20 10:00:00\",\"hxxp://shop.example[.]com/a.exe\",\"online\",\"2025-04-21 12:00:00\",\"malware_download\",\"\",\"\",\"x\"\n\
         \"2\",\"2025-04-20 10:00:00\",\"http://shop.example.com/b.exe\",\"offline\",\"2025-04-20 11:00:00\",\"malware_download\",\"\",\"\",\"x\"\n\
         \"3\",\"2025-04-20 10:00:00\",\"http://elsewhere.example/\",\"online\",\"\",\"malware_download\",\"\",\"\",\"x\"\n",
    )
    .unwrap();
    let at = t("2025-04-22");
    let r = ops::status::import(
        &ts.store,
        &op,
        &f,
        ops::status::StatusFormat::Urlhaus,
        at,
        None,
        Some(w.hub.id),
    )
    .unwrap();
    assert_eq!(
        (r.rows, r.matched_targets, r.skipped, r.new_observations),
        (3, 2, 1, 3)
    );
    let obs = ts.store.observations(op.id).unwrap();
    let b = takedown::find_target(&ts.store, &op, "http://shop.example.com/b.exe").unwrap();
    let b_obs: Vec<(bool, Time)> = obs
        .iter()
        .filter(|o| o.target_id == b.id)
        .map(|o| (o.online, o.at))
        .collect();
    assert_eq!(b_obs, [(true, t("2025-04-20T11:00:00Z")), (false, at)]);
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "id,url,url_status\n1,http://shop.example.com/a.exe,maybe\n",
    )
    .unwrap();
    let e = ops::status::import(
        &ts.store,
        &op,
        &bad,
        ops::status::StatusFormat::Urlhaus,
        at,
        None,
        None,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("bad.csv:2") && e.to_string().contains("maybe"),
        "{e}"
    );
    assert_eq!(
        ts.store.observations(op.id).unwrap().len(),
        3,
        "a bad file adds nothing"
    );
});

/// The STIX ids in one collection as `org` reads it through the TAXII server's code path
/// (`None`: the org does not have that collection).
fn collection_ids(
    store: &Store,
    org: &Org,
    alias: &str,
) -> Option<std::collections::BTreeSet<String>> {
    use threatgate::server::collections;
    use threatgate::store::{CollectionQuery, ObjectQuery, VersionSelect};
    let c = collections::find(store, org, TokenRole::Read, alias).unwrap()?;
    assert_eq!(
        collections::find(store, org, TokenRole::Read, &c.id.to_string())
            .unwrap()
            .map(|x| x.alias),
        Some(c.alias.clone()),
        "found by id as by alias"
    );
    let scope = scope_for(store, org, Utc::now(), c.channel).unwrap();
    let mut q = CollectionQuery {
        base: ObjectQuery {
            limit: 1000,
            ..Default::default()
        },
        versions: VersionSelect::latest(),
        ..Default::default()
    };
    c.restrict(org.id, &mut q);
    let page = store.collection_page(&scope, &q).unwrap();
    assert!(!page.more);
    Some(page.objects.into_iter().map(|o| o.stix_id).collect())
}

/// The STIX ids of the objects linked to `values`, whatever their marking.
fn ids_of_values(store: &Store, values: &[&str]) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for v in values {
        let o = Observable::detect(v).unwrap();
        let row = store.observable(o.kind, &o.value).unwrap().unwrap();
        let ids: Vec<String> = store
            .read(|c| {
                c.query(
                    "SELECT x.stix_id FROM objects x JOIN object_observables oo ON oo.object_pk = x.pk WHERE oo.observable_id = $1",
                    &[row.id.into()],
                )?
                .iter()
                .map(|r| r.string(0))
                .collect()
            })
            .unwrap();
        out.extend(ids);
    }
    out
}

/// Operation `op` by the hub over C2 targets of every TLP in FR and two in DE, then one
/// more GREEN FR value (198.51.100.9) submitted after the pick, so not a target.
fn operation_with_targets_in_fr_and_de(store: &Store, w: &World) -> ops::Operation {
    let c2 = |t| claim(t, Some(Pap::Green), &["c2"]);
    submit(
        store,
        &w.partner,
        &[
            ("198.51.100.1", c2(Tlp::Amber), "FR"),
            ("198.51.100.3", c2(Tlp::Green), "FR"),
            ("198.51.100.5", c2(Tlp::AmberStrict), "FR"),
            ("198.51.100.7", c2(Tlp::Red), "FR"),
            ("198.51.100.2", c2(Tlp::Amber), "DE"),
            ("198.51.100.4", c2(Tlp::Green), "DE"),
        ],
    );
    let op = ops::operation::create(store, &w.hub, "op", window(), "").unwrap();
    targets::pick_now(store, &op, &w.hub).unwrap();
    submit(store, &w.partner, &[("198.51.100.9", c2(Tlp::Green), "FR")]);
    op
}

conformance!(operation_and_report_collections_narrow_the_policy, |ts| {
    let w = world(&ts.store);
    let (fr, de) = (&w.members[0], &w.members[1]);
    let op = operation_with_targets_in_fr_and_de(&ts.store, &w);
    let later = ids_of_values(&ts.store, &["198.51.100.9"]);
    // Before any report, only the operation's creator has a collection for it.
    assert!(collection_ids(&ts.store, &w.hub, "operation-op").is_some());
    for m in [fr, de] {
        assert_eq!(collection_ids(&ts.store, m, "operation-op"), None);
        assert_eq!(collection_ids(&ts.store, m, "report-op-fr"), None);
    }
    report::disseminate(&ts.store, &op, &w.hub, "FR").unwrap();

    // FR's report: what was shared for FR, as FR's bulk scope allows: not the
    // AMBER+STRICT beyond its ceiling (it was shared), never the RED (not even shared).
    let got = collection_ids(&ts.store, fr, "report-op-fr").unwrap();
    assert_eq!(
        got,
        ids_of_values(&ts.store, &["198.51.100.1", "198.51.100.3"])
    );
    // FR's view of the operation: its report plus what the policy opens to it of the
    // other targets (DE's GREEN, not DE's AMBER); never data that is not about a target.
    let got = collection_ids(&ts.store, fr, "operation-op").unwrap();
    assert_eq!(
        got,
        ids_of_values(&ts.store, &["198.51.100.1", "198.51.100.3", "198.51.100.4"])
    );
    assert!(got.is_disjoint(&later));
    let shared = collection_ids(&ts.store, fr, "shared-with-me").unwrap();
    assert!(shared.is_superset(&got) && shared.is_superset(&later));
    // The hub (creator and sender) reads both, within its own bulk scope (no RED).
    let all_but_red = ids_of_values(
        &ts.store,
        &[
            "198.51.100.1",
            "198.51.100.3",
            "198.51.100.5",
            "198.51.100.2",
            "198.51.100.4",
        ],
    );
    assert_eq!(
        collection_ids(&ts.store, &w.hub, "operation-op").unwrap(),
        all_but_red
    );
    assert_eq!(
        collection_ids(&ts.store, &w.hub, "report-op-fr").unwrap(),
        ids_of_values(&ts.store, &["198.51.100.1", "198.51.100.3", "198.51.100.5"])
    );

    // Isolation: DE has neither collection, by alias or by id, nor in its list; the
    // partner (a source of the data) neither.
    let fr_cols = threatgate::server::collections::for_org(&ts.store, fr, TokenRole::Read).unwrap();
    let report_id = fr_cols
        .iter()
        .find(|c| c.alias == "report-op-fr")
        .unwrap()
        .id;
    for o in [de, &w.partner] {
        assert_eq!(collection_ids(&ts.store, o, "report-op-fr"), None);
        assert_eq!(collection_ids(&ts.store, o, &report_id.to_string()), None);
        assert_eq!(collection_ids(&ts.store, o, "operation-op"), None);
        let list = threatgate::server::collections::for_org(&ts.store, o, TokenRole::Read).unwrap();
        let aliases: Vec<&str> = list.iter().map(|c| c.alias.as_str()).collect();
        assert_eq!(aliases, ["shared-with-me", "submissions"]);
    }
    // Once DE receives its own report, it has that one and the operation's, not FR's.
    report::disseminate(&ts.store, &op, &w.hub, "DE").unwrap();
    assert_eq!(
        collection_ids(&ts.store, de, "report-op-de").unwrap(),
        ids_of_values(&ts.store, &["198.51.100.2", "198.51.100.4"])
    );
    assert_eq!(collection_ids(&ts.store, de, "report-op-fr"), None);
    assert_eq!(collection_ids(&ts.store, fr, "report-op-de"), None);
    let de_op = collection_ids(&ts.store, de, "operation-op").unwrap();
    assert!(!de_op.contains(ids_of_values(&ts.store, &["198.51.100.1"]).first().unwrap()));
});

/// A read token for `org` on `store`.
fn read_token(store: &Store, org: &Org, role: TokenRole) -> String {
    let s = threatgate::auth::generate_secret();
    store
        .create_token(
            org.id,
            role,
            "test",
            &threatgate::auth::hash_secret(&s),
            None,
        )
        .unwrap();
    s
}

/// Every object id of a TAXII collection read over HTTP to the end (pages of 2), or the
/// status of the first answer that is not 200.
fn taxii_ids(
    srv: &support::server::InProcess,
    tok: &str,
    collection: &str,
    endpoint: &str,
) -> Result<std::collections::BTreeSet<String>, u16> {
    Ok(srv
        .taxii_all(tok, collection, endpoint)?
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect())
}

// The per-operation and per-report TAXII collections over HTTP, on the real server: the
// orgs involved read exactly their contents (by alias and by id, objects and manifest);
// an org without the collection gets 404 on every endpoint, whether it names it by alias
// or by id, and the collection is not in its list; a token whose role may not read gets 403.
conformance!(operation_and_report_collections_over_taxii, |ts| {
    use support::server::{InProcess, TAXII_MEDIA};
    let w = world(&ts.store);
    let (fr, de) = (&w.members[0], &w.members[1]);
    let op = operation_with_targets_in_fr_and_de(&ts.store, &w);
    report::disseminate(&ts.store, &op, &w.hub, "FR").unwrap();
    let srv = InProcess::start(ts.store.clone());
    let tok_hub = read_token(&ts.store, &w.hub, TokenRole::Read);
    let tok_fr = read_token(&ts.store, fr, TokenRole::Read);
    let tok_de = read_token(&ts.store, de, TokenRole::Read);
    let tok_partner = read_token(&ts.store, &w.partner, TokenRole::Read);
    let id_of = |alias: &str| {
        uuid::Uuid::new_v5(
            &threatgate::server::collections::NAMESPACE,
            alias.as_bytes(),
        )
        .to_string()
    };
    let vals = |v: &[&str]| ids_of_values(&ts.store, v);

    let expect = [
        (
            &tok_fr,
            "report-op-fr",
            vals(&["198.51.100.1", "198.51.100.3"]),
        ),
        (
            &tok_fr,
            "operation-op",
            vals(&["198.51.100.1", "198.51.100.3", "198.51.100.4"]),
        ),
        (
            &tok_hub,
            "operation-op",
            vals(&[
                "198.51.100.1",
                "198.51.100.3",
                "198.51.100.5",
                "198.51.100.2",
                "198.51.100.4",
            ]),
        ),
        (
            &tok_hub,
            "report-op-fr",
            vals(&["198.51.100.1", "198.51.100.3", "198.51.100.5"]),
        ),
    ];
    for (tok, alias, want) in &expect {
        assert!(want.len() >= 2, "{alias}: the fixture has objects");
        for name in [alias.to_string(), id_of(alias)] {
            assert_eq!(
                taxii_ids(&srv, tok, &name, "objects").as_ref(),
                Ok(want),
                "{name}"
            );
            assert_eq!(
                taxii_ids(&srv, tok, &name, "manifest").as_ref(),
                Ok(want),
                "{name} manifest"
            );
            let (st, body) = srv.get(
                &format!("/taxii2/api/collections/{name}/"),
                tok,
                TAXII_MEDIA,
            );
            assert_eq!(st, 200, "{name}");
            let c: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(c["alias"], json!(alias));
            assert_eq!(c["id"], json!(id_of(alias)));
            assert_eq!(
                (c["can_read"].clone(), c["can_write"].clone()),
                (json!(true), json!(false))
            );
        }
        // Each object one by one; a POST is refused (read-only collection).
        for oid in want {
            let (st, body) = srv.get(
                &format!("/taxii2/api/collections/{alias}/objects/{oid}/"),
                tok,
                TAXII_MEDIA,
            );
            assert_eq!(st, 200, "{alias} {oid}");
            assert!(body.contains(oid.as_str()));
        }
    }
    // What is not in the subset is not served from it, even though the reader may read it
    // elsewhere (the GREEN object added after the pick is in FR's shared-with-me).
    let later = vals(&["198.51.100.9"]);
    let later_id = later.first().unwrap();
    assert!(taxii_ids(&srv, &tok_fr, "shared-with-me", "objects")
        .unwrap()
        .contains(later_id));
    for alias in ["operation-op", "report-op-fr"] {
        let (st, _) = srv.get(
            &format!("/taxii2/api/collections/{alias}/objects/{later_id}/"),
            &tok_fr,
            TAXII_MEDIA,
        );
        assert_eq!(st, 404, "{alias}: an object outside the subset");
    }

    // Lists: exactly the collections each org has.
    let aliases = |tok: &str| -> Vec<String> {
        let (st, body) = srv.get("/taxii2/api/collections/", tok, TAXII_MEDIA);
        assert_eq!(st, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["alias"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        aliases(&tok_fr),
        [
            "shared-with-me",
            "submissions",
            "operation-op",
            "report-op-fr"
        ]
    );
    assert_eq!(
        aliases(&tok_hub),
        [
            "shared-with-me",
            "submissions",
            "operation-op",
            "report-op-fr"
        ]
    );
    for tok in [&tok_de, &tok_partner] {
        assert_eq!(aliases(tok), ["shared-with-me", "submissions"]);
    }

    // Orgs without the collections: 404 everywhere, the same answer as for a collection
    // that does not exist, and no object id in the body.
    let fr_object = vals(&["198.51.100.1"]).into_iter().next().unwrap();
    for tok in [&tok_de, &tok_partner] {
        for alias in ["operation-op", "report-op-fr", "report-op-nl"] {
            for name in [alias.to_string(), id_of(alias)] {
                for path in [
                    String::new(),
                    "objects/".into(),
                    "manifest/".into(),
                    format!("objects/{fr_object}/"),
                    format!("objects/{fr_object}/versions/"),
                ] {
                    let (st, body) = srv.get(
                        &format!("/taxii2/api/collections/{name}/{path}"),
                        tok,
                        TAXII_MEDIA,
                    );
                    assert_eq!(st, 404, "{name}/{path}");
                    assert!(!body.contains("indicator--"), "{name}/{path}: {body}");
                }
            }
        }
    }
    // Once DE receives its own report, it reads that one and the operation's, not FR's.
    report::disseminate(&ts.store, &op, &w.hub, "DE").unwrap();
    assert_eq!(
        taxii_ids(&srv, &tok_de, "report-op-de", "objects"),
        Ok(vals(&["198.51.100.2", "198.51.100.4"]))
    );
    assert_eq!(
        taxii_ids(&srv, &tok_de, "report-op-fr", "objects"),
        Err(404)
    );
    assert_eq!(
        taxii_ids(&srv, &tok_fr, "report-op-de", "objects"),
        Err(404)
    );
    assert_eq!(
        taxii_ids(&srv, &tok_de, "operation-op", "objects"),
        Ok(vals(&["198.51.100.2", "198.51.100.4", "198.51.100.3"]))
    );

    // FR without a receive agreement in force: its collections stay listed (it was sent
    // the report) but reading them is refused with 403, not answered with an empty page.
    for a in ts.store.agreements(Some(fr.id)).unwrap() {
        ts.store
            .end_agreement(
                a.id,
                Utc::now() - Duration::seconds(1),
                "test",
                Some(w.hub.id),
            )
            .unwrap();
    }
    for alias in ["operation-op", "report-op-fr"] {
        for endpoint in ["objects", "manifest"] {
            assert_eq!(
                taxii_ids(&srv, &tok_fr, alias, endpoint),
                Err(403),
                "{alias}"
            );
        }
        let (st, body) = srv.get(
            &format!("/taxii2/api/collections/{alias}/"),
            &tok_fr,
            TAXII_MEDIA,
        );
        assert_eq!(st, 200, "{alias}");
        assert!(body.contains("\"can_read\":false"), "{alias}: {body}");
    }
});
