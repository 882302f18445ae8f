//! Many independent tasks on a dedicated rayon pool, their results handed over in index order.
//!
//! Workers take indices in increasing order from a shared counter (rather than rayon's
//! splitting, which would finish far-apart indices first) and never run more than a window
//! ahead of the next index the sink waits for. Results that finish early wait in a small
//! reorder buffer, so memory stays bounded by the window, not by the number of tasks, and the
//! sink sees the same sequence whatever the number of threads.

use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use anyhow::{anyhow, Context, Result};

/// The most threads `--jobs` or `RAYON_NUM_THREADS` may ask for: more would spend minutes
/// starting threads (and memory for their stacks) before any work, on any machine today.
pub const MAX_JOBS: usize = 1024;

/// The number of jobs from a `--jobs` flag (default: one per core), refused outside 1 to
/// [`MAX_JOBS`].
pub fn jobs(flag: Option<usize>) -> Result<usize, crate::error::InputError> {
    match flag {
        Some(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        Some(n) => Err(crate::error::InputError::new(format!(
            "--jobs: expected a whole number from 1 to {MAX_JOBS}, found {n}"
        ))
        .with_hint("results do not depend on it; one job per core is the default")),
        None => Ok(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)),
    }
}

/// Refuse a `RAYON_NUM_THREADS` that rayon would fail on or that asks for more than
/// [`MAX_JOBS`] threads (checked before any pool starts).
pub fn check_thread_env() -> Result<(), crate::error::InputError> {
    let Some(value) = std::env::var_os("RAYON_NUM_THREADS") else { return Ok(()) };
    let text = value.to_string_lossy();
    match text.trim().parse::<usize>() {
        Ok(n) if n <= MAX_JOBS => Ok(()),
        _ => Err(crate::error::InputError::new(format!(
            "RAYON_NUM_THREADS: expected a whole number from 0 (one per core) to {MAX_JOBS}, found \"{text}\""
        ))
        .with_hint("unset it, or use --jobs where the command has it")),
    }
}

/// How far (in tasks per worker, at least two chunks) workers may run ahead of the sink.
const WINDOW_PER_JOB: u64 = 32;

/// What a panicking task left: its panic message.
pub type Panic = String;

struct Shared<T, S> {
    /// Next index the sink waits for.
    next_out: u64,
    /// Finished chunks (by first index) waiting for the ones before them.
    pending: BTreeMap<u64, Vec<Result<T, Panic>>>,
    sink: S,
    /// The sink's first error: every worker stops.
    error: Option<anyhow::Error>,
    /// Workers waiting for the sink to catch up.
    waiting: usize,
}

/// Run a task for every index of `range` on a pool of `jobs` threads, and hand the results to
/// `sink` in increasing index order.
///
/// Workers take `chunk` consecutive indices at a time and hand over a chunk's results together
/// (fewer hand-offs between threads; neighbouring tasks, such as the replications of one sweep
/// point, stay on one thread). `make_worker` builds one task function per thread, so a thread
/// can keep a cache. A task that panics is handed over as `Err(message)` and the others go on.
/// The sink's first error (or panic) stops the workers and is returned once they have stopped.
pub fn run_ordered<W, T, S>(
    range: Range<u64>,
    jobs: usize,
    chunk: u64,
    make_worker: impl Fn() -> W + Sync,
    sink: S,
) -> Result<()>
where
    W: FnMut(u64) -> T,
    T: Send,
    S: FnMut(u64, Result<T, Panic>) -> Result<()> + Send,
{
    run_ordered_within(range, jobs, chunk, WINDOW_PER_JOB, make_worker, sink)
}

