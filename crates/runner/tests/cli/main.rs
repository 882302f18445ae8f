//! The CLI test binary: runs the built `chipmarket` in temporary folders.

mod analyze;
mod bad_input;
mod common;
mod run;
mod sweep;
mod validate;
