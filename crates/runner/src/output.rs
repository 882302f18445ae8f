//! Output files: rows to CSV bytes (`csv`), and where and how files are written (`layout`).

pub mod atomic;
pub mod csv;
pub mod layout;
pub mod names;
