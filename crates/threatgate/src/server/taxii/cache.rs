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
//! Bounded by bytes. Entries of an older generation can never be read again and are
//! dropped first; past that, a random entry makes room (a least-recently-used order would
//! miss every time on readers walking a collection larger than the cache).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;

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

pub struct PageCache {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Newest generation seen; entries of older ones are dead.
    generation: i64,
    bytes: usize,
    pages: HashMap<String, CachedPage>,
    keys: Vec<String>,
    seed: u64,
}

impl PageCache {
    /// A cache of at most `budget` bytes of page bodies (0: no caching).
    pub fn new(budget: usize) -> PageCache {
        PageCache {
            budget,
            inner: Mutex::new(Inner::default()),
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
        let mut inner = self.lock();
        inner.retire_older_than(generation);
        inner.pages.get(key).cloned()
    }

    pub fn put(&self, key: String, generation: i64, page: CachedPage) {
        let size = page.body.len() + key.len();
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
                inner.bytes -= p.body.len() + victim.len();
            }
        }
        inner.bytes += size;
        inner.keys.push(key.clone());
        inner.pages.insert(key, page);
    }

    /// Bytes held now (for tests and metrics).
    pub fn bytes(&self) -> usize {
        self.lock().bytes
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
            // Give the memory back: the next generation's pages may be fewer.
            self.pages.shrink_to(64);
            self.keys.shrink_to(64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(n: usize) -> CachedPage {
        CachedPage {
            body: Bytes::from(vec![b'x'; n]),
            dates: None,
            objects: 1,
            more: false,
        }
    }

    #[test]
    fn a_newer_generation_retires_every_older_page() {
        let c = PageCache::new(1 << 20);
        let q = CollectionQuery::default();
        let k1 = c.key("objects", "scope", &q, 1).unwrap();
        c.put(k1.clone(), 1, page(100));
        assert!(c.get(&k1, 1).is_some());
        let k2 = c.key("objects", "scope", &q, 2).unwrap();
        assert_ne!(k1, k2);
        assert!(c.get(&k2, 2).is_none());
        assert!(
            c.get(&k1, 1).is_none(),
            "generation 1 is gone once 2 was seen"
        );
        assert_eq!(c.bytes(), 0);
        // A page rendered at an older generation than one already seen is not kept.
        c.put(k1.clone(), 1, page(100));
        assert!(c.get(&k1, 1).is_none());
    }

    #[test]
    fn keys_differ_by_scope_query_and_endpoint() {
        let c = PageCache::new(1 << 20);
        let q = CollectionQuery::default();
        let mut q2 = CollectionQuery::default();
        q2.source_org = Some(7);
        let k = c.key("objects", "a", &q, 1).unwrap();
        assert_ne!(k, c.key("objects", "b", &q, 1).unwrap());
        assert_ne!(k, c.key("objects", "a", &q2, 1).unwrap());
        assert_ne!(k, c.key("manifest", "a", &q, 1).unwrap());
        assert!(PageCache::new(0).key("objects", "a", &q, 1).is_none());
    }

    #[test]
    fn stays_within_its_budget() {
        let c = PageCache::new(100_000);
        let q = CollectionQuery::default();
        for i in 0..100 {
            let mut qi = q.clone();
            qi.base.limit = i;
            c.put(c.key("objects", "s", &qi, 1).unwrap(), 1, page(10_000));
            assert!(c.bytes() <= 100_000);
        }
        assert!(c.bytes() > 50_000, "it keeps pages");
        // Too large a page for the budget is not kept at all.
        let big = c.key("objects", "s", &q, 1).unwrap();
        c.put(big.clone(), 1, page(50_000));
        assert!(c.get(&big, 1).is_none() && c.bytes() <= 100_000);
    }
}
