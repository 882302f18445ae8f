//! The discrete-event simulation kernel: a clock, a pending-event set and a run loop.
//!
//! The kernel knows nothing of the market: it is generic over the event type, never
//! inspects an event or interprets a tick (the market uses one tick = one minute), and
//! everything model-specific lives behind [`Model`]. Nothing in this file names a market
//! type.
//!
//! # Ordering guarantee
//!
//! Events fire in ascending order of *(time, priority, insertion sequence)*: earlier
//! [`SimTime`] first; at equal time the lower `priority` number first; at equal time and
//! priority in the order they were scheduled (FIFO). The order depends only on the calls
//! made on the queue, never on addresses, hashing or the wall clock, so the same calls
//! give the same firing order on every run and platform. The clock never goes backwards.
//! There is no cancellation: an event that may no longer matter fires and finds nothing to
//! do (the market's contract deadlines work so).
//!
//! ```
//! use chipmarket_engine::sim::{EventQueue, KernelError, Model, SimTime, Simulation};
//!
//! /// Re-arms itself every 10 ticks.
//! struct Clock(Vec<SimTime>);
//!
//! impl Model for Clock {
//!     type Event = ();
//!     type Error = KernelError;
//!     fn handle(&mut self, now: SimTime, _: (), queue: &mut EventQueue<()>) -> Result<(), KernelError> {
//!         self.0.push(now);
//!         queue.schedule_in(10, 0, ());
//!         Ok(())
//!     }
//! }
//!
//! let mut sim = Simulation::new(Clock(Vec::new()));
//! sim.queue_mut().schedule(SimTime(5), 0, ())?;
//! let outcome = sim.run_until(SimTime(30))?;
//! assert_eq!(sim.model().0, [SimTime(5), SimTime(15), SimTime(25)]);
//! assert_eq!((outcome.events, outcome.drained, sim.now()), (3, false, SimTime(30)));
//! # Ok::<(), KernelError>(())
//! ```

mod heap;

use std::fmt;

use heap::{pack, time_of, Entry, QuadHeap, SEQ_MASK};

/// A point in simulated time, in integer ticks since the start of the run.
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

    /// `self + ticks`, clamped to [`SimTime::MAX`].
    #[inline]
    #[must_use]
    pub const fn saturating_add(self, ticks: u64) -> SimTime {
        SimTime(self.0.saturating_add(ticks))
    }
}

impl fmt::Display for SimTime {
    /// Just the tick number, e.g. `42`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A call on the kernel that asks for a time before the clock. A model that schedules with
/// [`EventQueue::schedule_in`] and runs with [`Simulation::step`] never meets one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// An event was scheduled before the current simulated time.
    #[error("cannot schedule an event at tick {at} before the current time, tick {now}")]
    ScheduleInPast {
        /// The current time.
        now: SimTime,
        /// The requested time.
        at: SimTime,
    },
    /// `run_until` was asked to stop at a time already passed.
    #[error("cannot run until tick {until}: the clock is already at tick {now}")]
    UntilInPast {
        /// The current time.
        now: SimTime,
        /// The requested stop time.
        until: SimTime,
    },
}

/// The pending-event set (a four-ary heap of packed keys; [`schedule`](Self::schedule) and
/// [`pop`](Self::pop) are O(log n), and allocate nothing once the heap has grown) and the
/// simulation clock.
#[derive(Debug, Clone)]
pub struct EventQueue<E> {
    heap: QuadHeap<E>,
    next_seq: u64,
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

