//! Rows to CSV: typed rows written through `csv` as a run produces them.
//!
//! A [`RowWriter`] is the engine [`Sink`] of one replication: it serializes each row as it
//! comes into one part per file (no header), and keeps `summary.csv`'s row and the KPIs. An
//! [`Assembler`] then writes the files: the header, then the parts in replication order.
//! (The derived files, such as `shares_wide.csv`, are made afterwards from these files by
//! the report module.)
//! Rows are `#[derive(Serialize)]` structs whose ids borrow from the run's [`Catalog`], so
//! no row builds strings for its cells.
//!
//! # Cells
//!
//! - **Numbers** are written with at most 15 significant digits, the shortest text that
//!   reads back to the value rounded to 15 significant digits: a spreadsheet keeps 15
//!   digits, so what it shows is exactly what is written, and binary noise goes
//!   (`0.28800000000000003` is written `0.288`, `4904999.999999999` is `4905000`). Plain
//!   decimals for magnitudes from 1e-5 up to 1e16 (no thousands separators), scientific
//!   notation (`1.5e-7`, `2e17`) outside; zero is `0`. The same value always gives the same
//!   text, so files stay byte-identical per seed.
//! - **Undefined values are empty cells**, never 0: a share when nothing was delivered, a
//!   performance gap when there is nothing to compare, the best chip and its TFLOPS when a
//!   firm has none on sale, KPIs that do not exist in a run.
//! - Ids rather than display names, ISO dates, quarters as `2026Q1`, `\n` line ends.
//! - **Text that a spreadsheet would run is neutralised** ([`text_cell`]): a cell that is not a
//!   number and starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`
//!   (OWASP's advice against CSV injection). Every CSV writer of the program passes its cells
//!   through it ([`csv_line`], [`safe`]); ids never start with those characters (the scenario
//!   checks refuse it), so the typed quarterly rows hold none.

use std::fmt::{self, Write as _};
use std::io::{self, Seek, SeekFrom, Write};

use crate::output::names;

use chipmarket_engine::calendar::{Date, Quarter};
use chipmarket_engine::observe::{
    Catalog, ChipQuarter, ContractRow, EventRow, FirmQuarter, MarketQuarter, RunReport, Sink, Summary,
};
use serde::{Serialize, Serializer};

use crate::output::columns;

/// Rows a spreadsheet holds (Excel's limit, the header included).
pub const SPREADSHEET_ROWS: u64 = 1_048_576;

// ------------------------------------------------------------------ cells ----

/// Room for the longest number text (`-1.23456789012345e-308` and plain forms up to 1e16).
struct NumText {
    bytes: [u8; 40],
    len: usize,
}

impl fmt::Write for NumText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl NumText {
    fn new() -> NumText {
        NumText { bytes: [0; 40], len: 0 }
    }

