//! STIX 2.1 objects, bundles, validation, deterministic ids and the patterning language. No I/O.
