//! Numbered records kept only while they can still change: tenders until they are awarded,
//! contracts until they close.
//!
//! A [`Book`] hands out consecutive numbers (as a `Vec` would) but keeps only the records
//! from the oldest one still live onwards; records at the front that are finished are
//! dropped (and handed to the caller, who writes contract rows then). Memory therefore grows
//! with the records live at one time (a delivery window's worth), not with the run.
//!
//! Events that may name a dropped record (a contract's deadline, which is never cancelled,
//! or its licence decision) look it up with [`Book::get`]; indexing is for records that
//! must still be kept, and a debug build stops loudly if one is not.

use std::collections::VecDeque;
use std::ops::{Index, IndexMut, Range};

/// Consecutively numbered records; see the [module docs](self).
#[derive(Debug, Clone)]
pub(super) struct Book<T> {
    /// Number of the first record still kept.
    base: usize,
    /// Records `base..base + live.len()`.
    live: VecDeque<T>,
    /// Whether each of them was retired (apart, so a record keeps its own size).
    retired: VecDeque<bool>,
    /// What a dropped record reads as: a finished record that asks for nothing.
    gone: T,
    /// Written to, and discarded, by a (mistaken) write to a dropped record.
    scratch: T,
}

impl<T: Clone> Book<T> {
    /// An empty book; `gone` is what the numbers of dropped records read as.
    pub fn new(gone: T) -> Book<T> {
        Book { base: 0, live: VecDeque::new(), retired: VecDeque::new(), scratch: gone.clone(), gone }
    }

    /// The number of records ever pushed (the number the next one gets).
    pub fn len(&self) -> usize {
        self.base + self.live.len()
    }

    /// Add a record; it gets number [`len`](Self::len) (before the push).
    pub fn push(&mut self, item: T) {
        self.live.push_back(item);
        self.retired.push_back(false);
    }

    /// The numbers of the records still kept.
    pub fn live_ids(&self) -> Range<usize> {
        self.base..self.len()
    }

    /// The records still kept, with their numbers.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.live.iter().enumerate().map(move |(i, item)| (self.base + i, item))
    }

    /// Mark record `id` finished: it is dropped once every record before it is.
    pub fn retire(&mut self, id: usize) {
        if let Some(slot) = id.checked_sub(self.base).and_then(|i| self.retired.get_mut(i)) {
            *slot = true;
        }
    }

    /// Drop the first kept record if it is retired or `finished`; return it with its number.
    pub fn pop_finished(&mut self, finished: impl Fn(&T) -> bool) -> Option<(usize, T)> {
        let item = self.live.front()?;
        if !self.retired.front().copied().unwrap_or(true) && !finished(item) {
            return None;
        }
        let item = self.live.pop_front()?;
        self.retired.pop_front();
        self.base += 1;
        // Give back memory after a peak (a burst of awards), keeping room to grow again.
        if self.live.capacity() > 1024 && self.live.len() < self.live.capacity() / 4 {
            self.live.shrink_to(self.live.len() * 2);
            self.retired.shrink_to(self.live.len() * 2);
        }
        Some((self.base - 1, item))
    }

    /// Drop the first kept record whatever its state (at the end of a run).
    pub fn pop_any(&mut self) -> Option<(usize, T)> {
        self.pop_finished(|_| true)
    }
}

impl<T> Book<T> {
    /// Record `id` if it is still kept; `None` once it was dropped (it was finished then).
    pub fn get(&self, id: usize) -> Option<&T> {
        id.checked_sub(self.base).and_then(|i| self.live.get(i))
    }

    /// How many records are kept now.
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.live.len()
    }
}

impl<T> Index<usize> for Book<T> {
    type Output = T;

    /// Record `id`, which must still be kept: the model reads a record that may have been
    /// dropped only through [`Book::get`]. A read of a dropped record is a model bug, caught
    /// in debug builds (every test); release builds read the book's `gone` record instead
    /// of stopping the run.
    fn index(&self, id: usize) -> &T {
        let item = self.get(id);
        debug_assert!(item.is_some(), "read of record {id}, which is no longer kept");
        item.unwrap_or(&self.gone)
    }
}

impl<T: Clone> IndexMut<usize> for Book<T> {
    /// Record `id`, which must still be kept. A write to a dropped record is a model bug
    /// (caught in debug builds) and goes to a scratch copy in release builds.
    fn index_mut(&mut self, id: usize) -> &mut T {
        let i = id.checked_sub(self.base).filter(|&i| i < self.live.len());
        debug_assert!(i.is_some(), "write to record {id}, which is no longer kept");
        match i {
            Some(i) => &mut self.live[i],
            None => {
                self.scratch = self.gone.clone();
                &mut self.scratch
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_consecutive_while_finished_records_leave_from_the_front() {
        let mut book = Book::new(-1i64);
        for x in [10, 11, 12, 13] {
            book.push(x);
        }
        assert_eq!(book.len(), 4);
        // Record 0 is not finished: nothing leaves, even though 1 is retired.
        book.retire(1);
        assert_eq!(book.pop_finished(|&x| x == 12), None);
        book.retire(0);
        assert_eq!(book.pop_finished(|_| false), Some((0, 10)));
        assert_eq!(book.pop_finished(|_| false), Some((1, 11)));
        assert_eq!(book.pop_finished(|_| false), None, "12 is neither retired nor finished");
        assert_eq!(book.pop_finished(|&x| x == 12), Some((2, 12)));
        assert_eq!(book.live_ids(), 3..4);
        assert_eq!(book[3], 13);
        assert_eq!(book.get(3), Some(&13));
        assert_eq!(book.get(0), None, "a dropped record is gone");
        assert_eq!(book.get(9), None, "so is one never pushed");
        assert_eq!(book.kept(), 1);
        book.push(14);
        assert_eq!(book.len(), 5);
        assert_eq!(book.iter().collect::<Vec<_>>(), [(3, &13), (4, &14)]);
        book[4] += 1;
        assert_eq!(book[4], 15);
        assert_eq!(book.pop_any(), Some((3, 13)));
        assert_eq!(book.pop_any(), Some((4, 15)));
        assert_eq!(book.pop_any(), None);
        assert_eq!(book.len(), 5);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "read of record 0, which is no longer kept")]
    fn reading_a_dropped_record_fails_loudly_in_debug_builds() {
        let mut book = Book::new(0u8);
        book.push(1);
        book.retire(0);
        assert_eq!(book.pop_finished(|_| false), Some((0, 1)));
        let _ = book[0];
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "write to record 1, which is no longer kept")]
    fn writing_a_dropped_record_fails_loudly_in_debug_builds() {
        let mut book = Book::new(0u8);
        book.push(1);
        book.push(2);
        assert_eq!(book.pop_any(), Some((0, 1)));
        assert_eq!(book.pop_any(), Some((1, 2)));
        book[1] = 3;
    }
}
