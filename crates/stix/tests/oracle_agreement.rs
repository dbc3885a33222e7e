//! Our validator against the OASIS one (stix2-validator), on the OASIS example bundles
//! and on the deliberately broken objects in tests/objects/.
//!
//! - Every broken case must produce an error with the rule and JSON pointer recorded in
//!   tests/objects/expected.json (regenerate cases with tests/objects/make_cases.py).
//! - The OASIS validator must agree on valid / invalid for every file, except for the
//!   cases expected.json marks `oasis_valid` (spec MUSTs stix2-validator does not check).
//!
//! The oracle half needs `<repo>/.venv` (`.ci/setup-python`). Without it the test says so
//! and checks only our half, unless `STIX_ORACLE_REQUIRED=1`, which CI sets.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use stix::validate::validate_bundle_value;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shared_examples() -> PathBuf {
    std::env::var_os("THREATGATE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir().join("../../../shared/data"))
        .join("oasis-stix-examples")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("expected.json"))
        .collect();
    v.sort();
    v
}

fn ours_valid(path: &Path) -> (bool, Vec<stix::Issue>) {
    let value: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let report = validate_bundle_value(&value);
    (report.is_valid(), report.errors().cloned().collect())
}

#[test]
fn broken_objects_report_the_expected_rule_and_pointer() {
    let dir = crate_dir().join("tests/objects");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let files = json_files(&dir);
    assert_eq!(
        files.len(),
        expected.as_object().unwrap().len(),
        "every case file has an expectation"
    );
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let want = &expected[name];
        let (valid, errors) = ours_valid(&path);
        // Every pointer names a value in the document, or a missing property of one.
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for issue in &errors {
            let ptr = issue.pointer.as_str();
            let parent = &ptr[..ptr.rfind('/').unwrap_or(0)];
            assert!(
                doc.pointer(ptr).is_some() || doc.pointer(parent).is_some_and(Value::is_object),
                "{name}: pointer {ptr} resolves to nothing"
            );
        }
        if want == "valid" {
            assert!(valid, "{name}: expected valid, got {errors:#?}");
            continue;
        }
        let (rule, pointer) = (
            want["rule"].as_str().unwrap(),
            want["pointer"].as_str().unwrap(),
        );
        assert!(
            errors
                .iter()
                .any(|i| i.rule == rule && i.pointer.as_str() == pointer),
            "{name}: expected a `{rule}` error at {pointer}, got:\n{}",
            errors
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn agrees_with_the_oasis_validator() {
    let script = crate_dir().join("tests/oracle/validate_with_oasis.sh");
    let venv = crate_dir().join("../../.venv/bin/python");
    if !venv.exists() {
        assert!(
            std::env::var_os("STIX_ORACLE_REQUIRED").is_none(),
            "STIX_ORACLE_REQUIRED is set but {} is missing",
            venv.display()
        );
        eprintln!(
            "skipping the OASIS half: no {} (run .ci/setup-python)",
            venv.display()
        );
        return;
    }
    let cases_dir = crate_dir().join("tests/objects");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(cases_dir.join("expected.json")).unwrap()).unwrap();
    let mut files = json_files(&shared_examples());
    files.extend(json_files(&cases_dir));
    let out = Command::new(&script)
        .arg("--json")
        .args(&files)
        .output()
        .expect("run the oracle script");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen = 0;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let r: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("oracle output `{line}`: {e}"));
        let path = PathBuf::from(r["file"].as_str().unwrap());
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let oasis = r["valid"].as_bool().unwrap();
        let (ours, errors) = ours_valid(&path);
        let expected_oasis = expected
            .get(&name)
            .and_then(|e| e.get("oasis_valid"))
            .and_then(Value::as_bool)
            .unwrap_or(ours);
        assert_eq!(
            oasis, expected_oasis,
            "{name}: OASIS says valid={oasis} ({:?}), we say valid={ours} ({errors:?})",
            r["errors"]
        );
        seen += 1;
    }
    assert_eq!(seen, files.len());
}

/// What threatgate exports (official TLP markings, PAP statements, constructed SDOs and
/// SCOs) must pass the OASIS validator.
#[test]
fn our_constructed_objects_pass_the_oasis_validator() {
    use chrono::{TimeZone, Utc};
    use stix::{sco, sdo, BundleWriter, Pap, Tlp};

    let at = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
    let mut objects = Vec::new();
    for t in Tlp::ALL {
        objects.push(t.marking_definition());
        objects.extend(t.tlp1_marking_definition());
    }
    for p in Pap::ALL {
        objects.push(p.marking_definition());
    }
    let hub = sdo::new_identity("Hub", "organization", at);
    let ip = sco::ipv4("198.51.100.7");
    let mut ind = sdo::new_indicator("[ipv4-addr:value = '198.51.100.7']", at, at);
    ind.set("created_by_ref", hub.id().unwrap().into());
    ind.set(
        "object_marking_refs",
        serde_json::json!([
            Tlp::AmberStrict.marking_id(),
            Pap::marking_definition(Pap::Green).id().unwrap()
        ]),
    );
    let mut sighting = sdo::new_sighting(ind.id().unwrap(), at);
    sighting.set("where_sighted_refs", serde_json::json!([hub.id().unwrap()]));
    sighting.set("count", 2.into());
    let rel = sdo::new_relationship("based-on", ind.id().unwrap(), ip.id().unwrap(), at);
    let report = sdo::new_report(
        "Cyber activity report",
        at,
        &[ind.id().unwrap(), ip.id().unwrap()],
        at,
    );
    let f = sco::file_with_hashes(&[(
        "SHA-256",
        "ceafbfd424be2ca4a5f0402cae090dda2fb0526cf521b60b60077c0f622b373a",
    )])
    .unwrap();
    objects.extend([
        hub,
        ip,
        ind,
        sighting,
        rel,
        report,
        f,
        sco::domain("evil.example"),
        sco::url("http://evil.example/x"),
    ]);

    let mut w = BundleWriter::new(Vec::new(), &stix::id::random_id("bundle")).unwrap();
    for o in &objects {
        let r = stix::validate_object(o, &stix::Pointer::root());
        assert!(r.issues.is_empty(), "{:?}", r.issues);
        w.write(o).unwrap();
    }
    let bytes = w.finish().unwrap();
    // The hand-written TLP 2.0 case agrees with what we generate.
    let case: Value = serde_json::from_slice(
        &std::fs::read(crate_dir().join("tests/objects/valid--tlp2-amber-strict.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        case["objects"][0],
        Tlp::AmberStrict.marking_definition().into_value()
    );

    let venv = crate_dir().join("../../.venv/bin/python");
    if !venv.exists() {
        assert!(
            std::env::var_os("STIX_ORACLE_REQUIRED").is_none(),
            "STIX_ORACLE_REQUIRED is set but the venv is missing"
        );
        eprintln!("skipping the OASIS half: no venv");
        return;
    }
    let path = std::env::temp_dir().join(format!("stix-export-{}.json", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new(crate_dir().join("tests/oracle/validate_with_oasis.sh"))
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "OASIS rejects our export:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
