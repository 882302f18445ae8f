//! Who owns an output folder, and the one way a command writes into one.
//!
//! Every command that writes a folder (`run`, `sweep`, `merge`, `calibrate`, `plot`,
//! `analyze`, and any new one) follows one rule, kept here:
//!
//! - A folder a command wrote holds a hidden marker, [`MARKER`], naming the [`Kind`] of folder
//!   and every file the commands wrote into it (relative, `/`-separated).
//! - [`claim`] checks `--out` before any work. A missing or empty folder is written freely. A
//!   folder may be *replaced* only if its marker is of the same kind and it holds nothing but
//!   the files the marker lists. Any other folder needs `--force`, and then the command only
//!   *adds* its files: it refuses (exit code 2) if one of its files, or a folder on the way to
//!   one, already exists and was not written by it, so `--force` never deletes or replaces
//!   anything it did not write.
//! - `--out` naming a file is refused (a one-file output uses [`claim_file`]); a symlink is
//!   followed (the folder it points to is written, the link stays).
//! - [`Claim::stage`] gives a fresh hidden folder (next to `--out`, or inside it when it exists,
//!   so it is on the same file system even for a mount point) that the command fills; then
//!   [`Claim::commit`] moves its files into place. A new folder is renamed into place whole; an
//!   existing one gets its files moved in one by one, with every file it replaces or removes
//!   kept aside until the end, so that a failure puts the old files back. The marker is written
//!   last. [`Claim::update`] is the same for commands that add to a folder another command
//!   made (`plot`, `analyze`): it replaces only files the marker lists and removes nothing.
//! - Working folders of processes that died (`.chipmarket-*-<pid>`) are removed by the next
//!   claim of that folder, which says so on stderr.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::console::errln;
use crate::error::InputError;
use crate::output::atomic;

/// The marker file of an output folder.
pub const MARKER: &str = ".chipmarket.json";

/// Prefix of the hidden working folders (staging, files kept aside).
const WORK_PREFIX: &str = ".chipmarket-";

/// Largest marker read [bytes].
const MARKER_LIMIT: u64 = 64 << 20;

/// The kind of folder a command writes. Commands that write the same folder share a kind
/// (`sweep` and `merge`); a new command adds its own variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `chipmarket run`.
    Run,
    /// `chipmarket sweep` and `chipmarket merge`.
    Sweep,
    /// `chipmarket calibrate`.
    Calibration,
    /// `chipmarket diff`.
    Diff,
    /// `chipmarket backtest`.
    Backtest,
}

impl Kind {
    /// The command named in messages.
    pub fn command(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Sweep => "sweep",
            Kind::Calibration => "calibrate",
            Kind::Diff => "diff",
            Kind::Backtest => "backtest",
        }
    }
}

/// What [`MARKER`] holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    /// The kind of folder.
    pub kind: Kind,
    /// Every file the commands wrote, relative, `/`-separated, sorted.
    pub files: BTreeSet<String>,
}

impl Marker {
    /// Whether the commands wrote `file`: listed, or under a listed folder (`runs/`).
    pub fn owns(&self, file: &str) -> bool {
        self.files.contains(file) || self.files.iter().any(|d| d.ends_with('/') && file.starts_with(d.as_str()))
    }
}

/// How a claimed folder is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Missing: made whole.
    New,
    /// Empty, or holding only this kind's files: its files are replaced by the new ones.
    Replace,
    /// Another folder (`--force`): files added, nothing the command did not write touched.
    Add,
}

/// A checked `--out` folder; see the module docs.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The folder as the user named it (for messages).
    pub shown: PathBuf,
    /// The folder written (a symlink resolved).
    pub dir: PathBuf,
    /// The kind of folder.
    pub kind: Kind,
    /// How it is written.
    pub mode: Mode,
    /// Its marker, if it has one of this kind.
    pub marker: Option<Marker>,
}

