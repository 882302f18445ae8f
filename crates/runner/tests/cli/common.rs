//! Helpers to run the binary and show everything when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of a test fixture under `tests/data`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("data").join(name)
}

/// Path of a shipped scenario under `scenarios/`.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(name)
}

/// Run `chipmarket` with `args` in `cwd`.
pub fn chipmarket(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chipmarket")).args(args).current_dir(cwd).output().expect("the binary runs")
}

/// Describe a finished command for a failure message.
pub fn show(args: &[&str], cwd: &Path, out: &Output) -> String {
    let listing: Vec<String> = std::fs::read_dir(cwd)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    format!(
        "command: chipmarket {}\ncwd: {}\nfiles: {:?}\nstatus: {:?}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        cwd.display(),
        listing,
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run and require success.
pub fn ok(cwd: &Path, args: &[&str]) -> Output {
    let out = chipmarket(cwd, args);
    assert!(out.status.success(), "{}", show(args, cwd, &out));
    out
}

/// Run and require exit code `code`.
pub fn fails_with(cwd: &Path, args: &[&str], code: i32) -> Output {
    let out = chipmarket(cwd, args);
    assert_eq!(out.status.code(), Some(code), "{}", show(args, cwd, &out));
    out
}
