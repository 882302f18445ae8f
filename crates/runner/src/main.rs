//! `chipmarket`: run scenarios and sweeps of the China AI-accelerator market simulator.
//!
//! This binary does all the I/O: it reads scenario files, drives the pure engine, shows
//! progress on stderr and writes CSV. Exit codes: 0 ok, 2 invalid input, 1 anything else.

mod batch;
mod cli;
mod commands;
mod load;
mod output;
mod progress;
mod report;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(input) = err.downcast_ref::<load::InputError>() {
                eprintln!("error: {input}");
                ExitCode::from(2)
            } else if err.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
                ExitCode::SUCCESS
            } else {
                eprintln!("error: {err:#}");
                ExitCode::from(1)
            }
        }
    }
}
