//! Reading the CSV files of an output folder, streaming, with errors that name the file and
//! line. The derived outputs only ever read what `run` and `sweep` wrote, so a problem here
//! means the folder was edited or is not a chipmarket output folder.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::Result;

use crate::error::InputError;

/// An open CSV file: its header and a streaming reader.
pub struct Table {
    /// File name, for messages.
    pub name: String,
    /// Column names.
    pub header: Vec<String>,
    reader: csv::Reader<BufReader<File>>,
}

impl Table {
    /// Open `dir/name` and read its header.
    pub fn open(dir: &Path, name: &str) -> Result<Table> {
        let path = dir.join(name);
        let file = crate::load::open_regular(&path)?;
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(BufReader::new(file));
        let header = reader
            .headers()
            .map_err(|e| InputError::new(format!("{name}: cannot read the header: {e}")))?
            .iter()
            .map(str::to_string)
            .collect();
        Ok(Table { name: name.to_string(), header, reader })
    }

    /// Position of column `col`, or an error naming the file.
    pub fn col(&self, col: &str) -> Result<usize> {
        self.header.iter().position(|h| h == col).ok_or_else(|| {
            InputError::new(format!("{}: no column \"{col}\"", self.name))
                .with_hint("the folder may come from another version")
                .into()
        })
    }

    /// The next record, or `None` at the end.
    pub fn next(&mut self, record: &mut csv::StringRecord) -> Result<bool> {
        let name = &self.name;
        self.reader.read_record(record).map_err(|e| InputError::new(format!("{name}: {e}")).into())
    }

    /// 1-based line where `record` (the last one read) starts, for messages.
    pub fn line(record: &csv::StringRecord) -> u64 {
        record.position().map_or(0, csv::Position::line)
    }
}

/// A cell as a number: `None` when empty; an error naming file, line and column otherwise.
pub fn number(table: &Table, record: &csv::StringRecord, col: usize) -> Result<Option<f64>> {
    let cell = record.get(col).unwrap_or("");
    if cell.is_empty() {
        return Ok(None);
    }
    cell.parse::<f64>().map(Some).map_err(|_| {
        InputError::new(format!(
            "{}:{}: column \"{}\": expected a number, found \"{cell}\"",
            table.name,
            Table::line(record),
            table.header.get(col).map_or("", String::as_str)
        ))
        .into()
    })
}
