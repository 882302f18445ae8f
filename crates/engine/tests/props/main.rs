//! Property tests of the simulation kernel (`sim`) against a reference model: a sorted `Vec`.

mod docs;
mod scenario;

use std::collections::HashSet;

use chipmarket_engine::sim::{EventQueue, KernelError, Model, RunOutcome, SimTime, Simulation};
use proptest::prelude::*;

/// One operation on the queue.
#[derive(Debug, Clone)]
enum Op {
    /// `schedule(now + delay, priority, _)`.
    Schedule {
        delay: u64,
        priority: u8,
    },
    /// `schedule_in(delay, priority, _)`.
    ScheduleIn {
        delay: u64,
        priority: u8,
    },
    /// `schedule(now - back, ...)`: an error unless `back == 0`.
    ScheduleBack {
        back: u64,
        priority: u8,
    },
    Pop,
    PeekTime,
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    // Small delays and few priorities, to force many ties.
    prop_oneof![
        30 => (0..4u64, 0..3u8).prop_map(|(delay, priority)| Op::Schedule { delay, priority }),
        10 => (0..4u64, 0..3u8).prop_map(|(delay, priority)| Op::ScheduleIn { delay, priority }),
        5 => (0..3u64, 0..3u8).prop_map(|(back, priority)| Op::ScheduleBack { back, priority }),
        30 => Just(Op::Pop),
        5 => Just(Op::PeekTime),
        1 => Just(Op::Clear),
    ]
}

/// The reference: pending events as `(time, priority, seq, payload)`, kept sorted;
/// the smallest tuple fires first. `seq` counts every successful schedule.
#[derive(Debug, Default)]
struct Reference {
    pending: Vec<(u64, u8, u64, usize)>,
    now: u64,
    next_seq: u64,
}

impl Reference {
    fn schedule(&mut self, at: u64, priority: u8, payload: usize) -> bool {
        if at < self.now {
            return false;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = (at, priority, seq, payload);
        let pos = self.pending.partition_point(|e| *e < entry);
        self.pending.insert(pos, entry);
        true
    }

    fn pop(&mut self) -> Option<(u64, usize)> {
        if self.pending.is_empty() {
            return None;
        }
        let (at, _, _, payload) = self.pending.remove(0);
        self.now = at;
        Some((at, payload))
    }
}

/// What a run of operations produced, for the direct (reference-free) checks.
#[derive(Debug, Default)]
struct Trace {
    /// `(time, priority, payload)` of every popped event, in pop order.
    popped: Vec<(u64, u8, usize)>,
}

/// Applies `ops` to a kernel queue and the reference side by side, asserting that
/// they agree after every operation. The payload of an event is its index in the list of
/// events scheduled.
fn run_ops(ops: &[Op]) -> Result<Trace, TestCaseError> {
    let mut queue: EventQueue<usize> = EventQueue::new();
    let mut reference = Reference::default();
    // The priority of every event scheduled, by payload.
    let mut ids: Vec<u8> = Vec::new();
    let mut trace = Trace::default();

    for op in ops {
        match op {
            Op::Schedule { delay, priority } | Op::ScheduleIn { delay, priority } => {
                let payload = ids.len();
                let at = queue.now().ticks() + delay;
                if matches!(op, Op::Schedule { .. }) {
                    queue.schedule(SimTime(at), *priority, payload).unwrap();
                } else {
                    queue.schedule_in(*delay, *priority, payload);
                }
                prop_assert!(reference.schedule(at, *priority, payload));
                ids.push(*priority);
            }
            Op::ScheduleBack { back, priority } => {
                let now = queue.now();
                let Some(at) = now.ticks().checked_sub(*back) else {
                    continue;
                };
                let payload = ids.len();
                let got = queue.schedule(SimTime(at), *priority, payload);
                if reference.schedule(at, *priority, payload) {
                    prop_assert_eq!(got, Ok(()), "scheduling at now is allowed");
                    ids.push(*priority);
                } else {
                    prop_assert_eq!(got, Err(KernelError::ScheduleInPast { now, at: SimTime(at) }));
                }
            }
            Op::Pop => {
                let got = queue.pop().map(|(t, p)| (t.ticks(), p));
                prop_assert_eq!(got, reference.pop());
                if let Some((t, p)) = got {
                    trace.popped.push((t, ids[p], p));
                }
            }
            Op::PeekTime => {
                let want = reference.pending.first().map(|e| SimTime(e.0));
                prop_assert_eq!(queue.peek_time(), want);
            }
            Op::Clear => {
                queue.clear();
                reference.pending.clear();
            }
        }
        prop_assert_eq!(queue.len(), reference.pending.len());
        prop_assert_eq!(queue.is_empty(), reference.pending.is_empty());
        prop_assert_eq!(queue.now(), SimTime(reference.now));
    }

    // Drain what is left: it must come out in the reference order too.
    loop {
        let got = queue.pop().map(|(t, p)| (t.ticks(), p));
        prop_assert_eq!(got, reference.pop());
        let Some((t, p)) = got else { break };
        trace.popped.push((t, ids[p], p));
        prop_assert_eq!(queue.len(), reference.pending.len());
    }
    prop_assert!(queue.is_empty());
    prop_assert_eq!(queue.peek_time(), None);
    Ok(trace)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The kernel agrees with the reference after every operation: pop order, peek, len,
    /// clock.
    #[test]
    fn matches_the_reference(ops in prop::collection::vec(op(), 0..300)) {
        run_ops(&ops)?;
    }

    /// The ordering guarantee, checked directly on the pop trace.
    #[test]
    fn pops_are_ordered_fifo_and_fire_once(ops in prop::collection::vec(op(), 0..300)) {
        let trace = run_ops(&ops)?;
        for w in trace.popped.windows(2) {
            let ((t0, p0, s0), (t1, p1, s1)) = (w[0], w[1]);
            prop_assert!(t0 <= t1, "time went backwards: {:?}", w);
            // Payloads are issue order, so on equal (time, priority) they must rise.
            // (An event scheduled at `now` may have a lower priority than the one just
            // popped, so priority alone need not be monotone within a tick.)
            if (t0, p0) == (t1, p1) {
                prop_assert!(s0 < s1, "not FIFO on a tie: {:?}", w);
            }
        }
        let mut fired = HashSet::new();
        for &(_, _, p) in &trace.popped {
            prop_assert!(fired.insert(p), "event {} fired twice", p);
        }
    }

    /// With everything scheduled up front (no rescheduling at `now`), the pop order is
    /// exactly the sorted (time, priority, issue order).
    #[test]
    fn batch_pop_order_is_sorted(events in prop::collection::vec((0..5u64, 0..3u8), 0..200)) {
        let mut queue = EventQueue::new();
        let mut want = Vec::new();
        for (i, &(t, p)) in events.iter().enumerate() {
            queue.schedule(SimTime(t), p, i).unwrap();
            want.push((t, p, i));
        }
        want.sort();
        prop_assert_eq!(queue.len(), want.len());
        let got: Vec<_> = std::iter::from_fn(|| queue.pop())
            .map(|(t, i)| (t.ticks(), events[i].1, i))
            .collect();
        prop_assert_eq!(got, want);
    }
}

// ------------------------------------------------------------- Simulation ----

/// A model that logs every event and, for an event `(depth, delay)` with
/// `depth > 0`, schedules `(depth - 1, delay)` at `now + delay`, priority `depth % 2`.
#[derive(Debug, Default)]
struct Spawner {
    log: Vec<(u64, u8, u64)>,
}

impl Model for Spawner {
    type Event = (u8, u64);
    type Error = KernelError;

