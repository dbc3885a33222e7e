//! threatgate: the threat-intelligence exchange.
//!
//! The data flows one way: `ingest` (parse, validate, normalise, policy check) → `store`
//! (observables, per-source records, STIX objects, audit) → read paths (search, exports,
//! TAXII, reports, the matcher's indicator set), each of which asks `policy` what the
//! requesting organisation may see. See ARCHITECTURE.md for the map.

pub mod alloc;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod enrich;
pub mod export;
pub mod ingest;
pub mod lookup;
pub mod matching;
pub mod model;
pub mod ops;
pub mod policy;
pub mod retention;
pub mod server;
pub mod store;
pub mod sync;
