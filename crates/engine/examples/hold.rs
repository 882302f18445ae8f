//! Hold-model benchmark of the kernel's [`EventQueue`] against a bare `BinaryHeap`.
//!
//! The classic hold model: a pending set of N events; each step pops the earliest
//! event (time `t`) and schedules one at `t + Exp(1)`. Kernel time is integer, so
//! both variants draw `Exp(1)`, scale it by 1e9 ticks and round to `u64`; they share
//! the seed, hence the same draws and the same event sequence.
//!
//! ```text
//! cargo run --release -p chipmarket-engine --example hold -- --pending N --events M [--warmup W]
//! ```
//!
//! Defaults: N = 1000, M = 5 000 000, W = max(N, 100 000). Each variant runs three
//! times, interleaved, each run with a fresh queue and RNG: N initial events, W untimed
//! steps, M timed steps; the median rate is reported. The last line printed is
//! `events_per_sec=<kernel rate>`.

// The engine's clippy.toml forbids the wall clock in library code; a benchmark needs it.
#![allow(clippy::disallowed_methods)]

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use chipmarket_engine::sim::{EventQueue, SimTime};
use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};
use rand_pcg::Pcg64Mcg;

/// Seed shared by both variants.
const SEED: u64 = 0x005E_ED0F_401D;
/// Ticks per unit of the exponential draw.
const SCALE: f64 = 1e9;
/// Runs per variant; the median is reported.
const REPEATS: usize = 3;

/// One hold delay in ticks: `Exp(1)` scaled by [`SCALE`], rounded.
#[inline(always)]
fn draw(rng: &mut Pcg64Mcg) -> u64 {
    let x: f64 = Exp1.sample(rng);
    (x * SCALE).round() as u64
}

// ------------------------------------------------------------------ kernel ----

/// Runs the hold model on the kernel queue; returns (timed seconds, final time).
fn run_kernel(n: usize, warmup: u64, events: u64) -> (f64, u64) {
    let mut rng = Pcg64Mcg::seed_from_u64(SEED);
    let mut queue: EventQueue<u32> = EventQueue::with_capacity(n);
    for pid in 0..n as u32 {
        let at = SimTime(draw(&mut rng));
        queue.schedule(at, 0, pid).expect("the clock is at zero");
    }
    kernel_steps(&mut queue, &mut rng, warmup);
    let start = Instant::now();
    let now = kernel_steps(&mut queue, &mut rng, events);
    let secs = start.elapsed().as_secs_f64();
    black_box(&queue);
    (secs, now)
}

#[inline(never)]
fn kernel_steps(queue: &mut EventQueue<u32>, rng: &mut Pcg64Mcg, steps: u64) -> u64 {
    let mut now = 0;
    for _ in 0..steps {
        let (t, pid) = queue.pop().expect("the pending set never empties");
        now = t.ticks();
        queue.schedule_in(draw(rng), 0, black_box(pid));
    }
    now
}

// -------------------------------------------------------------------- bare ----

/// Bare heap entry: the reference `bare` variant with an integer time key.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    key: u64,
    seq: u64,
    pid: u32,
}

impl Ord for Entry {
    #[inline]
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap, we want the earliest first.
        (o.key, o.seq).cmp(&(self.key, self.seq))
    }
}

impl PartialOrd for Entry {
    #[inline]
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Runs the hold model on a bare `BinaryHeap`; returns (timed seconds, final time).
fn run_bare(n: usize, warmup: u64, events: u64) -> (f64, u64) {
    let mut rng = Pcg64Mcg::seed_from_u64(SEED);
    let mut heap = BinaryHeap::with_capacity(n);
    for pid in 0..n {
        let key = draw(&mut rng);
        heap.push(Entry { key, seq: pid as u64, pid: pid as u32 });
    }
    let mut seq = n as u64;
    bare_steps(&mut heap, &mut seq, &mut rng, warmup);
    let start = Instant::now();
    let now = bare_steps(&mut heap, &mut seq, &mut rng, events);
    let secs = start.elapsed().as_secs_f64();
    black_box(&heap);
    (secs, now)
}

#[inline(never)]
fn bare_steps(heap: &mut BinaryHeap<Entry>, seq: &mut u64, rng: &mut Pcg64Mcg, steps: u64) -> u64 {
    let mut now = 0;
    for _ in 0..steps {
        let e = heap.pop().expect("the pending set never empties");
        now = e.key;
        heap.push(Entry { key: now + draw(rng), seq: *seq, pid: black_box(e.pid) });
        *seq += 1;
    }
    now
}

// -------------------------------------------------------------------- main ----

struct Args {
    pending: usize,
    events: u64,
    warmup: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut pending: usize = 1000;
    let mut events: u64 = 5_000_000;
    let mut warmup: Option<u64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value"))
                .and_then(|v| v.replace('_', "").parse::<u64>().map_err(|e| format!("{flag} {v}: {e}")))
        };
        match flag.as_str() {
            "--pending" => pending = value()? as usize,
            "--events" => events = value()?,
            "--warmup" => warmup = Some(value()?),
            other => {
                return Err(format!("unknown argument {other}; usage: hold [--pending N] [--events M] [--warmup W]"))
            }
        }
    }
    if pending == 0 || pending > u32::MAX as usize {
        return Err(format!("--pending must be in 1..=2^32-1, got {pending}"));
    }
    let warmup = warmup.unwrap_or((pending as u64).max(100_000));
    Ok(Args { pending, events, warmup })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hold: {e}");
            return ExitCode::from(2);
        }
    };
    let Args { pending: n, events, warmup } = args;
    println!("hold model: pending={n} events={events} warmup={warmup} runs={REPEATS} (median)");

    let mut kernel_rates = Vec::with_capacity(REPEATS);
    let mut bare_rates = Vec::with_capacity(REPEATS);
    for run in 1..=REPEATS {
        // Alternate which variant goes first, so neither always gets the colder start.
        let ((ks, kt), (bs, bt)) = if run % 2 == 1 {
            let k = run_kernel(n, warmup, events);
            (k, run_bare(n, warmup, events))
        } else {
            let b = run_bare(n, warmup, events);
            (run_kernel(n, warmup, events), b)
        };
        if kt != bt {
            eprintln!("hold: the variants diverged: kernel ended at tick {kt}, bare at {bt}");
            return ExitCode::FAILURE;
        }
        let (kr, br) = (events as f64 / ks, events as f64 / bs);
        println!(
            "  run {run}: kernel {:>6.2} M events/s, bare {:>6.2} M events/s (final tick {kt})",
            kr / 1e6,
            br / 1e6
        );
        kernel_rates.push(kr);
        bare_rates.push(br);
    }
    let kernel = median(kernel_rates);
    let bare = median(bare_rates);
    println!("kernel EventQueue : {:>7.2} M events/s", kernel / 1e6);
    println!("bare BinaryHeap   : {:>7.2} M events/s", bare / 1e6);
    println!("ratio kernel/bare : {:>7.3}", kernel / bare);
    println!("events_per_sec={}", kernel.round() as u64);
    ExitCode::SUCCESS
}