    /// An empty queue with room for `capacity` pending events.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue { heap: QuadHeap::with_capacity(capacity), next_seq: 0, now: SimTime::ZERO }
    }

    /// The current time: that of the last event popped (or the last `run_until` bound).
    #[inline]
    #[must_use]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `at` with `priority` (see the
    /// [ordering guarantee](self#ordering-guarantee)); `at == now()` fires in this tick.
    ///
    /// # Errors
    ///
    /// [`KernelError::ScheduleInPast`] if `at < now()`; nothing is scheduled then.
    #[inline]
    pub fn schedule(&mut self, at: SimTime, priority: u8, event: E) -> Result<(), KernelError> {
        if at < self.now {
            return Err(KernelError::ScheduleInPast { now: self.now, at });
        }
        self.push(at, priority, event);
        Ok(())
    }

    /// Schedules `event` `delay` ticks from now (saturating at [`SimTime::MAX`]).
    #[inline]
    pub fn schedule_in(&mut self, delay: u64, priority: u8, event: E) {
        self.push(self.now.saturating_add(delay), priority, event);
    }

    #[inline(always)]
    fn push(&mut self, at: SimTime, priority: u8, event: E) {
        let seq = self.next_seq;
        debug_assert!(seq < SEQ_MASK, "EventQueue: 2^56 insertions exhausted");
        self.next_seq = seq + 1;
        self.heap.push(Entry::new(pack(at, priority, seq), event));
    }

    /// Removes the earliest event, moves the clock to its time and returns it; `None`
    /// (clock unchanged) if nothing is pending.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let entry = self.heap.pop()?;
        self.now = time_of(entry.key());
        Some((self.now, entry.event))
    }

    /// The time of the earliest pending event, if any.
    #[inline]
    #[must_use]
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.first().map(|entry| time_of(entry.key()))
    }

    /// The number of pending events.
    #[inline]
    #[must_use]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is pending.
    #[inline]
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.heap.len() == 0
    }

    /// Drops every pending event; the clock is unchanged.
    pub fn clear(&mut self) {
        self.heap.clear();
    }
}

/// A simulation model: the state events act on, and what each event does. The kernel
/// calls [`handle`](Model::handle) once per event, in the guaranteed order; the handler
/// may schedule events on `queue`.
pub trait Model {
    /// The event type carried by the queue.
    type Event;
    /// The model's error ([`Simulation::run_until`] also reports a [`KernelError`] as one).
    type Error: From<KernelError>;

    /// Handles `event`, which fires at `now` (equal to `queue.now()`).
    ///
    /// # Errors
    ///
    /// Any [`Model::Error`]; it stops the run and goes to the caller of the kernel.
    fn handle(
        &mut self,
        now: SimTime,
        event: Self::Event,
        queue: &mut EventQueue<Self::Event>,
    ) -> Result<(), Self::Error>;
}

/// What a [`Simulation::run_until`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunOutcome {
    /// The number of events processed by this call.
    pub events: u64,
    /// Whether the queue was empty when the call returned.
    pub drained: bool,
}

/// A model and its event queue: the run loop.
pub struct Simulation<M: Model> {
    queue: EventQueue<M::Event>,
    model: M,
    events_processed: u64,
}

impl<M: Model> Simulation<M> {
    /// A simulation of `model` with an empty queue (schedule the first events through
    /// [`queue_mut`](Self::queue_mut)).
    #[must_use]
    pub fn new(model: M) -> Self {
        Self::with_queue(model, EventQueue::new())
    }

    /// A simulation of `model` driven by `queue`, which may already hold events and keeps
    /// its clock.
    #[must_use]
    pub fn with_queue(model: M, queue: EventQueue<M::Event>) -> Self {
        Simulation { queue, model, events_processed: 0 }
    }

    /// The event queue.
    #[must_use]
    pub fn queue(&self) -> &EventQueue<M::Event> {
        &self.queue
    }

    /// The event queue, to schedule events from outside the model.
    pub fn queue_mut(&mut self) -> &mut EventQueue<M::Event> {
        &mut self.queue
    }

    /// The model.
    #[must_use]
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Consumes the simulation and returns the model.
    #[must_use]
    pub fn into_model(self) -> M {
        self.model
    }

    /// The current simulated time (see [`EventQueue::now`]).
    #[must_use]
    pub fn now(&self) -> SimTime {
        self.queue.now
    }

    /// The events handed to the model so far, including one whose handler failed.
    #[must_use]
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    /// Processes the next event: pops it (moving the clock) and hands it to the model.
    /// Returns its time, or `Ok(None)` if the queue is empty.
    ///
    /// # Errors
    ///
    /// The model's error. The clock then stays at the failing event's time.
    pub fn step(&mut self) -> Result<Option<SimTime>, M::Error> {
        let Some((now, event)) = self.queue.pop() else {
            return Ok(None);
        };
        self.dispatch(now, event)?;
        Ok(Some(now))
    }

