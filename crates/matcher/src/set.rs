//! The compiled, immutable indicator set.
//!
//! Built once by [`IndicatorSetBuilder`], then shared read-only (`Arc<IndicatorSet>`) by every
//! scanning thread. Layout goals, in order: one cache miss per probe in the common "no match"
//! case, no allocation on lookup, and a small fixed overhead per indicator (measured by
//! [`IndicatorSet::stats`]).
//!
//! - exact strings (domains, URLs, hashes, emails): one byte arena per kind, 16-byte entries,
//!   and a `hashbrown::HashTable<u32>` of entry ids ([`StrTable`]);
//! - IP addresses: `u32` / `u128` keyed hash maps;
//! - CIDRs: sorted elementary intervals with binary search ([`crate::ranges::CidrTable`]);
//! - domains: label-aware suffix index. Every proper suffix (of two labels or more) of an
//!   indicator domain is also in the domain table, flagged `HAS_LONGER`, pointing into the same
//!   arena bytes. A lookup walks the observed name from its two-label suffix leftwards and stops
//!   at the first suffix that is not in the table, so `www.google.com` costs one probe unless
//!   some indicator lives under `google.com`.

use std::fmt;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hashbrown::{HashMap, HashSet, HashTable};
use observable::{Kind, Observable};

use crate::ranges::CidrTable;

/// An opaque number the application gives each indicator; hits carry it back.
pub type Handle = u32;

type Hasher = foldhash::fast::RandomState;

/// A slice of the shared handle pool: the handles attached to one indicator value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct HRange {
    start: u32,
    len: u32,
}

/// How an observed value matched an indicator. Serialised names are stable (kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchRule {
    /// The IP address equals an address indicator.
    IpExact,
    /// The IP address lies inside a CIDR indicator.
    IpInCidr,
    /// The domain equals a domain indicator.
    DomainExact,
    /// The domain is a subdomain, by whole labels, of a domain indicator.
    Subdomain,
    /// The URL, normalised, equals a URL indicator.
    UrlExact,
    /// The URL did not match exactly, but its host is the host of one or more URL indicators.
    UrlHost,
    /// The hash equals a hash indicator (md5, sha1, sha256 or sha512).
    Hash,
    /// The email address equals an email indicator.
    Email,
}

impl MatchRule {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchRule::IpExact => "ip-exact",
            MatchRule::IpInCidr => "ip-in-cidr",
            MatchRule::DomainExact => "domain-exact",
            MatchRule::Subdomain => "subdomain",
            MatchRule::UrlExact => "url-exact",
            MatchRule::UrlHost => "url-host",
            MatchRule::Hash => "hash",
            MatchRule::Email => "email",
        }
    }
}

impl fmt::Display for MatchRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which indicator matched, cheap to copy; rendered to text only for reported hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndicatorRef {
    Domain(u32),
    Url(u32),
    UrlHost(u32),
    Hash(u32),
    Email(u32),
    Ip4(u32),
    Ip6(u128),
    Cidr4(u32),
    Cidr6(u32),
}

/// One match found by a probe: rule, indicator and its handles.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found {
    pub rule: MatchRule,
    pub indicator: IndicatorRef,
    pub handles: HRange,
}

/// A match returned by [`IndicatorSet::lookup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub rule: MatchRule,
    /// The indicator value that matched, canonical (e.g. `evil.example`, `10.0.0.0/8`).
    pub indicator: String,
    pub handles: Vec<Handle>,
}

/// Why an indicator was refused by the builder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Invalid(#[from] observable::Error),
    #[error(
        "too many indicator bytes for one set (limit {MAX_ARENA_BYTES} per kind); split the set"
    )]
    TooLarge,
}

/// Largest arena per kind: entries address it with `u32` offsets.
pub const MAX_ARENA_BYTES: usize = u32::MAX as usize;

const FLAG_INDICATOR: u16 = 1;
const FLAG_HAS_LONGER: u16 = 2;

/// One exact string: where its bytes are in the arena and which handles it carries.
/// Invariant: `start + len <= arena.len()`; `len <= observable::MAX_VALUE_LEN` (fits u16).
#[derive(Debug, Clone, Copy)]
struct StrEntry {
    start: u32,
    len: u16,
    flags: u16,
    handles: HRange,
}

/// An exact-string hash table over a byte arena.
#[derive(Debug)]
pub(crate) struct StrTable {
    arena: Vec<u8>,
    entries: Vec<StrEntry>,
    index: HashTable<u32>,
    hasher: Hasher,
}

impl StrTable {
    fn new(hasher: Hasher) -> Self {
        StrTable {
            arena: Vec::new(),
            entries: Vec::new(),
            index: HashTable::new(),
            hasher,
        }
    }

    #[inline]
    fn bytes(&self, e: &StrEntry) -> &[u8] {
        &self.arena[e.start as usize..e.start as usize + e.len as usize]
    }