/// [`run_ordered`] with workers at most `window_per_job` tasks per worker (and at least two
/// chunks) ahead of the sink: for tasks whose results are large, such as the rows of a
/// replication, so that at most about `jobs x window_per_job` results wait at a time.
pub fn run_ordered_within<W, T, S>(
    range: Range<u64>,
    jobs: usize,
    chunk: u64,
    window_per_job: u64,
    make_worker: impl Fn() -> W + Sync,
    sink: S,
) -> Result<()>
where
    W: FnMut(u64) -> T,
    T: Send,
    S: FnMut(u64, Result<T, Panic>) -> Result<()> + Send,
{
    let jobs = jobs.max(1);
    let chunk = chunk.max(1);
    let window = window_per_job.max(2 * chunk) * jobs as u64;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("chipmarket-sweep-{i}"))
        .build()
        .context("failed to start the worker threads")?;
    let next_in = AtomicU64::new(range.start);
    let shared = Mutex::new(Shared { next_out: range.start, pending: BTreeMap::new(), sink, error: None, waiting: 0 });
    let progressed = Condvar::new();

    pool.scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|_| {
                let mut worker = make_worker();
                loop {
                    let start = next_in.fetch_add(chunk, Ordering::Relaxed);
                    if start >= range.end {
                        return;
                    }
                    {
                        let mut st = lock(&shared);
                        while st.error.is_none() && start >= st.next_out + window {
                            st.waiting += 1;
                            st = progressed.wait(st).unwrap_or_else(PoisonError::into_inner);
                            st.waiting -= 1;
                        }
                        if st.error.is_some() {
                            return;
                        }
                    }
                    let results: Vec<Result<T, Panic>> = (start..(start + chunk).min(range.end))
                        .map(|idx| catch_unwind(AssertUnwindSafe(|| worker(idx))).map_err(|p| panic_message(&*p)))
                        .collect();
                    let mut st = lock(&shared);
                    if st.error.is_some() {
                        return;
                    }
                    st.pending.insert(start, results);
                    let Shared { next_out, pending, sink, error, waiting } = &mut *st;
                    'deliver: while let Some(results) = pending.remove(next_out) {
                        for res in results {
                            let delivered =
                                catch_unwind(AssertUnwindSafe(|| sink(*next_out, res))).unwrap_or_else(|p| {
                                    Err(anyhow!("internal error while writing results: {}", panic_message(&*p)))
                                });
                            if let Err(e) = delivered {
                                *error = Some(e);
                                pending.clear();
                                break 'deliver;
                            }
                            *next_out += 1;
                        }
                    }
                    let wake = *waiting > 0;
                    drop(st);
                    if wake {
                        progressed.notify_all();
                    }
                }
            });
        }
    });
    let st = shared.into_inner().unwrap_or_else(PoisonError::into_inner);
    match st.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Lock a mutex, ignoring poisoning (the sink's panics are caught and turned into errors).
fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `0..n` with a task that sleeps a little out of order and panics on `bad`.
    fn collect(n: u64, jobs: usize, chunk: u64, bad: Option<u64>) -> Vec<(u64, Result<u64, Panic>)> {
        let mut seen = Vec::new();
        run_ordered(
            0..n,
            jobs,
            chunk,
            || {
                move |i: u64| {
                    if Some(i) == bad {
                        panic!("task {i} fails");
                    }
                    std::thread::sleep(std::time::Duration::from_micros((i * 7919) % 300));
                    i * i
                }
            },
            |i, r| {
                seen.push((i, r));
                Ok(())
            },
        )
        .unwrap();
        seen
    }

    #[test]
    fn results_arrive_in_index_order_whatever_the_thread_count() {
        let one = collect(300, 1, 1, None);
        assert_eq!(one, (0..300).map(|i| (i, Ok(i * i))).collect::<Vec<_>>());
        assert_eq!(collect(300, 2, 1, None), one);
        assert_eq!(collect(300, 5, 1, None), one);
        assert_eq!(collect(300, 2, 7, None), one);
        assert_eq!(collect(300, 3, 64, None), one);
    }

    #[test]
    fn a_panicking_task_is_reported_and_the_others_go_on() {
        let seen = collect(50, 3, 4, Some(17));
        assert_eq!(seen.len(), 50);
        for (i, r) in &seen {
            if *i == 17 {
                assert_eq!(r.as_ref().unwrap_err(), "task 17 fails");
            } else {
                assert_eq!(r.as_ref().unwrap(), &(i * i));
            }
        }
    }

    #[test]
    fn a_sink_error_stops_the_workers() {
        let mut delivered = 0;
        let err = run_ordered(
            0..10_000,
            2,
            3,
            || |i: u64| i,
            |i, _| {
                delivered += 1;
                if i == 100 {
                    Err(anyhow!("disk full"))
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(delivered, 101);
    }

    #[test]
    fn a_range_not_starting_at_zero_is_delivered_from_its_start() {
        let mut seen = Vec::new();
        run_ordered(
            40..60,
            2,
            6,
            || |i: u64| i,
            |i, r| {
                seen.push((i, r.unwrap()));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (40..60).map(|i| (i, i)).collect::<Vec<_>>());
    }
}