    fn as_str(&self) -> &str {
        // Only `write_str` fills the buffer, with whole `str`s.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }

    /// `x` by the rule of the [module docs](self).
    fn of(x: f64) -> NumText {
        let mut out = NumText::new();
        if x == 0.0 {
            out.len = 1;
            out.bytes[0] = b'0';
            return out;
        }
        if !x.is_finite() {
            let _ = write!(out, "{x}");
            return out;
        }
        // Most values have a shortest text of at most 15 significant digits: that text is
        // then also the nearest 15-digit decimal (it is within half an ulp of `x`, far less
        // than the 15-digit spacing), so rounding would give `x` back; write it at once.
        Self::shortest(&mut out, x);
        if out.significant_digits() <= 15 {
            return out;
        }
        out.len = 0;
        // Round to 15 significant digits (correctly rounded by the formatter), read back.
        let _ = write!(out, "{x:.14e}");
        // (Past 1.79769313486232e308 the rounded value overflows: keep the value itself.)
        let rounded: f64 = out.as_str().parse().ok().filter(|r: &f64| r.is_finite()).unwrap_or(x);
        out.len = 0;
        // Any 15-digit decimal survives the trip through a double, so the shortest text that
        // reads back to `rounded` has at most 15 significant digits.
        Self::shortest(&mut out, rounded);
        out
    }

    /// The shortest text that reads back to `x`: plain from 1e-5 up to 1e16, else scientific.
    fn shortest(out: &mut NumText, x: f64) {
        if (1e-5..1e16).contains(&x.abs()) {
            let _ = write!(out, "{x}");
        } else {
            let _ = write!(out, "{x:e}");
        }
    }

    /// Significant digits of the text (sign, point, exponent and the zeros that only place
    /// the point left out).
    fn significant_digits(&self) -> usize {
        let text = self.as_str();
        let mantissa = text.split('e').next().unwrap_or(text).as_bytes();
        let (mut first, mut last) = (None, 0);
        for (i, &b) in mantissa.iter().filter(|b| b.is_ascii_digit()).enumerate() {
            if b != b'0' {
                first.get_or_insert(i);
                last = i;
            }
        }
        first.map_or(0, |f| last + 1 - f)
    }

    /// The rule applied the long way (round to 15 digits, read back, shortest text), for
    /// the test that the quick path agrees with it.
    #[cfg(test)]
    fn of_long_way(x: f64) -> String {
        if x == 0.0 {
            return "0".into();
        }
        let rounded: f64 = format!("{x:.14e}").parse().ok().filter(|r: &f64| r.is_finite()).unwrap_or(x);
        let mut out = NumText::new();
        Self::shortest(&mut out, rounded);
        out.as_str().to_string()
    }
}

/// A number as written in every CSV (see the [module docs](self)).
pub fn num(x: f64) -> String {
    NumText::of(x).as_str().to_string()
}

/// The value a number cell holds once read back: `x` rounded to 15 significant digits (for
/// outputs that store numbers rather than text, such as the workbook, so that they hold
/// what the CSV files say).
pub fn rounded(x: f64) -> f64 {
    NumText::of(x).as_str().parse().unwrap_or(x)
}

/// Whether `s` reads as a number (`-0.5`, `+1e5`, and `-0,5` with a decimal comma): such cells
/// are never neutralised.
fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    digits.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == ',')
        && (s.parse::<f64>().is_ok_and(f64::is_finite)
            || s.replacen(',', ".", 1).parse::<f64>().is_ok_and(f64::is_finite))
}

/// A text cell made safe to open in a spreadsheet: a cell that is not a number and starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so a spreadsheet shows it
/// as text instead of running it as a formula (OWASP "CSV injection"). Other cells are kept.
pub fn text_cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_number(s) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Every cell of a record through [`text_cell`], for `csv::Writer::write_record`.
pub fn safe<I>(cells: I) -> Vec<String>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    cells.into_iter().map(|c| text_cell(c.as_ref()).into_owned()).collect()
}

/// An optional number: empty when absent.
pub fn opt(x: Option<f64>) -> String {
    x.map_or_else(String::new, num)
}

/// A number cell.
#[derive(Debug, Clone, Copy)]
pub struct Num(pub f64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(NumText::of(self.0).as_str())
    }
}

fn opt_num(x: Option<f64>) -> Option<Num> {
    x.map(Num)
}

/// A cell written with `Display` (quarters).
#[derive(Debug, Clone, Copy)]
pub struct Shown<T>(pub T);

impl<T: fmt::Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

// ------------------------------------------------------------------- rows ----

/// One row of `firms_quarterly.csv`.
#[derive(Debug, Serialize)]
pub struct FirmRecord<'a> {
    replication: u32,
    quarter: Shown<Quarter>,
    firm: &'a str,
    units_shipped: u64,
    compute_shipped_pflops: Num,
    revenue_usd: Num,
    compute_share: Option<Num>,
    revenue_share: Option<Num>,
    backlog_units: u64,
    capacity_units: Num,
    best_chip: Option<&'a str>,
    best_chip_tflops: Option<Num>,
    ecosystem: Num,
    rd_spend_usd: Num,
    cash_usd: Num,
    inventory_units: u64,
    inventory_writeoff_usd: Num,
}

impl<'a> FirmRecord<'a> {
    fn new(names: &'a Catalog, f: &FirmQuarter) -> Self {
        FirmRecord {
            replication: names.replication,
            quarter: Shown(f.quarter),
            firm: name(&names.firm_ids, f.firm),
            units_shipped: f.units_shipped,
            compute_shipped_pflops: Num(f.compute_shipped_pflops),
            revenue_usd: Num(f.revenue_usd),
            compute_share: opt_num(f.compute_share),
            revenue_share: opt_num(f.revenue_share),
            backlog_units: f.backlog_units,
            capacity_units: Num(f.capacity_units),
            best_chip: f.best_chip.map(|c| name(&names.chip_ids, c)),
            best_chip_tflops: opt_num(f.best_chip_tflops),
            ecosystem: Num(f.ecosystem),
            rd_spend_usd: Num(f.rd_spend_usd),
            cash_usd: Num(f.cash_usd),
            inventory_units: f.inventory_units,
            inventory_writeoff_usd: Num(f.inventory_writeoff_usd),
        }
    }
}