    #[inline]
    fn find(&self, key: &[u8]) -> Option<(u32, &StrEntry)> {
        let h = self.hasher.hash_one(key);
        self.index
            .find(h, |&id| {
                let e = &self.entries[id as usize];
                e.len as usize == key.len() && self.bytes(e) == key
            })
            .map(|&id| (id, &self.entries[id as usize]))
    }

    /// The entry for `key` as a [`Found`] of `rule`: the exact-string probes (URL, hash,
    /// e-mail) differ only in table, rule and indicator kind. An empty table answers without
    /// hashing the key. Generic over `indicator` so each probe keeps its own inlined code
    /// (no call through a pointer).
    #[inline]
    fn probe_exact(
        &self,
        key: &[u8],
        rule: MatchRule,
        indicator: impl FnOnce(u32) -> IndicatorRef,
    ) -> Option<Found> {
        if self.entries.is_empty() {
            return None;
        }
        self.find(key).map(|(id, e)| Found {
            rule,
            indicator: indicator(id),
            handles: e.handles,
        })
    }

    fn text(&self, id: u32) -> &str {
        // Arena bytes always come from `String`s (canonical values); entries start and end on
        // char boundaries because suffix markers start after a '.'.
        std::str::from_utf8(self.bytes(&self.entries[id as usize])).unwrap_or("")
    }

    /// Build from values sorted and grouped by the caller: `(value, handles)`.
    fn build(
        hasher: Hasher,
        groups: Vec<(String, Vec<Handle>)>,
        pool: &mut Vec<Handle>,
    ) -> Result<Self, BuildError> {
        let mut t = StrTable::new(hasher);
        let total: usize = groups.iter().map(|g| g.0.len()).sum();
        if total > MAX_ARENA_BYTES {
            return Err(BuildError::TooLarge);
        }
        t.arena.reserve_exact(total);
        t.entries.reserve_exact(groups.len());
        t.index.reserve(groups.len(), |_| 0);
        for (value, handles) in groups {
            let start = t.arena.len() as u32;
            t.arena.extend_from_slice(value.as_bytes());
            let hr = push_handles(pool, &handles);
            t.insert_entry(StrEntry {
                start,
                len: value.len() as u16,
                flags: FLAG_INDICATOR,
                handles: hr,
            });
        }
        Ok(t)
    }

    fn insert_entry(&mut self, e: StrEntry) -> u32 {
        let id = self.entries.len() as u32;
        let h = self.hasher.hash_one(self.bytes(&e));
        self.entries.push(e);
        let (entries, arena, hasher) = (&self.entries, &self.arena, &self.hasher);
        self.index.insert_unique(h, id, |&i| {
            let e = &entries[i as usize];
            hasher.hash_one(&arena[e.start as usize..e.start as usize + e.len as usize])
        });
        id
    }

    /// Add `HAS_LONGER` markers for every proper suffix of two labels or more of every
    /// indicator domain (see the module docs). Markers share the indicator's arena bytes.
    fn add_suffix_markers(&mut self) {
        let n = self.entries.len();
        for id in 0..n {
            let e = self.entries[id];
            let mut off = 0usize;
            loop {
                let rest = &self.arena[e.start as usize + off..e.start as usize + e.len as usize];
                let Some(dot) = memchr::memchr(b'.', rest) else {
                    break;
                };
                off += dot + 1;
                let suffix_len = e.len as usize - off;
                let suffix = &self.arena[e.start as usize + off..e.start as usize + e.len as usize];
                if memchr::memchr(b'.', suffix).is_none() {
                    break; // a single label (TLD) is never probed
                }
                let h = self.hasher.hash_one(suffix);
                let (entries, arena) = (&mut self.entries, &self.arena);
                let found = self.index.find(h, |&i| {
                    let x = &entries[i as usize];
                    x.len as usize == suffix_len
                        && &arena[x.start as usize..x.start as usize + x.len as usize] == suffix
                });
                match found {
                    Some(&i) => entries[i as usize].flags |= FLAG_HAS_LONGER,
                    None => {
                        self.insert_entry(StrEntry {
                            start: e.start + off as u32,
                            len: suffix_len as u16,
                            flags: FLAG_HAS_LONGER,
                            handles: HRange::default(),
                        });
                    }
                }
            }
        }
    }

    fn memory(&self) -> (usize, usize) {
        (
            self.arena.capacity(),
            self.entries.capacity() * std::mem::size_of::<StrEntry>()
                + self.index.allocation_size(),
        )
    }

    fn indicator_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.flags & FLAG_INDICATOR != 0)
            .count()
    }
}

fn push_handles(pool: &mut Vec<Handle>, handles: &[Handle]) -> HRange {
    let start = pool.len() as u32;
    pool.extend_from_slice(handles);
    HRange {
        start,
        len: handles.len() as u32,
    }
}

