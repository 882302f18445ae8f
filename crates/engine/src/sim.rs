//! The discrete-event simulation kernel: a clock, a pending-event set and a run loop.
//!
//! # The kernel knows nothing of the market
//!
//! This module is generic over the event type. It never inspects an event, never
//! interprets a tick (the market model uses one tick = one minute; the kernel does not
//! care) and holds no market state. Everything market-specific lives behind the
//! [`Model`] trait. Keep it that way: nothing in this file may name a market type.
//!
//! # Ordering guarantee
//!
//! Events fire in ascending order of the triple *(time, priority, insertion sequence)*:
//!
//! 1. earlier [`SimTime`] first;
//! 2. at equal time, the lower `priority` number first (`0` fires before `1`);
//! 3. at equal time and priority, in the order they were scheduled (FIFO).
//!
//! The order is therefore a total order that depends only on the sequence of calls made
//! on the queue, never on addresses, hashing or the wall clock: the same calls give the
//! same firing order on every run and every platform. The clock never goes backwards:
//! an event cannot be scheduled before [`EventQueue::now`], so popped times are
//! non-decreasing. A cancelled event never fires.
//!
//! # Example
//!
//! ```
//! use chipmarket_engine::error::SimError;
//! use chipmarket_engine::sim::{EventQueue, Model, SimTime, Simulation};
//!
//! /// Counts ticks and re-arms itself every 10 ticks.
//! struct Clock {
//!     fired: Vec<SimTime>,
//! }
//!
//! impl Model for Clock {
//!     type Event = ();
//!     fn handle(
//!         &mut self,
//!         now: SimTime,
//!         _event: (),
//!         queue: &mut EventQueue<()>,
//!     ) -> Result<(), SimError> {
//!         self.fired.push(now);
//!         queue.schedule_in(10, 0, ());
//!         Ok(())
//!     }
//! }
//!
//! let mut sim = Simulation::new(Clock { fired: Vec::new() });
//! sim.queue_mut().schedule(SimTime(5), 0, ())?;
//! let outcome = sim.run_until(SimTime(30))?;
//! assert_eq!(sim.model().fired, [SimTime(5), SimTime(15), SimTime(25)]);
//! assert_eq!(outcome.events, 3);
//! assert!(!outcome.drained); // the event at tick 35 is still pending
//! assert_eq!(sim.now(), SimTime(30));
//! # Ok::<(), SimError>(())
//! ```

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Add;

use crate::error::SimError;

// ------------------------------------------------------------------ SimTime ----

/// A point in simulated time, in integer ticks since the start of the run.
///
/// The kernel gives a tick no meaning; the market model uses one tick = one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

impl SimTime {
    /// Tick 0, the start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The last representable tick.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// The number of ticks since tick 0.
    #[inline]
    #[must_use]
    pub const fn ticks(self) -> u64 {
        self.0
    }

    /// `self + ticks`, or `None` if that is past [`SimTime::MAX`].
    #[inline]
    #[must_use]
    pub const fn checked_add(self, ticks: u64) -> Option<SimTime> {
        match self.0.checked_add(ticks) {
            Some(t) => Some(SimTime(t)),
            None => None,
        }
    }

    /// `self + ticks`, clamped to [`SimTime::MAX`].
    #[inline]
    #[must_use]
    pub const fn saturating_add(self, ticks: u64) -> SimTime {
        SimTime(self.0.saturating_add(ticks))
    }
}

impl Add<u64> for SimTime {
    type Output = SimTime;

    /// `self + ticks`.
    ///
    /// # Panics
    ///
    /// If the result is past [`SimTime::MAX`] (in every build profile); use
    /// [`SimTime::checked_add`] or [`SimTime::saturating_add`] to avoid that.
    #[inline]
    fn add(self, ticks: u64) -> SimTime {
        match self.checked_add(ticks) {
            Some(t) => t,
            None => panic!("SimTime overflow: tick {self} + {ticks}"),
        }
    }
}