/// One row of `market_quarterly.csv`.
#[derive(Debug, Serialize)]
pub struct MarketRecord<'a> {
    replication: u32,
    quarter: Shown<Quarter>,
    regime: &'a str,
    demand_pflops: Num,
    delivered_pflops: Num,
    domestic_compute_share: Option<Num>,
    foreign_compute_share: Option<Num>,
    perf_gap_frontier: Option<Num>,
    perf_gap_sellable: Option<Num>,
    tenders_opened: u64,
    tenders_awarded: u64,
    unfilled_pflops: Num,
    export_fees_usd: Num,
    cancelled_backlog_usd: Num,
    inventory_writeoff_usd: Num,
}

impl<'a> MarketRecord<'a> {
    fn new(names: &'a Catalog, m: &MarketQuarter) -> Self {
        MarketRecord {
            replication: names.replication,
            quarter: Shown(m.quarter),
            regime: name(&names.regime_names, m.regime),
            demand_pflops: Num(m.demand_pflops),
            delivered_pflops: Num(m.delivered_pflops),
            domestic_compute_share: opt_num(m.domestic_compute_share),
            foreign_compute_share: opt_num(m.foreign_compute_share),
            perf_gap_frontier: opt_num(m.perf_gap_frontier),
            perf_gap_sellable: opt_num(m.perf_gap_sellable),
            tenders_opened: m.tenders_opened,
            tenders_awarded: m.tenders_awarded,
            unfilled_pflops: Num(m.unfilled_pflops),
            export_fees_usd: Num(m.export_fees_usd),
            cancelled_backlog_usd: Num(m.cancelled_backlog_usd),
            inventory_writeoff_usd: Num(m.inventory_writeoff_usd),
        }
    }
}

/// One row of `chips_quarterly.csv`.
#[derive(Debug, Serialize)]
pub struct ChipRecord<'a> {
    replication: u32,
    quarter: Shown<Quarter>,
    firm: &'a str,
    chip: &'a str,
    units_shipped: u64,
    compute_shipped_pflops: Num,
    revenue_usd: Num,
}

impl<'a> ChipRecord<'a> {
    fn new(names: &'a Catalog, c: &ChipQuarter) -> Self {
        ChipRecord {
            replication: names.replication,
            quarter: Shown(c.quarter),
            firm: name(&names.firm_ids, c.firm),
            chip: name(&names.chip_ids, c.chip),
            units_shipped: c.units_shipped,
            compute_shipped_pflops: Num(c.compute_shipped_pflops),
            revenue_usd: Num(c.revenue_usd),
        }
    }
}

/// One row of `contracts.csv`.
#[derive(Debug, Serialize)]
pub struct ContractRecord<'a> {
    replication: u32,
    contract: u64,
    tender: u64,
    customer: &'a str,
    firm: &'a str,
    chip: &'a str,
    awarded_on: Date,
    units: u64,
    compute_pflops: Num,
    value_usd: Num,
    delivered_units: u64,
    status: &'static str,
    closed_on: Option<Date>,
}

impl<'a> ContractRecord<'a> {
    fn new(names: &'a Catalog, c: &ContractRow) -> Self {
        ContractRecord {
            replication: names.replication,
            contract: c.contract,
            tender: c.tender,
            customer: name(&names.customer_ids, c.customer),
            firm: name(&names.firm_ids, c.firm),
            chip: name(&names.chip_ids, c.chip),
            awarded_on: c.awarded_on,
            units: c.units,
            compute_pflops: Num(c.compute_pflops),
            value_usd: Num(c.value_usd),
            delivered_units: c.delivered_units,
            status: c.status.as_str(),
            closed_on: c.closed_on,
        }
    }
}