/// Check that `out` may receive the output of `kind` (see the module docs); nothing is written
/// but the removal of dead processes' working folders.
pub fn claim(out: &Path, kind: Kind, force: bool) -> Result<Claim, InputError> {
    let shown = out.to_path_buf();
    let cannot = |e: std::io::Error| {
        InputError::new(format!("--out '{}': {e}", out.display())).with_hint("choose another folder")
    };
    let meta = match fs::metadata(out) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if fs::symlink_metadata(out).is_ok() {
                return Err(InputError::new(format!("--out '{}' is a link to nothing", out.display()))
                    .with_hint("remove the link or make its target folder"));
            }
            remove_dead_work(out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")), out);
            return Ok(Claim { shown, dir: out.to_path_buf(), kind, mode: Mode::New, marker: None });
        }
        Err(e) => return Err(cannot(e)),
    };
    if !meta.is_dir() {
        return Err(InputError::new(format!("--out '{}' is a file, not a folder", out.display())).with_hint(format!(
            "`chipmarket {}` writes a folder; choose a folder name for the outputs",
            kind.command()
        )));
    }
    let dir = fs::canonicalize(out).map_err(cannot)?;
    remove_dead_work(&dir, &dir);
    let marker = read_marker(&dir)?;
    let present = list(&dir).map_err(cannot)?;
    let ours = marker.as_ref().filter(|m| m.kind == kind);
    let foreign: Vec<&String> = present.iter().filter(|f| !ours.is_some_and(|m| m.owns(f))).collect();
    if foreign.is_empty() {
        return Ok(Claim { shown, dir, kind, mode: Mode::Replace, marker: ours.cloned() });
    }
    if force {
        return Ok(Claim { shown, dir, kind, mode: Mode::Add, marker: ours.cloned() });
    }
    let what = match &marker {
        Some(m) if m.kind == kind => format!(
            "is the output of an earlier `chipmarket {}` but also holds files it did not write ({})",
            kind.command(),
            sample(&foreign)
        ),
        Some(m) => format!("holds the output of `chipmarket {}`", m.kind.command()),
        None => format!(
            "is a folder that holds other files ({}), not the output of an earlier `chipmarket {}`",
            sample(&foreign),
            kind.command()
        ),
    };
    Err(InputError::new(format!("--out '{}' {what}; refusing to replace it", out.display())).with_hint(format!(
        "choose another folder (a new or empty one), or add --force to add the {} files to it \
         (it then replaces nothing it did not write)",
        kind.command()
    )))
}

/// A few of `files`, for a message.
fn sample(files: &[&String]) -> String {
    let mut s: Vec<String> = files.iter().take(3).map(|f| format!("'{f}'")).collect();
    if files.len() > 3 {
        s.push(format!("and {} more", files.len() - 3));
    }
    s.join(", ")
}

/// The marker of `dir`, if it has one. A damaged marker is refused.
pub fn read_marker(dir: &Path) -> Result<Option<Marker>, InputError> {
    let path = dir.join(MARKER);
    match fs::symlink_metadata(&path) {
        Err(_) => return Ok(None),
        Ok(m) if !m.is_file() => {
            return Err(InputError::new(format!("'{}' is not a regular file", path.display()))
                .with_hint("remove it; chipmarket writes it to know which files are its own"))
        }
        Ok(_) => {}
    }
    let bytes = crate::load::read_bounded(&path, "marker", MARKER_LIMIT)?;
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        InputError::new(format!("'{}' is damaged: {e}", path.display()))
            .with_hint("remove the folder's outputs by hand, or choose another folder")
    })
}

/// Every entry under `dir` that is not a folder (files, links, pipes...), relative and
/// `/`-separated; links are not followed; the marker and working folders left out.
pub fn list(dir: &Path) -> std::io::Result<BTreeSet<String>> {
    fn walk(rel: &str, dir: &Path, out: &mut BTreeSet<String>) -> std::io::Result<()> {
        for e in fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if rel.is_empty() && (name == MARKER || name.starts_with(WORK_PREFIX)) {
                continue;
            }
            let r = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            if e.file_type()?.is_dir() {
                walk(&r, &e.path(), out)?;
            } else {
                out.insert(r);
            }
        }
        Ok(())
    }
    let mut out = BTreeSet::new();
    walk("", dir, &mut out)?;
    Ok(out)
}

