//! A min-queue of timed entries that stays cheap with many entries far ahead: entries due
//! within the current bucket of time (one second) are kept in a small heap, later ones in
//! unordered buckets of one second each, which go into the heap only when it runs dry. A heap
//! of every pending timer pays a cache miss at nearly every level of each push and pop; the
//! small heap stays in cache, and a bucket's entries are appended where the last one was.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// How wide a bucket is, in microseconds.
const BUCKET: i64 = 1_000_000;

/// An entry with a due time; entries are ordered by due time first.
pub(super) trait Due: Ord {
    /// When it is due (microseconds since the epoch).
    fn due(&self) -> i64;
}

/// The queue: pops its entries in order, the smallest first.
#[derive(Debug, Clone)]
pub(super) struct TimeQueue<T: Due> {
    /// The entries of buckets up to `near_bucket`, ordered.
    near: BinaryHeap<Reverse<T>>,
    /// The entries of later buckets, by bucket, unordered within one.
    far: BTreeMap<i64, Vec<T>>,
    /// The last bucket whose entries go into `near`.
    near_bucket: i64,
    /// How many entries `far` holds.
    far_len: usize,
}

impl<T: Due> Default for TimeQueue<T> {
    fn default() -> Self {
        Self { near: BinaryHeap::new(), far: BTreeMap::new(), near_bucket: i64::MIN, far_len: 0 }
    }
}

fn bucket_of(due: i64) -> i64 {
    due.div_euclid(BUCKET)
}

impl<T: Due> TimeQueue<T> {
    /// Adds an entry.
    pub(super) fn push(&mut self, entry: T) {
        let bucket = bucket_of(entry.due());
        if bucket <= self.near_bucket {
            self.near.push(Reverse(entry));
        } else {
            self.far.entry(bucket).or_default().push(entry);
            self.far_len += 1;
        }
    }

    /// The smallest entry.
    pub(super) fn peek(&mut self) -> Option<&T> {
        if self.near.is_empty() {
            self.next_bucket();
        }
        self.near.peek().map(|Reverse(entry)| entry)
    }

    /// Takes the smallest entry.
    pub(super) fn pop(&mut self) -> Option<T> {
        if self.near.is_empty() {
            self.next_bucket();
        }
        self.near.pop().map(|Reverse(entry)| entry)
    }

    /// A time at or before the smallest entry's due time (without ordering anything).
    pub(super) fn earliest_bound(&self) -> Option<i64> {
        match self.near.peek() {
            Some(Reverse(entry)) => Some(entry.due()),
            None => self.far.first_key_value().map(|(bucket, _)| bucket.saturating_mul(BUCKET)),
        }
    }

    /// How many entries it holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.near.len() + self.far_len
    }

    /// Removes every entry.
    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Moves the first later bucket into the (empty) heap.
    fn next_bucket(&mut self) {
        if let Some((bucket, entries)) = self.far.pop_first() {
            self.far_len -= entries.len();
            self.near_bucket = bucket;
            self.near = BinaryHeap::from(entries.into_iter().map(Reverse).collect::<Vec<_>>());
        }
    }
}

impl<T: Due> Extend<T> for TimeQueue<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, entries: I) {
        for entry in entries {
            self.push(entry);
        }
    }
}

/// A seeded xorshift generator for the timer tests: each call gives a number below its
/// argument.
#[cfg(test)]
pub(super) fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Due for (i64, u32) {
        fn due(&self) -> i64 {
            self.0
        }
    }

    /// Pushes and pops at random, near and far, against a sorted list.
    #[test]
    fn pops_in_order_whatever_the_buckets() {
        let mut below = xorshift(0x9e37_79b9_7f4a_7c15);
        let mut next = move |n: i64| i64::try_from(below(n.unsigned_abs())).unwrap_or(0);
        let mut queue = TimeQueue::default();
        let mut reference: Vec<(i64, u32)> = Vec::new();
        let mut clock = -5 * BUCKET;
        for i in 0..20_000_u32 {
            if next(3) == 0 {
                let popped = queue.pop();
                reference.sort_unstable();
                let expected = if reference.is_empty() { None } else { Some(reference.remove(0)) };
                assert_eq!(popped, expected);
                if let Some((due, _)) = popped {
                    clock = clock.max(due);
                }
            } else {
                let due =
                    clock + next(3 * BUCKET) - BUCKET / 2 + if next(20) == 0 { 1000 * BUCKET } else { 0 };
                queue.push((due, i));
                reference.push((due, i));
            }
            assert_eq!(queue.len(), reference.len());
            let least = reference.iter().min().map(|entry| entry.0);
            assert!(queue.earliest_bound().zip(least).is_none_or(|(bound, least)| bound <= least));
            assert_eq!(queue.peek().map(|entry| entry.0), least);
        }
    }
}
