//! Output files: rows to CSV bytes (`csv`), and where and how files are written (`layout`).

pub mod csv;
pub mod layout;
