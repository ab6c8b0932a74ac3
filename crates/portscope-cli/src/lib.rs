//! The `portscope` command: parse the flags, run the command, turn errors into
//! one line on stderr and an exit code.
//!
//! Exit codes: 0 success; 1 nothing found, where a command says so; 2 bad
//! usage or input; 3 system error (the kernel refused).
//!
//! Nothing here prints with `println!`/`eprintln!`: they panic on a closed
//! pipe. Output goes through writers whose errors are handled, and lines
//! for the user through [`say`].

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod argv;
mod cmd;
mod config;
mod eventline;
mod input;
mod names;
mod netns_pick;
mod render;
mod report;
#[cfg(feature = "serve")]
mod serve;
mod snapshot_file;
mod store;
mod system;
mod watch;

use std::io::{self, Write};
use std::process::ExitCode;

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

/// Writes one `portscope: …` line to stderr. A closed or full stderr is
/// ignored: there is nowhere else to say it, and it is no reason to panic.
pub fn say(line: std::fmt::Arguments<'_>) {
    let text = line.to_string();
    let mut err = io::stderr().lock();
    for (i, l) in text.split('\n').enumerate() {
        let prefix = if i == 0 { "portscope: " } else { "" };
        let _ = writeln!(err, "{prefix}{}", shown_line(l));
    }
}

/// A line of a message, safe for a terminal: a message that quotes what
/// the user typed (an argument, a filter, a port) may carry terminal
/// escapes; a line holding any control character is shown escaped whole,
/// through the one escaping path. Lines without one are as written.
fn shown_line(line: &str) -> std::borrow::Cow<'_, str> {
    if line.chars().any(char::is_control) {
        portscope::text::escape(line.as_bytes()).to_string().into()
    } else {
        line.into()
    }
}

/// Asks a question on stderr and reads one line of answer from stdin (the
/// confirmations of `close` and `who --kill`). A closed stderr only loses
/// the question; the answer is still read.
pub fn ask(question: std::fmt::Arguments<'_>) -> io::Result<String> {
    {
        let mut err = io::stderr().lock();
        let _ = write!(err, "{question}");
        let _ = err.flush();
    }
    let mut answer = String::new();
    io::BufRead::read_line(&mut io::stdin().lock(), &mut answer)?;
    Ok(answer)
}

/// Whether stdout is a pipe or socket whose reader has gone. A command that
/// may run for long without writing (`-c --changes` with nothing changing)
/// asks this between rounds, so `portscope … | head -1` ends instead of
/// waiting for a write to fail.
pub fn stdout_gone() -> bool {
    use rustix::event::{PollFd, PollFlags, poll};
    let stdout = io::stdout();
    let mut fds = [PollFd::new(&stdout, PollFlags::OUT)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut fds, Some(&zero)).is_ok()
        && fds
            .iter()
            .any(|f| f.revents().intersects(PollFlags::ERR | PollFlags::HUP))
}

/// Runs the `portscope` command on this process's arguments (the binary,
/// `src/bin/portscope.rs`, is only this).
pub fn main() -> ExitCode {
    let args = match argv::parse() {
        Ok(a) => a,
        Err(e) => return clap_failure(&e),
    };
    names::install_host_lookup();
    match cmd::run(&args) {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            say(format_args!("{msg}"));
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::System(e)) => {
            say(format_args!("{e}"));
            ExitCode::from(EXIT_SYSTEM)
        }
        // `portscope | head` closes the pipe early: that is success.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            say(format_args!("writing output: {e}"));
            ExitCode::from(EXIT_SYSTEM)
        }
    }
}

/// clap's "did you mean" and the valid values, kept on the one line:
/// `; did you mean '--json'?`, `; possible values: table, csv`.
fn clap_hints(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let words = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    };
    let mut out = String::new();
    let valid = words(ContextKind::ValidValue);
    if !valid.is_empty() {
        out.push_str(&format!("; possible values: {}", valid.join(", ")));
    }
    let mut suggested = words(ContextKind::SuggestedArg);
    suggested.extend(words(ContextKind::SuggestedValue));
    suggested.extend(words(ContextKind::SuggestedSubcommand));
    if !suggested.is_empty() {
        let quoted: Vec<String> = suggested.iter().map(|s| format!("'{s}'")).collect();
        out.push_str(&format!("; did you mean {}?", quoted.join(" or ")));
    }
    out
}

/// Help and version go to stdout with success; any other clap error becomes one line.
fn clap_failure(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // A closed pipe while printing help is not worth reporting; any
            // other failed write is (the help did not get out).
            match e.print().and_then(|()| io::stdout().flush()) {
                Err(err) if err.kind() != io::ErrorKind::BrokenPipe => {
                    say(format_args!("writing output: {err}"));
                    return ExitCode::from(EXIT_SYSTEM);
                }
                _ => {}
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let mut text = e.render().to_string();
            // The arguments clap quotes are the user's: escape them before
            // the message is cut to its first line, so that a line break
            // inside one cannot cut it (and no escape reaches the terminal).
            for (_, value) in e.context() {
                let quoted = match value {
                    clap::error::ContextValue::String(s) => std::slice::from_ref(s),
                    clap::error::ContextValue::Strings(v) => v.as_slice(),
                    _ => &[],
                };
                for q in quoted.iter().filter(|q| q.chars().any(char::is_control)) {
                    // The rendering drops escape sequences (as styling) but
                    // keeps line breaks: find the argument as it rendered it.
                    let rendered = clap::builder::StyledStr::from(q.clone()).to_string();
                    let escaped = portscope::text::escape(q.as_bytes()).to_string();
                    text = text.replace(&rendered, &escaped);
                }
            }
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            say(format_args!("{first}{} (see --help)", clap_hints(e)));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The command-line definitions (every command and option, as `--help`,
/// the man page and the completions show them), for the tests that check
/// the README against them. Not a stable interface.
#[doc(hidden)]
pub fn command() -> clap::Command {
    <args::Args as clap::CommandFactory>::command()
}

/// The parsers of files, flags and network replies in this crate, for the
/// fuzz targets under `fuzz/` (which build against this library). Not a
/// stable interface.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::cmd::audit::baseline_findings;
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
