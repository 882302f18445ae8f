//! `chipmarket merge DIR... --out DIR`: join the output folders of a sharded sweep into the
//! folder the unsharded sweep writes, byte for byte.
//!
//! Shards hold whole, contiguous blocks of points, so their `runs.csv` rows are concatenated in
//! shard order, and `points.csv` is computed again from the merged runs (so the two always
//! agree). Before writing anything, merge checks that every folder is a finished shard of the
//! same sweep (same `sweep.resolved.toml`, same N, same columns), that no shard appears twice
//! and none is missing; while copying it checks every row against the sweep's design
//! (`batch::rows`: cells, run order, seeds, parameter values, finite KPIs) and each shard's
//! `runs.csv` against the SHA-256 its `shard.toml` records. Any damage refuses
//! the merge (exit code 2, naming the file and line) and leaves `--out` untouched.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use chipmarket_engine::sweep::{Sweep, SweepSpec};

use crate::batch::outdir::{self, copy_lines, read_small, FAILURES, POINTS, RESOLVED, RUNS, RUN_DIRS, SHARD};
use crate::batch::rows::{self, RunsCheck};
use crate::batch::survey::{self, Found};
use crate::batch::{stats, Shard, ShardFile};
use crate::cli::MergeArgs;
use crate::console::outln;
use crate::error::InputError;
use crate::output::atomic;
use crate::output::owner::{self, Kind};
use crate::report;

/// One input folder.
struct Part {
    dir: PathBuf,
    shard: Shard,
    /// `None` for a folder of a whole (unsharded) sweep.
    file: Option<ShardFile>,
    resolved: String,
}

fn refuse<T>(error: InputError) -> Result<T> {
    Err(error.into())
}

fn read_part(dir: &Path) -> Result<Part> {
    let shown = dir.display();
    if !dir.is_dir() {
        return refuse(
            InputError::new(format!("'{shown}' is not a folder")).with_hint("give the --out folders of the shards"),
        );
    }
    if outdir::in_progress(dir) {
        return refuse(
            InputError::new(format!("'{shown}' holds a sweep that has not finished"))
                .with_hint("run its `chipmarket sweep ... --shard K/N` again with --resume"),
        );
    }
    for name in [RESOLVED, RUNS, POINTS] {
        if !dir.join(name).is_file() {
            return refuse(
                InputError::new(format!("'{shown}' holds no finished sweep: {name} is missing"))
                    .with_hint("give the --out folders of `chipmarket sweep --shard K/N`"),
            );
        }
    }
    let resolved = read_small(&dir.join(RESOLVED))?;
    let shard_path = dir.join(SHARD);
    let (shard, file) = if shard_path.is_file() {
        let file: ShardFile = toml::from_str(&read_small(&shard_path)?)
            .map_err(|e| InputError::new(format!("'{}' is damaged: {}", shard_path.display(), e.message())))?;
        let shard = Shard::parse(&file.shard).map_err(|_| {
            InputError::new(format!("'{}' is damaged: bad shard \"{}\"", shard_path.display(), file.shard))
        })?;
        (shard, Some(file))
    } else {
        (Shard { k: 1, n: 1 }, None)
    };
    Ok(Part { dir: dir.to_path_buf(), shard, file, resolved })
}

