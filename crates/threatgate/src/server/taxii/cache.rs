//! Rendered TAXII object pages, kept so that a page read again skips the database and the
//! rendering. A page is keyed by everything its bytes depend on: the endpoint, the reader's
//! policy scope ([`crate::policy::ReadScope::fingerprint`], computed for each request, so
//! an agreement that changes or ends changes the key), the collection's restriction and
//! filters (the whole [`CollectionQuery`]) and the store's data generation
//! ([`crate::store::Store::data_generation`], moved on in every writing transaction and
//! read from the database per request, so a write on any node sharing the database
//! retires every page rendered before it). It never decides access: a request reaches it
//! only after its collection and role were checked, with the scope it would read with.
//!
//! Pages are kept LZ4-compressed and the byte budget counts the compressed form: rendered
//! STIX JSON repeats its property names and common values on every object, so a page
//! shrinks 3-9x (9x for the benchmark's indicators, 3x for the OASIS APT1 example) and the
//! default budget holds several times the pages it would hold raw. LZ4 rather than a
//! denser codec because a hit pays the decompression on every read: ~30-45 µs for a 500 KB
//! page (~10 GB/s on this data), against ~120 µs to compress it once on a miss.
//! Decompression runs outside the lock, into a response buffer reused from earlier hits
//! ([`super::buffers`]).
//!
//! Bounded by bytes. Entries of an older generation can never be read again and are
//! dropped first; past that, a random entry makes room (a least-recently-used order would
//! miss every time on readers walking a collection larger than the cache).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;

use super::buffers::BufferPool;
use crate::store::CollectionQuery;

/// One rendered page and what the handler needs besides its body.
#[derive(Clone)]
pub struct CachedPage {
    pub body: Bytes,
    /// `X-TAXII-Date-Added-First` and `-Last`.
    pub dates: Option<(String, String)>,
    /// Objects on the page and whether more follow (for the audit entry).
    pub objects: usize,
    pub more: bool,
}

/// A page as the cache holds it: the body LZ4-compressed (block format), the rest as is.
struct StoredPage {
    lz4: Box<[u8]>,
    body_len: usize,
    dates: Option<(String, String)>,
    objects: usize,
    more: bool,
}

impl StoredPage {
    fn compress(page: &CachedPage) -> StoredPage {
        StoredPage {
            // Boxed: `compress` returns a vector with room for the worst case (the raw size),
            // and the budget must count what is held.
            lz4: lz4_flex::block::compress(&page.body).into_boxed_slice(),
            body_len: page.body.len(),
            dates: page.dates.clone(),
            objects: page.objects,
            more: page.more,
        }
    }

    /// `None` if the stored bytes do not decompress to the recorded length (never expected:
    /// the cache wrote them; the caller then renders the page again).
    fn decompress(&self, buffers: &Arc<BufferPool>) -> Option<CachedPage> {
        let body = buffers.filled(self.body_len, |out| {
            matches!(lz4_flex::block::decompress_into(&self.lz4, out), Ok(n) if n == out.len())
        })?;
        Some(CachedPage {
            body,
            dates: self.dates.clone(),
            objects: self.objects,
            more: self.more,
        })
    }

    /// What the entry costs against the budget, with its key.
    fn charge(&self, key: &str) -> usize {
        self.lz4.len()
            + key.len()
            + self
                .dates
                .as_ref()
                .map_or(0, |(first, last)| first.len() + last.len())
    }
}

/// What the cache holds now (for tests and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub pages: usize,
    /// Bytes charged against the budget (compressed bodies, keys and date headers).
    pub bytes: usize,
    /// The same pages' bodies uncompressed.
    pub body_bytes: usize,
    /// Lookups answered from the cache, and not, since the start.
    pub hits: u64,
    pub misses: u64,
}

pub struct PageCache {
    budget: usize,
    inner: Mutex<Inner>,
    buffers: Arc<BufferPool>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Default)]
struct Inner {
    /// Newest generation seen; entries of older ones are dead.
    generation: i64,
    bytes: usize,
    body_bytes: usize,
    pages: HashMap<String, Arc<StoredPage>>,
    keys: Vec<String>,
    seed: u64,
}