/// One row of `events.csv`.
#[derive(Debug, Serialize)]
pub struct EventRecord<'a> {
    replication: u32,
    time: Date,
    kind: &'static str,
    ids: &'a str,
}

/// The name at `i` of a catalogue (the engine only hands positions it named).
fn name(names: &[String], i: usize) -> &str {
    names.get(i).map_or("", String::as_str)
}

// ------------------------------------------------------------------ files ----

/// The files with one row per model row, written part by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFile {
    /// `firms_quarterly.csv`.
    Firms,
    /// `market_quarterly.csv`.
    Market,
    /// `chips_quarterly.csv`.
    Chips,
    /// `contracts.csv`.
    Contracts,
    /// `events.csv`.
    Events,
}

impl RowFile {
    /// Every row file, in the order the files are listed.
    pub const ALL: [RowFile; 5] =
        [RowFile::Firms, RowFile::Market, RowFile::Chips, RowFile::Contracts, RowFile::Events];

    /// The file name.
    pub fn name(self) -> &'static str {
        match self {
            RowFile::Firms => names::FIRMS_QUARTERLY,
            RowFile::Market => names::MARKET_QUARTERLY,
            RowFile::Chips => names::CHIPS_QUARTERLY,
            RowFile::Contracts => names::CONTRACTS,
            RowFile::Events => names::EVENTS,
        }
    }

    /// The header row (`output::columns`; the field names of the row struct, in order).
    pub fn header(self) -> &'static [&'static str] {
        match self {
            RowFile::Firms => &columns::firms::HEADER,
            RowFile::Market => &columns::market::HEADER,
            RowFile::Chips => &columns::chips::HEADER,
            RowFile::Contracts => &columns::contracts::HEADER,
            RowFile::Events => &columns::events::HEADER,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Which optional files a run writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// `contracts.csv`.
    pub contracts: bool,
    /// `events.csv`.
    pub events: bool,
}

impl Choice {
    /// Whether `file` is written.
    pub fn writes(self, file: RowFile) -> bool {
        match file {
            RowFile::Contracts => self.contracts,
            RowFile::Events => self.events,
            _ => true,
        }
    }
}

fn csv_writer<W: Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().has_headers(false).terminator(csv::Terminator::Any(b'\n')).from_writer(w)
}

/// One CSV record with its newline, its cells through [`text_cell`].
pub fn csv_line<S: AsRef<str>>(cells: &[S]) -> Vec<u8> {
    let mut w = csv_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(safe(cells));
    w.into_inner().unwrap_or_default()
}

/// A part: what a replication wrote for one file, to be copied into the file.
pub trait Part {
    /// Copy the whole part into `out`.
    fn copy_to(&mut self, out: &mut dyn Write) -> io::Result<()>;
}

impl Part for Vec<u8> {
    fn copy_to(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(self)
    }
}

impl Part for tempfile::SpooledTempFile {
    fn copy_to(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.seek(SeekFrom::Start(0))?;
        io::copy(self, out).map(|_| ())
    }
}

/// What one replication wrote: a part and a row count per file, and its summary.
pub struct Written<P> {
    /// Parts by [`RowFile`], with their row counts (`None` for files not written).
    pub parts: Vec<Option<(P, u64)>>,
    /// `summary.csv` header (replication, seed, KPI names).
    pub summary_header: Vec<String>,
    /// `summary.csv` row.
    pub summary_row: Vec<String>,
    /// The KPIs (for `--replications auto`).
    pub kpis: Vec<(String, Option<f64>)>,
    /// Kernel events processed.
    pub events_processed: u64,
}

/// The [`Sink`] of one replication; see the [module docs](self).
pub struct RowWriter<P: Write> {
    writers: Vec<Option<csv::Writer<P>>>,
    rows: [u64; 5],
    summary: Option<(Vec<String>, Vec<String>)>,
    kpis: Vec<(String, Option<f64>)>,
    events_processed: u64,
    on_quarter: Box<dyn FnMut()>,
    error: Option<csv::Error>,
}

impl<P: Write> RowWriter<P> {
    /// A writer whose part for each chosen file comes from `part`; `on_quarter` is called as
    /// each quarter closes (a progress bar moves on).
    pub fn new(choice: Choice, mut part: impl FnMut(RowFile) -> P, on_quarter: impl FnMut() + 'static) -> Self {
        let writers = RowFile::ALL.iter().map(|&f| choice.writes(f).then(|| csv_writer(part(f)))).collect();
        let on_quarter = Box::new(on_quarter);
        RowWriter {
            writers,
            rows: [0; 5],
            summary: None,
            kpis: Vec::new(),
            events_processed: 0,
            on_quarter,
            error: None,
        }
    }

