//! `chipmarket merge DIR... --out DIR`: join the output folders of a sharded sweep into the
//! folder the unsharded sweep writes, byte for byte.
//!
//! Shards hold whole, contiguous blocks of points, so their `runs.csv` and `points.csv` rows are
//! simply concatenated in shard order. Before writing anything, merge checks that every folder is
//! a finished shard of the same sweep (same `sweep.resolved.toml`, same N, same columns), that no
//! shard appears twice and none is missing, and that each holds all its runs.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::batch::outdir::{self, copy_lines, read_small, FAILURES, POINTS, RESOLVED, RUNS, RUN_DIRS, SHARD};
use crate::batch::{Shard, ShardFile};
use crate::cli::MergeArgs;
use crate::load::InputError;
use crate::report;

/// One input folder.
struct Part {
    dir: PathBuf,
    shard: Shard,
    /// `None` for a folder of a whole (unsharded) sweep.
    file: Option<ShardFile>,
    resolved: String,
}

fn refuse<T>(message: String) -> Result<T> {
    Err(InputError(message).into())
}

fn read_part(dir: &Path) -> Result<Part> {
    let shown = dir.display();
    if !dir.is_dir() {
        return refuse(format!("'{shown}' is not a folder\n\nhint: give the --out folders of the shards"));
    }
    if outdir::in_progress(dir) {
        return refuse(format!(
            "'{shown}' holds a sweep that has not finished\n\nhint: run its `chipmarket sweep ... --shard K/N` again with --resume"
        ));
    }
    for name in [RESOLVED, RUNS, POINTS] {
        if !dir.join(name).is_file() {
            return refuse(format!(
                "'{shown}' holds no finished sweep: {name} is missing\n\nhint: give the --out folders of `chipmarket sweep --shard K/N`"
            ));
        }
    }
    let resolved = read_small(&dir.join(RESOLVED))?;
    let shard_path = dir.join(SHARD);
    let (shard, file) = if shard_path.is_file() {
        let file: ShardFile = toml::from_str(&read_small(&shard_path)?)
            .map_err(|e| InputError(format!("'{}' is damaged: {}", shard_path.display(), e.message())))?;
        let shard = Shard::parse(&file.shard)
            .map_err(|_| InputError(format!("'{}' is damaged: bad shard \"{}\"", shard_path.display(), file.shard)))?;
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
            return refuse(format!(
                "'{}' and '{}' hold different sweeps (their {RESOLVED} differ)\n\nhint: merge only the shards of one sweep, run by the same version",
                first.dir.display(),
                p.dir.display()
            ));
        }
        if p.shard.n != first.shard.n {
            return refuse(format!(
                "'{}' is shard {} but '{}' is shard {}: the shards were cut differently\n\nhint: merge shards of one --shard K/N split",
                first.dir.display(),
                first.shard,
                p.dir.display(),
                p.shard
            ));
        }
    }
    parts.sort_by_key(|p| p.shard.k);
    for w in parts.windows(2) {
        if w[0].shard.k == w[1].shard.k {
            return refuse(format!(
                "shard {} is given twice: '{}' and '{}' overlap\n\nhint: give each shard once",
                w[0].shard,
                w[0].dir.display(),
                w[1].dir.display()
            ));
        }
    }
    let n = parts[0].shard.n;
    let missing: Vec<String> =
        (1..=n).filter(|k| !parts.iter().any(|p| p.shard.k == *k)).map(|k| format!("{k}/{n}")).collect();
    if !missing.is_empty() {
        return refuse(format!(
            "missing shard(s) {} of {n}\n\nhint: run `chipmarket sweep ... --shard K/{n}` for each and give all their folders",
            missing.join(", ")
        ));
    }
    let mut next = 0;
    for p in &parts {
        if let Some(f) = &p.file {
            if f.first_point != next
                || f.end_point < f.first_point
                || f.points != parts[0].file.as_ref().map_or(0, |g| g.points)
            {
                return refuse(format!(
                    "'{}' (shard {}) does not continue where the shard before it ends\n\nhint: its shard.toml is damaged; run the shard again",
                    p.dir.display(),
                    p.shard
                ));
            }
            next = f.end_point;
        }
    }
    if let Some(f) = &parts[0].file {
        if next != f.points {
            return refuse(format!("the shards end at point {next}, but the sweep has {} points", f.points));
        }
    }
    Ok(parts)
}

