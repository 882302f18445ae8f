//! Property tests of the simulation kernel (`sim`) against a reference model: a sorted `Vec`.

mod docs;
mod scenario;

use std::collections::HashSet;

use chipmarket_engine::error::SimError;
use chipmarket_engine::sim::{EventId, EventQueue, Model, RunOutcome, SimTime, Simulation};
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
    /// `cancel` of an id issued earlier (any of them, fired or not), picked by index.
    Cancel {
        pick: prop::sample::Index,
    },
    /// `cancel` of an id this queue never issued.
    CancelForeign,
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
        15 => any::<prop::sample::Index>().prop_map(|pick| Op::Cancel { pick }),
        3 => Just(Op::CancelForeign),
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
    fn schedule(&mut self, at: u64, priority: u8, payload: usize) -> Option<u64> {
        if at < self.now {
            return None;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = (at, priority, seq, payload);
        let pos = self.pending.partition_point(|e| *e < entry);
        self.pending.insert(pos, entry);
        Some(seq)
    }

    fn cancel(&mut self, seq: u64) -> bool {
        match self.pending.iter().position(|e| e.2 == seq) {
            Some(i) => {
                self.pending.remove(i);
                true
            }
            None => false,
        }
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
    /// Payloads whose cancel returned true.
    cancelled: HashSet<usize>,
}

/// Applies `ops` to a kernel queue and the reference side by side, asserting that
/// they agree after every operation. The payload of an event is the index of its id
/// in the list of issued ids.
fn run_ops(ops: &[Op]) -> Result<Trace, TestCaseError> {
    let mut queue: EventQueue<usize> = EventQueue::new();
    let mut reference = Reference::default();
    // Every id issued: (kernel id, reference seq, priority).
    let mut ids: Vec<(EventId, u64, u8)> = Vec::new();
    let mut trace = Trace::default();

    for op in ops {
        match op {
            Op::Schedule { delay, priority } | Op::ScheduleIn { delay, priority } => {
                let payload = ids.len();
                let at = queue.now().ticks() + delay;
                let id = if matches!(op, Op::Schedule { .. }) {
                    queue.schedule(SimTime(at), *priority, payload).unwrap()
                } else {
                    queue.schedule_in(*delay, *priority, payload)
                };
                let seq = reference.schedule(at, *priority, payload).unwrap();
                prop_assert!(ids.iter().all(|&(other, _, _)| other != id), "id reused");
                ids.push((id, seq, *priority));
            }
            Op::ScheduleBack { back, priority } => {
                let now = queue.now();
                let Some(at) = now.ticks().checked_sub(*back) else {
                    continue;
                };
                let payload = ids.len();
                let got = queue.schedule(SimTime(at), *priority, payload);
                match reference.schedule(at, *priority, payload) {
                    Some(seq) => {
                        let id = got.expect("scheduling at now is allowed");
                        ids.push((id, seq, *priority));
                    }
                    None => prop_assert_eq!(got, Err(SimError::ScheduleInPast { now, at: SimTime(at) })),
                }
            }
            Op::Cancel { pick } => {
                if ids.is_empty() {
                    continue;
                }
                let i = pick.index(ids.len());
                let (id, seq, _) = ids[i];
                let got = queue.cancel(id);
                prop_assert_eq!(got, reference.cancel(seq), "cancel of event {}", i);
                if got {
                    trace.cancelled.insert(i);
                }
            }
            Op::CancelForeign => {
                // A different queue issues ids 0, 1, ...; one past ours is foreign.
                let mut other: EventQueue<()> = EventQueue::new();
                let foreign = (0..=ids.len()).map(|_| other.schedule_in(0, 0, ())).last();
                prop_assert!(!queue.cancel(foreign.unwrap()));
            }
            Op::Pop => {
                let got = queue.pop().map(|(t, p)| (t.ticks(), p));
                prop_assert_eq!(got, reference.pop());
                if let Some((t, p)) = got {
                    trace.popped.push((t, ids[p].2, p));
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
        trace.popped.push((t, ids[p].2, p));
        prop_assert_eq!(queue.len(), reference.pending.len());
    }
    prop_assert!(queue.is_empty());
    prop_assert_eq!(queue.peek_time(), None);
    Ok(trace)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The kernel agrees with the reference after every operation: pop order, peek,
    /// cancel results, len, clock.
    #[test]
    fn matches_the_reference(ops in prop::collection::vec(op(), 0..300)) {
        run_ops(&ops)?;
    }

    /// The ordering guarantee, checked directly on the pop trace.
    #[test]
    fn pops_are_ordered_fifo_and_never_cancelled(ops in prop::collection::vec(op(), 0..300)) {
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
            prop_assert!(!trace.cancelled.contains(&p), "cancelled event {} fired", p);
        }
    }

    /// With everything scheduled up front (no rescheduling at `now`), the pop order is
    /// exactly the sorted (time, priority, issue order).
    #[test]
    fn batch_pop_order_is_sorted(
        events in prop::collection::vec((0..5u64, 0..3u8), 0..200),
        cancel in prop::collection::vec(any::<bool>(), 200),
    ) {
        let mut queue = EventQueue::new();
        let mut want = Vec::new();
        for (i, &(t, p)) in events.iter().enumerate() {
            let id = queue.schedule(SimTime(t), p, i).unwrap();
            if cancel[i] {
                prop_assert!(queue.cancel(id));
            } else {
                want.push((t, p, i));
            }
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

    fn handle(
        &mut self,
        now: SimTime,
        (depth, delay): (u8, u64),
        queue: &mut EventQueue<(u8, u64)>,
    ) -> Result<(), SimError> {
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
                    Err(SimError::UntilInPast { now: SimTime(until), until: SimTime(until - 1) })
                );
            }
        }
        prop_assert_eq!(sim.events_processed(), total);
        prop_assert_eq!(&sim.model().log[..], &all[..sim.model().log.len()]);
    }
}