/// Sizes and memory of a compiled set. `overhead_bytes` is everything beyond the indicator
/// value bytes themselves (tables, entries, handle pool, CIDR intervals).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SetStats {
    pub indicators: usize,
    pub ipv4: usize,
    pub ipv6: usize,
    pub cidr4: usize,
    pub cidr6: usize,
    pub domains: usize,
    pub urls: usize,
    pub hashes: usize,
    pub emails: usize,
    /// Distinct handles marked as belonging to complex STIX patterns.
    pub complex: usize,
    pub value_bytes: usize,
    pub overhead_bytes: usize,
    pub memory_bytes: usize,
}

impl SetStats {
    /// Overhead per indicator: the figure the design budget (≤ 100 bytes) is about.
    pub fn overhead_per_indicator(&self) -> f64 {
        if self.indicators == 0 {
            0.0
        } else {
            self.overhead_bytes as f64 / self.indicators as f64
        }
    }
}

/// Collects indicators, canonicalising each with the `observable` crate so matching agrees
/// with ingest, then compiles them into an [`IndicatorSet`].
#[derive(Debug, Default)]
pub struct IndicatorSetBuilder {
    domains: Vec<(String, Handle)>,
    urls: Vec<(String, Handle)>,
    hashes: Vec<(String, Handle)>,
    emails: Vec<(String, Handle)>,
    ip4: Vec<(u32, Handle)>,
    ip6: Vec<(u128, Handle)>,
    cidr4: Vec<(u32, u8, Handle)>,
    cidr6: Vec<(u128, u8, Handle)>,
    complex: Vec<Handle>,
    added: usize,
}