/// `chipmarket merge DIR... --out DIR`.
pub fn merge(args: &MergeArgs) -> Result<()> {
    let started = report::Started::now();
    let parts = args.dirs.iter().map(|d| read_part(d)).collect::<Result<Vec<_>>>()?;
    let parts = check(parts)?;
    let out = &args.out;
    for p in &parts {
        if same_folder(&p.dir, out) {
            return refuse(format!("--out '{}' is one of the shards\n\nhint: merge into a new folder", out.display()));
        }
    }
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).with_context(|| format!("failed to create '{}'", parent.display()))?;
    let name = out.file_name().map_or_else(|| "merged".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{name}.merge-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    let result = write_merged(&parts, &tmp)
        .and_then(|()| report::finish_sweep(&tmp, "merge", &started))
        .and_then(|()| replace_dir(&tmp, out));
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result?;
    println!("merged {} shard(s) into {}", parts.len(), out.display());
    Ok(())
}

fn write_merged(parts: &[Part], tmp: &Path) -> Result<()> {
    fs::create_dir_all(tmp).with_context(|| format!("failed to create '{}'", tmp.display()))?;
    fs::write(tmp.join(RESOLVED), &parts[0].resolved)?;
    concat(parts, RUNS, tmp, true)?;
    concat(parts, POINTS, tmp, false)?;
    if parts.iter().any(|p| p.dir.join(FAILURES).is_file()) {
        concat(parts, FAILURES, tmp, false)?;
    }
    for p in parts {
        let runs = p.dir.join(RUN_DIRS);
        if runs.is_dir() {
            copy_tree(&runs, &tmp.join(RUN_DIRS))?;
        }
    }
    Ok(())
}

/// Write `name` as the header of the first part that has the file, then every part's rows.
/// With `count`, check each part's row count against its shard file.
fn concat(parts: &[Part], name: &str, tmp: &Path, count: bool) -> Result<()> {
    let path = tmp.join(name);
    let mut out =
        BufWriter::new(File::create(&path).with_context(|| format!("failed to create '{}'", path.display()))?);
    let mut header: Option<String> = None;
    for p in parts {
        let src = p.dir.join(name);
        if !src.is_file() {
            continue;
        }
        let mut reader =
            BufReader::new(File::open(&src).with_context(|| format!("failed to read '{}'", src.display()))?);
        let mut h = String::new();
        reader.read_line(&mut h).with_context(|| format!("failed to read '{}'", src.display()))?;
        match &header {
            None => {
                out.write_all(h.as_bytes())?;
                header = Some(h);
            }
            Some(first) if *first != h => {
                return refuse(format!(
                    "'{}' has other columns than the first shard's {name}\n\nhint: merge only the shards of one sweep",
                    src.display()
                ));
            }
            Some(_) => {}
        }
        let n = copy_lines(reader, &mut out).with_context(|| format!("failed to copy '{}'", src.display()))?;
        if let (true, Some(f)) = (count, &p.file) {
            let expected = (f.end_point - f.first_point) * f.replications;
            if n != expected {
                return refuse(format!(
                    "'{}' has {n} runs, expected {expected} for shard {}: it is incomplete or damaged\n\nhint: run the shard again",
                    src.display(),
                    p.shard
                ));
            }
        }
    }
    out.flush().with_context(|| format!("failed to write '{}'", path.display()))?;
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target).with_context(|| format!("failed to copy '{}'", entry.path().display()))?;
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

/// Put the finished folder `tmp` in the place of `out`, replacing what was there.
fn replace_dir(tmp: &Path, out: &Path) -> Result<()> {
    let old = out.with_file_name(format!(
        ".{}.old-{}",
        out.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned()),
        std::process::id()
    ));
    if out.exists() {
        fs::rename(out, &old).with_context(|| format!("failed to move aside the old '{}'", out.display()))?;
    }
    fs::rename(tmp, out).with_context(|| format!("failed to move the merged sweep into '{}'", out.display()))?;
    if old.exists() {
        fs::remove_dir_all(&old).with_context(|| format!("failed to remove '{}'", old.display()))?;
    }
    Ok(())
}
