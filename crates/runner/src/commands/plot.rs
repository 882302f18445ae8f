//! `chipmarket plot DIR [--xlsx]`: (re)make the derived outputs of a run or sweep folder:
//! summaries, charts, `report.html` and, with `--xlsx`, `results.xlsx` (see `report`).

use crate::console::outln;
use anyhow::Result;

use crate::cli::PlotArgs;
use crate::error::InputError;
use crate::report::{self, Kind};

/// `chipmarket plot DIR [--xlsx] [--quiet]`
pub fn plot(args: &PlotArgs) -> Result<()> {
    let started = report::Started::now();
    if args.xlsx && report::detect(&args.dir)? == Kind::Sweep {
        return Err(InputError::new(format!(
            "--xlsx: '{}' holds a sweep; the workbook is made for run folders",
            args.dir.display()
        ))
        .with_hint("leave out --xlsx (points_wide.csv opens in any spreadsheet)")
        .into());
    }
    let (kind, written) = report::plot(&args.dir, args.xlsx, &started)?;
    if !args.quiet {
        let what = match kind {
            Kind::Run => "run",
            Kind::Sweep => "sweep",
        };
        outln!("{what} folder {}: wrote {} files", args.dir.display(), written.len())?;
    }
    Ok(())
}