impl IndicatorSetBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an indicator value of a known kind. The raw value is refanged and canonicalised;
    /// the canonical observable is returned. The same value may be added under many handles.
    pub fn add(&mut self, handle: Handle, kind: Kind, raw: &str) -> Result<Observable, BuildError> {
        let o = Observable::parse(kind, raw)?;
        self.add_observable(handle, &o);
        Ok(o)
    }

    /// Add a value whose kind is guessed from its shape (`Observable::detect`).
    pub fn add_detect(&mut self, handle: Handle, raw: &str) -> Result<Observable, BuildError> {
        let o = Observable::detect(raw)?;
        self.add_observable(handle, &o);
        Ok(o)
    }

    /// Add an already canonical observable (as stored by the application).
    pub fn add_observable(&mut self, handle: Handle, o: &Observable) {
        self.added += 1;
        let v = o.value.clone();
        match o.kind {
            Kind::Ipv4 | Kind::Ipv6 => match o.network() {
                Some(ipnet::IpNet::V4(n)) => {
                    self.cidr4
                        .push((u32::from(n.network()), n.prefix_len(), handle))
                }
                Some(ipnet::IpNet::V6(n)) => {
                    self.cidr6
                        .push((u128::from(n.network()), n.prefix_len(), handle))
                }
                None => match v.parse::<IpAddr>() {
                    Ok(IpAddr::V4(a)) => self.ip4.push((u32::from(a), handle)),
                    Ok(IpAddr::V6(a)) => self.ip6.push((u128::from(a), handle)),
                    Err(_) => self.added -= 1,
                },
            },
            Kind::Domain => self.domains.push((v, handle)),
            Kind::Url => self.urls.push((v, handle)),
            Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::Sha512 => self.hashes.push((v, handle)),
            Kind::Email => self.emails.push((v, handle)),
        }
    }

    /// Mark a handle as part of a complex STIX pattern: lines that hit it are also reported as
    /// [`crate::Event`]s carrying every observation of the line, for the pattern engine.
    pub fn mark_complex(&mut self, handle: Handle) {
        self.complex.push(handle);
    }

    /// Number of `add*` calls accepted so far.
    pub fn len(&self) -> usize {
        self.added
    }

    pub fn is_empty(&self) -> bool {
        self.added == 0
    }

    /// Compile. Consumes the builder; the result is immutable, `Send + Sync`.
    pub fn build(self) -> Result<IndicatorSet, BuildError> {
        let hasher = Hasher::default();
        let mut pool: Vec<Handle> = Vec::new();

        let mut urls_by_host: Vec<(String, Handle)> = Vec::new();
        for (u, h) in &self.urls {
            if let Some(host) = url_host_of_canonical(u) {
                urls_by_host.push((host.to_string(), *h));
            }
        }
        let mut domains = StrTable::build(hasher.clone(), group(self.domains), &mut pool)?;
        domains.add_suffix_markers();
        let urls = StrTable::build(hasher.clone(), group(self.urls), &mut pool)?;
        let mut url_hosts = StrTable::build(hasher.clone(), group(urls_by_host), &mut pool)?;
        // Markers let a scan rule out "no URL indicator has this host" from the host's
        // two-label suffix, which a per-thread miss cache then remembers.
        url_hosts.add_suffix_markers();
        let hashes = StrTable::build(hasher.clone(), group(self.hashes), &mut pool)?;
        let emails = StrTable::build(hasher.clone(), group(self.emails), &mut pool)?;

        let mut ip4 = HashMap::with_capacity_and_hasher(0, hasher.clone());
        let ip4_groups = group(self.ip4);
        for (k, hs) in &ip4_groups {
            ip4.insert(*k, push_handles(&mut pool, hs));
        }
        let mut ip6 = HashMap::with_capacity_and_hasher(0, hasher.clone());
        for (k, hs) in group(self.ip6) {
            ip6.insert(k, push_handles(&mut pool, &hs));
        }
        let c4: Vec<_> = group(
            self.cidr4
                .into_iter()
                .map(|(n, p, h)| ((n, p), h))
                .collect(),
        )
        .into_iter()
        .map(|((n, p), hs)| (n, p, push_handles(&mut pool, &hs)))
        .collect();
        let c6: Vec<_> = group(
            self.cidr6
                .into_iter()
                .map(|(n, p, h)| ((n, p), h))
                .collect(),
        )
        .into_iter()
        .map(|((n, p), hs)| (n, p, push_handles(&mut pool, &hs)))
        .collect();
        // Prefilter keys: two-label suffixes of every name an indicator can be matched
        // through (domains, URL hosts, e-mail domains), hashes, IPv4 URL hosts (/24 bitmap).
        let mut url_host_ip4: Vec<u32> = Vec::new();
        let mut names: Vec<&[u8]> = Vec::new();
        for e in &domains.entries {
            if e.flags & FLAG_INDICATOR != 0 {
                names.push(crate::prefilter::two_labels(domains.bytes(e)));
            }
        }
        for e in &url_hosts.entries {
            if e.flags & FLAG_INDICATOR == 0 {
                continue;
            }
            let h = url_hosts.bytes(e);
            match std::str::from_utf8(h)
                .ok()
                .and_then(|t| t.parse::<Ipv4Addr>().ok())
            {
                Some(a) => url_host_ip4.push(u32::from(a)),
                None => names.push(crate::prefilter::two_labels(h)),
            }
        }
        for e in &emails.entries {
            let v = emails.bytes(e);
            let d = memchr::memrchr(b'@', v).map_or(v, |k| &v[k + 1..]);
            names.push(crate::prefilter::two_labels(d));
        }
        let mut strings = crate::prefilter::Bloom::with_keys(names.len() + hashes.entries.len());
        for k in names {
            strings.insert(k);
        }
        for e in &hashes.entries {
            strings.insert(hashes.bytes(e));
        }
        let ip6_pf = crate::prefilter::Ip6Filter::build(
            ip6.keys().copied(),
            c6.iter().map(|&(n, p, _)| (n, p)),
        );
        let ip4_filter = ip4_filter(&ip4_groups, &c4, &url_host_ip4);
        let ip4_filter16 = ip4_filter16(&ip4_filter);
        drop(ip4_groups);
        let mut complex = HashSet::with_hasher(hasher.clone());
        complex.extend(self.complex);
        pool.shrink_to_fit();
        Ok(IndicatorSet {
            domains,
            urls,
            url_hosts,
            hashes,
            emails,
            ip4,
            ip6,
            cidr4: CidrTable::build(c4),
            cidr6: CidrTable::build(c6),
            ip4_filter,
            ip4_filter16,
            prefilter: crate::prefilter::Prefilter {
                strings,
                ip6: ip6_pf,
            },
            handles: pool,
            complex,
        })
    }
}

/// Sort `(key, handle)` pairs and group handles per key, deduplicated.
fn group<K: Ord>(mut v: Vec<(K, Handle)>) -> Vec<(K, Vec<Handle>)> {
    v.sort_unstable();
    v.dedup();
    let mut out: Vec<(K, Vec<Handle>)> = Vec::with_capacity(v.len());
    for (k, h) in v {
        match out.last_mut() {
            Some((lk, hs)) if *lk == k => hs.push(h),
            _ => out.push((k, vec![h])),
        }
    }
    out
}

/// Host of a canonical URL (as produced by `observable::canonical_url`): lower-case already.
/// `None` for an empty host (no indicator is keyed by one).
pub(crate) fn url_host_of_canonical(u: &str) -> Option<&str> {
    observable::canonical_url_host(u).filter(|h| !h.is_empty())
}