    fn write<R: Serialize>(&mut self, file: RowFile, record: R) {
        if self.error.is_some() {
            return;
        }
        let Some(w) = &mut self.writers[file.index()] else { return };
        match w.serialize(record) {
            Ok(()) => self.rows[file.index()] += 1,
            Err(e) => self.error = Some(e),
        }
    }

    /// The parts (flushed) and the rest of what the replication gave.
    ///
    /// # Errors
    ///
    /// The first error met while writing a row.
    pub fn finish(self) -> io::Result<Written<P>> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        let mut parts = Vec::with_capacity(self.writers.len());
        for (i, w) in self.writers.into_iter().enumerate() {
            parts.push(match w {
                Some(w) => Some((w.into_inner().map_err(|e| e.into_error())?, self.rows[i])),
                None => None,
            });
        }
        let (summary_header, summary_row) = self.summary.unwrap_or_default();
        Ok(Written { parts, summary_header, summary_row, kpis: self.kpis, events_processed: self.events_processed })
    }
}

impl<P: Write> Sink for RowWriter<P> {
    fn firm_quarter(&mut self, names: &Catalog, row: &FirmQuarter) {
        self.write(RowFile::Firms, FirmRecord::new(names, row));
    }

    fn market_quarter(&mut self, names: &Catalog, row: &MarketQuarter) {
        self.write(RowFile::Market, MarketRecord::new(names, row));
        (self.on_quarter)();
    }

    fn chip_quarter(&mut self, names: &Catalog, row: &ChipQuarter) {
        self.write(RowFile::Chips, ChipRecord::new(names, row));
    }

    fn contract(&mut self, names: &Catalog, row: &ContractRow) {
        if self.writers[RowFile::Contracts.index()].is_some() {
            self.write(RowFile::Contracts, ContractRecord::new(names, row));
        }
    }

    fn event(&mut self, names: &Catalog, row: &EventRow) {
        let record = EventRecord { replication: names.replication, time: row.time, kind: row.kind, ids: &row.ids };
        self.write(RowFile::Events, record);
    }

    fn end(&mut self, names: &Catalog, summary: Summary, events_processed: u64) {
        let mut header: Vec<String> = columns::summary::KEYS.iter().map(|k| k.to_string()).collect();
        header.extend(summary.kpis.iter().map(|(k, _)| k.clone()));
        let mut row = vec![names.replication.to_string(), names.seed.to_string()];
        row.extend(summary.kpis.iter().map(|(_, v)| opt(*v)));
        self.summary = Some((header, row));
        self.kpis = summary.kpis;
        self.events_processed = events_processed;
    }
}

// -------------------------------------------------------------- assembler ----

/// Row count of one file, and whether it was warned about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCount {
    /// Lines written, the header included.
    pub lines: u64,
    warned: bool,
}

impl RowCount {
    /// Count `rows` more; `true` the first time the file passes [`SPREADSHEET_ROWS`].
    pub fn add(&mut self, rows: u64) -> bool {
        self.lines += rows;
        if self.lines > SPREADSHEET_ROWS && !self.warned {
            self.warned = true;
            return true;
        }
        false
    }
}

/// The warning for a file that passed [`SPREADSHEET_ROWS`].
pub fn too_many_rows(file: &str) -> String {
    let hint = if file == names::CONTRACTS { "; `[output] contracts = false` leaves it out" } else { "" };
    format!(
        "warning: {file} has more than {SPREADSHEET_ROWS} rows, more than a spreadsheet shows \
         (use a CSV reader, or fewer replications{hint})"
    )
}

/// Writes the files of a run from the replications' parts, in the order they are given
/// (replication order).
pub struct Assembler<F: Write> {
    files: Vec<Option<(F, RowCount)>>,
    summary: (F, RowCount),
    /// Kernel events over all replications.
    pub events_processed: u64,
    /// Replications appended.
    pub replications: u64,
}