/// Check that `parts` are the N shards of one sweep, and put them in order.
fn check(mut parts: Vec<Part>) -> Result<Vec<Part>> {
    let first = &parts[0];
    for p in &parts[1..] {
        if p.resolved != first.resolved {
            return refuse(
                InputError::new(format!(
                    "'{}' and '{}' hold different sweeps (their {RESOLVED} differ)",
                    first.dir.display(),
                    p.dir.display()
                ))
                .with_hint("merge only the shards of one sweep, run by the same version"),
            );
        }
        if p.shard.n != first.shard.n {
            return refuse(
                InputError::new(format!(
                    "'{}' is shard {} but '{}' is shard {}: the shards were cut differently",
                    first.dir.display(),
                    first.shard,
                    p.dir.display(),
                    p.shard
                ))
                .with_hint("merge shards of one --shard K/N split"),
            );
        }
    }
    parts.sort_by_key(|p| p.shard.k);
    for w in parts.windows(2) {
        if w[0].shard.k == w[1].shard.k {
            return refuse(
                InputError::new(format!(
                    "shard {} is given twice: '{}' and '{}' overlap",
                    w[0].shard,
                    w[0].dir.display(),
                    w[1].dir.display()
                ))
                .with_hint("give each shard once"),
            );
        }
    }
    let n = parts[0].shard.n;
    let missing: Vec<String> =
        (1..=n).filter(|k| !parts.iter().any(|p| p.shard.k == *k)).map(|k| format!("{k}/{n}")).collect();
    if !missing.is_empty() {
        return refuse(
            InputError::new(format!("missing shard(s) {} of {n}", missing.join(", ")))
                .with_hint(format!("run `chipmarket sweep ... --shard K/{n}` for each and give all their folders")),
        );
    }
    let mut next = 0;
    for p in &parts {
        if let Some(f) = &p.file {
            if f.first_point != next
                || f.end_point < f.first_point
                || f.points != parts[0].file.as_ref().map_or(0, |g| g.points)
            {
                return refuse(
                    InputError::new(format!(
                        "'{}' (shard {}) does not continue where the shard before it ends",
                        p.dir.display(),
                        p.shard
                    ))
                    .with_hint("its shard.toml is damaged; run the shard again"),
                );
            }
            next = f.end_point;
        }
    }
    if let Some(f) = &parts[0].file {
        if next != f.points {
            return refuse(InputError::new(format!(
                "the shards end at point {next}, but the sweep has {} points",
                f.points
            )));
        }
    }
    Ok(parts)
}

/// The sweep a shard folder holds, read back from its `sweep.resolved.toml`.
fn bind(part: &Part) -> Result<Sweep> {
    let path = part.dir.join(RESOLVED);
    let damaged =
        |e: String| InputError::new(format!("'{}' is damaged: {e}", path.display())).with_hint("run the shard again");
    let spec = SweepSpec::from_toml_str(&part.resolved).map_err(|e| damaged(e.to_string()))?;
    let base = spec.base_inline_text().ok_or_else(|| damaged("its base scenario is not inline".into()))?;
    // Each shard validated its own points; every row is checked against the design below.
    Ok(Sweep::bind_design(spec, &part.resolved, &[&base]).map_err(|e| damaged(e.to_string()))?)
}

/// The runs of `part`: its slice of the sweep's run indices.
fn runs_of(part: &Part, sweep: &Sweep) -> Result<std::ops::Range<u64>> {
    let reps = u64::from(sweep.replications());
    let n_points = sweep.points.len() as u64;
    match &part.file {
        None => Ok(0..n_points * reps),
        Some(f) if f.replications == reps && f.points == n_points && f.end_point <= n_points => {
            Ok(f.first_point * reps..f.end_point * reps)
        }
        Some(_) => refuse(
            InputError::new(format!(
                "'{}' does not match its sweep ({n_points} points x {reps} replications)",
                part.dir.join(SHARD).display()
            ))
            .with_hint(format!("its {SHARD} is damaged; run the shard again")),
        ),
    }
}