/// The compiled indicator set. Immutable; share it across threads with `Arc`.
#[derive(Debug)]
pub struct IndicatorSet {
    domains: StrTable,
    urls: StrTable,
    url_hosts: StrTable,
    hashes: StrTable,
    emails: StrTable,
    ip4: HashMap<u32, HRange, Hasher>,
    ip6: HashMap<u128, HRange, Hasher>,
    cidr4: CidrTable<u32>,
    cidr6: CidrTable<u128>,
    /// One bit per IPv4 /24: set if any address or CIDR indicator touches that /24. Most log
    /// addresses are nowhere near an indicator; this 2 MiB bitmap rejects them with one
    /// memory access instead of a hash probe plus a binary search.
    ip4_filter: Vec<u64>,
    /// One bit per IPv4 /16: set if any bit of its /24s is set in `ip4_filter`. 8 KiB, so it
    /// stays in L1: the prefilter asks it after the first two numbers of a dotted quad and
    /// drops most log addresses (private clients) before parsing the rest.
    ip4_filter16: Vec<u64>,
    /// Filters the line prefilter consults before any parsing (`crate::prefilter`).
    prefilter: crate::prefilter::Prefilter,
    handles: Vec<Handle>,
    complex: HashSet<Handle, Hasher>,
}

/// Bits in [`IndicatorSet::ip4_filter`]: one per /24.
const IP4_FILTER_BITS: usize = 1 << 24;

/// [`IndicatorSet::ip4_filter16`] from the /24 bitmap: a /16's 256 bits are 4 words.
fn ip4_filter16(f24: &[u64]) -> Vec<u64> {
    if f24.is_empty() {
        return Vec::new();
    }
    let mut f = vec![0u64; (1 << 16) / 64];
    for (t, w) in f24.chunks_exact(4).enumerate() {
        if w.iter().any(|&x| x != 0) {
            f[t / 64] |= 1 << (t % 64);
        }
    }
    f
}

/// `url_hosts`: IPv4 hosts of URL indicators, so the prefilter's one bitmap covers them.
fn ip4_filter(
    exact: &[(u32, Vec<Handle>)],
    cidrs: &[(u32, u8, HRange)],
    url_hosts: &[u32],
) -> Vec<u64> {
    if exact.is_empty() && cidrs.is_empty() && url_hosts.is_empty() {
        return Vec::new();
    }
    let mut f = vec![0u64; IP4_FILTER_BITS / 64];
    let mut set = |b: usize| f[b / 64] |= 1 << (b % 64);
    for (a, _) in exact {
        set((*a >> 8) as usize);
    }
    for a in url_hosts {
        set((*a >> 8) as usize);
    }
    for &(n, l, _) in cidrs {
        let last = if l == 0 {
            u32::MAX
        } else {
            n | (u32::MAX >> l)
        };
        for b in (n >> 8)..=(last >> 8) {
            set(b as usize);
        }
    }
    f
}

impl IndicatorSet {
    pub fn builder() -> IndicatorSetBuilder {
        IndicatorSetBuilder::new()
    }

    pub fn stats(&self) -> SetStats {
        let mut s = SetStats {
            ipv4: self.ip4.len(),
            ipv6: self.ip6.len(),
            cidr4: self.cidr4.len(),
            cidr6: self.cidr6.len(),
            domains: self.domains.indicator_count(),
            urls: self.urls.indicator_count(),
            hashes: self.hashes.indicator_count(),
            emails: self.emails.indicator_count(),
            complex: self.complex.len(),
            ..SetStats::default()
        };
        s.indicators =
            s.ipv4 + s.ipv6 + s.cidr4 + s.cidr6 + s.domains + s.urls + s.hashes + s.emails;
        for t in [&self.domains, &self.urls, &self.hashes, &self.emails] {
            let (v, o) = t.memory();
            s.value_bytes += v;
            s.overhead_bytes += o;
        }
        // URL hosts are derived copies: count them as overhead, not as indicator values.
        let (v, o) = self.url_hosts.memory();
        s.overhead_bytes += v + o;
        // Binary IP keys are the values themselves (4 / 16 bytes); the rest is table overhead.
        s.value_bytes += self.ip4.len() * 4 + self.ip6.len() * 16;
        s.overhead_bytes += self.ip4.allocation_size() - self.ip4.len() * 4;
        s.overhead_bytes += self.ip6.allocation_size() - self.ip6.len() * 16;
        let (v, o) = self.cidr4.memory();
        s.value_bytes += v;
        s.overhead_bytes += o;
        let (v, o) = self.cidr6.memory();
        s.value_bytes += v;
        s.overhead_bytes += o;
        s.overhead_bytes += self.handles.capacity() * 4 + self.complex.allocation_size();
        s.overhead_bytes += (self.ip4_filter.capacity() + self.ip4_filter16.capacity()) * 8;
        s.overhead_bytes += self.prefilter.memory();
        s.memory_bytes = s.value_bytes + s.overhead_bytes + std::mem::size_of::<Self>();
        s
    }

    /// True if the set has no indicator at all.
    pub fn is_empty(&self) -> bool {
        self.domains.entries.is_empty()
            && self.urls.entries.is_empty()
            && self.hashes.entries.is_empty()
            && self.emails.entries.is_empty()
            && self.ip4.is_empty()
            && self.ip6.is_empty()
            && self.cidr4.len() == 0
            && self.cidr6.len() == 0
    }