/// Remove `.chipmarket-*-<pid>` working folders in `dir` (and the `.<name>.tmp-<pid>` ones of
/// earlier versions next to `out`) whose process is no longer running.
fn remove_dead_work(dir: &Path, out: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let out_name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(WORK_PREFIX)
            || (!out_name.is_empty()
                && [".tmp-", ".old-", ".merge-"].iter().any(|s| name.starts_with(&format!(".{out_name}{s}"))));
        let Some(pid) = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if !ours || pid == std::process::id() || alive(pid) {
            continue;
        }
        match fs::remove_dir_all(e.path()) {
            Ok(()) => {
                errln!("note: removed '{}', left by an interrupted chipmarket (process {pid})", e.path().display())
            }
            Err(err) => errln!("warning: '{}' was left by an interrupted chipmarket: {err}", e.path().display()),
        }
    }
}

/// Whether process `pid` is running (true when that cannot be told: then nothing is removed).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

impl Claim {
    /// A fresh, empty working folder for the new files, on the folder's file system.
    pub fn stage(&self) -> Result<PathBuf> {
        let pid = std::process::id();
        let path = match self.mode {
            Mode::New => {
                let parent = self.dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                fs::create_dir_all(parent)
                    .with_context(|| format!("failed to create output folder '{}'", parent.display()))?;
                let name = self.dir.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
                parent.join(format!("{WORK_PREFIX}{name}-new-{pid}"))
            }
            Mode::Replace | Mode::Add => self.dir.join(format!("{WORK_PREFIX}new-{pid}")),
        };
        if fs::symlink_metadata(&path).is_ok() {
            fs::remove_dir_all(&path).with_context(|| format!("failed to clear '{}'", path.display()))?;
        }
        fs::create_dir(&path).with_context(|| format!("failed to create '{}'", path.display()))?;
        Ok(path)
    }

    /// Fill a staging folder with `fill`, then [`Claim::commit`] it; on any error the staging
    /// folder is removed and the folder is left as it was.
    pub fn write<T>(&self, fill: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        let stage = self.stage()?;
        let result = fill(&stage).and_then(|t| self.commit(&stage).map(|()| t));
        let _ = fs::remove_dir_all(&stage);
        result
    }

    /// Move the files of `stage` into the folder: the folder then holds them (and, in
    /// [`Mode::Add`], what else it held), and its marker lists them.
    pub fn commit(&self, stage: &Path) -> Result<()> {
        self.commit_with(stage, &BTreeSet::new())
    }

    /// [`Claim::commit`] for a command that also wrote `in_place` files straight into the
    /// folder (a sweep's protocol files; a folder entry ends with `/`): the marker lists both,
    /// and earlier files of the command that are in neither are removed.
    pub fn commit_with(&self, stage: &Path, in_place: &BTreeSet<String>) -> Result<()> {
        let new = list(stage).with_context(|| format!("failed to list '{}'", stage.display()))?;
        let files: BTreeSet<String> = new.union(in_place).cloned().collect();
        let marker = Marker { kind: self.kind, files };
        if self.mode == Mode::New {
            write_marker(stage, &marker)?;
            return fs::rename(stage, &self.dir)
                .with_context(|| format!("failed to move the results into '{}'", self.shown.display()));
        }
        let old = self.marker.clone().unwrap_or(Marker { kind: self.kind, files: BTreeSet::new() });
        let present = list(&self.dir).unwrap_or_default();
        let stale: Vec<String> =
            present.into_iter().filter(|f| old.owns(f) && !new.contains(f) && !marker.owns(f)).collect();
        self.move_in(stage, &new, &old, &stale)?;
        write_marker(&self.dir, &marker)
    }

