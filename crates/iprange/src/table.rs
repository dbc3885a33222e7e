//! The compiled table: sorted, disjoint ranges in flat arrays, and the builder that checks
//! them.
//!
//! # Layout
//!
//! Per family, two parallel arrays: `starts` (sorted, strictly increasing `u32` or `u128`)
//! and `values` (an index into the interned [`Entry`] list, or [`NO_DATA`] for a gap). Range
//! `i` covers `starts[i] ..= starts[i + 1] - 1` (the last one runs to the end of the address
//! space). Why not also store ends: gaps are explicit `NO_DATA` rows instead, and a
//! gap costs one row while an end costs one word on *every* row; on the geo-whois table that
//! is ~8 bytes a range instead of 12. Adjacent ranges with the same entry are merged, which
//! changes no answer and shrinks the table.
//!
//! Lookups are "last start <= address" (an upper-bound binary search). For IPv4 a first-level
//! index on the top 16 bits narrows the search to the ranges that start inside that /16
//! (256 KiB, measured in `BENCH_NOTES.md`). IPv6 addresses are too sparse for a fixed-bit
//! index; there a sampled top level (every 16th start, 68 KiB for 136k rows) is searched
//! first, then one 16-row block. Keys are 64-bit when every start is /64-aligned (RIR IPv6
//! space is allocated far coarser than /64, and so are all the feeds here): half the memory
//! and single-word compares. Otherwise the full 128-bit starts are kept.
//!
//! # Order policy
//!
//! [`OrderPolicy::Strict`] (the default) wants every family's ranges in ascending order and
//! disjoint, as published feeds are; the first violation is an error naming both lines.
//! [`OrderPolicy::SortThenCheck`] accepts unsorted input (counted in
//! [`LoadStats::unsorted`]), sorts it, drops exact duplicates (same range, same entry;
//! counted in [`LoadStats::duplicates`]) and still rejects every true overlap, because a
//! table that answers two countries for one address is wrong, whatever the order.
//! [`OrderPolicy::NarrowestWins`] accepts overlaps and resolves them by longest-prefix
//! match; it is the policy for merged tables such as ip-location-db's
//! `geo-whois-asn-country`, which has thousands of nested ranges by construction.

use crate::country::Country;
use crate::error::{LineError, LoadError, Location};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `values[i] == NO_DATA` marks a gap: addresses there have no entry.
pub const NO_DATA: u32 = u32::MAX;

/// What a range maps to. Country tables fill `country`; ASN tables fill `asn` and `org`;
/// iptoasn fills all three. Entries are interned: a table holds each distinct entry once and
/// a range refers to it by index, so the org name of an AS with 2,000 ranges is stored once.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Entry {
    country: Option<Country>,
    asn: Option<u32>,
    org: Option<Box<str>>,
}

impl Entry {
    /// An entry with any of the three parts. An empty org is stored as `None`.
    pub fn new(country: Option<Country>, asn: Option<u32>, org: Option<&str>) -> Entry {
        Entry {
            country,
            asn,
            org: org.filter(|o| !o.is_empty()).map(Box::from),
        }
    }

    /// A country-only entry.
    pub fn with_country(country: Country) -> Entry {
        Entry::new(Some(country), None, None)
    }

    /// The country, if the table has one for this range.
    pub fn country(&self) -> Option<Country> {
        self.country
    }

    /// The autonomous system number, if the table has one.
    pub fn asn(&self) -> Option<u32> {
        self.asn
    }

    /// The AS organisation / network name, if the table has one.
    pub fn org(&self) -> Option<&str> {
        self.org.as_deref()
    }
}

/// Which out-of-order input the builder accepts. See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OrderPolicy {
    /// Ranges must come in ascending, disjoint order per family. The default: published
    /// tables are sorted, so disorder means a damaged or wrong file.
    #[default]
    Strict,
    /// Sort first; drop exact duplicates; still reject real overlaps.
    SortThenCheck,
    /// Sort first, then resolve overlaps: each address gets the entry of the *narrowest*
    /// range that contains it (ties: the later input line). This is longest-prefix-match,
    /// the rule routing uses, and the one that makes merged tables right: ip-location-db's
    /// `geo-whois-asn-country` lays GeoFeed ranges (specific) over WHOIS blocks (broad)
    /// without cutting the broad block, so 6,825 of its 334,373 rows overlap an earlier
    /// row. Overlapping rows are counted in [`LoadStats::overlaps`].
    NarrowestWins,
}

impl OrderPolicy {
    /// Every policy with its command-line name, for `--help` texts and value parsers.
    pub const NAMES: [(&'static str, OrderPolicy); 3] = [
        ("strict", OrderPolicy::Strict),
        ("sort-then-check", OrderPolicy::SortThenCheck),
        ("narrowest-wins", OrderPolicy::NarrowestWins),
    ];

    /// The command-line name (`strict`, `sort-then-check`, `narrowest-wins`).
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, p)| *p == self)
            .expect("all listed")
            .0
    }
}

impl std::fmt::Display for OrderPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for OrderPolicy {
    type Err = String;
    /// Parse a command-line name, so a CLI can take `--ip-table-policy narrowest-wins`.
    fn from_str(s: &str) -> Result<OrderPolicy, String> {
        Self::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                format!("unknown order policy {s:?}; expected strict, sort-then-check or narrowest-wins")
            })
    }
}

