//! The binary's allocator: mimalloc for batch work (ingest, match, export), glibc's for
//! the server.
//!
//! Ingest allocates and frees tens of millions of small strings and maps on two threads
//! (the parser allocates items, the writer writes them). Under glibc's allocator about a
//! quarter of all ingest CPU went to `malloc`/`free` bookkeeping (`_int_malloc`,
//! `malloc_consolidate`, `unlink_chunk`); mimalloc's per-thread free lists cut an ingest's
//! CPU time by about a fifth (bench/INGEST_RESULTS.md).
//!
//! The server keeps glibc's allocator: its memory bound (issue #8, RSS flat under load)
//! was measured with glibc's arenas capped by `mallopt` (`cli/serve.rs`), so `serve`
//! calls [`use_system_allocator`] before starting its threads. A block is always freed by
//! the allocator that made it: blocks allocated before the switch are mimalloc's, which
//! `mi_is_in_heap_region` recognises.
//!
//! Only binaries opt in, with `#[global_allocator] static A: ThreatgateAlloc`; the library
//! and its tests keep the default allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

use mimalloc::MiMalloc;

/// Set once, when the process switches to the system allocator. Until then every block is
/// mimalloc's and no ownership check is needed.
static SYSTEM: AtomicBool = AtomicBool::new(false);

/// From now on, allocate with the system allocator (glibc). Call before starting threads.
pub fn use_system_allocator() {
    SYSTEM.store(true, Ordering::SeqCst);
}

/// mimalloc until [`use_system_allocator`] is called, the system allocator after.
pub struct ThreatgateAlloc;

impl ThreatgateAlloc {
    /// Whether `p` was allocated by mimalloc (always, before the switch).
    fn is_mimallocs(p: *mut u8) -> bool {
        // SAFETY: mi_is_in_heap_region only inspects mimalloc's segment map and arenas;
        // it accepts any address.
        !SYSTEM.load(Ordering::Relaxed)
            || unsafe { libmimalloc_sys::mi_is_in_heap_region(p as *const _) }
    }
}

// SAFETY: every method forwards to an allocator that upholds GlobalAlloc's contract, and a
// block is only ever freed or resized by the allocator that allocated it.
unsafe impl GlobalAlloc for ThreatgateAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if SYSTEM.load(Ordering::Relaxed) {
            System.alloc(layout)
        } else {
            MiMalloc.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if SYSTEM.load(Ordering::Relaxed) {
            System.alloc_zeroed(layout)
        } else {
            MiMalloc.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if Self::is_mimallocs(p) {
            MiMalloc.dealloc(p, layout)
        } else {
            System.dealloc(p, layout)
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if Self::is_mimallocs(p) {
            MiMalloc.realloc(p, layout, new_size)
        } else {
            System.realloc(p, layout, new_size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks from both allocators, freed and grown after the switch, each by its own
    /// allocator (a block freed by the wrong one would crash or corrupt the heap, which
    /// glibc detects on the frees that follow).
    #[test]
    fn blocks_are_freed_by_the_allocator_that_made_them() {
        let a = ThreatgateAlloc;
        let small = Layout::from_size_align(24, 8).unwrap();
        let big = Layout::from_size_align(1 << 20, 16).unwrap();
        unsafe {
            let before: Vec<*mut u8> = (0..64).map(|_| a.alloc(small)).collect();
            let before_big = a.alloc_zeroed(big);
            assert!(before
                .iter()
                .all(|&p| libmimalloc_sys::mi_is_in_heap_region(p as _)));
            use_system_allocator();
            let after: Vec<*mut u8> = (0..64).map(|_| a.alloc(small)).collect();
            assert!(after
                .iter()
                .all(|&p| !libmimalloc_sys::mi_is_in_heap_region(p as _)));
            assert!(!ThreatgateAlloc::is_mimallocs(after[0]));
            assert!(ThreatgateAlloc::is_mimallocs(before[0]));
            // Grow one of each past their size class, keeping the contents.
            before[1].write(7);
            after[1].write(9);
            let grown_before = a.realloc(before[1], small, 4096);
            let grown_after = a.realloc(after[1], small, 4096);
            assert_eq!((*grown_before, *grown_after), (7, 9));
            assert!(libmimalloc_sys::mi_is_in_heap_region(grown_before as _));
            let grown = Layout::from_size_align(4096, 8).unwrap();
            a.dealloc(grown_before, grown);
            a.dealloc(grown_after, grown);
            for p in before
                .into_iter()
                .chain(after)
                .enumerate()
                .filter(|(i, _)| *i % 64 != 1)
                .map(|(_, p)| p)
            {
                a.dealloc(p, small);
            }
            assert_eq!(*before_big, 0);
            a.dealloc(before_big, big);
            // glibc checks its free lists here: a foreign block freed into them aborts.
            let check: Vec<*mut u8> = (0..64).map(|_| a.alloc(small)).collect();
            for p in check {
                a.dealloc(p, small);
            }
        }
    }
}