    #[inline]
    fn dispatch(&mut self, now: SimTime, event: M::Event) -> Result<(), M::Error> {
        self.events_processed += 1;
        self.model.handle(now, event, &mut self.queue)
    }

    /// Runs the simulation until time `until`: processes, in order, every event whose
    /// time is `<= until` (including events the model schedules along the way), then
    /// sets the clock to `until`. Unlike SimPy's `Environment.run(until)`, events at
    /// exactly `until` are processed (so `run_until(t)` then `run_until(u)` processes what
    /// `run_until(u)` does), and an empty queue does not end the run early. Returns how
    /// many events this call processed and whether the queue is empty at the end.
    ///
    /// # Errors
    ///
    /// [`KernelError::UntilInPast`] if `until < now()` (nothing is processed), or the
    /// first error of the model: the run stops there, with the clock at the failing
    /// event's time and the remaining events still queued.
    pub fn run_until(&mut self, until: SimTime) -> Result<RunOutcome, M::Error> {
        let now = self.queue.now;
        if until < now {
            return Err(KernelError::UntilInPast { now, until }.into());
        }
        let mut events = 0;
        while let Some((at, event)) = self.queue.peek_time().filter(|&at| at <= until).and_then(|_| self.queue.pop()) {
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
        assert_eq!(SimTime(3).saturating_add(4), SimTime(7));
        assert_eq!(SimTime(u64::MAX - 1).saturating_add(5), SimTime::MAX);
        assert_eq!(SimTime(42).to_string(), "42");
        assert_eq!(SimTime::default(), SimTime::ZERO);
        assert!(SimTime(1) < SimTime(2));
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
        q.schedule_in(5, 0, 'c');
        q.schedule_in(5, 0, 'd');
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
        assert_eq!(q.schedule(SimTime(9), 0, 2), Err(KernelError::ScheduleInPast { now: SimTime(10), at: SimTime(9) }));
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
    fn clear_keeps_the_clock() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(3), 0, 0).unwrap();
        q.pop();
        q.schedule_in(1, 0, 1);
        q.schedule_in(2, 0, 2);
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.now(), SimTime(3));
        q.schedule_in(1, 0, 3);
        assert_eq!(q.pop(), Some((SimTime(4), 3)));
    }

    // ---- Simulation ----

    /// Records what it handles; an event `n > 0` schedules `n - 1` at `now + n`;
    /// an event of 99 fails.
    #[derive(Debug, Default)]
    struct Recorder {
        seen: Vec<(u64, u32)>,
    }

    /// The test model's error: the kernel's, or a failure of its own.
    #[derive(Debug, PartialEq)]
    enum TestError {
        Kernel(KernelError),
        Boom,
    }

    impl From<KernelError> for TestError {
        fn from(e: KernelError) -> Self {
            TestError::Kernel(e)
        }
    }

    impl Model for Recorder {
        type Event = u32;
        type Error = TestError;
        fn handle(&mut self, now: SimTime, event: u32, queue: &mut EventQueue<u32>) -> Result<(), TestError> {
            assert_eq!(now, queue.now());
            self.seen.push((now.ticks(), event));
            if event == 99 {
                return Err(TestError::Boom);
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
        assert_eq!(
            sim.run_until(SimTime(9)),
            Err(TestError::Kernel(KernelError::UntilInPast { now: SimTime(10), until: SimTime(9) }))
        );
        assert_eq!(sim.now(), SimTime(10));
        assert_eq!(sim.queue().len(), 1);
    }

    #[test]
    fn a_model_error_stops_the_run() {
        let mut sim = Simulation::new(Recorder::default());
        sim.queue_mut().schedule(SimTime(1), 0, 0).unwrap();
        sim.queue_mut().schedule(SimTime(2), 0, 99).unwrap();
        sim.queue_mut().schedule(SimTime(3), 0, 0).unwrap();
        assert_eq!(sim.run_until(SimTime(10)), Err(TestError::Boom));
        assert_eq!(sim.now(), SimTime(2));
        assert_eq!(sim.events_processed(), 2);
        assert_eq!(sim.queue().len(), 1, "the event after the failure is still queued");
        assert_eq!(sim.model().seen, [(1, 0), (2, 99)]);
    }
}
