//! One file per command; each composes the library layers and a renderer.

use std::process::ExitCode;

use crate::Failure;
use crate::args::{Args, Command};

pub mod audit;
pub mod close;
pub mod completions;
pub mod events;
pub mod explain;
pub mod history;
pub mod list;
pub mod map;
pub mod pid;
pub mod published;
#[cfg(feature = "scan")]
pub mod scan;
#[cfg(feature = "serve")]
pub mod serve;
pub mod summary;
pub mod wait;
pub mod watch;
pub mod who;

/// Runs the command the flags ask for.
pub fn run(args: &Args) -> Result<ExitCode, Failure> {
    match &args.command {
        None => {
            let cfg = crate::config::ListConfig::from_args(&args.list)
                .map_err(|e| Failure::Usage(format!("{e}\n{}", e.caret_lines())))?;
            if args.list.summary {
                // The summary covers every protocol unless some are named.
                let mut cfg = cfg;
                let a = &args.list;
                let sel = &a.select;
                if !(sel.tcp || sel.udp || sel.raw || sel.unix) {
                    cfg.collect.query.raw = true;
                    cfg.collect.query.unix = true;
                }
                summary::run(&cfg, a.json)
            } else {
                list::run(&cfg)
            }
        }
        Some(Command::Who(w)) => who::run(w),
        Some(Command::Explain(e)) => explain::run(e),
        Some(Command::Close(c)) => close::run(c),
        Some(Command::Audit(a)) => audit::run(a),
        #[cfg(feature = "scan")]
        Some(Command::Scan(s)) => scan::run(s),
        #[cfg(not(feature = "scan"))]
        Some(Command::Scan(_)) => Err(Failure::Usage(
            "scan: this build of portscope has no scanner (built without the cargo feature `scan`)"
                .into(),
        )),
        Some(Command::Watch(w)) => watch::run(w),
        Some(Command::Events(e)) => events::run(e),
        Some(Command::History(h)) => history::run(h),
        Some(Command::Wait(w)) => wait::run(w),
        Some(Command::Map(m)) => map::run(m),
        Some(Command::Pid(p)) => pid::run(p),
        #[cfg(feature = "serve")]
        Some(Command::Serve(s)) => serve::run(s),
        #[cfg(not(feature = "serve"))]
        Some(Command::Serve(_)) => Err(Failure::Usage(
            "serve: this build of portscope has no server (built without the cargo feature `serve`)"
                .into(),
        )),
        Some(Command::Completions(c)) => completions::completions(c.shell),
        Some(Command::Man) => completions::man(),
    }
}

/// A filter error as the usage failure every command reports: the message,
/// then the expression with a caret under the column.
pub fn filter_failure(e: &portscope::filter::FilterError) -> Failure {
    Failure::Usage(format!("{e}\n{}", e.caret_lines()))
}

/// A path the user gave, for a message: escaped, so a name holding a line
/// break or an escape keeps the message on one harmless line.
pub fn shown_path(path: &std::path::Path) -> portscope::text::Escaped<'_> {
    use std::os::unix::ffi::OsStrExt;
    portscope::text::escape(path.as_os_str().as_bytes())
}