impl fmt::Display for SimTime {
    /// Just the tick number, e.g. `42`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

// ---------------------------------------------------------------- EventId ----

/// The handle of a scheduled event, returned by [`EventQueue::schedule`] and
/// [`EventQueue::schedule_in`]; pass it to [`EventQueue::cancel`].
///
/// An id is only meaningful for the queue that issued it, and is never reused by
/// that queue (not even after [`EventQueue::clear`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId(u128);

// ------------------------------------------------------------- EventQueue ----

/// Bits of the packed key that hold the insertion sequence number.
const SEQ_BITS: u32 = 56;
/// Mask of the sequence number in the low 64 bits of a key.
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
/// `EventQueue::min_cancelled` when nothing is cancelled. No real key reaches it:
/// that would need sequence number 2^56 - 1.
const NO_CANCELLED: u128 = u128::MAX;

/// Packs (time, priority, seq) into one key whose integer order is the firing order.
#[inline(always)]
fn pack(at: SimTime, priority: u8, seq: u64) -> u128 {
    (u128::from(at.0) << 64) | (u128::from(priority) << SEQ_BITS) | u128::from(seq)
}

#[inline(always)]
fn time_of(key: u128) -> SimTime {
    SimTime((key >> 64) as u64)
}

#[inline(always)]
fn seq_of(key: u128) -> u64 {
    (key as u64) & SEQ_MASK
}

/// A pending event in the heap, with its packed key.
///
/// The packed `u128` key is stored as its two `u64` halves and compared as one
/// `u128`. A `u128` field would make the entry 16-byte aligned (32 bytes instead of
/// 24 for a 4-byte event); at 100 000 pending events that cost about a third of the
/// throughput of the `hold` benchmark example, from the extra memory traffic.
#[derive(Debug, Clone)]
struct Entry<E> {
    key_hi: u64,
    key_lo: u64,
    event: E,
}

impl<E> Entry<E> {
    #[inline(always)]
    fn new(key: u128, event: E) -> Self {
        Entry { key_hi: (key >> 64) as u64, key_lo: key as u64, event }
    }

    #[inline(always)]
    fn key(&self) -> u128 {
        (u128::from(self.key_hi) << 64) | u128::from(self.key_lo)
    }
}

/// Children per node of [`QuadHeap`].
const ARITY: usize = 4;

/// A min-heap of entries on their keys, with four children per node.
///
/// Half the depth of a binary heap: a pop compares more entries per level, but the four
/// children of a node lie next to each other in memory, so it touches about half as many
/// cache lines. With 100 000 pending events that makes the `hold` example about 1.3x as fast
/// as a binary heap (see `examples/hold.rs`).
#[derive(Debug, Clone)]
struct QuadHeap<E> {
    v: Vec<Entry<E>>,
}

impl<E> QuadHeap<E> {
    fn with_capacity(capacity: usize) -> Self {
        QuadHeap { v: Vec::with_capacity(capacity) }
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.v.len()
    }

    fn clear(&mut self) {
        self.v.clear();
    }

    fn iter(&self) -> std::slice::Iter<'_, Entry<E>> {
        self.v.iter()
    }

    #[inline(always)]
    fn peek(&self) -> Option<&Entry<E>> {
        self.v.first()
    }

