//! STIX 2.1 objects, bundles, validation, deterministic ids and the patterning language.
//!
//! No I/O: callers hand in bytes, readers or values and get typed results and located
//! errors.
//!
//! The object model keeps every object as its JSON map ([`object::StixObject`]) so that
//! custom and unknown properties survive any round trip; typed views ([`view`], [`sdo`],
//! [`sco`]) read from that map. Bundles are streamed ([`bundle::BundleReader`]) so a
//! bundle of any size is read with memory bounded by its largest object. Validation
//! ([`validate`]) reports the spec's MUSTs as errors and some SHOULDs as warnings, each
//! with the JSON pointer of the offending value.
//!
//! The usual ingest loop:
//!
//! ```
//! use stix::{BundleReader, Markings, Pointer, validate_object};
//! let text = br#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
//!   {"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--0198f97b-e65d-5025-87e5-58bc39d4bdb4","value":"1.2.3.4",
//!    "object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}]}"#;
//! let mut markings = Markings::new();
//! for entry in BundleReader::new(&text[..]) {
//!     let entry = entry.expect("well-formed bundle");          // errors carry line, column, /objects/N
//!     let report = validate_object(&entry.object, &entry.pointer());
//!     assert!(report.is_valid());                              // issues carry /objects/N/property
//!     markings.learn(&entry.object);                           // remember marking-definitions
//!     assert_eq!(markings.tlp_of(&entry.object), Some(stix::Tlp::Green));
//! }
//! ```

pub mod bundle;
pub mod common;
pub mod id;
pub mod marking;
pub mod object;
pub mod pattern;
pub mod sco;
pub mod sdo;
pub mod syntax;
pub mod validate;
pub mod view;

pub use bundle::{BundleError, BundleReader, BundleWriter, Entry};
pub use common::{Category, Pointer, Timestamp};
pub use id::sco_id;
pub use marking::{Markings, Pap, Tlp};
pub use object::StixObject;
pub use validate::{validate_object, Issue, Report, Severity};
pub use view::View;
