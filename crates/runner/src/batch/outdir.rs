//! The output folder of a sweep, and how it survives interruption.
//!
//! While a sweep runs the folder holds a lock (`.sweep.lock`), a state file naming the sweep,
//! its shard and flags (`.sweep.state.toml`), and hidden partial files that grow by whole rows
//! in run order (`.runs.csv.partial`, `.failures.csv.partial`; a failure row is always written
//! before its run's row). When the last run is in, `points.csv`, `shard.toml` and
//! `sweep.resolved.toml` are each written to a temporary name and renamed into place, the
//! partials are renamed to `failures.csv` (only if a run failed) and `runs.csv`, and the state
//! file goes; a shard's `shard.toml` records the SHA-256 of its `runs.csv`, which `--resume`
//! verifies on a finished shard (and `merge` too). A sweep killed at any moment leaves at worst a torn last row, which `--resume`
//! cuts off before it goes on with the next run; the visible files only ever appear whole.
//! Every whole row kept on resume is checked first (`batch::rows`): a partial file that was
//! edited (a row deleted, swapped or changed) is refused rather than continued.
//! (This protects against the process dying, not against power loss, which would need fsync.)

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::batch::rows::sha256_of;
use crate::batch::ShardFile;
use crate::error::InputError;
use crate::output::atomic;
use crate::output::names;

/// `sweep.resolved.toml`: the sweep with every default filled in and its base inline.
pub const RESOLVED: &str = names::SWEEP_RESOLVED;
/// `runs.csv`: one row per point x replication.
pub const RUNS: &str = names::RUNS;
/// `points.csv`: per point and KPI, statistics over the replications.
pub const POINTS: &str = names::POINTS;
/// `failures.csv`: the runs that failed, with their error (only if some did).
pub const FAILURES: &str = names::FAILURES;
/// `shard.toml`: which slice of the sweep a shard folder holds (only with `--shard`).
pub const SHARD: &str = names::SHARD;
/// `runs/`: each run's full files (only with `--keep-runs`).
pub const RUN_DIRS: &str = names::RUN_DIRS;

/// Files every finished sweep has (checked before the sweep against files of the same names
/// that `--force` must not replace).
pub const FIXED_FILES: [&str; 6] =
    [names::SWEEP_RESOLVED, names::RUNS, names::POINTS, names::POINTS_WIDE, names::REPORT, names::MANIFEST];
/// The hidden files of a sweep in progress.
pub const PROTOCOL_FILES: [&str; 4] = [LOCK, STATE, RUNS_PARTIAL, FAILURES_PARTIAL];

const LOCK: &str = ".sweep.lock";
/// The state file of a sweep in progress.
pub const STATE: &str = ".sweep.state.toml";
/// The runs file while the sweep is in progress.
pub const RUNS_PARTIAL: &str = ".runs.csv.partial";
const FAILURES_PARTIAL: &str = ".failures.csv.partial";

/// Write buffered rows at least this often.
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// ... or when this many bytes wait.
const FLUSH_BYTES: usize = 64 * 1024;

/// Tells whether a line of the runs file (with its newline) is the right row for run `idx`;
/// the error says what is wrong.
pub type RowCheck<'a> = dyn Fn(u64, &[u8]) -> Result<(), String> + 'a;

/// What a sweep in progress records about itself, to refuse resuming something else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Version of chipmarket that started the sweep.
    pub version: String,
    /// `K/N` with `--shard`.
    pub shard: Option<String>,
    /// Started with `--keep-runs`.
    pub keep_runs: bool,
    /// The text of `sweep.resolved.toml`.
    pub resolved: String,
}

/// What the folder must hold for a given sweep.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The sweep, shard and flags.
    pub state: State,
    /// First line of `runs.csv`, with its newline.
    pub runs_header: String,
    /// First line of `failures.csv`, with its newline.
    pub failures_header: String,
    /// Index of the first run of this sweep or shard (point x replications + replication).
    pub first_run: u64,
    /// Replications per point.
    pub replications: u64,
    /// `shard.toml`, with `--shard` (its `runs_sha256` is filled in when the shard finishes).
    pub shard: Option<ShardFile>,
}