/// Counters from loading, so a caller can log what was skipped and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Lines read, including comments and skipped rows.
    pub lines: u64,
    /// Ranges accepted.
    pub ranges: u64,
    /// Rows skipped because they carry no data: ASN 0 (iptoasn "Not routed"), an empty
    /// country or `ZZ` in a country-only row, an empty-country gap row in hex-delta files.
    pub no_data: u64,
    /// Rows that started before the previous row (counted when the policy is not `Strict`).
    pub unsorted: u64,
    /// Exact duplicate rows dropped (only with `SortThenCheck`).
    pub duplicates: u64,
    /// Rows that overlap a row before them in address order (only with `NarrowestWins`).
    pub overlaps: u64,
}

/// An address type the table can hold: `u32` for IPv4, `u128` for IPv6.
pub(crate) trait Addr: Copy + Ord + std::fmt::Debug {
    const MAX: Self;
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Self;
    fn to_ip(self) -> IpAddr;
}

impl Addr for u32 {
    const MAX: Self = u32::MAX;
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Self {
        self - 1
    }
    fn to_ip(self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self))
    }
}

impl Addr for u64 {
    const MAX: Self = u64::MAX;
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Self {
        self - 1
    }
    fn to_ip(self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(u128::from(self) << 64))
    }
}

impl Addr for u128 {
    const MAX: Self = u128::MAX;
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Self {
        self - 1
    }
    fn to_ip(self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(self))
    }
}

/// One family's compiled ranges. Invariant: `starts` strictly increasing, `starts.len() ==
/// values.len()`, no two consecutive rows with the same value.
#[derive(Clone, Debug, Default)]
struct Ranges<A> {
    starts: Vec<A>,
    values: Vec<u32>,
}

impl<A: Addr> Ranges<A> {
    /// Index of the row holding `a`: the last row whose start is <= `a`.
    #[inline]
    fn find(&self, a: A) -> Option<usize> {
        self.starts.partition_point(|&s| s <= a).checked_sub(1)
    }

    /// Every [`SAMPLE`]th start, the top level for [`Ranges::find_sampled`].
    fn sample(&self) -> Vec<A> {
        self.starts.iter().step_by(SAMPLE).copied().collect()
    }

    /// Same answer as [`Ranges::find`], in two steps: a binary search over the sampled
    /// starts (small enough to stay in cache), then one inside a block of `SAMPLE` rows.
    #[inline]
    fn find_sampled(&self, top: &[A], a: A) -> Option<usize> {
        let block = top.partition_point(|&s| s <= a).checked_sub(1)?;
        let lo = block * SAMPLE;
        let hi = (lo + SAMPLE).min(self.starts.len());
        // starts[lo] == top[block] <= a, so the result is at least lo.
        Some(lo + self.starts[lo..hi].partition_point(|&s| s <= a) - 1)
    }

    fn iter(&self) -> impl Iterator<Item = (A, A, u32)> + '_ {
        (0..self.starts.len()).map(move |i| {
            let end = match self.starts.get(i + 1) {
                Some(&next) => next.pred(),
                None => A::MAX,
            };
            (self.starts[i], end, self.values[i])
        })
    }
}

/// A compiled, immutable IP range table. Cheap to share (`Arc<IpTable>`); lookups take
/// `&self` and never allocate.
#[derive(Clone, Debug, Default)]
pub struct IpTable {
    v4: Ranges<u32>,
    /// `v4_index[h]` = number of v4 rows whose start is below `h << 16` (h in 0..=65536).
    /// Empty when there are no v4 rows.
    v4_index: Vec<u32>,
    v6: V6Ranges,
    entries: Vec<Entry>,
    stats: LoadStats,
}

/// Rows per block under the sampled top level of the IPv6 rows: 136k rows give a 68 KiB
/// top level (fits L2), and the block search touches one or two cache lines.
const SAMPLE: usize = 16;

/// IPv6 rows: `Coarse` holds the high 64 bits of each start when all starts are
/// /64-aligned (so `start <= ip` iff `start_hi <= ip_hi`), `Full` the whole address.
#[derive(Clone, Debug)]
enum V6Ranges {
    /// Rows and their sampled top level (see [`Ranges::find_sampled`]).
    Coarse(Ranges<u64>, Vec<u64>),
    Full(Ranges<u128>, Vec<u128>),
}

impl Default for V6Ranges {
    fn default() -> Self {
        V6Ranges::Coarse(Ranges::default(), Vec::new())
    }
}

impl V6Ranges {
    fn from_full(r: Ranges<u128>) -> V6Ranges {
        if r.starts.iter().all(|&s| s as u64 == 0) {
            let r = Ranges {
                starts: r.starts.iter().map(|&s| (s >> 64) as u64).collect(),
                values: r.values,
            };
            let top = r.sample();
            V6Ranges::Coarse(r, top)
        } else {
            let top = r.sample();
            V6Ranges::Full(r, top)
        }
    }

    #[inline]
    fn find_value(&self, a: u128) -> Option<u32> {
        match self {
            V6Ranges::Coarse(r, top) => r.find_sampled(top, (a >> 64) as u64).map(|i| r.values[i]),
            V6Ranges::Full(r, top) => r.find_sampled(top, a).map(|i| r.values[i]),
        }
    }