    /// Refuse (before any work) when one of `names`, files the command will write, exists in
    /// the folder and was not written by it (only [`Mode::Add`] can meet one).
    pub fn refuse_conflicts(&self, names: &[&str]) -> Result<(), InputError> {
        let new: BTreeSet<String> = names.iter().map(|n| (*n).to_string()).collect();
        let old = self.marker.clone().unwrap_or(Marker { kind: self.kind, files: BTreeSet::new() });
        let conflicts = self.conflicts(&new, &old);
        if conflicts.is_empty() {
            return Ok(());
        }
        Err(self.conflict_error(&conflicts))
    }

    fn conflict_error(&self, conflicts: &BTreeSet<String>) -> InputError {
        let shown: Vec<&String> = conflicts.iter().collect();
        InputError::new(format!(
            "--out '{}': `chipmarket {}` would replace {} that it did not write",
            self.shown.display(),
            self.kind.command(),
            sample(&shown)
        ))
        .with_hint("choose another folder, or move those files away (--force only adds files)")
    }

    /// Like [`Claim::commit`] for a command adding to a folder of this claim's kind (`plot`,
    /// `analyze`, `compare`; see [`adopt`]): files the marker lists are replaced, others
    /// refused; of the command's earlier files only those `stale` picks (and the new files
    /// do not include) are removed. The marker then lists the old files and the new.
    pub fn update(&self, stage: &Path, stale: impl Fn(&str) -> bool) -> Result<()> {
        let new = list(stage).with_context(|| format!("failed to list '{}'", stage.display()))?;
        let old = self.marker.clone().unwrap_or(Marker { kind: self.kind, files: BTreeSet::new() });
        let gone: Vec<String> =
            old.files.iter().filter(|f| stale(f) && !new.contains(*f) && !f.ends_with('/')).cloned().collect();
        self.move_in(stage, &new, &old, &gone)?;
        let files = old.files.iter().filter(|f| !gone.contains(f)).cloned().chain(new).collect();
        write_marker(&self.dir, &Marker { kind: self.kind, files })
    }

    /// Write the marker of a folder the command fills in place (a sweep's or a calibration's
    /// own protocol): it lists `in_place` and, unless the folder was new, what it listed before.
    pub fn mark(&self, in_place: &BTreeSet<String>) -> Result<()> {
        let mut files = in_place.clone();
        if let Some(m) = &self.marker {
            let present = |f: &&String| f.ends_with('/') || fs::symlink_metadata(self.dir.join(f)).is_ok();
            files.extend(m.files.iter().filter(present).cloned());
        }
        write_marker(&self.dir, &Marker { kind: self.kind, files })
    }

    /// Check then move `new` (from `stage`) into the folder, replacing files in `old` and
    /// removing `stale` ones; files replaced or removed are kept aside until every move is
    /// done, and put back if one fails.
    fn move_in(&self, stage: &Path, new: &BTreeSet<String>, old: &Marker, stale: &[String]) -> Result<()> {
        let conflicts = self.conflicts(new, old);
        if !conflicts.is_empty() {
            return Err(self.conflict_error(&conflicts).into());
        }
        let aside = self.dir.join(format!("{WORK_PREFIX}old-{}", std::process::id()));
        let mut moved_aside: Vec<String> = Vec::new();
        let mut moved_in: Vec<String> = Vec::new();
        let result = (|| -> Result<()> {
            for f in new.iter().filter(|f| fs::symlink_metadata(self.dir.join(f)).is_ok()).chain(stale.iter()) {
                let from = self.dir.join(f);
                if fs::symlink_metadata(&from).is_err() {
                    continue;
                }
                let to = aside.join(f);
                if let Some(p) = to.parent() {
                    fs::create_dir_all(p)?;
                }
                fs::rename(&from, &to).with_context(|| format!("failed to move aside '{}'", from.display()))?;
                moved_aside.push(f.clone());
            }
            for f in new {
                let to = self.dir.join(f);
                if let Some(p) = to.parent() {
                    fs::create_dir_all(p).with_context(|| format!("failed to create '{}'", p.display()))?;
                }
                fs::rename(stage.join(f), &to)
                    .with_context(|| format!("failed to move '{}' into place", to.display()))?;
                moved_in.push(f.clone());
            }
            Ok(())
        })();
        if result.is_err() {
            for f in moved_in.iter().rev() {
                let _ = fs::remove_file(self.dir.join(f));
            }
            for f in moved_aside.iter().rev() {
                let _ = fs::rename(aside.join(f), self.dir.join(f));
            }
        }
        let _ = fs::remove_dir_all(&aside);
        result
    }

