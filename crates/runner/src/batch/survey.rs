//! Where a sharded sweep stands: for each shard K of N, whether it is finished, failed (finished
//! with failed runs), running, stopped (interrupted: cancelled, killed, timed out, preempted,
//! its node lost) or missing, its runs done of total and its rate, and the command that runs
//! again the shards still to do. `chipmarket status` prints it; `chipmarket merge` refuses with
//! it when a shard is not finished.
//!
//! Inputs are shard folders, or a sweep folder holding `*shard-K-of-N` folders (the layout of
//! `deploy/`); a folder that does not exist but is named `...shard-K-of-N` is a missing shard.
//! Nothing here writes; the lock of a shard is only tested (`outdir::is_running`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Result;

use chipmarket_engine::sweep::SweepSpec;

use crate::batch::outdir::{self, State, FAILURES, RESOLVED, RUNS, SHARD};
use crate::batch::{Shard, ShardFile};
use crate::error::InputError;

/// What a shard's folder holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// Every run is in, none failed.
    Finished,
    /// Every run is in, this many failed (see its `failures.csv`); running it again gives the same.
    Failed(u64),
    /// A sweep holds the folder's lock now.
    Running,
    /// Interrupted: the state of an unfinished sweep and nobody running it.
    Stopped,
    /// No folder.
    Missing,
    /// The folder is there but cannot be read as a shard (the reason).
    Damaged(String),
}

impl Found {
    /// Still to run: stopped, missing or damaged.
    pub fn to_do(&self) -> bool {
        matches!(self, Found::Stopped | Found::Missing | Found::Damaged(_))
    }
}

/// One shard of the sweep.
#[derive(Debug, Clone)]
pub struct ShardStatus {
    /// K of N.
    pub shard: Shard,
    /// Its folder (where it is, or where it would be).
    pub dir: Option<PathBuf>,
    /// What is there.
    pub found: Found,
    /// Runs done.
    pub done: u64,
    /// Runs of the shard, when the sweep is known.
    pub total: Option<u64>,
    /// Runs per second of its current (or last) attempt.
    pub rate: Option<f64>,
}

/// Every shard of one sharded sweep.
#[derive(Debug, Clone)]
pub struct Survey {
    /// N.
    pub n: u32,
    /// Shards 1 to N, in order.
    pub shards: Vec<ShardStatus>,
    /// A file that runs the sweep: a finished shard's `sweep.resolved.toml`.
    pub sweep_file: Option<PathBuf>,
}

/// `shard-K-of-N` at the end of a folder name (after `-` or alone).
fn shard_of_name(dir: &Path) -> Option<Shard> {
    let name = dir.file_name()?.to_str()?;
    let at = name.rfind("shard-")?;
    if at > 0 && !name[..at].ends_with('-') {
        return None;
    }
    let (k, n) = name[at + "shard-".len()..].split_once("-of-")?;
    Shard::parse(&format!("{k}/{n}")).ok().filter(|s| format!("{}-of-{}", s.k, s.n) == format!("{k}-of-{n}"))
}

/// The folder of shard `k` next to `dir`, the folder of another shard of the same split.
fn sibling(dir: &Path, of: Shard, k: u32) -> Option<PathBuf> {
    let name = dir.file_name()?.to_str()?;
    let from = format!("shard-{}-of-{}", of.k, of.n);
    name.ends_with(&from)
        .then(|| dir.with_file_name(format!("{}shard-{k}-of-{}", &name[..name.len() - from.len()], of.n)))
}

/// What `dir` holds, as a shard.
struct Part {
    shard: Option<Shard>,
    dir: PathBuf,
    found: Found,
    done: u64,
    total: Option<u64>,
    rate: Option<f64>,
    /// (points, replications) of the whole sweep, when known.
    size: Option<(u64, u64)>,
    resolved: Option<PathBuf>,
}

fn lines(path: &Path) -> u64 {
    fs::read(path).map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64).unwrap_or(0)
}

