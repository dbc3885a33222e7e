//! IP range tables compiled into a compact lookup structure, for country and ASN enrichment.
//!
//! Why this crate exists: every operation target (a C2 server, a compromised site) needs its
//! country and network so the per-country reports go to the right member, and a wrong
//! country sends a takedown request to the wrong police force. So the loaders are strict
//! (every bad line is an error naming the file and line), and the lookup is a pure function
//! of the table: no database, no network, no global state.
//!
//! ```no_run
//! use iprange::{IpTable, TableBuilder, country};
//! // One file, format detected, gzip sniffed:
//! let countries = IpTable::from_path("geo-whois-asn-country-ipv4.csv.gz")?;
//! // IPv4 and IPv6 into one table:
//! let mut b = TableBuilder::new();
//! b.add_path("asn-ipv4.csv", None)?.add_path("asn-ipv6.csv", None)?;
//! let asns = b.build()?;
//! let ip = "1.1.1.1".parse().unwrap();
//! let cc = countries.lookup(ip).and_then(|e| e.country());
//! let asn = asns.lookup(ip).and_then(|e| e.asn());
//! assert!(country::is_valid("DE") && !country::is_valid("XX"));
//! # Ok::<(), iprange::LoadError>(())
//! ```
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
