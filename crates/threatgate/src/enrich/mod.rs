//! Enrichment: the country, AS number and network name of every IP, and the registered
//! domain of every domain and URL.
//!
//! Tables are loaded with the `iprange` crate (ip-location-db `start,end,CC` and
//! `start,end,asn,org` CSVs, the iptoasn.com TSV; plain or gzip; IPv4 and IPv6), compiled
//! into its prefix structure, and every observable is looked up:
//! - an IP (or the first address of a CIDR) directly;
//! - a URL or domain whose host is an IP literal, by that IP;
//! - a domain or URL whose host's resolution is in the data (a STIX `domain-name` with
//!   `resolves_to_refs`, or a `resolves-to` relationship, the hub can see), by the first
//!   resolved address;
//! - domains and URLs also get their registered domain from the public suffix list
//!   (compiled into the `psl` crate: no network at run time).
//!
//! Country comes from the country table; when none is loaded or it has no entry, from the
//! ASN table if that carries countries (iptoasn does). Results are written with
//! [`Store::set_enrichment`] in batches.

pub mod resolve;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use iprange::{IpTable, OrderPolicy, TableBuilder};

use crate::model::{Enrichment, Kind, Observable, ObservableRow};
use crate::store::{Store, StoreError};

/// Observables read and written per batch.
pub const BATCH: usize = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("{0}")]
    Table(#[from] iprange::LoadError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
}

/// Which tables to load, and how strictly.
#[derive(Debug, Clone, Default)]
pub struct TableFiles {
    pub country: Vec<PathBuf>,
    pub asn: Vec<PathBuf>,
    /// `Strict` by default: an unsorted or overlapping table is an error naming the lines.
    pub policy: OrderPolicy,
}

/// The compiled tables.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    pub country: Option<IpTable>,
    pub asn: Option<IpTable>,
}

impl Tables {
    pub fn load(files: &TableFiles) -> Result<Tables, EnrichError> {
        if files.country.is_empty() && files.asn.is_empty() {
            return Err(EnrichError::Usage(
                "give at least one table: --ip-country FILE (start,end,CC) and/or --ip-asn FILE (start,end,asn,org or iptoasn TSV)".into(),
            ));
        }
        let build = |paths: &[PathBuf]| -> Result<Option<IpTable>, EnrichError> {
            if paths.is_empty() {
                return Ok(None);
            }
            let mut b = TableBuilder::new().order_policy(files.policy);
            for p in paths {
                b.add_path(p, None)?;
            }
            Ok(Some(b.build()?))
        };
        Ok(Tables {
            country: build(&files.country)?,
            asn: build(&files.asn)?,
        })
    }

    /// Country, ASN and network name of one address.
    pub fn lookup(&self, ip: IpAddr) -> Enrichment {
        let a = self.asn.as_ref().and_then(|t| t.lookup(ip));
        let country = self
            .country
            .as_ref()
            .and_then(|t| t.lookup(ip))
            .and_then(|e| e.country())
            .or_else(|| a.and_then(|e| e.country()))
            .map(|c| c.as_str().to_string());
        Enrichment {
            country,
            asn: a.and_then(|e| e.asn()),
            network: a.and_then(|e| e.org()).map(str::to_string),
            registered_domain: None,
        }
    }
}

/// The registered domain of a host name per the public suffix list (`None` for IPs,
/// bare suffixes and names the list does not know).
pub fn registered_domain(host: &str) -> Option<String> {
    let h = host.trim_end_matches('.');
    if h.parse::<IpAddr>().is_ok() || h.starts_with('[') {
        return None;
    }
    psl::domain_str(h).map(str::to_string)
}

/// The IP an observable names itself: an address, a CIDR's first address, a URL's IP host.
pub fn own_ip(kind: Kind, value: &str) -> Option<IpAddr> {
    let o = Observable {
        kind,
        value: value.to_string(),
    };
    o.ip().or_else(|| o.network().map(|n| n.network()))
}

/// Enrichment of one observable. `resolved` maps host names to an address they resolve to.
pub fn enrich_one(
    tables: &Tables,
    o: &ObservableRow,
    resolved: &HashMap<String, IpAddr>,
) -> Enrichment {
    let obs = Observable {
        kind: o.kind,
        value: o.value.clone(),
    };
    let host = obs.host().map(|h| h.to_string());
    let ip =
        own_ip(o.kind, &o.value).or_else(|| host.as_ref().and_then(|h| resolved.get(h).copied()));
    let mut e = ip.map(|ip| tables.lookup(ip)).unwrap_or_default();
    if matches!(o.kind, Kind::Domain | Kind::Url | Kind::Email) {
        e.registered_domain = host.as_deref().and_then(registered_domain);
    }
    e
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct EnrichStats {
    pub observables: usize,
    pub with_country: usize,
    pub with_asn: usize,
    pub with_registered_domain: usize,
    /// Domains and URLs located through a resolution in the data.
    pub via_resolution: usize,
    pub changed: usize,
}

/// Enrich every observable in the store; `progress` is called with the count done so far.
pub fn enrich_store(
    store: &Store,
    tables: &Tables,
    progress: &mut dyn FnMut(usize),
) -> Result<EnrichStats, EnrichError> {
    let resolved = resolve::resolutions(store)?;
    let mut stats = EnrichStats::default();
    let mut after = 0;
    loop {
        let page = store.observables_page(after, BATCH)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let mut changes = vec![];
        for o in &page {
            let e = enrich_one(tables, o, &resolved);
            stats.observables += 1;
            stats.with_country += e.country.is_some() as usize;
            stats.with_asn += e.asn.is_some() as usize;
            stats.with_registered_domain += e.registered_domain.is_some() as usize;
            if own_ip(o.kind, &o.value).is_none()
                && e.asn.or(e.country.as_ref().map(|_| 0)).is_some()
            {
                stats.via_resolution += 1;
            }
            if e != o.enrichment {
                changes.push((o.id, e));
            }
        }
        stats.changed += changes.len();
        store.set_enrichment(&changes)?;
        progress(stats.observables);
    }
    Ok(stats)
}
