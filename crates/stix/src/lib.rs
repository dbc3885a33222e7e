//! STIX 2.1 objects, bundles, validation, deterministic ids and the patterning language.
//!
//! No I/O: callers hand in bytes or values and get typed results and located errors.
//!
//! The object model keeps every object as its JSON map ([`object::StixObject`]) so that
//! custom and unknown properties survive any round trip; typed views ([`sdo`], [`sco`])
//! read from that map. Bundles are streamed ([`bundle::BundleReader`]) so a bundle of any
//! size is read with memory bounded by its largest object. Validation
//! ([`validate`]) reports the spec's MUSTs as errors and some SHOULDs as warnings, each
//! with the JSON pointer of the offending value.

pub mod bundle;
pub mod common;
pub mod id;
pub mod marking;
pub mod object;
pub mod validate;
pub mod pattern;

pub use bundle::{BundleReader, BundleWriter, Entry};
pub use common::{Category, Pointer, Timestamp};
pub use marking::{Markings, Pap, Tlp};
pub use object::StixObject;
pub use validate::{validate_object, Issue, Report, Severity};