fn read_part(dir: &Path) -> Part {
    let mut part = Part {
        shard: shard_of_name(dir),
        dir: dir.to_path_buf(),
        found: Found::Missing,
        done: 0,
        total: None,
        rate: None,
        size: None,
        resolved: None,
    };
    if !dir.exists() {
        return part;
    }
    if outdir::in_progress(dir) {
        let state = outdir::read_small(&dir.join(outdir::STATE)).ok().and_then(|t| toml::from_str::<State>(&t).ok());
        let Some(state) = state else {
            part.found =
                Found::Damaged("it holds a sweep that has not finished, whose state file cannot be read".into());
            return part;
        };
        if let Some(s) = state.shard.as_deref().and_then(|s| Shard::parse(s).ok()) {
            part.shard = Some(s);
        } else {
            part.shard = Some(Shard { k: 1, n: 1 });
        }
        if let Ok(spec) = SweepSpec::from_toml_str(&state.resolved) {
            let (points, reps) = (spec.n_points(), u64::from(spec.replications.unwrap_or(1)));
            part.size = Some((points, reps));
            if let Some(range) = part.shard.and_then(|s| s.points(points as usize).ok()) {
                part.total = Some(range.len() as u64 * reps);
            }
        }
        let partial = dir.join(outdir::RUNS_PARTIAL);
        part.done = lines(&partial).saturating_sub(1);
        part.found = if outdir::is_running(dir) { Found::Running } else { Found::Stopped };
        part.rate = outdir::attempt(dir).and_then(|(started, done0)| {
            let end = if part.found == Found::Running {
                SystemTime::now()
            } else {
                fs::metadata(&partial).and_then(|m| m.modified()).ok()?
            };
            let secs = end.duration_since(started).ok()?.as_secs_f64();
            (secs > 0.0).then(|| part.done.saturating_sub(done0) as f64 / secs)
        });
        return part;
    }
    if !dir.join(RUNS).is_file() || !dir.join(RESOLVED).is_file() {
        part.found = Found::Damaged(format!("it holds no finished sweep ({RUNS} or {RESOLVED} is missing)"));
        return part;
    }
    part.resolved = Some(dir.join(RESOLVED));
    if dir.join(SHARD).is_file() {
        match outdir::read_small(&dir.join(SHARD)).ok().and_then(|t| toml::from_str::<ShardFile>(&t).ok()) {
            Some(f) => {
                part.shard = Shard::parse(&f.shard).ok();
                part.total = Some(f.end_point.saturating_sub(f.first_point) * f.replications);
                part.size = Some((f.points, f.replications));
            }
            None => {
                part.found = Found::Damaged(format!("its {SHARD} cannot be read"));
                return part;
            }
        }
    } else {
        part.shard = Some(Shard { k: 1, n: 1 });
        part.total = Some(lines(&dir.join(RUNS)).saturating_sub(1));
    }
    part.done = part.total.unwrap_or(0);
    let failed = lines(&dir.join(FAILURES)).saturating_sub(1);
    part.found = if failed > 0 { Found::Failed(failed) } else { Found::Finished };
    part
}

