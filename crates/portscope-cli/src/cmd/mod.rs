//! One file per command; each composes the library layers and a renderer.

use std::process::ExitCode;

use crate::Failure;
use crate::args::Args;

pub mod list;

/// Runs the command the flags ask for.
pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    list::run(&crate::config::ListConfig::from_args(args))
}