    fn len(&self) -> usize {
        match self {
            V6Ranges::Coarse(r, _) => r.starts.len(),
            V6Ranges::Full(r, _) => r.starts.len(),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            V6Ranges::Coarse(r, top) => {
                (r.starts.capacity() + top.capacity()) * 8 + r.values.capacity() * 4
            }
            V6Ranges::Full(r, top) => {
                (r.starts.capacity() + top.capacity()) * 16 + r.values.capacity() * 4
            }
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = (u128, u128, u32)> + '_> {
        match self {
            V6Ranges::Coarse(r, _) => Box::new(r.iter().map(|(s, e, v)| {
                let s = u128::from(s) << 64;
                let e = (u128::from(e) << 64) | u128::from(u64::MAX);
                (s, e, v)
            })),
            V6Ranges::Full(r, _) => Box::new(r.iter()),
        }
    }
}

impl IpTable {
    /// The entry for `ip`, or `None` if the table has no data for it.
    ///
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is looked up as the IPv4 address it
    /// carries: that is the address the host actually has, and IPv6 tables do not cover it.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> Option<&Entry> {
        match ip {
            IpAddr::V4(v4) => self.lookup_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.lookup_v4(v4),
                None => self.lookup_v6(v6),
            },
        }
    }

    /// The entry for an IPv4 address.
    #[inline]
    pub fn lookup_v4(&self, ip: Ipv4Addr) -> Option<&Entry> {
        let a = u32::from(ip);
        if self.v4_index.is_empty() {
            return None;
        }
        let h = (a >> 16) as usize;
        let lo = self.v4_index[h] as usize;
        let hi = self.v4_index[h + 1] as usize;
        // Rows starting inside this /16 are lo..hi; the answer is the last one <= a, or the
        // row before lo (which started in an earlier /16 and runs into this one).
        let p = lo + self.v4.starts[lo..hi].partition_point(|&s| s <= a);
        let row = p.checked_sub(1)?;
        self.entry_at(self.v4.values[row])
    }

    /// The entry for an IPv6 address (no IPv4-mapped special case: see [`IpTable::lookup`]).
    #[inline]
    pub fn lookup_v6(&self, ip: Ipv6Addr) -> Option<&Entry> {
        self.entry_at(self.v6.find_value(u128::from(ip))?)
    }

    /// Plain binary search over the v4 rows without the /16 index. Kept for the benchmark
    /// and for tests that check both paths agree; use [`IpTable::lookup`].
    #[doc(hidden)]
    pub fn lookup_v4_unindexed(&self, ip: Ipv4Addr) -> Option<&Entry> {
        let row = self.v4.find(u32::from(ip))?;
        self.entry_at(self.v4.values[row])
    }

    /// IPv6 lookup without the sampled top level. Kept for the benchmark; use
    /// [`IpTable::lookup`].
    #[doc(hidden)]
    pub fn lookup_v6_unsampled(&self, ip: Ipv6Addr) -> Option<&Entry> {
        let a = u128::from(ip);
        let v = match &self.v6 {
            V6Ranges::Coarse(r, _) => r.find((a >> 64) as u64).map(|i| r.values[i]),
            V6Ranges::Full(r, _) => r.find(a).map(|i| r.values[i]),
        };
        self.entry_at(v?)
    }

    #[inline]
    fn entry_at(&self, v: u32) -> Option<&Entry> {
        if v == NO_DATA {
            None
        } else {
            Some(&self.entries[v as usize])
        }
    }

    /// Every range with data, as `(first, last, entry)`, IPv4 first, in address order.
    /// Adjacent input ranges with equal entries come out merged.
    pub fn ranges(&self) -> impl Iterator<Item = (IpAddr, IpAddr, &Entry)> + '_ {
        let v4 = self.v4.iter().map(|(s, e, v)| (s.to_ip(), e.to_ip(), v));
        let v6 = self.v6.iter().map(|(s, e, v)| (s.to_ip(), e.to_ip(), v));
        v4.chain(v6)
            .filter(|&(_, _, v)| v != NO_DATA)
            .map(|(s, e, v)| (s, e, &self.entries[v as usize]))
    }

    /// Number of compiled IPv4 rows (ranges with data plus gap rows).
    pub fn v4_rows(&self) -> usize {
        self.v4.starts.len()
    }

    /// Number of compiled IPv6 rows (ranges with data plus gap rows).
    pub fn v6_rows(&self) -> usize {
        self.v6.len()
    }

    /// The distinct entries (countries, or ASN + org pairs).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// What loading read, accepted and skipped.
    pub fn stats(&self) -> &LoadStats {
        &self.stats
    }

    /// Approximate heap bytes held by the table (arrays, index, entries and org names).
    pub fn heap_bytes(&self) -> usize {
        self.v4.starts.capacity() * 4
            + self.v4.values.capacity() * 4
            + self.v4_index.capacity() * 4
            + self.v6.heap_bytes()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self
                .entries
                .iter()
                .map(|e| e.org.as_ref().map_or(0, |o| o.len()))
                .sum::<usize>()
    }
}

