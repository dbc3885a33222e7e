//! Every bound the server puts on a request, in one place.
//!
//! A request that crosses one is refused with a message naming the limit, rather than
//! being served slowly or partially.

/// Objects per TAXII page when the client does not say (`limit` absent).
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest TAXII page served; a larger `limit` is lowered to this, as the spec allows.
pub const MAX_PAGE_SIZE: usize = 1_000;
/// Largest request body accepted (TAXII envelopes, REST JSON). Advertised as the API
/// root's `max_content_length`.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Deepest JSON nesting accepted in a request body. STIX objects are shallow; deeper input
/// is refused before it is parsed, so no parser recursion depends on the client.
pub const MAX_JSON_DEPTH: usize = 64;
/// Most objects in one TAXII envelope POST.
pub const MAX_OBJECTS_PER_POST: usize = 10_000;
/// Most comma-separated values in one `match[...]` filter.
pub const MAX_FILTER_VALUES: usize = 500;
/// Rows per page of the REST API lists when the client does not say.
pub const API_DEFAULT_LIMIT: usize = 100;
/// Largest page of the REST API lists.
pub const API_MAX_LIMIT: usize = 1_000;
/// Authentication failures a client IP may make in a burst before it is slowed down.
pub const AUTH_FAILURE_BURST: f64 = 20.0;
/// Authentication failures a client IP regains per second once the burst is spent.
pub const AUTH_FAILURE_REFILL_PER_SEC: f64 = 0.5;
/// Client IPs tracked by the failure limiter; the fullest buckets are forgotten first.
pub const AUTH_LIMITER_MAX_CLIENTS: usize = 10_000;
/// Bytes of rendered TAXII object pages the server keeps by default (`serve
/// --page-cache-mb`), counted compressed: 256 MiB holds about 500 full pages of 1,000
/// indicators raw, and ~4,000 of the benchmark's (compressed ~9x; varied STIX ~3x).
pub const PAGE_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// Threads that run store work at once (the blocking pool). More requests wait in line
/// rather than each opening its own database connection and holding its page in memory.
pub const STORE_THREADS: usize = 32;
