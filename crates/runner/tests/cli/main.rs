//! The CLI test binary: runs the built `chipmarket` in temporary folders.

mod bad_input;
mod common;
mod outputs;
mod run;
mod sweep;
mod validate;