/// The folder, opened.
pub enum Opened {
    /// Runs are to be done: the folder is ready for [`OutDir::append`].
    Open(Box<OutDir>),
    /// The folder already holds this sweep's finished results.
    Complete,
}

/// A sweep's output folder, locked, with its partial files open for appending.
pub struct OutDir {
    dir: PathBuf,
    expect: Expect,
    _lock: File,
    runs: File,
    failures: File,
    runs_buf: Vec<u8>,
    failures_buf: Vec<u8>,
    last_flush: Instant,
    /// Runs already in the folder when it was opened.
    pub done: u64,
    /// Failed runs so far (those found when opened included).
    pub failed: u64,
}

impl OutDir {
    /// Open `dir` for a sweep: a fresh start (clearing earlier results of ours), or with
    /// `resume` the continuation of what the folder holds. Refuses (exit code 2) a folder that
    /// another sweep is writing, that holds an interrupted sweep when `resume` is off, or that
    /// holds a different sweep. In a `foreign` folder (`--force`), only the files of the sweep's
    /// names are replaced: an existing `runs/` there is not cleared.
    /// `check` tells whether a line of the runs file is the right row for run `idx`.
    pub fn open(dir: &Path, expect: Expect, resume: bool, foreign: bool, check: &RowCheck) -> Result<Opened> {
        fs::create_dir_all(dir).with_context(|| format!("failed to create output folder '{}'", dir.display()))?;
        let lock = lock(dir)?;
        let state_path = dir.join(STATE);
        if state_path.exists() {
            let text = read_small(&state_path)?;
            let old: State = toml::from_str(&text).map_err(|_| {
                InputError::new(format!("'{}' is damaged: its state file cannot be read", state_path.display()))
                    .with_hint(format!("remove the folder '{}' to start over", dir.display()))
            })?;
            if !resume {
                return Err(InputError::new(format!("'{}' holds an interrupted sweep", dir.display()))
                    .with_hint("add --resume to continue it, or remove the folder to start over")
                    .into());
            }
            check_same(dir, &old, &expect.state)?;
            return continue_in(dir, expect, lock, check);
        }
        let resolved_path = dir.join(RESOLVED);
        if resolved_path.exists() && resume {
            let resolved = read_small(&resolved_path).unwrap_or_default();
            let shard = read_small(&dir.join(SHARD)).ok().and_then(|t| toml::from_str::<ShardFile>(&t).ok());
            let same_shard = match (&shard, &expect.shard) {
                (Some(found), Some(want)) => found.same_slice(want),
                (None, None) => true,
                _ => false,
            };
            if resolved == expect.state.resolved && same_shard && dir.join(RUNS).exists() && dir.join(POINTS).exists() {
                if let Some(found) = &shard {
                    verify_runs(dir, found)?;
                }
                drop(lock);
                let _ = fs::remove_file(dir.join(LOCK));
                return Ok(Opened::Complete);
            }
            return Err(InputError::new(format!(
                "'{}' holds the results of another sweep (or another shard of it)",
                dir.display()
            ))
            .with_hint("use another --out, or leave out --resume to replace them")
            .into());
        }
        start_fresh(dir, expect, lock, foreign)
    }