/// FNV-1a for the intern map: keys are short (a country, an ASN, an org name) and built
/// from trusted table rows, so SipHash's DoS resistance buys nothing and costs build time.
#[derive(Clone, Copy, Debug, Default)]
struct BuildFnv;

struct Fnv(u64);

impl std::hash::BuildHasher for BuildFnv {
    type Hasher = Fnv;
    fn build_hasher(&self) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// One accepted input range before compilation.
#[derive(Clone, Copy, Debug)]
struct Rec<A> {
    start: A,
    end: A,
    value: u32,
    file: u32,
    line: u64,
}

/// Collects ranges from one or more inputs, checks them, and compiles an [`IpTable`].
///
/// The usual way in is [`TableBuilder::add_path`] / [`TableBuilder::add_reader`] (see
/// `load`); [`TableBuilder::insert`] adds a range from code. Loading an IPv4 and an IPv6
/// file into one builder gives one table for both families.
#[derive(Debug, Default)]
pub struct TableBuilder {
    policy: OrderPolicy,
    files: Vec<String>,
    v4: Vec<Rec<u32>>,
    v6: Vec<Rec<u128>>,
    entries: Vec<Entry>,
    interned: HashMap<Entry, u32, BuildFnv>,
    pub(crate) stats: LoadStats,
    inserted: u64,
}

impl TableBuilder {
    /// A builder with the strict order policy.
    pub fn new() -> TableBuilder {
        TableBuilder::default()
    }

    /// Choose how out-of-order input is treated (default [`OrderPolicy::Strict`]).
    pub fn order_policy(mut self, policy: OrderPolicy) -> TableBuilder {
        self.policy = policy;
        self
    }

    /// Add one range from code. Errors are located at `<insert>:N`, N counting calls.
    pub fn insert(&mut self, start: IpAddr, end: IpAddr, entry: Entry) -> Result<(), LoadError> {
        self.inserted += 1;
        let line = self.inserted;
        let file = self.file_id("<insert>");
        self.push(file, line, start, end, entry)
            .map_err(|error| LoadError::Line {
                at: Location {
                    file: "<insert>".into(),
                    line,
                },
                error,
            })
    }

    pub(crate) fn file_id(&mut self, name: &str) -> u32 {
        if let Some(i) = self.files.iter().position(|f| f == name) {
            return i as u32;
        }
        self.files.push(name.to_string());
        (self.files.len() - 1) as u32
    }

    fn location(&self, file: u32, line: u64) -> Location {
        Location {
            file: self.files[file as usize].clone(),
            line,
        }
    }

    fn intern(&mut self, entry: Entry) -> u32 {
        if let Some(&i) = self.interned.get(&entry) {
            return i;
        }
        let i = self.entries.len() as u32;
        assert!(i < NO_DATA, "more than 2^32-1 distinct entries");
        self.entries.push(entry.clone());
        self.interned.insert(entry, i);
        i
    }