    pub(crate) fn handles(&self, r: HRange) -> &[Handle] {
        &self.handles[r.start as usize..(r.start + r.len) as usize]
    }

    pub(crate) fn is_complex(&self, handles: &[Handle]) -> bool {
        !self.complex.is_empty() && handles.iter().any(|h| self.complex.contains(h))
    }

    pub(crate) fn has_urls(&self) -> bool {
        !self.urls.entries.is_empty()
    }

    /// Render the indicator value of a match.
    pub(crate) fn indicator_text(&self, r: IndicatorRef) -> String {
        match r {
            IndicatorRef::Domain(i) => self.domains.text(i).to_string(),
            IndicatorRef::Url(i) => self.urls.text(i).to_string(),
            IndicatorRef::UrlHost(i) => self.url_hosts.text(i).to_string(),
            IndicatorRef::Hash(i) => self.hashes.text(i).to_string(),
            IndicatorRef::Email(i) => self.emails.text(i).to_string(),
            IndicatorRef::Ip4(a) => Ipv4Addr::from(a).to_string(),
            IndicatorRef::Ip6(a) => Ipv6Addr::from(a).to_string(),
            IndicatorRef::Cidr4(i) => {
                let (n, p) = self.cidr4.net(i);
                format!("{}/{}", Ipv4Addr::from(n), p)
            }
            IndicatorRef::Cidr6(i) => {
                let (n, p) = self.cidr6.net(i);
                format!("{}/{}", Ipv6Addr::from(n), p)
            }
        }
    }

    // ----- probes used by the scanner: no allocation, results through `out` -----

    pub(crate) fn prefilter(&self) -> &crate::prefilter::Prefilter {
        &self.prefilter
    }

    /// Is some IPv4 indicator, CIDR or URL-indicator host in this address's /24?
    #[inline]
    pub(crate) fn ip4_may_hit(&self, a: u32) -> bool {
        let b = (a >> 8) as usize;
        matches!(self.ip4_filter.get(b / 64), Some(w) if w & (1 << (b % 64)) != 0)
    }

    /// May an IPv4 indicator lie in the /16 `top16` (an address's top 16 bits)? Implied by
    /// [`Self::ip4_may_hit`] for every address of that /16.
    #[inline]
    pub(crate) fn ip4_16_may_hit(&self, top16: u32) -> bool {
        let b = top16 as usize & 0xffff;
        matches!(self.ip4_filter16.get(b / 64), Some(w) if w & (1 << (b % 64)) != 0)
    }

    /// Start loading the word [`Self::ip4_may_hit`] reads for `a`.
    #[inline]
    pub(crate) fn prefetch_ip4(&self, a: u32) {
        if let Some(w) = self.ip4_filter.get((a >> 8) as usize / 64) {
            crate::byteclass::prefetch(w);
        }
    }

    #[inline]
    pub(crate) fn probe_ip4(&self, a: u32, out: &mut impl FnMut(Found)) {
        let b = (a >> 8) as usize;
        match self.ip4_filter.get(b / 64) {
            Some(w) if w & (1 << (b % 64)) != 0 => {}
            _ => return,
        }
        if let Some(&hr) = self.ip4.get(&a) {
            out(Found {
                rule: MatchRule::IpExact,
                indicator: IndicatorRef::Ip4(a),
                handles: hr,
            });
        }
        self.cidr4.lookup(a, |id, hr| {
            out(Found {
                rule: MatchRule::IpInCidr,
                indicator: IndicatorRef::Cidr4(id),
                handles: hr,
            })
        });
    }

    #[inline]
    pub(crate) fn probe_ip6(&self, a: u128, out: &mut impl FnMut(Found)) {
        if let Some(&hr) = self.ip6.get(&a) {
            out(Found {
                rule: MatchRule::IpExact,
                indicator: IndicatorRef::Ip6(a),
                handles: hr,
            });
        }
        self.cidr6.lookup(a, |id, hr| {
            out(Found {
                rule: MatchRule::IpInCidr,
                indicator: IndicatorRef::Cidr6(id),
                handles: hr,
            })
        });
    }

    pub(crate) fn probe_ip(&self, ip: IpAddr, out: &mut impl FnMut(Found)) {
        match ip {
            IpAddr::V4(a) => self.probe_ip4(u32::from(a), out),
            IpAddr::V6(a) => self.probe_ip6(u128::from(a), out),
        }
    }