    #[inline]
    fn push(&mut self, entry: Entry<E>) {
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

    /// Removes the entry with the smallest key.
    ///
    /// Bottom-up: the last entry takes the root's place and goes down along the smallest
    /// children all the way to a leaf (three comparisons per level, none against itself),
    /// then back up to its place, which is seldom more than a level since it came from the
    /// bottom. Keys are unique, so the order of equal keys never matters.
    #[inline]
    fn pop(&mut self) -> Option<Entry<E>> {
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

/// The pending-event set and the simulation clock.
///
/// Events are kept in a binary heap keyed by one `u128` that packs
/// `time << 64 | priority << 56 | seq`, where `seq` is the insertion sequence number;
/// the integer order of the key is exactly the firing order of the
/// [ordering guarantee](self#ordering-guarantee). The sequence number has 56 bits: 2^56 insertions
/// (over two years at a billion insertions a second) is unreachable, so it is not
/// checked in release builds.
///
/// Costs: [`schedule`](Self::schedule) and [`pop`](Self::pop) are O(log n).
/// [`cancel`](Self::cancel) is lazy: the entry stays in the heap, marked cancelled,
/// and is dropped when it reaches the top; while nothing is cancelled, `pop` pays a
/// single integer comparison for this. `cancel` tells a pending event from one that
/// already fired by its time against the clock, with no bookkeeping on the hot path; only
/// for an event due at the current tick does it scan the pending entries (O(n)).
#[derive(Debug, Clone)]
pub struct EventQueue<E> {
    heap: QuadHeap<E>,
    /// Keys of the entries still in `heap` that are cancelled.
    cancelled: BTreeSet<u128>,
    /// The smallest key in `cancelled`, or `NO_CANCELLED`. A popped key is the
    /// smallest in the heap, cancelled keys are in the heap and keys are unique, so a
    /// popped key is cancelled exactly when it equals this: one comparison per pop.
    min_cancelled: u128,
    next_seq: u64,
    /// Every event with a smaller sequence number fired or was cleared.
    cleared_before: u64,
    /// Keys of cancelled entries already dropped from `heap` whose time the clock has not
    /// passed yet.
    dropped: BTreeSet<u128>,
    now: SimTime,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue with the clock at [`SimTime::ZERO`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `capacity` pending events before it reallocates.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            heap: QuadHeap::with_capacity(capacity),
            cancelled: BTreeSet::new(),
            min_cancelled: NO_CANCELLED,
            next_seq: 0,
            cleared_before: 0,
            dropped: BTreeSet::new(),
            now: SimTime::ZERO,
        }
    }

    /// The current simulated time: the time of the last popped event (or the time a
    /// [`Simulation::run_until`] stopped at), [`SimTime::ZERO`] at the start.
    #[inline]
    #[must_use]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at time `at` with `priority` (lower fires first among events
    /// at the same time; see the [ordering guarantee](self#ordering-guarantee)).
    ///
    /// `at == now()` is allowed: the event fires in the current tick, after the
    /// pending events that precede it in (priority, sequence) order.
    ///
    /// # Errors
    ///
    /// [`SimError::ScheduleInPast`] if `at < now()`; nothing is scheduled then.
    #[inline]
    pub fn schedule(&mut self, at: SimTime, priority: u8, event: E) -> Result<EventId, SimError> {
        if at < self.now {
            return Err(SimError::ScheduleInPast { now: self.now, at });
        }
        Ok(self.push(at, priority, event))
    }

    /// Schedules `event` `delay` ticks after `now()` with `priority`. Cannot fail:
    /// a time past [`SimTime::MAX`] is clamped to it.
    #[inline]
    pub fn schedule_in(&mut self, delay: u64, priority: u8, event: E) -> EventId {
        let at = self.now.saturating_add(delay);
        self.push(at, priority, event)
    }

    #[inline(always)]
    fn push(&mut self, at: SimTime, priority: u8, event: E) -> EventId {
        let seq = self.next_seq;
        debug_assert!(seq < SEQ_MASK, "EventQueue: 2^56 insertions exhausted");
        self.next_seq = seq + 1;
        let key = pack(at, priority, seq);
        self.heap.push(Entry::new(key, event));
        EventId(key)
    }

    /// Cancels a pending event so that it never fires. Returns `true` if the event was
    /// pending and is now cancelled; `false` if it already fired, was already
    /// cancelled or was removed by [`clear`](Self::clear).
    ///
    /// Pass only ids issued by this queue: an id from another queue is not detected
    /// and may name an unrelated event of this one.
    ///
    /// O(log c) with c events cancelled and not yet dropped, except for an event due at
    /// the current tick, which needs a scan of the pending entries (see the
    /// [type docs](Self)); the cancelled entry is dropped later, when it reaches the top
    /// of the heap.
    pub fn cancel(&mut self, id: EventId) -> bool {
        let key = id.0;
        let seq = seq_of(key);
        // Cancelled entries dropped before the clock passed them; older ones are no longer
        // needed (the time test below settles them).
        while self.dropped.first().is_some_and(|&k| time_of(k) < self.now) {
            self.dropped.pop_first();
        }
        if seq >= self.next_seq
            || seq < self.cleared_before
            || self.cancelled.contains(&key)
            || self.dropped.contains(&key)
        {
            return false; // never issued, cleared, or already cancelled
        }
        // The clock is the time of the last event popped (or a later `run_until` bound),
        // so an event due after it has not fired and one due before it has. Only an event
        // due exactly now may be either.
        let pending = match time_of(key).cmp(&self.now) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => self.heap.iter().any(|entry| entry.key() == key),
        };
        if !pending {
            return false;
        }
        self.cancelled.insert(key);
        self.min_cancelled = self.min_cancelled.min(key);
        true
    }

    /// Removes the earliest live event, advances the clock to its time and returns
    /// `(time, event)`; `None` (clock unchanged) if no live event is pending.
    /// Cancelled entries met on the way are dropped.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        loop {
            let entry = self.heap.pop()?;
            if entry.key() == self.min_cancelled {
                self.forget_cancelled(entry.key());
                continue;
            }
            let at = time_of(entry.key());
            self.now = at;
            return Some((at, entry.event));
        }
    }

    /// Like [`pop`](Self::pop), but only if the earliest live event is at or before
    /// `limit`.
    #[inline]
    fn pop_at_or_before(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        match self.peek_time() {
            Some(at) if at <= limit => self.pop(),
            _ => None,
        }
    }

    /// The time of the earliest live event, `None` if no live event is pending.
    /// Takes `&mut self` because it drops cancelled entries from the top of the heap.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        loop {
            let key = self.heap.peek()?.key();
            if key != self.min_cancelled {
                return Some(time_of(key));
            }
            self.heap.pop();
            self.forget_cancelled(key);
        }
    }

    /// Bookkeeping after the cancelled entry with `key` (the smallest cancelled key)
    /// left the heap.
    #[cold]
    #[inline(never)]
    fn forget_cancelled(&mut self, key: u128) {
        let first = self.cancelled.pop_first();
        debug_assert_eq!(first, Some(key));
        self.min_cancelled = self.cancelled.first().copied().unwrap_or(NO_CANCELLED);
        // Dropped before the clock reached it: remember it, or `cancel` would take it
        // for pending (see `cancel`).
        if time_of(key) >= self.now {
            self.dropped.insert(key);
        }
    }

    /// The number of live (scheduled, not yet fired, not cancelled) events.
    #[inline]
    #[must_use]
    pub fn len(&self) -> usize {
        self.heap.len() - self.cancelled.len()
    }

    /// Whether no live event is pending.
    #[inline]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every pending event. The clock is unchanged and ids issued before stay
    /// invalid: cancelling one returns `false`.
    pub fn clear(&mut self) {
        self.cleared_before = self.next_seq;
        self.dropped.clear();
        self.heap.clear();
        self.cancelled.clear();
        self.min_cancelled = NO_CANCELLED;
    }
}

