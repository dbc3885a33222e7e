//! IP range tables compiled into a compact lookup structure, for country and ASN enrichment.
//!
//! Why this crate exists: every operation target (a C2 server, a compromised site) needs its
//! country and network so the per-country reports go to the right member, and a wrong
//! country sends a takedown request to the wrong police force. So the loaders are strict
//! (every bad line is an error naming the file and line), overlapping data is resolved by a
//! written rule or refused, and the lookup is a pure function of the table: no database, no
//! network, no global state.
//!
//! ```no_run
//! use iprange::{country, IpTable, OrderPolicy, TableBuilder};
//! // Country table. geo-whois-asn-country nests GeoFeed ranges inside WHOIS blocks, so it
//! // needs the narrowest-range rule; tables without overlaps load with `from_path`.
//! let countries = IpTable::from_path_with(
//!     "geo-whois-asn-country-ipv4.csv.gz",
//!     OrderPolicy::NarrowestWins,
//! )?;
//! // ASN table, IPv4 and IPv6 files into one table (gzip sniffed, format detected):
//! let mut b = TableBuilder::new();
//! b.add_path("asn-ipv4.csv", None)?.add_path("asn-ipv6.csv", None)?;
//! let asns = b.build()?;
//!
//! let ip = "1.1.1.1".parse().unwrap();
//! let cc = countries.lookup(ip).and_then(|e| e.country()); // Option<Country>
//! let asn = asns.lookup(ip).and_then(|e| e.asn()); // Option<u32>
//! let org = asns.lookup(ip).and_then(|e| e.org()); // Option<&str>
//!
//! // A user's `--country` argument:
//! assert!(country::is_valid("de") && !country::is_valid("XX"));
//! assert_eq!(country::name("DE"), Some("Germany"));
//! # Ok::<(), iprange::LoadError>(())
//! ```
//!
//! # Decisions, in one place
//!
//! - **Formats** ([`load`]): ip-location-db `start,end,CC` and `start,end,asn,org`, iptoasn
//!   TSV, maltrail hex-delta; gzip by magic bytes; format by the first line.
//! - **No data is `None`**: ASN 0, iptoasn `None`, `ZZ` or an empty country, gap rows.
//! - **Order policy** ([`OrderPolicy`]): `Strict` by default (unsorted or overlapping input is
//!   an error naming both lines); `SortThenCheck` sorts and drops exact duplicates but
//!   refuses true overlaps; `NarrowestWins` resolves overlaps by longest-prefix match (ties:
//!   later line), counted in [`LoadStats`].
//! - **Country codes** ([`country`]): the 249 ISO 3166-1 assigned codes plus `EU`, `AP`, `XK`;
//!   `ZZ` and other user-assigned codes are refused.
//! - **IPv4-mapped IPv6** (`::ffff:a.b.c.d`) is answered from the IPv4 rows.
//! - **Layout** ([`table`]): sorted starts in a flat `u32`/`u128` array with an entry index
//!   per row (gaps are rows), entries interned, a /16 first-level index for IPv4.
//!   Figures and the benchmark command are in `BENCH_NOTES.md`.
//!
//! Modules: [`country`] (ISO 3166-1 list and validation), [`load`] (formats, gzip),
//! [`table`] (the compiled table, the builder and its order policy), [`error`].

pub mod country;
pub mod error;
pub mod load;
pub mod table;

pub use country::Country;
pub use error::{LineError, LoadError, Location};
pub use load::{decompress, Format};
pub use table::{Entry, IpTable, LoadStats, OrderPolicy, TableBuilder};