    /// Label-aware suffix probe. `name` must be canonical: lower-case ASCII, no trailing dot.
    /// Returns false when the two-label suffix itself is absent (nothing under it can match),
    /// which lets callers remember the miss.
    #[inline]
    pub(crate) fn probe_domain(&self, name: &[u8], out: &mut impl FnMut(Found)) -> bool {
        if self.domains.entries.is_empty() {
            return false;
        }
        // Positions of the dots, rightmost first; the two-label suffix starts after the
        // second dot from the right.
        let mut end_dot = match memchr::memrchr(b'.', name) {
            Some(d) => d,
            None => return false,
        };
        let mut first = true;
        loop {
            let start = match memchr::memrchr(b'.', &name[..end_dot]) {
                Some(d) => d + 1,
                None => 0,
            };
            let suffix = &name[start..];
            let Some((id, e)) = self.domains.find(suffix) else {
                return !first;
            };
            first = false;
            if e.flags & FLAG_INDICATOR != 0 {
                out(Found {
                    rule: if start == 0 {
                        MatchRule::DomainExact
                    } else {
                        MatchRule::Subdomain
                    },
                    indicator: IndicatorRef::Domain(id),
                    handles: e.handles,
                });
            }
            if e.flags & FLAG_HAS_LONGER == 0 || start == 0 {
                return true;
            }
            end_dot = start - 1;
        }
    }

    /// Is there any URL indicator with this (canonical) host? Returns the host entry.
    #[inline]
    pub(crate) fn probe_url_host(&self, host: &[u8]) -> Option<Found> {
        self.url_hosts
            .find(host)
            .filter(|(_, e)| e.flags & FLAG_INDICATOR != 0)
            .map(|(id, e)| Found {
                rule: MatchRule::UrlHost,
                indicator: IndicatorRef::UrlHost(id),
                handles: e.handles,
            })
    }

    /// Could some URL indicator's host end with this two-label suffix?
    #[inline]
    pub(crate) fn url_host_suffix_present(&self, two_labels: &[u8]) -> bool {
        self.url_hosts.find(two_labels).is_some()
    }

    #[inline]
    pub(crate) fn probe_url(&self, canonical: &[u8]) -> Option<Found> {
        self.urls
            .probe_exact(canonical, MatchRule::UrlExact, IndicatorRef::Url)
    }

    /// `hex` must be lower-case.
    #[inline]
    pub(crate) fn probe_hash(&self, hex: &[u8]) -> Option<Found> {
        self.hashes
            .probe_exact(hex, MatchRule::Hash, IndicatorRef::Hash)
    }

    #[inline]
    pub(crate) fn probe_email(&self, canonical: &[u8]) -> Option<Found> {
        self.emails
            .probe_exact(canonical, MatchRule::Email, IndicatorRef::Email)
    }

    /// Match one value given as the application would (any kind, raw or defanged).
    /// Uses the same rules as the scanner; handy for ad-hoc checks and tests.
    pub fn lookup(&self, kind: Kind, raw: &str) -> Result<Vec<Match>, observable::Error> {
        let o = Observable::parse(kind, raw)?;
        Ok(self.lookup_observable(&o))
    }

