//! The STIX 2.1 patterning language (section 9): parse, evaluate, compile.