    /// Queue one run's row (and its failure row, written first) for the partial files.
    pub fn append(&mut self, row: &[u8], failure: Option<&[u8]>) -> Result<()> {
        if let Some(f) = failure {
            self.failures_buf.extend_from_slice(f);
            self.failed += 1;
        }
        self.runs_buf.extend_from_slice(row);
        if self.runs_buf.len() + self.failures_buf.len() >= FLUSH_BYTES || self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    /// Write queued rows: failures first, so a run's row is never on disk before its failure.
    pub fn flush(&mut self) -> Result<()> {
        if !self.failures_buf.is_empty() {
            self.failures.write_all(&self.failures_buf).context("failed to write the failures")?;
            self.failures_buf.clear();
        }
        if !self.runs_buf.is_empty() {
            self.runs.write_all(&self.runs_buf).context("failed to write the runs")?;
            self.runs_buf.clear();
        }
        self.last_flush = Instant::now();
        Ok(())
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Every run is in: write `points.csv` (streamed from the runs by `points`), `shard.toml`,
    /// `sweep.resolved.toml`, then rename the partial files into `failures.csv` and `runs.csv`.
    pub fn finish(mut self, points: impl FnOnce(File, &mut dyn Write) -> Result<()>) -> Result<()> {
        self.flush()?;
        let dir = self.dir.clone();
        let runs_partial = dir.join(RUNS_PARTIAL);
        let reader =
            File::open(&runs_partial).with_context(|| format!("failed to read '{}'", runs_partial.display()))?;
        atomic::write_with(&dir.join(POINTS), |w| points(reader, w))?;
        if let Some(shard) = &self.expect.shard {
            let runs_sha256 = sha256_of(
                File::open(&runs_partial).with_context(|| format!("failed to read '{}'", runs_partial.display()))?,
            )
            .with_context(|| format!("failed to read '{}'", runs_partial.display()))?;
            let text = ShardFile { runs_sha256, ..shard.clone() }.to_toml();
            atomic::write_with(&dir.join(SHARD), |w| Ok(w.write_all(text.as_bytes())?))?;
        }
        atomic::write_with(&dir.join(RESOLVED), |w| Ok(w.write_all(self.expect.state.resolved.as_bytes())?))?;
        finish_renames(&dir, self.failed > 0)?;
        Ok(())
    }
}

/// Check that the `runs.csv` of the finished shard in `dir` is the one it wrote: the SHA-256
/// its `shard.toml` records (exit code 2 naming the shard if not).
pub fn verify_runs(dir: &Path, shard: &ShardFile) -> Result<()> {
    let path = dir.join(RUNS);
    let found = sha256_of(File::open(&path).with_context(|| format!("failed to read '{}'", path.display()))?)
        .with_context(|| format!("failed to read '{}'", path.display()))?;
    if found != shard.runs_sha256 {
        return Err(InputError::new(format!(
            "'{}' of shard {} was changed after the shard finished: its SHA-256 is not the one {SHARD} records",
            path.display(),
            shard.shard
        ))
        .with_hint(format!("run shard {} again into a new folder (or without --resume to replace it)", shard.shard))
        .into());
    }
    Ok(())
}

/// Take the folder's lock, refusing if another sweep holds it.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("failed to create '{}'", path.display()))?;
    // `chipmarket status` takes the lock for an instant to see whether a sweep holds it.
    let mut tries = 0;
    let taken = loop {
        match file.try_lock() {
            Err(fs::TryLockError::WouldBlock) if tries < 10 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => break other,
        }
    };
    match taken {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => {
            Err(InputError::new(format!("another chipmarket sweep is writing to '{}'", dir.display()))
                .with_hint("wait for it, or use another --out")
                .into())
        }
        // A file system without locks: go on unguarded rather than refuse to work.
        Err(fs::TryLockError::Error(_)) => Ok(file),
    }
}

fn check_same(dir: &Path, old: &State, new: &State) -> Result<()> {
    let refuse = |what: String| -> Result<()> {
        Err(InputError::new(format!("cannot resume in '{}': {what}", dir.display()))
            .with_hint(
                "resume with the same sweep file and flags, use another --out, \
             or remove the folder to start over",
            )
            .into())
    };
    if old.version != new.version {
        return refuse(format!("it was started by chipmarket {}, this is {}", old.version, new.version));
    }
    if old.resolved != new.resolved {
        return refuse("it holds a different sweep (the resolved sweep files differ)".to_string());
    }
    if old.shard != new.shard {
        let show =
            |s: &Option<String>| s.as_ref().map_or_else(|| "the whole sweep".to_string(), |s| format!("shard {s}"));
        return refuse(format!("it holds {}, not {}", show(&old.shard), show(&new.shard)));
    }
    if old.keep_runs != new.keep_runs {
        let with = |k: bool| if k { "with" } else { "without" };
        return refuse(format!("it was started {} --keep-runs", with(old.keep_runs)));
    }
    Ok(())
}

/// Remove earlier results of ours and start empty partial files.
fn start_fresh(dir: &Path, expect: Expect, lock: File, foreign: bool) -> Result<Opened> {
    for name in [RUNS, POINTS, FAILURES, SHARD, RESOLVED, RUNS_PARTIAL, FAILURES_PARTIAL] {
        remove_if_there(&dir.join(name))?;
    }
    let run_dirs = dir.join(RUN_DIRS);
    if run_dirs.is_dir() && !foreign {
        fs::remove_dir_all(&run_dirs).with_context(|| format!("failed to remove '{}'", run_dirs.display()))?;
    }
    let state = toml::to_string(&expect.state).context("failed to describe the sweep state")?;
    atomic::write_with(&dir.join(STATE), |w| Ok(w.write_all(state.as_bytes())?))?;
    let runs = create_with(&dir.join(RUNS_PARTIAL), &expect.runs_header)?;
    let failures = create_with(&dir.join(FAILURES_PARTIAL), &expect.failures_header)?;
    Ok(Opened::Open(Box::new(OutDir::new(dir, expect, lock, runs, failures, 0, 0))))
}

/// Continue an interrupted sweep: cut torn rows, count what is done.
fn continue_in(dir: &Path, expect: Expect, lock: File, check: &RowCheck) -> Result<Opened> {
    let runs_partial = dir.join(RUNS_PARTIAL);
    let failures_partial = dir.join(FAILURES_PARTIAL);
    if !runs_partial.exists() && dir.join(RUNS).exists() {
        // Killed after the last rename: only the state file was left to remove.
        remove_if_there(&dir.join(STATE))?;
        drop(lock);
        remove_if_there(&dir.join(LOCK))?;
        return Ok(Opened::Complete);
    }
    if !failures_partial.exists() && dir.join(FAILURES).exists() {
        // Killed between the two final renames: undo the first.
        fs::rename(dir.join(FAILURES), &failures_partial).context("failed to reopen the failures")?;
    }
    let first_run = expect.first_run;
    let (runs, rows) =
        reopen(&runs_partial, &expect.runs_header, |row, line| check(first_run + row, line.as_bytes()).map(|()| true))?;
    let last_run = expect.first_run + rows;
    let reps = expect.replications.max(1);
    let (failures, failed) = reopen(&failures_partial, &expect.failures_header, |_, line| {
        // Keep the failures of runs that are in; a later one is re-run.
        let mut cells = line.splitn(3, ',');
        let point = cells.next().and_then(|c| c.parse::<u64>().ok());
        let rep = cells.next().and_then(|c| c.parse::<u64>().ok());
        Ok(matches!((point, rep), (Some(p), Some(r)) if p * reps + r < last_run))
    })?;
    let run_dirs = dir.join(RUN_DIRS);
    if run_dirs.is_dir() {
        // Temporary folders of runs that were being written when the sweep died.
        for entry in fs::read_dir(&run_dirs)?.flatten() {
            if entry.file_name().to_string_lossy().starts_with('.') {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(Opened::Open(Box::new(OutDir::new(dir, expect, lock, runs, failures, rows, failed))))
}

impl OutDir {
    fn new(dir: &Path, expect: Expect, mut lock: File, runs: File, failures: File, done: u64, failed: u64) -> OutDir {
        // When this attempt started and with how many runs, for the rate `chipmarket status` shows.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let _ = lock.set_len(0).and_then(|()| lock.write_all(format!("{now:.3} {done}\n").as_bytes()));
        OutDir {
            dir: dir.to_path_buf(),
            expect,
            _lock: lock,
            runs,
            failures,
            runs_buf: Vec::new(),
            failures_buf: Vec::new(),
            last_flush: Instant::now(),
            done,
            failed,
        }
    }
}

/// Reopen a partial file for appending: check its header, keep the whole rows that `keep`
/// accepts (a prefix: the first refused row and all after it go), and count them; a row that
/// `keep` finds damaged refuses the folder (exit code 2). A missing file, or one without a
/// whole header, starts over.
fn reopen(path: &Path, header: &str, keep: impl Fn(u64, &str) -> Result<bool, String>) -> Result<(File, u64)> {
    if !path.exists() {
        return Ok((create_with(path, header)?, 0));
    }
    let mut reader = BufReader::new(File::open(path).with_context(|| format!("failed to read '{}'", path.display()))?);
    let mut line = String::new();
    let mut keep_bytes: u64 = 0;
    let mut rows: u64 = 0;
    let mut first = true;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).with_context(|| format!("failed to read '{}'", path.display()))?;
        if n == 0 || !line.ends_with('\n') {
            break; // the end, or a torn last row
        }
        if first {
            if line != header {
                return Err(InputError::new(format!("'{}' does not hold this sweep's columns", path.display()))
                    .with_hint(format!(
                        "remove the folder '{}' to start over",
                        path.parent().map_or_else(String::new, |p| p.display().to_string())
                    ))
                    .into());
            }
            first = false;
        } else {
            match keep(rows, &line) {
                Ok(true) => {}
                Ok(false) => break,
                Err(what) => {
                    return Err(InputError::new(format!("{}:{}: {what}", path.display(), rows + 2))
                        .with_hint(format!(
                            "the file was changed since the sweep wrote it; remove the folder '{}' \
                         to start over",
                            path.parent().map_or_else(String::new, |p| p.display().to_string())
                        ))
                        .into());
                }
            }
            rows += 1;
        }
        keep_bytes += n as u64;
    }
    drop(reader);
    if first {
        return Ok((create_with(path, header)?, 0));
    }
    let mut file =
        OpenOptions::new().write(true).open(path).with_context(|| format!("failed to open '{}'", path.display()))?;
    file.set_len(keep_bytes).with_context(|| format!("failed to cut the torn row of '{}'", path.display()))?;
    file.seek(SeekFrom::End(0))?;
    Ok((file, rows))
}

fn create_with(path: &Path, header: &str) -> Result<File> {
    let mut file = File::create(path).with_context(|| format!("failed to create '{}'", path.display()))?;
    file.write_all(header.as_bytes()).with_context(|| format!("failed to write '{}'", path.display()))?;
    Ok(file)
}

/// The last steps of a finished sweep: failures and runs into place, state and lock away.
fn finish_renames(dir: &Path, any_failed: bool) -> Result<()> {
    let failures_partial = dir.join(FAILURES_PARTIAL);
    if any_failed {
        fs::rename(&failures_partial, dir.join(FAILURES)).context("failed to move the failures into place")?;
    } else {
        remove_if_there(&failures_partial)?;
    }
    fs::rename(dir.join(RUNS_PARTIAL), dir.join(RUNS)).context("failed to move the runs into place")?;
    remove_if_there(&dir.join(STATE))?;
    remove_if_there(&dir.join(LOCK))?;
    Ok(())
}

fn remove_if_there(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("failed to remove '{}'", path.display())),
    }
}

