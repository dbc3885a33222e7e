//! The TAXII 2.1 URL filters (`added_after`, `limit`, `next`, `match[…]`) on arbitrary
//! query strings, for each endpoint's set of allowed filters.
//!
//! Checked: no panic; a refusal is a 400 that names a parameter; what is accepted stays
//! in bounds (page size, list lengths), its `added_after` is a timestamp the store reads,
//! and a `next` cursor re-encodes to one that parses to the same position.
#![no_main]
use libfuzzer_sys::fuzz_target;
use threatgate::model::parse_stored_time;
use threatgate::server::limits::{MAX_FILTER_VALUES, MAX_PAGE_SIZE};
use threatgate::server::taxii::query::{encode_cursor, parse, OBJECTS, ONE_OBJECT, VERSIONS};

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    for allowed in [OBJECTS, ONE_OBJECT, VERSIONS] {
        match parse(Some(&raw), allowed) {
            Err(p) => {
                assert_eq!(p.status.as_u16(), 400, "{p:?}");
                assert!(
                    ["added_after", "limit", "next", "match["]
                        .iter()
                        .any(|k| p.description.contains(k)),
                    "refusal names no parameter: {p:?}"
                );
            }
            Ok(f) => {
                let q = &f.query;
                assert!(
                    (1..=MAX_PAGE_SIZE).contains(&q.base.limit),
                    "limit {}",
                    q.base.limit
                );
                for list in [&q.base.ids, &q.base.types, &q.base.spec_versions] {
                    assert!(list.len() <= MAX_FILTER_VALUES);
                    assert!(
                        list.iter().all(|s| !s.is_empty() && s.trim() == s),
                        "{list:?}"
                    );
                }
                if let Some(t) = &q.added_after {
                    assert!(
                        parse_stored_time(t).is_some(),
                        "added_after {t:?} does not read back"
                    );
                }
                assert_eq!(f.continued, q.base.after.is_some());
                if let Some((added, pk)) = &q.base.after {
                    let again = parse(
                        Some(&format!("next={}", encode_cursor(added, *pk))),
                        allowed,
                    )
                    .expect("a cursor we encode parses");
                    assert_eq!(again.query.base.after.as_ref(), Some(&(added.clone(), *pk)));
                }
            }
        }
    }
});