    /// Files of `new` that would replace something not in `old`: an existing entry of that
    /// name, or an entry on the way to it that is not a folder.
    fn conflicts(&self, new: &BTreeSet<String>, old: &Marker) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for f in new {
            let mut prefix = PathBuf::new();
            let parts: Vec<&str> = f.split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                prefix.push(part);
                let rel = parts[..=i].join("/");
                let Ok(meta) = fs::symlink_metadata(self.dir.join(&prefix)) else { break };
                let last = i + 1 == parts.len();
                if (last && !old.owns(&rel)) || (!last && !meta.is_dir()) {
                    out.insert(rel);
                    break;
                }
            }
        }
        out
    }
}

fn write_marker(dir: &Path, marker: &Marker) -> Result<()> {
    let text = serde_json::to_string_pretty(marker).context("failed to describe the folder")? + "\n";
    atomic::write(&dir.join(MARKER), text.as_bytes())
}

/// The folder `dir` of `kind` as a command that adds to it sees it (`plot`, `analyze`,
/// `compare`): its marker must be of that kind. A folder without a marker (written by an
/// earlier version) is taken to own the files `legacy` recognises as derived outputs.
pub fn adopt(dir: &Path, kind: Kind, legacy: impl Fn(&str) -> bool) -> Result<Claim, InputError> {
    let real = fs::canonicalize(dir)
        .map_err(|e| InputError::new(format!("'{}': {e}", dir.display())).with_hint("give an output folder"))?;
    remove_dead_work(&real, &real);
    let marker = match read_marker(&real)? {
        Some(m) if m.kind != kind => {
            return Err(InputError::new(format!(
                "'{}' holds the output of `chipmarket {}`, not of `chipmarket {}`",
                dir.display(),
                m.kind.command(),
                kind.command()
            ))
            .with_hint("give the folder of the command that made it"))
        }
        Some(m) => m,
        None => {
            let present = list(&real).map_err(|e| InputError::new(format!("'{}': {e}", dir.display())))?;
            Marker { kind, files: present.into_iter().filter(|f| legacy(f)).collect() }
        }
    };
    Ok(Claim { shown: dir.to_path_buf(), dir: real, kind, mode: Mode::Replace, marker: Some(marker) })
}

/// Check a one-file `--out` of a command (`analyze --out FILE`): a missing file, or one that
/// `is_ours` recognises as an earlier output of the command (by its first line), inside no
/// output folder that does not list it. A folder, a link to one, or any other file is refused.
pub fn claim_file(out: &Path, what: &str, is_ours: impl Fn(&str) -> bool) -> Result<(), InputError> {
    let refuse = |why: String| {
        Err(InputError::new(format!("--out '{}' {why}; refusing to replace it", out.display()))
            .with_hint(format!("give the name of a new file for the {what}")))
    };
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if let Ok(Some(m)) = read_marker(parent) {
        if m.files.contains(&name) {
            return refuse(format!("is a file of a `chipmarket {}` output", m.kind.command()));
        }
    }
    match fs::metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => refuse(format!("cannot be checked ({e})")),
        Ok(m) if m.is_dir() => refuse("is a folder".to_string()),
        Ok(m) if !m.is_file() => refuse("is not a regular file".to_string()),
        Ok(_) => {
            let first = crate::load::read_bounded(out, what, crate::load::MAX_INPUT_BYTES)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|t| t.lines().next().map(str::to_string))
                .unwrap_or_default();
            if is_ours(&first) {
                Ok(())
            } else {
                refuse(format!("is a file that is not an earlier {what}"))
            }
        }
    }
}