    /// Match an already canonical observable.
    pub fn lookup_observable(&self, o: &Observable) -> Vec<Match> {
        let mut found = Vec::new();
        let mut push = |f: Found| found.push(f);
        match o.kind {
            Kind::Ipv4 | Kind::Ipv6 => {
                if let Ok(ip) = o.value.parse::<IpAddr>() {
                    self.probe_ip(ip, &mut push);
                }
            }
            Kind::Domain => {
                self.probe_domain(o.value.as_bytes(), &mut push);
            }
            Kind::Url => {
                let exact = self.probe_url(o.value.as_bytes());
                if let Some(f) = exact {
                    push(f);
                }
                if let Some(host) = url_host_of_canonical(&o.value) {
                    if exact.is_none() {
                        if let Some(f) = self.probe_url_host(host.as_bytes()) {
                            push(f);
                        }
                    }
                    let bare = host.trim_start_matches('[').trim_end_matches(']');
                    match bare.parse::<IpAddr>() {
                        Ok(ip) => self.probe_ip(ip, &mut push),
                        Err(_) => {
                            self.probe_domain(host.as_bytes(), &mut push);
                        }
                    }
                }
            }
            Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::Sha512 => {
                if let Some(f) = self.probe_hash(o.value.as_bytes()) {
                    push(f);
                }
            }
            Kind::Email => {
                if let Some(f) = self.probe_email(o.value.as_bytes()) {
                    push(f);
                }
                if let Some((_, d)) = o.value.rsplit_once('@') {
                    self.probe_domain(d.as_bytes(), &mut push);
                }
            }
        }
        found
            .into_iter()
            .map(|f| Match {
                rule: f.rule,
                indicator: self.indicator_text(f.indicator),
                handles: self.handles(f.handles).to_vec(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[(u32, Kind, &str)]) -> IndicatorSet {
        let mut b = IndicatorSetBuilder::new();
        for (h, k, v) in items {
            b.add(*h, *k, v).unwrap();
        }
        b.build().unwrap()
    }

    fn rules(s: &IndicatorSet, k: Kind, v: &str) -> Vec<(MatchRule, String, Vec<u32>)> {
        s.lookup(k, v)
            .unwrap()
            .into_iter()
            .map(|m| (m.rule, m.indicator, m.handles))
            .collect()
    }

    #[test]
    fn subdomain_by_labels_not_by_bytes() {
        let s = set(&[
            (1, Kind::Domain, "evil.example"),
            (2, Kind::Domain, "b.evil.example"),
        ]);
        assert_eq!(
            rules(&s, Kind::Domain, "evil.example"),
            vec![(MatchRule::DomainExact, "evil.example".into(), vec![1])]
        );
        assert_eq!(
            rules(&s, Kind::Domain, "a.b.evil.example"),
            vec![
                (MatchRule::Subdomain, "evil.example".into(), vec![1]),
                (MatchRule::Subdomain, "b.evil.example".into(), vec![2]),
            ]
        );
        assert!(rules(&s, Kind::Domain, "notevil.example").is_empty());
        assert!(rules(&s, Kind::Domain, "evil.example.com").is_empty());
        assert!(rules(&s, Kind::Domain, "other.example").is_empty());
    }

    #[test]
    fn marker_only_suffix_is_not_a_hit() {
        let s = set(&[(7, Kind::Domain, "x.y.evil.example")]);
        assert!(rules(&s, Kind::Domain, "y.evil.example").is_empty());
        assert!(rules(&s, Kind::Domain, "evil.example").is_empty());
        assert_eq!(rules(&s, Kind::Domain, "q.x.y.evil.example").len(), 1);
    }

    #[test]
    fn cidr_v4_v6_and_nesting() {
        let s = set(&[
            (1, Kind::Ipv4, "10.0.0.0/8"),
            (2, Kind::Ipv4, "10.1.0.0/16"),
            (3, Kind::Ipv4, "10.1.2.3"),
            (4, Kind::Ipv6, "2001:db8::/32"),
            (5, Kind::Ipv6, "2001:db8:1::/48"),
            (6, Kind::Ipv4, "0.0.0.0/0"),
        ]);
        let r = rules(&s, Kind::Ipv4, "10.1.2.3");
        assert_eq!(r.len(), 4, "{r:?}");
        assert!(r.contains(&(MatchRule::IpExact, "10.1.2.3".into(), vec![3])));
        assert!(r.contains(&(MatchRule::IpInCidr, "10.1.0.0/16".into(), vec![2])));
        assert_eq!(rules(&s, Kind::Ipv4, "10.2.0.1").len(), 2);
        assert_eq!(rules(&s, Kind::Ipv4, "11.0.0.0").len(), 1);
        assert_eq!(rules(&s, Kind::Ipv4, "255.255.255.255").len(), 1);
        assert_eq!(rules(&s, Kind::Ipv6, "2001:db8:1::5").len(), 2);
        assert_eq!(rules(&s, Kind::Ipv6, "2001:db8:2::5").len(), 1);
        assert!(rules(&s, Kind::Ipv6, "2001:db9::1").is_empty());
    }

    #[test]
    fn url_exact_and_host() {
        let s = set(&[
            (1, Kind::Url, "HTTP://Evil.Example:80/gate.php"),
            (2, Kind::Domain, "evil.example"),
        ]);
        let r = rules(&s, Kind::Url, "http://evil.example/gate.php");
        assert!(r.contains(&(
            MatchRule::UrlExact,
            "http://evil.example/gate.php".into(),
            vec![1]
        )));
        assert!(r.contains(&(MatchRule::DomainExact, "evil.example".into(), vec![2])));
        let r = rules(&s, Kind::Url, "http://evil.example/other");
        assert!(r.contains(&(MatchRule::UrlHost, "evil.example".into(), vec![1])));
    }

    #[test]
    fn hashes_and_handles_grouped() {
        let s = set(&[
            (1, Kind::Md5, "D41D8CD98F00B204E9800998ECF8427E"),
            (2, Kind::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
            (3, Kind::Sha256, &"ab".repeat(32)),
        ]);
        assert_eq!(
            rules(&s, Kind::Md5, "d41d8cd98f00b204e9800998ecf8427e")[0].2,
            vec![1, 2]
        );
        assert_eq!(rules(&s, Kind::Sha256, &"AB".repeat(32)).len(), 1);
        let st = s.stats();
        assert!(!s.is_empty());
        assert!(IndicatorSetBuilder::new().build().unwrap().is_empty());
        assert_eq!(st.hashes, 2);
        assert!(st.memory_bytes > 0);
    }

    #[test]
    fn url_host_markers_are_not_hits() {
        let s = set(&[(1, Kind::Url, "http://a.b.example/x")]);
        assert!(rules(&s, Kind::Url, "http://b.example/y").is_empty());
        assert_eq!(
            rules(&s, Kind::Url, "http://a.b.example/y"),
            vec![(MatchRule::UrlHost, "a.b.example".into(), vec![1])]
        );
    }
}
