//! Response buffers for pages decompressed from the page cache or rendered on a miss,
//! reused from one response to the next. A fresh 500 KB buffer per hit is a `mmap` (the server maps allocations past
//! 256 KiB on their own, `cli/serve.rs`), ~125 zero-filled page faults and a `munmap` when
//! the response is gone: more than the decompression itself. A buffer comes back here when
//! the last `Bytes` of its response is dropped.
//!
//! Bounded: at most [`KEPT`] buffers of at most [`KEPT_MAX_BYTES`] each wait here; more
//! responses in flight at once allocate and free as before.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;

/// Buffers kept for reuse (a few per core: responses are short-lived).
pub const KEPT: usize = 16;
/// Larger buffers are freed, not kept (a page of 1,000 large objects).
pub const KEPT_MAX_BYTES: usize = 4 << 20;

#[derive(Default)]
pub struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// A buffer of exactly `len` bytes (contents unspecified: the caller overwrites it all),
    /// filled by `fill`, returned as the `Bytes` of a response. `fill` must write every
    /// byte (a reused buffer still holds an earlier response, maybe another reader's) and
    /// reports whether it did; if not, the buffer goes back and `None` is returned.
    pub fn filled(
        self: &Arc<Self>,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> bool,
    ) -> Option<Bytes> {
        let mut buf = self.take().unwrap_or_default();
        // Shrinking is free; growing zero-fills only the new part.
        buf.resize(len, 0);
        let mut held = Held {
            buf,
            pool: self.clone(),
        };
        fill(&mut held.buf).then(|| Bytes::from_owner(held))
    }

    /// A buffer emptied, appended to by `write`, and returned as the `Bytes` of a response:
    /// the part `write` says holds the body. A page rendered on a cache miss is written
    /// straight here, not into a fresh vector copied into the response afterwards. On an
    /// error the buffer goes back at once.
    pub fn written<E>(
        self: &Arc<Self>,
        write: impl FnOnce(&mut Vec<u8>) -> Result<Range<usize>, E>,
    ) -> Result<Bytes, E> {
        let mut buf = self.take().unwrap_or_default();
        buf.clear();
        match write(&mut buf) {
            Ok(body) => Ok(Bytes::from_owner(Held {
                buf,
                pool: self.clone(),
            })
            .slice(body)),
            Err(e) => {
                self.give_back(buf);
                Err(e)
            }
        }
    }

    /// Buffers waiting for reuse (for tests).
    pub fn kept(&self) -> usize {
        self.lock().len()
    }

    fn take(&self) -> Option<Vec<u8>> {
        self.lock().pop()
    }

    fn give_back(&self, buf: Vec<u8>) {
        if buf.capacity() > KEPT_MAX_BYTES {
            return;
        }
        let mut free = self.lock();
        if free.len() < KEPT {
            free.push(buf);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        self.free.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A buffer lent to a response; back to its pool when the response drops it.
struct Held {
    buf: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_returns_when_its_last_bytes_is_dropped_and_is_reused() {
        let pool = Arc::new(BufferPool::default());
        let a = pool
            .filled(1000, |b| {
                b.fill(7);
                true
            })
            .unwrap();
        let a2 = a.slice(10..20);
        drop(a);
        assert_eq!(pool.kept(), 0, "a slice still holds it");
        assert_eq!(&a2[..], &[7; 10]);
        drop(a2);
        assert_eq!(pool.kept(), 1);
        // Reused at another length; the caller's bytes, not the old ones, come out.
        let b = pool
            .filled(500, |b| {
                b.fill(9);
                true
            })
            .unwrap();
        assert_eq!(pool.kept(), 0);
        assert_eq!(&b[..], &[9; 500][..]);
        drop(b);
        // A fill that fails gives the buffer back at once.
        assert!(pool.filled(2000, |_| false).is_none());
        assert_eq!(pool.kept(), 1);
    }

    #[test]
    fn a_written_buffer_serves_the_part_named_and_is_reused_emptied() {
        let pool = Arc::new(BufferPool::default());
        let a = pool
            .written(|b| {
                b.extend_from_slice(b"xxhello");
                Ok::<_, ()>(2..b.len())
            })
            .unwrap();
        assert_eq!(&a[..], b"hello");
        drop(a);
        assert_eq!(pool.kept(), 1);
        let b = pool
            .written(|b| {
                assert!(b.is_empty(), "a reused buffer starts empty");
                b.extend_from_slice(b"bye");
                Ok::<_, ()>(0..3)
            })
            .unwrap();
        assert_eq!(&b[..], b"bye");
        drop(b);
        assert_eq!(pool.written(|_| Err::<Range<usize>, _>("no")), Err("no"));
        assert_eq!(pool.kept(), 1, "a failed write gives the buffer back");
    }

    #[test]
    fn keeps_a_bounded_number_of_bounded_buffers() {
        let pool = Arc::new(BufferPool::default());
        let many: Vec<Bytes> = (0..KEPT + 5)
            .map(|_| pool.filled(100, |_| true).unwrap())
            .collect();
        drop(many);
        assert_eq!(pool.kept(), KEPT);
        let pool = Arc::new(BufferPool::default());
        drop(pool.filled(KEPT_MAX_BYTES + 1, |_| true).unwrap());
        assert_eq!(pool.kept(), 0, "too large to keep");
    }
}