// ------------------------------------------------------------- Simulation ----

/// A simulation model: the state the events act on, and what each event does.
///
/// The kernel calls [`handle`](Model::handle) once per event, in the order of the
/// [ordering guarantee](self#ordering-guarantee); the handler may schedule and cancel
/// events on `queue`.
pub trait Model {
    /// The event type carried by the queue.
    type Event;

    /// Handles `event`, which fires at `now` (equal to `queue.now()`).
    ///
    /// # Errors
    ///
    /// Any [`SimError`]; it stops the run and is returned to the caller of
    /// [`Simulation::step`] or [`Simulation::run_until`].
    fn handle(&mut self, now: SimTime, event: Self::Event, queue: &mut EventQueue<Self::Event>)
        -> Result<(), SimError>;
}

/// What a [`Simulation::run_until`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunOutcome {
    /// The number of events processed by this call.
    pub events: u64,
    /// Whether the queue was empty when the call returned (no live event pending).
    pub drained: bool,
}

/// A model and its event queue: the run loop.
pub struct Simulation<M: Model> {
    queue: EventQueue<M::Event>,
    model: M,
    events_processed: u64,
}

impl<M> fmt::Debug for Simulation<M>
where
    M: Model + fmt::Debug,
    M::Event: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulation")
            .field("queue", &self.queue)
            .field("model", &self.model)
            .field("events_processed", &self.events_processed)
            .finish()
    }
}

impl<M: Model> Simulation<M> {
    /// A simulation of `model` with an empty queue and the clock at [`SimTime::ZERO`].
    /// Schedule the initial events through [`queue_mut`](Self::queue_mut).
    #[must_use]
    pub fn new(model: M) -> Self {
        Self::with_queue(model, EventQueue::new())
    }

    /// A simulation of `model` driven by `queue`, which may already hold events (for
    /// example the initial events the model scheduled while it was built) and keeps
    /// its clock. The event count starts at 0.
    #[must_use]
    pub fn with_queue(model: M, queue: EventQueue<M::Event>) -> Self {
        Simulation { queue, model, events_processed: 0 }
    }