impl<F: Write> Assembler<F> {
    /// Start the files: each chosen row file from `open` (its header is written at once),
    /// `summary.csv` into `summary` (its header comes with the first replication, which
    /// names the KPIs).
    ///
    /// # Errors
    ///
    /// Failures to open or write.
    pub fn new(choice: Choice, mut open: impl FnMut(RowFile) -> io::Result<F>, summary: F) -> io::Result<Self> {
        let mut files = Vec::new();
        for f in RowFile::ALL {
            files.push(if choice.writes(f) {
                let mut out = open(f)?;
                out.write_all(&csv_line(f.header()))?;
                let mut count = RowCount::default();
                count.add(1);
                Some((out, count))
            } else {
                None
            });
        }
        Ok(Assembler { files, summary: (summary, RowCount::default()), events_processed: 0, replications: 0 })
    }

    /// Append the next replication; returns the warnings of files that just passed
    /// [`SPREADSHEET_ROWS`].
    ///
    /// # Errors
    ///
    /// Failures to read a part or write a file.
    pub fn append<P: Part>(&mut self, written: Written<P>) -> io::Result<Vec<String>> {
        let mut warnings = Vec::new();
        for (file, part) in RowFile::ALL.iter().zip(written.parts) {
            let (Some((out, count)), Some((mut part, rows))) = (self.files[file.index()].as_mut(), part) else {
                continue;
            };
            part.copy_to(out)?;
            if count.add(rows) {
                warnings.push(too_many_rows(file.name()));
            }
        }
        let (out, count) = &mut self.summary;
        if self.replications == 0 {
            out.write_all(&csv_line(&written.summary_header))?;
            count.add(1);
        }
        out.write_all(&csv_line(&written.summary_row))?;
        if count.add(1) {
            warnings.push(too_many_rows(names::SUMMARY));
        }
        self.events_processed += written.events_processed;
        self.replications += 1;
        Ok(warnings)
    }

    /// Flush the row files and `summary.csv`; return the row files (by [`RowFile`]) and
    /// `summary.csv`.
    ///
    /// # Errors
    ///
    /// Failures to write.
    pub fn finish(self) -> io::Result<(Vec<Option<F>>, F)> {
        let mut files = Vec::new();
        for f in self.files {
            files.push(match f {
                Some((mut out, _)) => {
                    out.flush()?;
                    Some(out)
                }
                None => None,
            });
        }
        let (mut summary, _) = self.summary;
        summary.flush()?;
        Ok((files, summary))
    }
}

/// The files of `reports` (in order), by name, as bytes: what `chipmarket run` writes for
/// them (before the derived files), built in memory (for small runs, such as a sweep's
/// kept runs).
///
/// # Errors
///
/// Only on an internal formatting error (writing to memory does not fail).
pub fn files_in_memory(reports: &[RunReport], choice: Choice) -> io::Result<Vec<(&'static str, Vec<u8>)>> {
    let mut asm = Assembler::new(choice, |_| Ok(Vec::new()), Vec::new())?;
    for r in reports {
        let mut w = RowWriter::new(choice, |_| Vec::new(), || {});
        r.replay(&mut w);
        asm.append(w.finish()?)?;
    }
    let (files, summary) = asm.finish()?;
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let mut files = files.into_iter();
    for f in RowFile::ALL {
        if let Some(bytes) = files.next().flatten() {
            out.push((f.name(), bytes));
        }
    }
    let at = out.iter().position(|(n, _)| *n == names::EVENTS).unwrap_or(out.len());
    out.insert(at, (names::SUMMARY, summary));
    Ok(out)
}

