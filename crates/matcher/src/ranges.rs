//! CIDR prefix table: sorted elementary intervals with binary search.
//!
//! Prefixes form a laminar family (two CIDRs are either disjoint or nested), so one sweep
//! with a stack cuts the address space into elementary intervals, each covered by exactly
//! the CIDRs on the stack at that point. A lookup is one `partition_point` over the interval
//! starts plus a read of that interval's cover list; nested CIDRs (`10.0.0.0/8` and
//! `10.1.0.0/16`) both report. Memory: two bounds per CIDR plus the cover lists, whose total
//! length is the sum of nesting depths (1 for disjoint sets).

use crate::set::HRange;

/// An address type usable as a key: `u32` for IPv4, `u128` for IPv6.
pub(crate) trait Addr: Copy + Ord + std::fmt::Debug {
    const BITS: u8;
    /// Last address of the prefix `net/len`.
    fn last(net: Self, len: u8) -> Self;
    fn succ(self) -> Option<Self>;
}

impl Addr for u32 {
    const BITS: u8 = 32;
    fn last(net: u32, len: u8) -> u32 {
        if len == 0 {
            u32::MAX
        } else {
            net | (u32::MAX >> len)
        }
    }
    fn succ(self) -> Option<u32> {
        self.checked_add(1)
    }
}

impl Addr for u128 {
    const BITS: u8 = 128;
    fn last(net: u128, len: u8) -> u128 {
        if len == 0 {
            u128::MAX
        } else {
            net | (u128::MAX >> len)
        }
    }
    fn succ(self) -> Option<u128> {
        self.checked_add(1)
    }
}

/// Invariants: `starts` is strictly increasing; `covers[i]` is the `(start, len)` slice of
/// `cover_pool` naming the CIDRs (indices into `nets`) covering `[starts[i], starts[i+1])`.
#[derive(Debug)]
pub(crate) struct CidrTable<A: Addr> {
    nets: Vec<(A, u8, HRange)>,
    starts: Vec<A>,
    covers: Vec<(u32, u32)>,
    cover_pool: Vec<u32>,
}

impl<A: Addr> CidrTable<A> {
    /// `nets` must be distinct `(network, prefix_len)` pairs with host bits zero.
    pub(crate) fn build(mut nets: Vec<(A, u8, HRange)>) -> Self {
        debug_assert!(nets.iter().all(|n| n.1 <= A::BITS));
        // Bigger networks (shorter prefixes) first among equal starts: they enclose the rest.
        nets.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut t = CidrTable {
            nets,
            starts: Vec::new(),
            covers: Vec::new(),
            cover_pool: Vec::new(),
        };
        let mut stack: Vec<u32> = Vec::new();
        for i in 0..t.nets.len() {
            let (start, _, _) = t.nets[i];
            t.pop_until(&mut stack, Some(start));
            stack.push(i as u32);
            t.segment(start, &stack);
        }
        t.pop_until(&mut stack, None);
        t.nets.shrink_to_fit();
        t.starts.shrink_to_fit();
        t.covers.shrink_to_fit();
        t.cover_pool.shrink_to_fit();
        t
    }

    /// Pop every CIDR on the stack that ends before `next` (all of them when `None`), opening
    /// the interval that follows each one.
    fn pop_until(&mut self, stack: &mut Vec<u32>, next: Option<A>) {
        while let Some(&top) = stack.last() {
            let (n, l, _) = self.nets[top as usize];
            let end = A::last(n, l);
            if matches!(next, Some(s) if s <= end) {
                break;
            }
            stack.pop();
            if let Some(after) = end.succ() {
                self.segment(after, stack);
            }
        }
    }

    /// Start an interval at `at` covered by `stack`, replacing an empty-length interval that
    /// started at the same address.
    fn segment(&mut self, at: A, stack: &[u32]) {
        if self.starts.last() == Some(&at) {
            self.starts.pop();
            self.covers.pop();
        }
        let start = self.cover_pool.len() as u32;
        self.cover_pool.extend_from_slice(stack);
        self.starts.push(at);
        self.covers.push((start, stack.len() as u32));
    }