    /// The event queue.
    #[inline]
    #[must_use]
    pub fn queue(&self) -> &EventQueue<M::Event> {
        &self.queue
    }

    /// The event queue, to schedule or cancel events from outside the model.
    #[inline]
    pub fn queue_mut(&mut self) -> &mut EventQueue<M::Event> {
        &mut self.queue
    }

    /// The model.
    #[inline]
    #[must_use]
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model, mutably.
    #[inline]
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// Consumes the simulation and returns the model.
    #[must_use]
    pub fn into_model(self) -> M {
        self.model
    }

    /// The current simulated time (see [`EventQueue::now`]).
    #[inline]
    #[must_use]
    pub fn now(&self) -> SimTime {
        self.queue.now
    }

    /// The number of events handed to the model since the simulation was created,
    /// including one whose handler returned an error.
    #[inline]
    #[must_use]
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    /// Processes the next event: pops it (advancing the clock to its time) and hands
    /// it to the model. Returns the event's time, or `Ok(None)` if the queue is empty
    /// (nothing happens then).
    ///
    /// # Errors
    ///
    /// The model's error. The clock then stays at the failing event's time.
    pub fn step(&mut self) -> Result<Option<SimTime>, SimError> {
        let Some((now, event)) = self.queue.pop() else {
            return Ok(None);
        };
        self.dispatch(now, event)?;
        Ok(Some(now))
    }

    #[inline]
    fn dispatch(&mut self, now: SimTime, event: M::Event) -> Result<(), SimError> {
        self.events_processed += 1;
        self.model.handle(now, event, &mut self.queue)
    }

    /// Runs the simulation until time `until`: processes, in order, every event whose
    /// time is `<= until` (including events the model schedules along the way), then
    /// sets the clock to `until`.
    ///
    /// Like SimPy's `Environment.run(until)`, but:
    ///
    /// - **Events at exactly `until` are processed** (SimPy stops before them). So
    ///   `run_until(t)` then `run_until(u)` processes the same events as
    ///   `run_until(u)`, and `until == now()` is allowed: it processes the events
    ///   still pending at the current time.
    /// - **An empty queue does not end the run early**: when no event at or before
    ///   `until` remains, the clock still moves to `until` and the call returns
    ///   normally with `drained: true`. To run until the queue is empty, call
    ///   [`step`](Self::step) until it returns `Ok(None)`.
    /// - **`until` before the current time is an error**
    ///   ([`SimError::UntilInPast`]), not a panic; nothing is processed then.
    ///
    /// Returns a [`RunOutcome`]: the number of events processed by this call, and
    /// whether the queue is empty at the end.
    ///
    /// # Errors
    ///
    /// - [`SimError::UntilInPast`] if `until < now()`.
    /// - The first error returned by the model; the run stops there, with the clock
    ///   at the failing event's time and the remaining events still queued.
    pub fn run_until(&mut self, until: SimTime) -> Result<RunOutcome, SimError> {
        let now = self.queue.now;
        if until < now {
            return Err(SimError::UntilInPast { now, until });
        }
        let mut events = 0;
        while let Some((at, event)) = self.queue.pop_at_or_before(until) {
            events += 1;
            self.dispatch(at, event)?;
        }
        self.queue.now = until;
        Ok(RunOutcome { events, drained: self.queue.is_empty() })
    }
}

// ------------------------------------------------------------------ tests ----

#[cfg(test)]
mod tests {
    use super::*;

    /// Pops everything, returning `(time, event)` pairs.
    fn drain<E>(q: &mut EventQueue<E>) -> Vec<(u64, E)> {
        std::iter::from_fn(|| q.pop().map(|(t, e)| (t.ticks(), e))).collect()
    }

    #[test]
    fn simtime_helpers() {
        assert_eq!(SimTime::ZERO.ticks(), 0);
        assert_eq!(SimTime::MAX.ticks(), u64::MAX);
        assert_eq!(SimTime(3) + 4, SimTime(7));
        assert_eq!(SimTime(3).checked_add(4), Some(SimTime(7)));
        assert_eq!(SimTime::MAX.checked_add(1), None);
        assert_eq!(SimTime(u64::MAX - 1).saturating_add(5), SimTime::MAX);
        assert_eq!(SimTime(42).to_string(), "42");
        assert_eq!(SimTime::default(), SimTime::ZERO);
        assert!(SimTime(1) < SimTime(2));
    }