/// The files of `reports`, by name, as bytes (every row file, `contracts.csv` unless the
/// scenario turns it off, `events.csv` with `trace`): what a run writes before its derived
/// outputs, built in memory (a sweep's `--keep-runs`).
pub fn run_files(
    scenario: &chipmarket_engine::Scenario,
    reports: &[RunReport],
    trace: bool,
) -> Vec<(&'static str, Vec<u8>)> {
    let mut files = vec![(names::SCENARIO_RESOLVED, scenario.to_toml_string().into_bytes())];
    let choice = Choice { contracts: scenario.output.contracts, events: trace };
    // Writing to memory does not fail.
    files.extend(files_in_memory(reports, choice).unwrap_or_default());
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_a_spreadsheet_would_run_gets_a_quote_and_numbers_stay() {
        for (cell, want) in [
            ("=1+1", "'=1+1"),
            ("+A1", "'+A1"),
            ("-5nm", "'-5nm"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-inf", "'-inf"),
            ("-", "'-"),
            ("-0.5", "-0.5"),
            ("+1e5", "+1e5"),
            ("-1.5e-7", "-1.5e-7"),
            ("-0,5", "-0,5"),
            ("dom", "dom"),
            ("'=x", "'=x"),
            ("", ""),
        ] {
            assert_eq!(text_cell(cell), want, "{cell:?}");
        }
        assert_eq!(csv_line(&["=x", "-2", "a"]), b"'=x,-2,a\n");
    }

    #[test]
    fn numbers_have_at_most_15_significant_digits_and_no_binary_noise() {
        assert_eq!(num(0.1 + 0.2), "0.3");
        assert_eq!(num(0.28800000000000003), "0.288");
        assert_eq!(num(4904999.999999999), "4905000");
        assert_eq!(num(1234567.0), "1234567");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(-2.5), "-2.5");
        assert_eq!(num(1.0 / 3.0), "0.333333333333333");
        assert_eq!(num(2.0 / 3.0), "0.666666666666667");
        assert_eq!(num(123456789012345678.0), "1.23456789012346e17");
        assert_eq!(num(1.5e-7), "1.5e-7");
        assert_eq!(num(0.00012), "0.00012");
        assert_eq!(num(9999999999999999.0), "1e16", "rounding can carry into the next power of ten");
        assert_eq!(opt(None), "");
        assert_eq!(rounded(0.1 + 0.2), 0.3);
        assert_eq!(rounded(0.1009306706965622), 0.100930670696562);
        // What is written reads back to the value within 15 digits, and what a spreadsheet
        // keeps (15 digits) reads back to exactly the written text.
        for x in [1.0 / 7.0, 6.02214076e23, 1e-300, 123.456, 4904999.999999999, 1e308, f64::MIN_POSITIVE] {
            let text = num(x);
            let back: f64 = text.parse().unwrap();
            assert!(((back - x) / x).abs() < 1e-14, "{x} -> {text}");
            let mantissa = text.split('e').next().unwrap().replace(['-', '.'], "");
            let significant = mantissa.trim_start_matches('0').trim_end_matches('0');
            assert!(significant.len() <= 15, "{x} -> {text}");
            assert_eq!(num(back), text, "writing is stable");
        }
        assert_eq!(num(f64::MAX).parse::<f64>().unwrap(), f64::MAX, "no overflow to inf");
    }

    #[test]
    fn the_quick_path_writes_what_rounding_the_long_way_writes() {
        let mut values = vec![0.1 + 0.2, 1e16, 9999999999999998.0, 1e-5, 0.00001000000000000001, 123456789012345.6];
        // Values of every magnitude and digit count (a fixed sequence of random bit patterns).
        let mut bits: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            bits ^= bits << 13;
            bits ^= bits >> 7;
            bits ^= bits << 17;
            let x = f64::from_bits(bits);
            if x.is_finite() {
                values.push(x);
                values.push((x.abs().log10().clamp(-20.0, 20.0) * 1.7).exp() * if x < 0.0 { -1.0 } else { 1.0 });
            }
        }
        for x in values {
            assert_eq!(num(x), NumText::of_long_way(x), "{x:e}");
        }
    }

    #[test]
    fn headers_are_the_field_names_of_the_row_structs() {
        let names = Catalog {
            replication: 3,
            seed: 9,
            firm_ids: vec!["f".into()],
            customer_ids: vec!["c".into()],
            chip_ids: vec!["x".into()],
            regime_names: vec!["open".into()],
        };
        let with_header = |file: RowFile, f: &dyn Fn(&mut csv::Writer<Vec<u8>>)| {
            let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
            f(&mut w);
            let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
            assert_eq!(text.lines().next().unwrap(), file.header().join(","), "{}", file.name());
            text
        };
        let report = chipmarket_engine::run(
            &chipmarket_engine::Scenario::from_toml_str(include_str!("../../tests/data/tiny.toml")).unwrap(),
            0,
            chipmarket_engine::RunOptions { record_rows: true, trace: true },
        )
        .unwrap();
        let names_of_report = report.catalog();
        let firm =
            with_header(RowFile::Firms, &|w| w.serialize(FirmRecord::new(&names_of_report, &report.firms[0])).unwrap());
        assert!(firm.lines().nth(1).unwrap().starts_with("0,"));
        with_header(RowFile::Market, &|w| w.serialize(MarketRecord::new(&names_of_report, &report.market[0])).unwrap());
        with_header(RowFile::Chips, &|w| w.serialize(ChipRecord::new(&names_of_report, &report.chips[0])).unwrap());
        let c = with_header(RowFile::Contracts, &|w| {
            w.serialize(ContractRecord::new(&names_of_report, &report.contracts[0])).unwrap()
        });
        assert!(c.lines().nth(1).unwrap().starts_with("0,0,"), "{c}");
        with_header(RowFile::Events, &|w| {
            w.serialize(EventRecord {
                replication: names.replication,
                time: report.events[0].time,
                kind: "k",
                ids: "a b",
            })
            .unwrap()
        });
    }

    #[test]
    fn parts_spilled_to_temporary_files_give_the_same_files_as_parts_in_memory() {
        let s = chipmarket_engine::Scenario::from_toml_str(include_str!("../../tests/data/tiny.toml")).unwrap();
        let options = chipmarket_engine::RunOptions { record_rows: true, trace: true };
        let choice = Choice { contracts: true, events: true };
        let tmp = tempfile::tempdir().unwrap();
        let mut in_memory = Assembler::new(choice, |_| Ok(Vec::new()), Vec::new()).unwrap();
        let mut spilled = Assembler::new(choice, |_| Ok(Vec::new()), Vec::new()).unwrap();
        for r in 0..3 {
            let mut a = RowWriter::new(choice, |_| Vec::new(), || {});
            chipmarket_engine::run_with_sink(&s, r, options, &mut a).unwrap();
            in_memory.append(a.finish().unwrap()).unwrap();
            // 64 bytes: every part but the smallest moves to a file after a row or two.
            let mut b = RowWriter::new(choice, |_| tempfile::spooled_tempfile_in(64, tmp.path()), || {});
            chipmarket_engine::run_with_sink(&s, r, options, &mut b).unwrap();
            let written = b.finish().unwrap();
            assert!(written.parts.iter().flatten().any(|(p, _)| p.is_rolled()), "some part moved to a file");
            spilled.append(written).unwrap();
        }
        assert_eq!(in_memory.finish().unwrap(), spilled.finish().unwrap());
    }

    #[test]
    fn undefined_values_are_empty_cells() {
        let names = Catalog {
            replication: 0,
            seed: 1,
            firm_ids: vec!["f".into()],
            customer_ids: vec![],
            chip_ids: vec![],
            regime_names: vec!["open".into()],
        };
        let quarter = Quarter { year: 2026, q: 1 };
        let row = FirmQuarter {
            quarter,
            firm: 0,
            units_shipped: 0,
            units_produced: 0,
            compute_shipped_pflops: 0.0,
            revenue_usd: 0.0,
            compute_share: None,
            revenue_share: None,
            backlog_units: 0,
            capacity_units: 10.0,
            best_chip: None,
            best_chip_tflops: None,
            ecosystem: 0.5,
            rd_spend_usd: 0.0,
            cash_usd: 4904999.999999999,
            cogs_usd: 0.0,
            export_fees_usd: 0.0,
            fixed_costs_usd: 0.0,
            funding_usd: 0.0,
            inventory_units: 0,
            inventory_writeoff_usd: 0.0,
        };
        let mut w = csv_writer(Vec::new());
        w.serialize(FirmRecord::new(&names, &row)).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(text, "0,2026Q1,f,0,0,0,,,0,10,,,0.5,0,4905000,0,0\n");
    }

    #[test]
    fn a_file_is_warned_about_once_when_it_passes_the_spreadsheet_limit() {
        let mut count = RowCount::default();
        assert!(!count.add(1), "the header");
        assert!(!count.add(SPREADSHEET_ROWS - 1), "exactly at the limit is fine");
        assert!(count.add(1), "one past the limit warns");
        assert!(!count.add(10), "once");
        let w = too_many_rows("contracts.csv");
        assert!(w.contains("contracts.csv") && w.contains("1048576") && w.contains("contracts = false"), "{w}");
    }
}