    /// Check one range and queue it. The family and start <= end checks always run; the
    /// order check runs here under `Strict` and in `build` under the other policies.
    pub(crate) fn push(
        &mut self,
        file: u32,
        line: u64,
        start: IpAddr,
        end: IpAddr,
        entry: Entry,
    ) -> Result<(), LineError> {
        match (start, end) {
            (IpAddr::V4(s), IpAddr::V4(e)) => {
                let (s, e) = (u32::from(s), u32::from(e));
                self.push_family(file, line, s, e, entry, |b| &mut b.v4, start, end)
            }
            (IpAddr::V6(s), IpAddr::V6(e)) => {
                let (s, e) = (u128::from(s), u128::from(e));
                self.push_family(file, line, s, e, entry, |b| &mut b.v6, start, end)
            }
            _ => Err(LineError::MixedFamilies {
                start: start.to_string(),
                end: end.to_string(),
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_family<A: Addr>(
        &mut self,
        file: u32,
        line: u64,
        s: A,
        e: A,
        entry: Entry,
        recs: fn(&mut TableBuilder) -> &mut Vec<Rec<A>>,
        start: IpAddr,
        end: IpAddr,
    ) -> Result<(), LineError> {
        if s > e {
            return Err(LineError::StartAfterEnd {
                start: start.to_string(),
                end: end.to_string(),
            });
        }
        if let Some(prev) = recs(self).last().copied() {
            if s <= prev.end {
                if s < prev.start {
                    if self.policy == OrderPolicy::Strict {
                        return Err(LineError::Unsorted {
                            previous: self.location(prev.file, prev.line),
                        });
                    }
                    self.stats.unsorted += 1;
                } else if self.policy == OrderPolicy::Strict {
                    return Err(LineError::Overlap {
                        other: self.location(prev.file, prev.line),
                    });
                }
            }
        }
        let value = self.intern(entry);
        recs(self).push(Rec {
            start: s,
            end: e,
            value,
            file,
            line,
        });
        self.stats.ranges += 1;
        Ok(())
    }

    /// Check order (under `SortThenCheck`), resolve overlaps (under `NarrowestWins`) and
    /// compile the table.
    pub fn build(mut self) -> Result<IpTable, LoadError> {
        let mut v4 = std::mem::take(&mut self.v4);
        let mut v6 = std::mem::take(&mut self.v6);
        let v4 = self.compile(&mut v4)?;
        let v6 = self.compile(&mut v6)?;
        let v4_index = build_v4_index(&v4.starts);
        let v6 = V6Ranges::from_full(v6);
        Ok(IpTable {
            v4,
            v4_index,
            v6,
            entries: self.entries,
            stats: self.stats,
        })
    }

    fn compile<A: Addr + SpanLen>(
        &mut self,
        recs: &mut Vec<Rec<A>>,
    ) -> Result<Ranges<A>, LoadError> {
        if self.policy == OrderPolicy::SortThenCheck {
            // Stable: among equal starts the earlier line stays first, so errors name lines
            // in file order.
            recs.sort_by_key(|r| (r.start, r.end));
            let mut kept: Vec<Rec<A>> = Vec::with_capacity(recs.len());
            for r in recs.iter() {
                if let Some(prev) = kept.last() {
                    if r.start <= prev.end {
                        if r.start == prev.start && r.end == prev.end && r.value == prev.value {
                            self.stats.duplicates += 1;
                            self.stats.ranges -= 1;
                            continue;
                        }
                        return Err(LoadError::Line {
                            at: self.location(r.file, r.line),
                            error: LineError::Overlap {
                                other: self.location(prev.file, prev.line),
                            },
                        });
                    }
                }
                kept.push(*r);
            }
            *recs = kept;
        } else if self.policy == OrderPolicy::NarrowestWins {
            recs.sort_by_key(|r| (r.start, r.end));
            // Split into clusters of transitively overlapping records; only clusters of two
            // or more need painting (6,825 rows of 334,373 in geo-whois).
            let mut out: Vec<Rec<A>> = Vec::with_capacity(recs.len());
            let mut i = 0;
            while i < recs.len() {
                let mut j = i + 1;
                let mut max_end = recs[i].end;
                while j < recs.len() && recs[j].start <= max_end {
                    max_end = max_end.max(recs[j].end);
                    j += 1;
                }
                if j - i == 1 {
                    out.push(recs[i]);
                } else {
                    self.stats.overlaps += (j - i - 1) as u64;
                    out.extend(paint_narrowest(&recs[i..j]));
                }
                i = j;
            }
            *recs = out;
        }
        // Invariant from here: recs sorted and disjoint.
        let mut out = Ranges {
            starts: Vec::with_capacity(recs.len() + recs.len() / 4),
            values: Vec::with_capacity(recs.len() + recs.len() / 4),
        };
        // `next`: first address not yet covered, None once the space is exhausted.
        let mut next: Option<A> = None;
        let mut started = false;
        for r in recs.iter() {
            if started {
                let n = next.expect("disjoint ranges cannot follow one ending at MAX");
                if n < r.start {
                    push_row(&mut out, n, NO_DATA);
                }
            }
            push_row(&mut out, r.start, r.value);
            started = true;
            next = r.end.succ();
        }
        if let (true, Some(n)) = (started, next) {
            push_row(&mut out, n, NO_DATA);
        }
        out.starts.shrink_to_fit();
        out.values.shrink_to_fit();
        Ok(out)
    }
}

/// Flatten overlapping records into disjoint pieces where every address carries the value
/// of the narrowest record containing it (ties: the later line).
///
/// How: paint the records onto an interval map from widest to narrowest (ties in line
/// order), each paint cutting what it covers out of the pieces already there. Narrower
/// records paint later and so win. At most two pieces are added per record, so this is
/// O(n log n).
fn paint_narrowest<A: Addr + SpanLen>(recs: &[Rec<A>]) -> Vec<Rec<A>> {
    use std::collections::BTreeMap;
    let mut order: Vec<&Rec<A>> = recs.iter().collect();
    order.sort_by(|a, b| {
        b.end
            .span_from(b.start)
            .cmp(&a.end.span_from(a.start))
            .then((a.file, a.line).cmp(&(b.file, b.line)))
    });
    // start -> piece; pieces are disjoint.
    let mut map: BTreeMap<A, Rec<A>> = BTreeMap::new();
    for r in order {
        let mut hit: Vec<A> = Vec::new();
        if let Some((&ps, p)) = map.range(..r.start).next_back() {
            if p.end >= r.start {
                hit.push(ps);
            }
        }
        hit.extend(map.range(r.start..=r.end).map(|(&k, _)| k));
        for k in hit {
            let p = map.remove(&k).expect("key just seen");
            if p.start < r.start {
                map.insert(
                    p.start,
                    Rec {
                        end: r.start.pred(),
                        ..p
                    },
                );
            }
            if p.end > r.end {
                let s = r.end.succ().expect("p.end > r.end");
                map.insert(s, Rec { start: s, ..p });
            }
        }
        map.insert(r.start, *r);
    }
    map.into_values().collect()
}

/// Width of a range, for ordering by specificity.
pub(crate) trait SpanLen {
    fn span_from(self, start: Self) -> u128;
}
impl SpanLen for u32 {
    fn span_from(self, start: Self) -> u128 {
        u128::from(self - start)
    }
}
impl SpanLen for u128 {
    fn span_from(self, start: Self) -> u128 {
        self - start
    }
}

/// Append a row, merging it into the previous one when it carries the same value (the
/// previous row then simply extends further; no answer changes).
fn push_row<A: Addr>(out: &mut Ranges<A>, start: A, value: u32) {
    if out.values.last() == Some(&value) {
        return;
    }
    out.starts.push(start);
    out.values.push(value);
}

fn build_v4_index(starts: &[u32]) -> Vec<u32> {
    if starts.is_empty() {
        return Vec::new();
    }
    let mut index = Vec::with_capacity(65537);
    let mut i = 0usize;
    for h in 0..=65536u64 {
        let bound = h << 16;
        while i < starts.len() && u64::from(starts[i]) < bound {
            i += 1;
        }
        index.push(i as u32);
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::country;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
    fn cc(s: &str) -> Entry {
        Entry::with_country(country::parse(s).unwrap())
    }
    fn code(t: &IpTable, a: &str) -> Option<String> {
        let r = t
            .lookup(ip(a))
            .and_then(|e| e.country())
            .map(|c| c.to_string());
        if let IpAddr::V4(v4) = ip(a) {
            let u = t
                .lookup_v4_unindexed(v4)
                .and_then(|e| e.country())
                .map(|c| c.to_string());
            assert_eq!(r, u, "indexed and plain v4 lookups disagree on {a}");
        }
        r
    }

    #[test]
    fn boundaries_and_gaps_v4() {
        let mut b = TableBuilder::new();
        b.insert(ip("1.0.0.0"), ip("1.0.0.255"), cc("AU")).unwrap();
        b.insert(ip("1.0.1.0"), ip("1.0.3.255"), cc("CN")).unwrap();
        b.insert(ip("1.0.8.0"), ip("1.0.15.255"), cc("CN")).unwrap();
        b.insert(ip("9.255.255.255"), ip("10.0.0.0"), cc("DE"))
            .unwrap();
        b.insert(ip("255.255.255.255"), ip("255.255.255.255"), cc("US"))
            .unwrap();
        let t = b.build().unwrap();
        assert_eq!(code(&t, "0.0.0.0"), None);
        assert_eq!(code(&t, "0.255.255.255"), None);
        assert_eq!(code(&t, "1.0.0.0").as_deref(), Some("AU"));
        assert_eq!(code(&t, "1.0.0.255").as_deref(), Some("AU"));
        assert_eq!(code(&t, "1.0.1.0").as_deref(), Some("CN"));
        assert_eq!(code(&t, "1.0.3.255").as_deref(), Some("CN"));
        assert_eq!(code(&t, "1.0.4.0"), None);
        assert_eq!(code(&t, "1.0.7.255"), None);
        assert_eq!(code(&t, "1.0.8.0").as_deref(), Some("CN"));
        assert_eq!(code(&t, "1.0.15.255").as_deref(), Some("CN"));
        assert_eq!(code(&t, "1.0.16.0"), None);
        // A range that crosses a /16 (and a /8) boundary.
        assert_eq!(code(&t, "9.255.255.254"), None);
        assert_eq!(code(&t, "9.255.255.255").as_deref(), Some("DE"));
        assert_eq!(code(&t, "10.0.0.0").as_deref(), Some("DE"));
        assert_eq!(code(&t, "10.0.0.1"), None);
        assert_eq!(code(&t, "255.255.255.254"), None);
        assert_eq!(code(&t, "255.255.255.255").as_deref(), Some("US"));
        // IPv4-mapped IPv6 goes to the v4 rows; v6 has none.
        assert_eq!(code(&t, "::ffff:1.0.0.7").as_deref(), Some("AU"));
        assert_eq!(code(&t, "2001:db8::1"), None);
        assert_eq!(t.entries().len(), 4, "entries are interned");
        let ranges: Vec<_> = t.ranges().map(|(s, e, _)| (s, e)).collect();
        assert_eq!(ranges.len(), 5);
        assert_eq!(ranges[3], (ip("9.255.255.255"), ip("10.0.0.0")));
    }

    #[test]
    fn boundaries_and_gaps_v6_and_merge() {
        let mut b = TableBuilder::new();
        b.insert(ip("::"), ip("::ff"), cc("NL")).unwrap();
        b.insert(ip("::100"), ip("::1ff"), cc("NL")).unwrap(); // adjacent, same: merged
        b.insert(ip("2001:db8::"), ip("2001:db8::ffff"), cc("JP"))
            .unwrap();
        b.insert(
            ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:0"),
            ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            cc("BR"),
        )
        .unwrap();
        let t = b.build().unwrap();
        assert_eq!(code(&t, "::").as_deref(), Some("NL"));
        assert_eq!(code(&t, "::1ff").as_deref(), Some("NL"));
        assert_eq!(code(&t, "::200"), None);
        assert_eq!(code(&t, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"), None);
        assert_eq!(code(&t, "2001:db8::").as_deref(), Some("JP"));
        assert_eq!(code(&t, "2001:db8::ffff").as_deref(), Some("JP"));
        assert_eq!(code(&t, "2001:db8::1:0"), None);
        assert_eq!(
            code(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").as_deref(),
            Some("BR")
        );
        assert_eq!(code(&t, "1.2.3.4"), None);
        // rows: NL(merged), gap, JP, gap, BR
        assert_eq!(t.v6_rows(), 5);
        assert!(
            matches!(t.v6, V6Ranges::Full(..)),
            "::100 is not /64-aligned"
        );
        let all: Vec<_> = t.ranges().map(|(s, e, _)| (s, e)).collect();
        assert_eq!(all[0], (ip("::"), ip("::1ff")));
    }

    #[test]
    fn v6_coarse_layout() {
        let mut b = TableBuilder::new();
        b.insert(
            ip("2001:db8::"),
            ip("2001:db8:0:ffff:ffff:ffff:ffff:ffff"),
            cc("JP"),
        )
        .unwrap();
        b.insert(
            ip("2001:db8:1::"),
            ip("2001:db8:1:0:ffff:ffff:ffff:ffff"),
            cc("KR"),
        )
        .unwrap();
        let t = b.build().unwrap();
        assert!(matches!(t.v6, V6Ranges::Coarse(..)));
        assert_eq!(code(&t, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"), None);
        assert_eq!(code(&t, "2001:db8::").as_deref(), Some("JP"));
        assert_eq!(
            code(&t, "2001:db8:0:ffff:ffff:ffff:ffff:ffff").as_deref(),
            Some("JP")
        );
        assert_eq!(code(&t, "2001:db8:1::").as_deref(), Some("KR"));
        assert_eq!(
            code(&t, "2001:db8:1:0:ffff:ffff:ffff:ffff").as_deref(),
            Some("KR")
        );
        assert_eq!(code(&t, "2001:db8:1:1::"), None);
        assert_eq!(code(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), None);
        let all: Vec<_> = t.ranges().map(|(s, e, _)| (s, e)).collect();
        assert_eq!(
            all,
            [
                (ip("2001:db8::"), ip("2001:db8:0:ffff:ffff:ffff:ffff:ffff")),
                (ip("2001:db8:1::"), ip("2001:db8:1:0:ffff:ffff:ffff:ffff"))
            ]
        );
        assert_eq!(t.v4_rows(), 0);
    }

    #[test]
    fn strict_rejects_unsorted_and_overlap() {
        let mut b = TableBuilder::new();
        b.insert(ip("1.0.1.0"), ip("1.0.1.255"), cc("CN")).unwrap();
        let e = b
            .insert(ip("1.0.0.0"), ip("1.0.0.255"), cc("AU"))
            .unwrap_err();
        assert!(
            matches!(e.line_error(), Some(LineError::Unsorted { previous }) if previous.line == 1)
        );
        assert_eq!(e.location().unwrap().line, 2);
        let e = b
            .insert(ip("1.0.1.255"), ip("1.0.2.0"), cc("AU"))
            .unwrap_err();
        assert!(matches!(e.line_error(), Some(LineError::Overlap { other }) if other.line == 1));
        assert!(e
            .to_string()
            .starts_with("<insert>:3: range overlaps the range at <insert>:1"));
    }

    #[test]
    fn sort_then_check() {
        let mut b = TableBuilder::new().order_policy(OrderPolicy::SortThenCheck);
        b.insert(ip("1.0.1.0"), ip("1.0.1.255"), cc("CN")).unwrap();
        b.insert(ip("1.0.0.0"), ip("1.0.0.255"), cc("AU")).unwrap();
        b.insert(ip("1.0.1.0"), ip("1.0.1.255"), cc("CN")).unwrap();
        let t = b.build().unwrap();
        assert_eq!(t.stats().unsorted, 1);
        assert_eq!(t.stats().duplicates, 1);
        assert_eq!(t.stats().ranges, 2);
        assert_eq!(code(&t, "1.0.0.9").as_deref(), Some("AU"));
        assert_eq!(code(&t, "1.0.1.9").as_deref(), Some("CN"));

        let mut b = TableBuilder::new().order_policy(OrderPolicy::SortThenCheck);
        b.insert(ip("1.0.1.0"), ip("1.0.1.255"), cc("CN")).unwrap();
        b.insert(ip("1.0.0.0"), ip("1.0.1.0"), cc("AU")).unwrap();
        let e = b.build().unwrap_err();
        assert_eq!(e.location().unwrap().line, 1);
        assert!(matches!(e.line_error(), Some(LineError::Overlap { other }) if other.line == 2));
        // Same range, different entry: a real conflict, not a duplicate.
        let mut b = TableBuilder::new().order_policy(OrderPolicy::SortThenCheck);
        b.insert(ip("1.0.0.0"), ip("1.0.0.255"), cc("CN")).unwrap();
        b.insert(ip("1.0.0.0"), ip("1.0.0.255"), cc("AU")).unwrap();
        assert!(b.build().is_err());
    }

    #[test]
    fn narrowest_wins() {
        let mut b = TableBuilder::new().order_policy(OrderPolicy::NarrowestWins);
        // geo-whois shape: broad block, a nested /32, the block's tail repeated.
        b.insert(ip("2.58.196.0"), ip("2.58.197.255"), cc("DE"))
            .unwrap();
        b.insert(ip("2.58.197.15"), ip("2.58.197.15"), cc("BE"))
            .unwrap();
        b.insert(ip("2.58.197.16"), ip("2.58.197.255"), cc("DE"))
            .unwrap();
        // nested child that ends early: the parent shows through again after it
        b.insert(ip("5.0.0.0"), ip("5.0.0.255"), cc("FR")).unwrap();
        b.insert(ip("5.0.0.16"), ip("5.0.0.31"), cc("IT")).unwrap();
        // partial overlap: narrower wins in the shared part
        b.insert(ip("6.0.0.0"), ip("6.0.0.99"), cc("ES")).unwrap();
        b.insert(ip("6.0.0.50"), ip("6.0.0.119"), cc("US")).unwrap();
        // same range twice, different entries: later line wins
        b.insert(ip("7.0.0.0"), ip("7.0.0.9"), cc("JP")).unwrap();
        b.insert(ip("7.0.0.0"), ip("7.0.0.9"), cc("KR")).unwrap();
        let t = b.build().unwrap();
        assert_eq!(t.stats().overlaps, 5);
        for (a, want) in [
            ("2.58.196.0", Some("DE")),
            ("2.58.197.14", Some("DE")),
            ("2.58.197.15", Some("BE")),
            ("2.58.197.16", Some("DE")),
            ("2.58.197.255", Some("DE")),
            ("2.58.198.0", None),
            ("5.0.0.15", Some("FR")),
            ("5.0.0.16", Some("IT")),
            ("5.0.0.31", Some("IT")),
            ("5.0.0.32", Some("FR")),
            ("5.0.0.255", Some("FR")),
            ("5.0.1.0", None),
            ("6.0.0.49", Some("ES")),
            ("6.0.0.50", Some("US")),
            ("6.0.0.119", Some("US")),
            ("6.0.0.120", None),
            ("7.0.0.5", Some("KR")),
        ] {
            assert_eq!(code(&t, a).as_deref(), want, "{a}");
        }
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Random overlapping ranges in a small corner of the space, against brute force:
    /// for every address, the narrowest containing range, ties to the later insert.
    #[test]
    fn narrowest_wins_matches_brute_force() {
        let codes = ["DE", "FR", "NL", "BE", "IT"];
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for round in 0..300 {
            let n = 1 + rng.below(12) as usize;
            let mut rows = Vec::new();
            for _ in 0..n {
                let s = rng.below(200) as u32;
                let len = if rng.below(3) == 0 {
                    rng.below(4)
                } else {
                    rng.below(120)
                } as u32;
                rows.push((s, s + len, codes[rng.below(5) as usize]));
            }
            if round % 2 == 0 {
                rows.sort_by_key(|r| r.0); // also exercise already-sorted input
            }
            let mut b = TableBuilder::new().order_policy(OrderPolicy::NarrowestWins);
            for &(s, e, c) in &rows {
                b.insert(
                    IpAddr::V4(Ipv4Addr::from(s + 0x0a00_0000)),
                    IpAddr::V4(Ipv4Addr::from(e + 0x0a00_0000)),
                    cc(c),
                )
                .unwrap();
            }
            let t = b.build().unwrap();
            for a in 0..340u32 {
                let want = rows
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.0 <= a && a <= r.1)
                    .min_by_key(|(i, r)| (r.1 - r.0, std::cmp::Reverse(*i)))
                    .map(|(_, r)| r.2.to_string());
                let ipa = Ipv4Addr::from(a + 0x0a00_0000).to_string();
                assert_eq!(code(&t, &ipa), want, "round {round} addr {a} rows {rows:?}");
            }
        }
    }

    #[test]
    fn family_and_order_of_ends() {
        let mut b = TableBuilder::new();
        let e = b.insert(ip("1.0.0.0"), ip("::1"), cc("CN")).unwrap_err();
        assert!(matches!(
            e.line_error(),
            Some(LineError::MixedFamilies { .. })
        ));
        let e = b
            .insert(ip("1.0.0.2"), ip("1.0.0.1"), cc("CN"))
            .unwrap_err();
        assert!(matches!(
            e.line_error(),
            Some(LineError::StartAfterEnd { .. })
        ));
        // v4 and v6 rows are ordered independently.
        b.insert(ip("2001::"), ip("2001::1"), cc("CN")).unwrap();
        b.insert(ip("1.0.0.0"), ip("1.0.0.1"), cc("CN")).unwrap();
        b.insert(ip("::1"), ip("::1"), cc("CN")).unwrap_err();
    }

    #[test]
    fn sampled_find_agrees_with_plain() {
        let mut rng = Rng(99);
        for n in [1usize, 2, 15, 16, 17, 31, 32, 33, 200] {
            let mut starts: Vec<u64> = (0..n).map(|_| rng.below(10_000)).collect();
            starts.sort_unstable();
            starts.dedup();
            let r = Ranges {
                values: vec![0; starts.len()],
                starts,
            };
            let top = r.sample();
            for a in 0..10_050u64 {
                assert_eq!(r.find_sampled(&top, a), r.find(a), "n {n} a {a}");
            }
        }
        let empty: Ranges<u64> = Ranges::default();
        assert_eq!(empty.find_sampled(&empty.sample(), 5), None);
    }

    #[test]
    fn policy_names_round_trip() {
        for (name, p) in OrderPolicy::NAMES {
            assert_eq!(name.parse::<OrderPolicy>().unwrap(), p);
            assert_eq!(p.to_string(), name);
        }
        assert!("lenient".parse::<OrderPolicy>().is_err());
    }

    #[test]
    fn empty_table() {
        let t = TableBuilder::new().build().unwrap();
        assert!(t.lookup(ip("1.2.3.4")).is_none());
        assert!(t.lookup(ip("::1")).is_none());
    }
}
