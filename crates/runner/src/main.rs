//! `chipmarket`: run scenarios and sweeps of the China AI-accelerator market simulator.
//!
//! This binary does all the I/O: it reads scenario files, drives the pure engine, shows
//! progress on stderr and writes CSV. Exit codes: 0 ok (also when stdout is a pipe closed by
//! its reader, such as `chipmarket graph | head -1`), 2 invalid input, 1 anything else.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod batch;
mod cli;
mod commands;
mod console;
mod error;
mod load;
mod output;
mod precision;
mod progress;
mod report;
mod targets;

use std::process::ExitCode;

use clap::Parser;

use crate::console::errln;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if let Err(input) = batch::pool::check_thread_env() {
        errln!("error: {input}");
        return ExitCode::from(2);
    }
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(input) = err.downcast_ref::<error::InputError>() {
                errln!("error: {input}");
                ExitCode::from(2)
            } else if console::is_broken_pipe(&err) {
                ExitCode::SUCCESS
            } else {
                errln!("error: {err:#}");
                ExitCode::from(1)
            }
        }
    }
}
