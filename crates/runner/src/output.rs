//! Output files: the columns of each file (`columns`), rows to CSV bytes (`csv`), and where and
//! how files are written (`layout`).

pub mod atomic;
pub mod columns;
pub mod csv;
pub mod layout;
pub mod names;
pub mod owner;
