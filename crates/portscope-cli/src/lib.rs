//! The `portscope` command: parse the flags, run the command, turn errors into
//! one line on stderr and an exit code.
//!
//! Exit codes: 0 success; 1 nothing found, where a command says so; 2 bad
//! usage or input; 3 system error (the kernel or /proc refused).

mod args;
mod change;
mod cmd;
mod config;
mod render;
mod scan;
mod snapshot_file;
mod watch;

use std::io;
use std::process::ExitCode;

use clap::Parser;

/// Exit code for bad usage or input.
const EXIT_USAGE: u8 = 2;
/// Exit code for a system error.
const EXIT_SYSTEM: u8 = 3;

/// What can end a command early.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage or input (exit 2).
    Usage(String),
    /// The library failed (exit 3).
    System(portscope::Error),
    /// Writing the output failed (exit 3, or 0 quietly for a closed pipe).
    Output(io::Error),
}

impl From<portscope::Error> for Failure {
    fn from(e: portscope::Error) -> Self {
        Failure::System(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

/// Runs the `portscope` command on this process's arguments (the binary,
/// `src/bin/portscope.rs`, is only this).
pub fn main() -> ExitCode {
    let args = match args::Args::try_parse() {
        Ok(a) => a,
        Err(e) => return clap_failure(&e),
    };
    match cmd::run(&args) {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("portscope: {msg}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::System(e)) => {
            eprintln!("portscope: {e}");
            ExitCode::from(EXIT_SYSTEM)
        }
        // `portscope | head` closes the pipe early: that is success.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("portscope: writing output: {e}");
            ExitCode::from(EXIT_SYSTEM)
        }
    }
}

/// Help and version go to stdout with success; any other clap error becomes one line.
fn clap_failure(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // A closed pipe while printing help is not worth reporting.
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("portscope: {first} (see --help)");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The parsers of files, flags and network replies in this crate, for the
/// fuzz targets under `fuzz/` (which build against this library). Not a
/// stable interface.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::cmd::audit::baseline_findings;
    pub use crate::scan::identify::{from_tcp, header, is_tls_record, printable};
    pub use crate::scan::ports::parse as port_spec;
    pub use crate::scan::targets::{Host, resolve_with as targets};
    pub use crate::scan::tls::{TlsInfo, read_certificate};
    pub use crate::snapshot_file::parse as snapshot_file;

    /// Runs the command line `argv` (without the program name) as the binary
    /// would, output and all; `None` when clap refuses it. For rendering
    /// fuzzed `--from-snapshot` files through every layout.
    pub fn run(argv: &[&str]) -> Option<Result<std::process::ExitCode, crate::Failure>> {
        use clap::Parser;
        let args = crate::args::Args::try_parse_from(
            std::iter::once("portscope").chain(argv.iter().copied()),
        )
        .ok()?;
        Some(crate::cmd::run(&args))
    }
}
