//! A TAXII 2.1 "Add Objects" body: the envelope's bounds (size, depth, count), then each
//! object through the same ingest mapping the server uses (`BundleState::value`).
//!
//! Checked: no panic or stack overflow (depth is bounded before parsing); a refusal is a
//! 400 or 413 with a description; accepted objects go through ingest with the harness's
//! checks on what comes out.
#![no_main]
use libfuzzer_sys::fuzz_target;
use threatgate::ingest::stix::BundleState;
use threatgate::ingest::{Event, IngestOptions, ParseContext};
use threatgate::server::limits::MAX_OBJECTS_PER_POST;
use threatgate::server::taxii::submit::parse_envelope;
use threatgate_fuzz::{check_canonical, Collect};

fuzz_target!(|data: &[u8]| {
    match parse_envelope(data) {
        Err(p) => {
            assert!(matches!(p.status.as_u16(), 400 | 413), "{p:?}");
            assert!(!p.description.is_empty());
        }
        Ok(objects) => {
            assert!(objects.len() <= MAX_OBJECTS_PER_POST);
            let ctx = ParseContext {
                name: "envelope".into(),
                path: None,
                opts: IngestOptions::default(),
            };
            let mut state = BundleState::new(&ctx);
            let mut out = Collect::default();
            for (i, v) in objects.into_iter().enumerate() {
                state
                    .value(i, v, &mut out)
                    .expect("the collector never stops");
            }
            state.finish(&mut out).expect("the collector never stops");
            for e in &out.events {
                match e {
                    Event::Reject { reason, .. } => assert!(!reason.is_empty()),
                    Event::Item(item) => item.claims.iter().for_each(|(o, _)| check_canonical(o)),
                }
            }
        }
    }
});