/// `chipmarket merge DIR... --out DIR [--force]`.
pub fn merge(args: &MergeArgs) -> Result<()> {
    let started = report::Started::now();
    // Every shard finished, or a refusal naming those that are not and how to run them again.
    let survey = survey::survey(&args.dirs, None)?;
    let not_done: Vec<&survey::ShardStatus> =
        survey.shards.iter().filter(|s| !matches!(s.found, Found::Finished | Found::Failed(_))).collect();
    if !not_done.is_empty() {
        let table = survey.table();
        let lines: Vec<&str> = survey
            .shards
            .iter()
            .zip(&table)
            .filter(|(s, _)| !matches!(s.found, Found::Finished | Found::Failed(_)))
            .map(|(_, line)| line.as_str())
            .collect();
        let reruns: Vec<String> = survey.to_do().map(|s| format!("  {}", survey.rerun(s))).collect();
        let hint = if reruns.is_empty() {
            "wait for the running shards to finish, then merge again".to_string()
        } else {
            format!("run them again (each goes on where it stopped), then merge again:\n{}", reruns.join("\n"))
        };
        return refuse(
            InputError::new(format!(
                "missing or unfinished shard(s) {} of {}:\n  {}\n{}",
                not_done.iter().map(|s| s.shard.to_string()).collect::<Vec<_>>().join(", "),
                survey.n,
                lines.join("\n  "),
                table.last().map_or("", String::as_str)
            ))
            .with_hint(hint),
        );
    }
    let dirs = survey::expand_all(&args.dirs)?;
    let parts = dirs.iter().map(|d| read_part(d)).collect::<Result<Vec<_>>>()?;
    let parts = check(parts)?;
    let out = &args.out;
    for p in &parts {
        if same_folder(&p.dir, out) {
            return refuse(
                InputError::new(format!("--out '{}' is one of the shards", out.display()))
                    .with_hint("merge into a new folder"),
            );
        }
    }
    let claim = owner::claim(out, Kind::Sweep, args.force)?;
    claim.refuse_conflicts(&outdir::FIXED_FILES)?;
    let sweep = bind(&parts[0])?;
    claim.write(|stage| {
        write_merged(&parts, &sweep, stage)?;
        report::finish_sweep(stage, "merge", &started)
    })?;
    outln!("merged {} shard(s) into {}", parts.len(), out.display())?;
    Ok(())
}

fn write_merged(parts: &[Part], sweep: &Sweep, tmp: &Path) -> Result<()> {
    fs::create_dir_all(tmp).with_context(|| format!("failed to create '{}'", tmp.display()))?;
    fs::write(tmp.join(RESOLVED), &parts[0].resolved)?;
    merge_runs(parts, sweep, tmp)?;
    let runs = tmp.join(RUNS);
    let reader = BufReader::new(File::open(&runs).with_context(|| format!("failed to read '{}'", runs.display()))?);
    atomic::write_with(&tmp.join(POINTS), |w| stats::points_csv(reader, w, sweep.spec.vary.len()))?;
    if parts.iter().any(|p| p.dir.join(FAILURES).is_file()) {
        concat(parts, FAILURES, tmp)?;
    }
    for p in parts {
        let runs = p.dir.join(RUN_DIRS);
        if runs.is_dir() {
            copy_tree(&runs, &tmp.join(RUN_DIRS))?;
        }
    }
    Ok(())
}