impl PageCache {
    /// A cache of at most `budget` bytes of compressed pages (0: no caching).
    pub fn new(budget: usize) -> PageCache {
        PageCache {
            budget,
            inner: Mutex::new(Inner::default()),
            buffers: Arc::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The key of a page; `None` when nothing may be cached.
    pub fn key(
        &self,
        endpoint: &str,
        scope_fingerprint: &str,
        q: &CollectionQuery,
        generation: i64,
    ) -> Option<String> {
        (self.budget > 0).then(|| format!("{generation}\n{endpoint}\n{scope_fingerprint}\n{q:?}"))
    }

    pub fn get(&self, key: &str, generation: i64) -> Option<CachedPage> {
        let stored = {
            let mut inner = self.lock();
            inner.retire_older_than(generation);
            inner.pages.get(key).cloned()
        };
        let page = stored.and_then(|p| p.decompress(&self.buffers));
        let counter = if page.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        page
    }

    pub fn put(&self, key: String, generation: i64, page: &CachedPage) {
        if self.budget == 0 {
            return;
        }
        let stored = StoredPage::compress(page);
        let size = stored.charge(&key);
        // One page may take an eighth of the budget: a few huge pages must not evict all.
        if size > self.budget / 8 {
            return;
        }
        let mut inner = self.lock();
        inner.retire_older_than(generation);
        if generation < inner.generation || inner.pages.contains_key(&key) {
            return;
        }
        while inner.bytes + size > self.budget && !inner.keys.is_empty() {
            inner.seed = inner
                .seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (inner.seed >> 33) as usize % inner.keys.len();
            let victim = inner.keys.swap_remove(i);
            if let Some(p) = inner.pages.remove(&victim) {
                inner.bytes -= p.charge(&victim);
                inner.body_bytes -= p.body_len;
            }
        }
        inner.bytes += size;
        inner.body_bytes += stored.body_len;
        inner.keys.push(key.clone());
        inner.pages.insert(key, Arc::new(stored));
    }

    /// The response buffers shared by hits and misses (kept even when the cache is off).
    pub fn buffers(&self) -> &Arc<BufferPool> {
        &self.buffers
    }

    /// The budget in bytes (0: the cache is off).
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Bytes charged against the budget now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            pages: inner.pages.len(),
            bytes: inner.bytes,
            body_bytes: inner.body_bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn retire_older_than(&mut self, generation: i64) {
        if generation > self.generation {
            self.generation = generation;
            self.pages.clear();
            self.keys.clear();
            self.bytes = 0;
            self.body_bytes = 0;
            // Give the memory back: the next generation's pages may be fewer.
            self.pages.shrink_to(64);
            self.keys.shrink_to(64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page of `n` bytes that LZ4 cannot shrink (a pseudo-random byte stream).
    fn page(n: usize) -> CachedPage {
        let mut x = n as u64 | 1;
        let body = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect::<Vec<u8>>();
        CachedPage {
            body: Bytes::from(body),
            dates: None,
            objects: 1,
            more: false,
        }
    }

    /// A TAXII envelope of `n` indicators shaped like the benchmark's (distinct ids,
    /// patterns and names; repeated property names and markings), starting at `first`.
    fn json_page(first: usize, n: usize) -> CachedPage {
        let objects = (first..first + n)
            .map(|i| {
                let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                format!(
                    concat!(
                        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--{:08x}-{:04x}-5{:03x}-{:04x}-{:012x}","#,
                        r#""created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","#,
                        r#""name":"C2 server {}","description":"botnet command and control, seen by sensor {}","#,
                        r#""indicator_types":["malicious-activity"],"pattern":"[ipv4-addr:value = '10.{}.{}.{}']","#,
                        r#""pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","labels":["c2"],"confidence":80,"#,
                        r#""object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}}"#
                    ),
                    h >> 32,
                    (h >> 16) & 0xffff,
                    h & 0xfff,
                    (h >> 20) & 0xffff,
                    h.rotate_left(17) & 0xffff_ffff_ffff,
                    i,
                    i % 97,
                    (i >> 16) & 255,
                    (i >> 8) & 255,
                    i & 255
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        CachedPage {
            body: Bytes::from(format!(r#"{{"more":true,"objects":[{objects}]}}"#)),
            dates: Some((
                "2026-11-29T10:00:00.000000Z".into(),
                "2026-11-29T10:00:01.000000Z".into(),
            )),
            objects: n,
            more: true,
        }
    }

    fn query(limit: usize) -> CollectionQuery {
        let mut q = CollectionQuery::default();
        q.base.limit = limit;
        q
    }

    #[test]
    fn a_page_comes_back_byte_identical_from_its_compressed_form() {
        let c = PageCache::new(64 << 20);
        for p in [json_page(0, 1000), page(300_000), json_page(7, 1)] {
            let k = c.key("objects", "s", &query(p.body.len()), 1).unwrap();
            c.put(k.clone(), 1, &p);
            let hit = c.get(&k, 1).expect("kept");
            assert!(hit.body == p.body, "same bytes");
            assert_eq!(
                (hit.dates, hit.objects, hit.more),
                (p.dates.clone(), p.objects, p.more)
            );
        }
        let s = c.stats();
        assert_eq!((s.pages, s.hits, s.misses), (3, 3, 0));
        assert!(c.get("absent", 1).is_none());
        assert_eq!(c.stats().misses, 1);
        assert_eq!(
            s.body_bytes,
            json_page(0, 1000).body.len() + 300_000 + json_page(7, 1).body.len()
        );
    }

    #[test]
    fn stored_bytes_that_do_not_decompress_are_a_miss() {
        let p = json_page(0, 100);
        let buffers = Arc::default();
        let mut stored = StoredPage::compress(&p);
        assert!(stored
            .decompress(&buffers)
            .is_some_and(|d| d.body == p.body));
        let half = stored.lz4.len() / 2;
        stored.lz4 = stored.lz4[..half].into();
        assert!(stored.decompress(&buffers).is_none());
        stored = StoredPage::compress(&p);
        stored.body_len += 1;
        assert!(
            stored.decompress(&buffers).is_none(),
            "a length that disagrees is a miss"
        );
    }

    #[test]
    fn the_budget_counts_compressed_bytes() {
        // 40 pages of 1,000 indicators (~450 bytes each: ~18 MB raw) in a 6 MiB budget.
        let budget = 6 << 20;
        let c = PageCache::new(budget);
        let mut raw = 0;
        for i in 0..40 {
            let p = json_page(i * 1000, 1000);
            raw += p.body.len();
            c.put(c.key("objects", "s", &query(i), 1).unwrap(), 1, &p);
            assert!(c.bytes() <= budget);
        }
        let s = c.stats();
        assert!(raw > 2 * budget, "the pages would not fit uncompressed");
        assert_eq!(s.pages, 40, "every page kept, compressed");
        assert_eq!(s.body_bytes, raw);
        assert!(
            s.bytes * 3 < raw,
            "compressed at least 3x: {} of {raw}",
            s.bytes
        );
        for i in 0..40 {
            let hit = c.get(&c.key("objects", "s", &query(i), 1).unwrap(), 1);
            assert!(hit.is_some_and(|h| h.body == json_page(i * 1000, 1000).body));
        }
    }

    #[test]
    fn a_newer_generation_retires_every_older_page() {
        let c = PageCache::new(1 << 20);
        let q = CollectionQuery::default();
        let k1 = c.key("objects", "scope", &q, 1).unwrap();
        c.put(k1.clone(), 1, &page(100));
        assert!(c.get(&k1, 1).is_some());
        let k2 = c.key("objects", "scope", &q, 2).unwrap();
        assert_ne!(k1, k2);
        assert!(c.get(&k2, 2).is_none());
        assert!(
            c.get(&k1, 1).is_none(),
            "generation 1 is gone once 2 was seen"
        );
        assert_eq!(c.bytes(), 0);
        assert_eq!(c.stats().body_bytes, 0);
        // A page rendered at an older generation than one already seen is not kept.
        c.put(k1.clone(), 1, &page(100));
        assert!(c.get(&k1, 1).is_none());
    }

    #[test]
    fn keys_differ_by_scope_query_and_endpoint() {
        let c = PageCache::new(1 << 20);
        let q = CollectionQuery::default();
        let q2 = CollectionQuery {
            source_org: Some(7),
            ..CollectionQuery::default()
        };
        let k = c.key("objects", "a", &q, 1).unwrap();
        assert_ne!(k, c.key("objects", "b", &q, 1).unwrap());
        assert_ne!(k, c.key("objects", "a", &q2, 1).unwrap());
        assert_ne!(k, c.key("manifest", "a", &q, 1).unwrap());
        assert!(PageCache::new(0).key("objects", "a", &q, 1).is_none());
    }

    #[test]
    fn stays_within_its_budget() {
        let c = PageCache::new(100_000);
        for i in 0..100 {
            c.put(
                c.key("objects", "s", &query(i), 1).unwrap(),
                1,
                &page(10_000),
            );
            assert!(c.bytes() <= 100_000);
        }
        let s = c.stats();
        assert!(s.bytes > 50_000, "it keeps pages");
        assert!(
            s.bytes >= s.body_bytes,
            "incompressible pages are charged in full"
        );
        // Too large a page for the budget is not kept at all.
        let big = c.key("objects", "s", &query(1000), 1).unwrap();
        c.put(big.clone(), 1, &page(50_000));
        assert!(c.get(&big, 1).is_none() && c.bytes() <= 100_000);
    }
}