/// The folders `dir` stands for: itself if it is (or would be) a sweep's or shard's folder, else
/// its `*shard-K-of-N` folders.
/// With `may_be_empty` (the number of shards is known), a folder that does not exist yet or
/// holds no shard folder stands for none.
fn expand(dir: &Path, may_be_empty: bool) -> Result<Vec<PathBuf>, InputError> {
    let is_output = dir.join(RESOLVED).exists() || outdir::in_progress(dir) || dir.join(RUNS).exists();
    if is_output || shard_of_name(dir).is_some() {
        return Ok(vec![dir.to_path_buf()]);
    }
    if !dir.exists() && may_be_empty {
        return Ok(Vec::new());
    }
    if !dir.is_dir() {
        return Err(InputError::new(format!("'{}' is not a folder", dir.display())).with_hint(
            "give a sweep's --out folder, the folder holding its shard-K-of-N folders, or the shard folders",
        ));
    }
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| InputError::new(format!("cannot read the folder '{}': {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && shard_of_name(p).is_some())
        .collect();
    found.sort();
    if found.is_empty() && !may_be_empty {
        return Err(InputError::new(format!("'{}' holds no sweep and no shard-K-of-N folders", dir.display()))
            .with_hint("give a sweep's --out folder, or the folder that holds its shard folders"));
    }
    Ok(found)
}

/// The shard folders `dirs` stand for, in order (a folder holding shard folders gives those).
pub fn expand_all(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for d in dirs {
        out.extend(expand(d, false)?);
    }
    Ok(out)
}

/// Survey `dirs` (shard folders or folders holding them) as the shards of one sweep of `n`
/// shards (`None`: N as the folders say). Refuses (exit code 2) folders of different splits.
pub fn survey(dirs: &[PathBuf], n: Option<u32>) -> Result<Survey, InputError> {
    let mut parts = Vec::new();
    // The folder that holds the shard folders, when one was given.
    let mut home = None;
    for d in dirs {
        let found = expand(d, n.is_some())?;
        if found.len() != 1 || found[0] != *d {
            home = Some(d.clone());
        }
        parts.extend(found.iter().map(|p| read_part(p)));
    }
    for p in &parts {
        if p.shard.is_none() {
            let why = match &p.found {
                Found::Damaged(why) => why.clone(),
                _ => "it is not a shard folder".into(),
            };
            return Err(InputError::new(format!("'{}': {why}", p.dir.display()))
                .with_hint("give the --out folders of `chipmarket sweep --shard K/N`, named shard-K-of-N"));
        }
    }
    let ns: Vec<u32> = parts.iter().filter_map(|p| p.shard.map(|s| s.n)).collect();
    let n = match n.or_else(|| ns.first().copied()) {
        Some(n) => n,
        None => return Err(InputError::new("no shard folders given")),
    };
    if let Some(p) = parts.iter().find(|p| p.shard.is_some_and(|s| s.n != n)) {
        return Err(InputError::new(format!(
            "the shards were cut differently: '{}' is shard {}, not one of {n} shards",
            p.dir.display(),
            p.shard.expect("checked above")
        ))
        .with_hint("give the shards of one --shard K/N split"));
    }
    let size = parts.iter().find_map(|p| p.size);
    let sweep_file = parts.iter().find_map(|p| p.resolved.clone());
    let mut shards = Vec::new();
    for k in 1..=n {
        let shard = Shard { k, n };
        let mine: Vec<&Part> = parts.iter().filter(|p| p.shard == Some(shard)).collect();
        if mine.len() > 1 && mine[1].dir != mine[0].dir {
            return Err(InputError::new(format!(
                "shard {shard} is given twice: '{}' and '{}' overlap",
                mine[0].dir.display(),
                mine[1].dir.display()
            ))
            .with_hint("give each shard once"));
        }
        let total = |p: Option<&Part>| {
            p.and_then(|p| p.total).or_else(|| {
                let (points, reps) = size?;
                Some(shard.points(points as usize).ok()?.len() as u64 * reps)
            })
        };
        shards.push(match mine.first() {
            Some(p) => ShardStatus {
                shard,
                dir: Some(p.dir.clone()),
                found: p.found.clone(),
                done: p.done,
                total: total(Some(p)),
                rate: p.rate,
            },
            None => ShardStatus {
                shard,
                dir: parts
                    .iter()
                    .find_map(|p| sibling(&p.dir, p.shard?, k))
                    .or_else(|| home.as_ref().map(|h| h.join(format!("shard-{k}-of-{n}")))),
                found: Found::Missing,
                done: 0,
                total: total(None),
                rate: None,
            },
        });
    }
    Ok(Survey { n, shards, sweep_file })
}

/// Quote a path for a POSIX shell when it needs it.
pub fn quote(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c)) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

impl Survey {
    /// The shards still to run.
    pub fn to_do(&self) -> impl Iterator<Item = &ShardStatus> {
        self.shards.iter().filter(|s| s.found.to_do())
    }

    /// The command that runs shard `s` again (continuing where it stopped).
    pub fn rerun(&self, s: &ShardStatus) -> String {
        let file =
            self.sweep_file.as_ref().map_or_else(|| "SWEEP.toml".to_string(), |f| quote(&f.display().to_string()));
        let out = s
            .dir
            .as_ref()
            .map_or_else(|| format!("OUT/shard-{}-of-{}", s.shard.k, s.shard.n), |d| quote(&d.display().to_string()));
        format!("chipmarket sweep {file} --shard {} --out {out} --resume", s.shard)
    }

    /// One line per shard, then the totals.
    pub fn table(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.shards {
            let what = match &s.found {
                Found::Finished => "finished".to_string(),
                Found::Failed(k) => format!("failed: {k} run(s) failed (failures.csv)"),
                Found::Running => "running".to_string(),
                Found::Stopped => "stopped (interrupted)".to_string(),
                Found::Missing => "missing".to_string(),
                Found::Damaged(why) => format!("damaged: {why}"),
            };
            let runs = match s.total {
                Some(t) => format!("{}/{t} runs", s.done),
                None => format!("{} runs", s.done),
            };
            let rate = match (&s.found, s.rate) {
                (Found::Running, Some(r)) => format!(", {r:.1} runs/s"),
                _ => String::new(),
            };
            let dir = s.dir.as_ref().map_or_else(String::new, |d| format!("  {}", d.display()));
            out.push(format!("shard {:>9}  {what}, {runs}{rate}{dir}", s.shard.to_string()));
        }
        let done: u64 = self.shards.iter().map(|s| s.done).sum();
        let total: Option<u64> = self.shards.iter().map(|s| s.total).sum();
        let rate: f64 = self.shards.iter().filter(|s| s.found == Found::Running).filter_map(|s| s.rate).sum();
        let count = |f: fn(&Found) -> bool| self.shards.iter().filter(|s| f(&s.found)).count();
        let mut line = match total {
            Some(t) => format!("total: {done} of {t} runs done ({:.1} %)", 100.0 * done as f64 / t.max(1) as f64),
            None => format!("total: {done} runs done"),
        };
        if rate > 0.0 {
            line.push_str(&format!(", {rate:.1} runs/s"));
            if let Some(t) = total {
                line.push_str(&format!(", about {:.0} s left", t.saturating_sub(done) as f64 / rate));
            }
        }
        line.push_str(&format!(
            "; shards: {} finished, {} failed, {} running, {} stopped, {} missing",
            count(|f| *f == Found::Finished),
            count(|f| matches!(f, Found::Failed(_))),
            count(|f| *f == Found::Running),
            count(|f| matches!(f, Found::Stopped | Found::Damaged(_))),
            count(|f| *f == Found::Missing)
        ));
        out.push(line);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_folders_are_named_and_their_siblings_found() {
        assert_eq!(shard_of_name(Path::new("out/shard-3-of-8")), Some(Shard { k: 3, n: 8 }));
        assert_eq!(shard_of_name(Path::new("outputs/lhs-shard-2-of-4")), Some(Shard { k: 2, n: 4 }));
        for no in ["out/merged", "out/shard-9-of-8", "out/xshard-1-of-2", "out/shard-01-of-2", "out/shard-1-of-2x"] {
            assert_eq!(shard_of_name(Path::new(no)), None, "{no}");
        }
        assert_eq!(
            sibling(Path::new("o/lhs-shard-2-of-4"), Shard { k: 2, n: 4 }, 3),
            Some(PathBuf::from("o/lhs-shard-3-of-4"))
        );
        assert_eq!(quote("out/shard-1-of-2"), "out/shard-1-of-2");
        assert_eq!(quote("my out/it's"), "'my out/it'\\''s'");
    }
}
