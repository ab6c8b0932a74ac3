//! One file per command; each composes the library layers and a renderer.

use std::process::ExitCode;

use crate::Failure;
use crate::args::{Args, Command};

pub mod list;
pub mod who;

/// Runs the command the flags ask for.
pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    match &args.command {
        None => list::run(&crate::config::ListConfig::from_args(&args.list)),
        Some(Command::Who(w)) => who::run(w),
    }
}