    #[test]
    fn simtime_add_overflow_panics() {
        let res = std::panic::catch_unwind(|| SimTime::MAX + 1);
        let msg = res.expect_err("adding past SimTime::MAX must panic");
        let text = msg.downcast_ref::<String>().cloned().or_else(|| msg.downcast_ref::<&str>().map(|s| s.to_string()));
        assert!(text.unwrap_or_default().contains("SimTime overflow"));
    }

    #[test]
    fn an_id_cancelled_and_dropped_before_its_time_stays_cancelled() {
        let mut q = EventQueue::new();
        let a = q.schedule_in(5, 0, 'a');
        let b = q.schedule_in(9, 0, 'b');
        assert!(q.cancel(a));
        assert_eq!(q.peek_time(), Some(SimTime(9)), "peeking drops the cancelled top");
        assert!(!q.cancel(a), "a stays cancelled after it was dropped, though its time is ahead");
        assert!(q.cancel(b));
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
    }

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
        assert_eq!(seq_of(key), 456);
    }

    #[test]
    fn ties_are_fifo() {
        let mut q = EventQueue::new();
        for i in 0..100 {
            q.schedule(SimTime(5), 3, i).unwrap();
        }
        let got = drain(&mut q);
        assert_eq!(got, (0..100).map(|i| (5, i)).collect::<Vec<_>>());
    }

    #[test]
    fn time_then_priority_then_fifo() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(2), 0, "t2").unwrap();
        q.schedule(SimTime(1), 9, "t1 p9 first").unwrap();
        q.schedule(SimTime(1), 0, "t1 p0").unwrap();
        q.schedule(SimTime(1), 9, "t1 p9 second").unwrap();
        q.schedule(SimTime(1), 1, "t1 p1").unwrap();
        q.schedule(SimTime(0), 255, "t0 p255").unwrap();
        let got: Vec<_> = drain(&mut q).into_iter().map(|(_, e)| e).collect();
        assert_eq!(got, ["t0 p255", "t1 p0", "t1 p1", "t1 p9 first", "t1 p9 second", "t2"]);
    }

    #[test]
    fn pop_advances_the_clock() {
        let mut q = EventQueue::new();
        assert_eq!(q.pop(), None);
        assert_eq!(q.now(), SimTime::ZERO);
        q.schedule(SimTime(10), 0, 'a').unwrap();
        q.schedule(SimTime(20), 0, 'b').unwrap();
        assert_eq!(q.pop(), Some((SimTime(10), 'a')));
        assert_eq!(q.now(), SimTime(10));
        let id = q.schedule_in(5, 0, 'c');
        assert_ne!(q.schedule_in(5, 0, 'd'), id);
        assert_eq!(q.pop(), Some((SimTime(15), 'c')));
        assert_eq!(q.pop(), Some((SimTime(15), 'd')));
        assert_eq!(q.pop(), Some((SimTime(20), 'b')));
        assert_eq!(q.pop(), None);
        assert_eq!(q.now(), SimTime(20));
    }

    #[test]
    fn schedule_in_the_past_is_an_error() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(10), 0, 1).unwrap();
        q.pop();
        assert_eq!(q.schedule(SimTime(9), 0, 2), Err(SimError::ScheduleInPast { now: SimTime(10), at: SimTime(9) }));
        assert!(q.is_empty(), "a rejected event must not be queued");
        // The current time itself is fine.
        q.schedule(SimTime(10), 0, 3).unwrap();
        assert_eq!(q.pop(), Some((SimTime(10), 3)));
    }

    #[test]
    fn schedule_in_saturates() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(u64::MAX - 1), 0, 0).unwrap();
        q.pop();
        q.schedule_in(u64::MAX, 0, 1);
        assert_eq!(q.pop(), Some((SimTime::MAX, 1)));
    }

    #[test]
    fn cancel() {
        let mut q = EventQueue::new();
        let a = q.schedule(SimTime(1), 0, 'a').unwrap();
        let b = q.schedule(SimTime(2), 0, 'b').unwrap();
        let c = q.schedule(SimTime(3), 0, 'c').unwrap();
        assert_eq!(q.len(), 3);
        assert!(q.cancel(b));
        assert!(!q.cancel(b), "second cancel of the same id");
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some((SimTime(1), 'a')));
        assert!(!q.cancel(a), "a already fired");
        assert_eq!(q.pop(), Some((SimTime(3), 'c')), "b must be skipped");
        assert!(!q.cancel(b), "b was cancelled and dropped");
        assert!(!q.cancel(c), "c already fired");
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
        assert!(!q.cancel(EventId(1000)), "never issued");
    }

    #[test]
    fn cancel_the_top_and_peek() {
        let mut q = EventQueue::new();
        let a = q.schedule(SimTime(1), 0, 'a').unwrap();
        let b = q.schedule(SimTime(1), 0, 'b').unwrap();
        q.schedule(SimTime(4), 0, 'c').unwrap();
        assert_eq!(q.peek_time(), Some(SimTime(1)));
        assert!(q.cancel(a));
        assert!(q.cancel(b));
        assert_eq!(q.len(), 1);
        assert_eq!(q.peek_time(), Some(SimTime(4)));
        assert_eq!(q.now(), SimTime::ZERO, "peek does not move the clock");
        assert_eq!(q.pop(), Some((SimTime(4), 'c')));
        assert_eq!(q.now(), SimTime(4));
    }

    #[test]
    fn cancel_everything() {
        let mut q = EventQueue::new();
        let ids: Vec<_> = (0..10).map(|i| q.schedule_in(i % 3, 0, i)).collect();
        for &id in ids.iter().rev() {
            assert!(q.cancel(id));
        }
        assert!(q.is_empty());
        assert_eq!(q.peek_time(), None);
        assert_eq!(q.pop(), None);
        assert!(ids.iter().all(|&id| !q.cancel(id)));
    }

    #[test]
    fn cancel_out_of_order_then_interleave() {
        let mut q = EventQueue::new();
        let ids: Vec<_> = (0..20).map(|i| q.schedule_in(20 - i, 0, i)).collect();
        // Cancel some far and near events; later-keyed ones first.
        for &i in &[0usize, 19, 10, 5] {
            assert!(q.cancel(ids[i]));
        }
        let got: Vec<_> = drain(&mut q).into_iter().map(|(_, e)| e).collect();
        let want: Vec<_> = (0..20).rev().filter(|i| ![0, 19, 10, 5].contains(i)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn clear_keeps_the_clock_and_invalidates_ids() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(3), 0, 0).unwrap();
        q.pop();
        let a = q.schedule_in(1, 0, 1);
        let b = q.schedule_in(2, 0, 2);
        assert!(q.cancel(b));
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.now(), SimTime(3));
        assert!(!q.cancel(a));
        let c = q.schedule_in(1, 0, 3);
        assert_ne!(c, a);
        assert_eq!(q.pop(), Some((SimTime(4), 3)));
    }

    // ---- Simulation ----

    /// Records what it handles; an event `n > 0` schedules `n - 1` at `now + n`;
    /// an event of 99 fails.
    #[derive(Debug, Default)]
    struct Recorder {
        seen: Vec<(u64, u32)>,
    }

    impl Model for Recorder {
        type Event = u32;
        fn handle(&mut self, now: SimTime, event: u32, queue: &mut EventQueue<u32>) -> Result<(), SimError> {
            assert_eq!(now, queue.now());
            self.seen.push((now.ticks(), event));
            if event == 99 {
                return Err(SimError::Invariant("boom".into()));
            }
            if event > 0 {
                queue.schedule_in(u64::from(event), 0, event - 1);
            }
            Ok(())
        }
    }

    #[test]
    fn step_dispatches_in_order() {
        let mut sim = Simulation::new(Recorder::default());
        assert_eq!(sim.step(), Ok(None));
        sim.queue_mut().schedule(SimTime(1), 0, 2).unwrap();
        assert_eq!(sim.step(), Ok(Some(SimTime(1))));
        assert_eq!(sim.step(), Ok(Some(SimTime(3))));
        assert_eq!(sim.step(), Ok(Some(SimTime(4))));
        assert_eq!(sim.step(), Ok(None));
        assert_eq!(sim.events_processed(), 3);
        assert_eq!(sim.now(), SimTime(4));
        assert_eq!(sim.into_model().seen, [(1, 2), (3, 1), (4, 0)]);
    }

    #[test]
    fn run_until_includes_until_and_sets_the_clock() {
        let mut sim = Simulation::new(Recorder::default());
        sim.queue_mut().schedule(SimTime(0), 0, 3).unwrap(); // fires at 0, 3, 5, 6
        sim.queue_mut().schedule(SimTime(10), 0, 0).unwrap();

        let out = sim.run_until(SimTime(5)).unwrap();
        assert_eq!(out, RunOutcome { events: 3, drained: false });
        assert_eq!(sim.now(), SimTime(5));
        assert_eq!(sim.model().seen, [(0, 3), (3, 2), (5, 1)]);

        // until == now is allowed and processes nothing more here.
        let out = sim.run_until(SimTime(5)).unwrap();
        assert_eq!(out.events, 0);

        let out = sim.run_until(SimTime(8)).unwrap();
        assert_eq!(out, RunOutcome { events: 1, drained: false });
        assert_eq!(sim.now(), SimTime(8));

        // Past the last event: the queue drains and the clock still reaches `until`.
        let out = sim.run_until(SimTime(100)).unwrap();
        assert_eq!(out, RunOutcome { events: 1, drained: true });
        assert_eq!(sim.now(), SimTime(100));
        assert_eq!(sim.events_processed(), 5);
        assert_eq!(sim.model().seen.last(), Some(&(10, 0)));

        // An empty queue is not an error either.
        let out = sim.run_until(SimTime(200)).unwrap();
        assert_eq!(out, RunOutcome { events: 0, drained: true });
        assert_eq!(sim.now(), SimTime(200));
    }

    #[test]
    fn run_until_processes_events_scheduled_at_until_by_the_model() {
        let mut sim = Simulation::new(Recorder::default());
        // 1 at tick 4 schedules 0 at tick 5 == until: it must be processed too.
        sim.queue_mut().schedule(SimTime(4), 0, 1).unwrap();
        let out = sim.run_until(SimTime(5)).unwrap();
        assert_eq!(out.events, 2);
        assert!(out.drained);
    }

    #[test]
    fn with_queue_keeps_the_events_and_the_clock() {
        let mut queue = EventQueue::new();
        queue.schedule(SimTime(2), 0, 0).unwrap();
        queue.pop();
        queue.schedule_in(3, 0, 0);
        let mut sim = Simulation::with_queue(Recorder::default(), queue);
        assert_eq!(sim.now(), SimTime(2));
        assert_eq!(sim.events_processed(), 0);
        assert_eq!(sim.step(), Ok(Some(SimTime(5))));
        assert_eq!(sim.step(), Ok(None));
        assert_eq!(sim.model().seen, [(5, 0)]);
    }

    #[test]
    fn run_until_in_the_past_is_an_error() {
        let mut sim = Simulation::new(Recorder::default());
        sim.queue_mut().schedule(SimTime(20), 0, 0).unwrap();
        sim.run_until(SimTime(10)).unwrap();
        assert_eq!(sim.run_until(SimTime(9)), Err(SimError::UntilInPast { now: SimTime(10), until: SimTime(9) }));
        assert_eq!(sim.now(), SimTime(10));
        assert_eq!(sim.queue().len(), 1);
    }

    #[test]
    fn run_until_skips_cancelled_events() {
        let mut sim = Simulation::new(Recorder::default());
        let a = sim.queue_mut().schedule(SimTime(1), 0, 0).unwrap();
        sim.queue_mut().schedule(SimTime(2), 0, 0).unwrap();
        assert!(sim.queue_mut().cancel(a));
        let out = sim.run_until(SimTime(1)).unwrap();
        assert_eq!(out.events, 0);
        assert!(!out.drained);
        let out = sim.run_until(SimTime(2)).unwrap();
        assert_eq!(out.events, 1);
        assert_eq!(sim.model().seen, [(2, 0)]);
    }

    #[test]
    fn a_model_error_stops_the_run() {
        let mut sim = Simulation::new(Recorder::default());
        sim.queue_mut().schedule(SimTime(1), 0, 0).unwrap();
        sim.queue_mut().schedule(SimTime(2), 0, 99).unwrap();
        sim.queue_mut().schedule(SimTime(3), 0, 0).unwrap();
        assert_eq!(sim.run_until(SimTime(10)), Err(SimError::Invariant("boom".into())));
        assert_eq!(sim.now(), SimTime(2));
        assert_eq!(sim.events_processed(), 2);
        assert_eq!(sim.queue().len(), 1, "the event after the failure is still queued");
        assert_eq!(sim.model_mut().seen, [(1, 0), (2, 99)]);
    }
}
