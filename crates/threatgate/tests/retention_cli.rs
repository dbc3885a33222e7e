//! `threatgate retention`: a dry run lists, `--apply` purges and audits, on the real binary.

mod support;

use std::path::Path;
use std::process::Command;

use chrono::{Duration, Utc};
use serde_json::json;
use support::*;
use threatgate::model::*;
use threatgate::store::{Store, SubmissionMeta};

fn tg(data: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_threatgate"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn dry_run_then_apply() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    {
        let store = Store::open_dir(d).unwrap();
        let w = world(&store);
        let now = Utc::now();
        let a = store
            .add_agreement(
                &NewAgreement {
                    org_id: w.partner.id,
                    role: AgreementRole::Provide,
                    signed_on: now - Duration::days(100),
                    valid_from: now - Duration::days(100),
                    valid_until: now + Duration::days(100),
                    max_tlp: Tlp::Amber,
                    scope: None,
                    purpose: "short retention".into(),
                    retention_days: Some(7),
                    renews: None,
                },
                Some(w.hub.id),
            )
            .unwrap();
        for (v, age) in [("198.51.100.1", 10), ("198.51.100.2", 3)] {
            let mut wr = store
                .begin_submission(SubmissionMeta {
                    org_id: w.partner.id,
                    agreement_id: Some(a.id),
                    format: "test".into(),
                    source_name: "t".into(),
                })
                .unwrap();
            let (_, rid) = wr
                .add_claim(
                    &Observable::detect(v).unwrap(),
                    &Claim {
                        labels: vec!["c2".into()],
                        ..Default::default()
                    },
                    None,
                )
                .unwrap();
            wr.finish(0, json!({})).unwrap();
            // Age the record as if it had last been provided `age` days ago.
            store
                .write(|c| {
                    c.execute(
                        "UPDATE records SET updated_at = $1 WHERE id = $2",
                        &[format_time(now - Duration::days(age)).into(), rid.into()],
                    )?;
                    Ok(((), vec![]))
                })
                .unwrap();
        }
    }
    let dry = tg(d, &["retention"]);
    assert!(
        dry.contains("would purge 1 records") && dry.contains("dry run"),
        "{dry}"
    );
    let applied = tg(d, &["retention", "--apply"]);
    assert!(applied.contains("purged 1 records"), "{applied}");
    let again = tg(d, &["retention", "--apply"]);
    assert!(again.contains("purged 0 records"), "{again}");
    let store = Store::open_dir(d).unwrap();
    let n = store
        .read(|c| {
            c.query_one("SELECT COUNT(*) FROM records", &[])?
                .unwrap()
                .i64(0)
        })
        .unwrap();
    assert_eq!(n, 1);
    let purges = store
        .audit_entries(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|(e, _)| e.action == "retention.purge")
        .count();
    assert_eq!(purges, 1);
    assert!(store.verify_audit().unwrap().is_ok());
}