    #[inline]
    pub(crate) fn lookup(&self, a: A, mut f: impl FnMut(u32, HRange)) {
        if self.starts.is_empty() {
            return;
        }
        let i = self.starts.partition_point(|s| *s <= a);
        if i == 0 {
            return;
        }
        let (s, l) = self.covers[i - 1];
        for &id in &self.cover_pool[s as usize..(s + l) as usize] {
            f(id, self.nets[id as usize].2);
        }
    }

    pub(crate) fn net(&self, id: u32) -> (A, u8) {
        let (n, l, _) = self.nets[id as usize];
        (n, l)
    }

    pub(crate) fn len(&self) -> usize {
        self.nets.len()
    }

    /// (value bytes, overhead bytes): the network and prefix are the values.
    pub(crate) fn memory(&self) -> (usize, usize) {
        let a = std::mem::size_of::<A>();
        let values = self.nets.len() * (a + 1);
        let total = self.nets.capacity() * std::mem::size_of::<(A, u8, HRange)>()
            + self.starts.capacity() * a
            + self.covers.capacity() * 8
            + self.cover_pool.capacity() * 4;
        (values, total.saturating_sub(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(nets: &[(u32, u8)]) -> CidrTable<u32> {
        CidrTable::build(
            nets.iter()
                .map(|&(n, l)| (n, l, HRange::default()))
                .collect(),
        )
    }

    fn hits(t: &CidrTable<u32>, a: u32) -> Vec<(u32, u8)> {
        let mut v = Vec::new();
        t.lookup(a, |id, _| v.push(t.net(id)));
        v.sort();
        v
    }

    #[test]
    fn nested_and_adjacent() {
        let t = table(&[
            (0x0a000000, 8),
            (0x0a010000, 16),
            (0x0b000000, 8),
            (0x0a010000, 24),
        ]);
        assert_eq!(hits(&t, 0x09ffffff), vec![]);
        assert_eq!(hits(&t, 0x0a000000), vec![(0x0a000000, 8)]);
        assert_eq!(
            hits(&t, 0x0a010005),
            vec![(0x0a000000, 8), (0x0a010000, 16), (0x0a010000, 24)]
        );
        assert_eq!(
            hits(&t, 0x0a010105),
            vec![(0x0a000000, 8), (0x0a010000, 16)]
        );
        assert_eq!(hits(&t, 0x0a020000), vec![(0x0a000000, 8)]);
        assert_eq!(hits(&t, 0x0b7fffff), vec![(0x0b000000, 8)]);
        assert_eq!(hits(&t, 0x0c000000), vec![]);
    }

    #[test]
    fn whole_space_and_top_edge() {
        let t = table(&[(0, 0), (0xffffff00, 24)]);
        assert_eq!(hits(&t, 0), vec![(0, 0)]);
        assert_eq!(hits(&t, u32::MAX), vec![(0, 0), (0xffffff00, 24)]);
        assert_eq!(hits(&t, 0xfffffeff), vec![(0, 0)]);
    }

    #[test]
    fn matches_brute_force() {
        // Pseudo-random nested prefixes checked against a linear scan.
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut nets = Vec::new();
        for _ in 0..300 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 8 + (x % 17) as u8;
            let net = ((x >> 20) as u32 & 0x0fff_ffff) & !(u32::MAX >> len);
            nets.push((net, len));
        }
        nets.sort();
        nets.dedup();
        let t = table(&nets);
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let a = (x >> 16) as u32 & 0x0fff_ffff;
            let mut want: Vec<(u32, u8)> = nets
                .iter()
                .copied()
                .filter(|&(n, l)| a >= n && a <= u32::last(n, l))
                .collect();
            want.sort();
            assert_eq!(hits(&t, a), want, "{a:#x}");
        }
    }
}