/// Copy the lines `reader` has left into `out`, counting them.
pub fn copy_lines(mut reader: impl BufRead, out: &mut dyn Write) -> Result<u64> {
    let mut rows = 0;
    let mut buf = Vec::with_capacity(1 << 16);
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf)?;
        rows += 1;
    }
    Ok(rows)
}

/// Read a whole small text file of a sweep folder (a regular file of at most 16 MiB).
pub fn read_small(path: &Path) -> Result<String> {
    Ok(crate::load::read_text(path, "file of the sweep folder")?)
}

/// True if a sweep holds the lock of `dir` now (it is tested by taking it for an instant).
pub fn is_running(dir: &Path) -> bool {
    match File::open(dir.join(LOCK)) {
        Ok(file) => matches!(file.try_lock_shared(), Err(fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// When the current (or last) attempt of the unfinished sweep in `dir` started, and the runs it
/// found done then.
pub fn attempt(dir: &Path) -> Option<(SystemTime, u64)> {
    let text = fs::read_to_string(dir.join(LOCK)).ok()?;
    let (secs, done) = text.trim().split_once(' ')?;
    let secs: f64 = secs.parse().ok().filter(|s: &f64| s.is_finite() && *s >= 0.0)?;
    Some((UNIX_EPOCH + Duration::from_secs_f64(secs), done.parse().ok()?))
}

/// True if `dir` holds a sweep that has not finished.
pub fn in_progress(dir: &Path) -> bool {
    dir.join(STATE).exists()
}
