//! STIX 2.1 objects, bundles, validation, deterministic ids and the patterning language.
//!
//! No I/O: callers hand in bytes or values and get typed results and located errors.

pub mod pattern;
