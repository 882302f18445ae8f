//! The CLI test binary: runs the built `chipmarket` in temporary folders.

mod analyze;
mod bad_input;
mod citations;
mod common;
mod diff;
mod fit;
mod harden;
mod outputs;
mod owner;
mod plot_mutations;
mod run;
mod sweep;
mod untrusted;
mod validate;
