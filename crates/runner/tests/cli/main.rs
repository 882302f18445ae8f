//! The CLI test binary: runs the built `chipmarket` in temporary folders.

mod common;
mod run;
mod validate;
