//! The kernel's pending-event set: events keyed by *(time, priority, insertion sequence)*
//! packed into one `u128` whose integer order is the firing order, in a four-ary min-heap.
//! [`EventQueue`](super::EventQueue) is its only user.

use super::SimTime;

/// Bits of the packed key that hold the insertion sequence number (2^56 insertions is
/// unreachable, so it is checked in debug builds only).
const SEQ_BITS: u32 = 56;
pub(super) const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;

/// Packs (time, priority, seq) into one key whose integer order is the firing order.
#[inline(always)]
pub(super) fn pack(at: SimTime, priority: u8, seq: u64) -> u128 {
    (u128::from(at.0) << 64) | (u128::from(priority) << SEQ_BITS) | u128::from(seq)
}

#[inline(always)]
pub(super) fn time_of(key: u128) -> SimTime {
    SimTime((key >> 64) as u64)
}

/// A pending event with its packed key, stored as two `u64` halves: a `u128` field would
/// make the entry 16-byte aligned, and larger.
#[derive(Debug, Clone)]
pub(super) struct Entry<E> {
    key_hi: u64,
    key_lo: u64,
    pub(super) event: E,
}

impl<E> Entry<E> {
    #[inline(always)]
    pub(super) fn new(key: u128, event: E) -> Self {
        Entry { key_hi: (key >> 64) as u64, key_lo: key as u64, event }
    }

    #[inline(always)]
    pub(super) fn key(&self) -> u128 {
        (u128::from(self.key_hi) << 64) | u128::from(self.key_lo)
    }
}

/// Children per node of [`QuadHeap`].
const ARITY: usize = 4;

/// A min-heap of entries on their keys with four children per node: half the depth of a
/// binary heap, and a node's children lie side by side in memory (`examples/hold.rs`
/// compares the two).
#[derive(Debug, Clone)]
pub(super) struct QuadHeap<E> {
    v: Vec<Entry<E>>,
}

impl<E> QuadHeap<E> {
    /// An empty heap with room for `capacity` entries.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        QuadHeap { v: Vec::with_capacity(capacity) }
    }

    /// The entry with the smallest key, if any.
    #[inline]
    pub(super) fn first(&self) -> Option<&Entry<E>> {
        self.v.first()
    }

    /// The number of entries.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.v.len()
    }

    /// Drops every entry.
    pub(super) fn clear(&mut self) {
        self.v.clear();
    }

    #[inline]
    pub(super) fn push(&mut self, entry: Entry<E>) {
        let i = self.v.len();
        self.v.push(entry);
        self.sift_up(i);
    }

    /// Moves entry `i` up while its parent's key is larger.
    #[inline(always)]
    fn sift_up(&mut self, mut i: usize) {
        let key = self.v[i].key();
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.v[parent].key() <= key {
                break;
            }
            self.v.swap(i, parent);
            i = parent;
        }
    }

    /// Removes the entry with the smallest key, bottom-up: the last entry takes the root's
    /// place, goes down along the smallest children to a leaf, then back up to its place.
    /// Keys are unique, so equal keys never meet.
    #[inline]
    pub(super) fn pop(&mut self) -> Option<Entry<E>> {
        let last = self.v.pop()?;
        if self.v.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.v[0], last);
        let n = self.v.len();
        let mut i = 0;
        loop {
            let first = ARITY * i + 1;
            let best = if let Some(c) = self.v.get(first..first + ARITY) {
                // A full node: the smallest of four without data-dependent branches.
                let (k0, k1, k2, k3) = (c[0].key(), c[1].key(), c[2].key(), c[3].key());
                let (a, ka) = if k1 < k0 { (1, k1) } else { (0, k0) };
                let (b, kb) = if k3 < k2 { (3, k3) } else { (2, k2) };
                first + if kb < ka { b } else { a }
            } else if first < n {
                let mut best = first;
                for c in first + 1..n {
                    if self.v[c].key() < self.v[best].key() {
                        best = c;
                    }
                }
                best
            } else {
                break;
            };
            self.v.swap(i, best);
            i = best;
        }
        self.sift_up(i);
        Some(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_packing_orders_like_the_triple() {
        let triples = [
            (0, 0, 0),
            (0, 0, 1),
            (0, 1, 0),
            (0, 255, SEQ_MASK - 1),
            (1, 0, 0),
            (u64::MAX, 0, 0),
            (u64::MAX, 255, SEQ_MASK - 1),
        ];
        for w in triples.windows(2) {
            let (a, b) = (w[0], w[1]);
            assert!(pack(SimTime(a.0), a.1, a.2) < pack(SimTime(b.0), b.1, b.2));
        }
        let key = pack(SimTime(123), 7, 456);
        assert_eq!(time_of(key), SimTime(123));
        assert_eq!((key as u64) & SEQ_MASK, 456);
    }
}
