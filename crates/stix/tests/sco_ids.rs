//! Deterministic SCO ids agree with OASIS `stix2`, value for value.
//!
//! The expected ids in tests/data/sco_ids.json were produced by `stix2` itself;
//! regenerate them with `.venv/bin/python crates/stix/tests/data/gen_sco_ids.py`.

use serde_json::{json, Value};
use stix::id::{self, sco_id};

#[test]
fn ids_match_python_stix2() {
    let data: Value = serde_json::from_str(include_str!("data/sco_ids.json")).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 25);
    for case in cases {
        let type_name = case["type"].as_str().unwrap();
        let got = sco_id(type_name, &case["properties"]).unwrap();
        assert_eq!(
            got,
            case["id"].as_str().unwrap(),
            "{type_name} {}",
            case["properties"]
        );
    }
}

#[test]
fn the_same_ip_from_two_sources_gets_the_same_id() {
    // Different non-contributing properties, different key order: same id.
    let a = sco_id(
        "ipv4-addr",
        &json!({"value": "1.2.3.4", "x_source": "partner-a"}),
    )
    .unwrap();
    let b = sco_id(
        "ipv4-addr",
        &json!({"x_seen": 3, "value": "1.2.3.4", "resolves_to_refs": []}),
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a, id::ipv4_id("1.2.3.4"));
    assert_eq!(a, "ipv4-addr--0198f97b-e65d-5025-87e5-58bc39d4bdb4");
}

#[test]
fn helpers_agree_with_the_generic_constructor() {
    let sha256 = "ceafbfd424be2ca4a5f0402cae090dda2fb0526cf521b60b60077c0f622b373a";
    assert_eq!(
        id::file_id_from_hashes(&[("SHA-256", sha256)]).unwrap(),
        sco_id("file", &json!({"hashes": {"SHA-256": sha256}})).unwrap()
    );
    assert_eq!(
        id::domain_id("example.com"),
        sco_id("domain-name", &json!({"value": "example.com"})).unwrap()
    );
    assert_eq!(
        id::url_id("https://example.com/"),
        sco_id("url", &json!({"value": "https://example.com/"})).unwrap()
    );
    assert_eq!(
        id::email_id("a@example.com"),
        sco_id("email-addr", &json!({"value": "a@example.com"})).unwrap()
    );
    assert_eq!(
        id::ipv6_id("2001:db8::1"),
        "ipv6-addr--6469e3a9-b053-5e34-a025-9396ae051d26"
    );
    assert_eq!(
        id::autonomous_system_id(15139),
        "autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff"
    );
    assert!(id::file_id_from_hashes(&[]).is_none());
}

/// The OASIS example bundles' SCOs carry deterministic ids (e.g. the `file` in
/// sighting-of-observed-data.json, `file--364fe3e5-b1f4-5ba3-b951-ee5983b3538d`, whose
/// MD5 contributes); we derive the same ids from their properties.
#[test]
fn ids_match_the_oasis_examples() {
    let dir = std::env::var_os("THREATGATE_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
        })
        .join("oasis-stix-examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for e in stix::BundleReader::new(&bytes[..]) {
            let o = e.unwrap().object;
            if o.category() != stix::Category::Sco {
                continue;
            }
            let t = o.type_name().unwrap();
            if let Ok(id) = stix::id::sco_id_from_map(t, o.as_map()) {
                assert_eq!(Some(id.as_str()), o.id(), "{}", path.display());
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 1,
        "the examples contain at least the resume.pdf file"
    );
}