/// Write the shards' `runs.csv` as one, checking the header and every row against the sweep.
fn merge_runs(parts: &[Part], sweep: &Sweep, tmp: &Path) -> Result<()> {
    let path = tmp.join(RUNS);
    let mut out =
        BufWriter::new(File::create(&path).with_context(|| format!("failed to create '{}'", path.display()))?);
    let identity = RunsCheck::identity_header(sweep);
    let mut header: Option<String> = None;
    let mut check: Option<RunsCheck> = None;
    let mut line = Vec::with_capacity(1 << 12);
    let design = rows::design_sha256(sweep);
    for p in parts {
        let src = p.dir.join(RUNS);
        if let Some(f) = &p.file {
            if f.design_sha256 != design {
                return refuse(
                    InputError::new(format!(
                        "'{}' (shard {}) ran another design than the one its {RESOLVED} expands to here",
                        p.dir.display(),
                        p.shard
                    ))
                    .with_hint("run every shard and the merge with the same build of chipmarket"),
                );
            }
        }
        let mut hash = Sha256::new();
        let damaged = |line_no: u64, what: String| -> Result<()> {
            refuse(
                InputError::new(format!("{}:{line_no}: {what}", src.display()))
                    .with_hint(format!("the file is damaged; run shard {} again", p.shard)),
            )
        };
        let mut reader = BufReader::new(crate::load::open_regular(&src)?);
        let mut h = String::new();
        reader.read_line(&mut h).with_context(|| format!("failed to read '{}'", src.display()))?;
        hash.update(h.as_bytes());
        match &header {
            None => {
                let cols: Vec<String> =
                    h.trim_end_matches('\n').split(',').map(|c| c.trim_matches('"').to_string()).collect();
                if !h.ends_with('\n') || cols.len() <= identity.len() || cols[..identity.len()] != identity[..] {
                    return damaged(1, format!("expected a header starting {}", identity.join(",")));
                }
                out.write_all(h.as_bytes())?;
                check = Some(RunsCheck::new(sweep, cols));
                header = Some(h);
            }
            Some(first) if *first != h => {
                return refuse(
                    InputError::new(format!("'{}' has other columns than the first shard's {RUNS}", src.display()))
                        .with_hint("merge only the shards of one sweep"),
                );
            }
            Some(_) => {}
        }
        let check = check.as_ref().expect("set with the header");
        let runs = runs_of(p, sweep)?;
        let mut idx = runs.start;
        loop {
            line.clear();
            let n =
                reader.read_until(b'\n', &mut line).with_context(|| format!("failed to read '{}'", src.display()))?;
            if n == 0 {
                break;
            }
            let line_no = idx - runs.start + 2;
            if idx >= runs.end {
                return damaged(
                    line_no,
                    format!("one row too many: shard {} holds {} runs", p.shard, runs.end - runs.start),
                );
            }
            if let Err(what) = check.check_line(idx, &line) {
                return damaged(line_no, what);
            }
            hash.update(&line);
            out.write_all(&line)?;
            idx += 1;
        }
        if idx != runs.end {
            return refuse(
                InputError::new(format!(
                    "'{}' has {} runs, expected {} for shard {}: it is incomplete or damaged",
                    src.display(),
                    idx - runs.start,
                    runs.end - runs.start,
                    p.shard
                ))
                .with_hint("run the shard again"),
            );
        }
        if let Some(f) = &p.file {
            if rows::hex(&hash.finalize()) != f.runs_sha256 {
                return refuse(
                    InputError::new(format!(
                        "'{}' of shard {} was changed after the shard finished: its SHA-256 is not the one its {SHARD} records",
                        src.display(),
                        p.shard
                    ))
                    .with_hint(format!("run shard {} again", p.shard)),
                );
            }
        }
    }
    out.flush().with_context(|| format!("failed to write '{}'", path.display()))?;
    Ok(())
}

/// Write `name` as the header of the first part that has the file, then every part's rows.
fn concat(parts: &[Part], name: &str, tmp: &Path) -> Result<()> {
    let path = tmp.join(name);
    let mut out =
        BufWriter::new(File::create(&path).with_context(|| format!("failed to create '{}'", path.display()))?);
    let mut header: Option<String> = None;
    for p in parts {
        let src = p.dir.join(name);
        if !src.is_file() {
            continue;
        }
        let mut reader = BufReader::new(crate::load::open_regular(&src)?);
        let mut h = String::new();
        reader.read_line(&mut h).with_context(|| format!("failed to read '{}'", src.display()))?;
        match &header {
            None => {
                out.write_all(h.as_bytes())?;
                header = Some(h);
            }
            Some(first) if *first != h => {
                return refuse(
                    InputError::new(format!("'{}' has other columns than the first shard's {name}", src.display()))
                        .with_hint("merge only the shards of one sweep"),
                );
            }
            Some(_) => {}
        }
        copy_lines(reader, &mut out).with_context(|| format!("failed to copy '{}'", src.display()))?;
    }
    out.flush().with_context(|| format!("failed to write '{}'", path.display()))?;
    Ok(())
}

/// Copy a shard's `runs/` tree. Links are not followed and only folders and regular files are
/// copied: a link (to a key, `/etc/shadow`, a folder) or a pipe or device is refused (exit code
/// 2, naming it), since a shard folder may come from anywhere.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), &target).with_context(|| format!("failed to copy '{}'", entry.path().display()))?;
        } else {
            let what = if kind.is_symlink() { "a symbolic link" } else { "not a regular file" };
            return refuse(
                InputError::new(format!(
                    "'{}' is {what}; merge copies only the files a sweep wrote",
                    entry.path().display()
                ))
                .with_hint("remove it from the shard's runs/ folder (a sweep writes no links)"),
            );
        }
    }
    Ok(())
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