    fn handle(
        &mut self,
        now: SimTime,
        (depth, delay): (u8, u64),
        queue: &mut EventQueue<(u8, u64)>,
    ) -> Result<(), KernelError> {
        self.log.push((now.ticks(), depth, delay));
        if depth > 0 {
            queue.schedule_in(delay, depth % 2, (depth - 1, delay));
        }
        Ok(())
    }
}

fn seeded(initial: &[(u64, u8, u64)]) -> Simulation<Spawner> {
    let mut sim = Simulation::new(Spawner::default());
    for &(t, depth, delay) in initial {
        sim.queue_mut().schedule(SimTime(t), 0, (depth, delay)).unwrap();
    }
    sim
}

proptest! {
    /// `run_until` in chunks processes exactly the events at or before each stop, in
    /// the same order as stepping one event at a time, and leaves the clock at the stop.
    #[test]
    fn run_until_in_chunks_matches_stepping(
        initial in prop::collection::vec((0..20u64, 0..4u8, 0..6u64), 0..20),
        stops in prop::collection::vec(0..15u64, 0..6),
    ) {
        // Reference: step everything, log the times.
        let mut stepped = seeded(&initial);
        while stepped.step()?.is_some() {}
        let all = stepped.into_model().log;

        let mut sim = seeded(&initial);
        let mut until = 0;
        let mut total = 0;
        for gap in stops {
            until += gap;
            let before = sim.model().log.len();
            let out = sim.run_until(SimTime(until))?;
            let want = all.iter().filter(|e| e.0 <= until).count();
            prop_assert_eq!(sim.model().log.len(), want);
            prop_assert_eq!(out, RunOutcome {
                events: (want - before) as u64,
                drained: want == all.len(),
            });
            prop_assert_eq!(sim.now(), SimTime(until));
            total += out.events;
            if until > 0 {
                prop_assert_eq!(
                    sim.run_until(SimTime(until - 1)),
                    Err(KernelError::UntilInPast { now: SimTime(until), until: SimTime(until - 1) })
                );
            }
        }
        prop_assert_eq!(sim.events_processed(), total);
        prop_assert_eq!(&sim.model().log[..], &all[..sim.model().log.len()]);
    }
}
