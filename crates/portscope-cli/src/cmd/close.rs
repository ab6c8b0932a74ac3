//! `portscope close FILTER…`: close live TCP connections without killing the
//! processes that hold them (the kernel's SOCK_DESTROY, as `ss -K` does).
//! Each connection is closed by its cookie as listed, so one that closed
//! meanwhile and was replaced by another on the same ports is left alone
//! ("gone").

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use portscope::collect::{self, CloseOutcome, Options, SourceChoice};
use portscope::filter::Filter;
use portscope::model::{Proto, Query};

use crate::Failure;
use crate::args::CloseArgs;
use crate::config::ListConfig;
use crate::render::{self, Context};
use crate::report::Report;

/// Above this many connections, closing needs the number confirmed
/// (`--count N`, typing N at the prompt) or `--all`.
pub const CONFIRM_COUNT_ABOVE: usize = 5;

/// Runs `close`. Exit 0 when every selected connection was closed (or was
/// already gone), 1 when the filter selects nothing, 3 when some could not be
/// closed (no permission, or a kernel without CONFIG_INET_DIAG_DESTROY).
pub fn run(args: &CloseArgs) -> Result<ExitCode, Failure> {
    if args.filter.is_empty() {
        return Err(Failure::Usage(
            "close needs a filter (e.g. 'dport = :443'); it will not close every connection".into(),
        ));
    }
    let filter = Filter::parse(&args.filter)
        .map_err(|e| Failure::Usage(format!("{e}\n{}", e.caret_lines())))?;
    let hint = filter.query_hint();
    let query = hint.apply(Query::only(Proto::Tcp));
    let mut cfg = ListConfig::with_owners();
    cfg.collect = Options {
        query,
        owners: true,
        source: SourceChoice::Netlink,
        ..Options::default()
    };
    let sys = crate::system::open(args.from_snapshot.as_deref())?;
    cfg.collect.netns = crate::netns_pick::scope(args.ns.netns.as_deref(), &*sys)?;
    let mut snap = collect::take(&*sys, &cfg.collect)?;
    filter
        .check_users(&snap)
        .map_err(|e| crate::cmd::filter_failure(&e))?;
    let sockets = std::mem::take(&mut snap.sockets);
    snap.sockets = sockets
        .into_iter()
        .filter(|s| filter.matches(s, &snap))
        .collect();
    if snap.sockets.is_empty() {
        crate::say(format_args!("the filter selects no TCP connection"));
        return Ok(ExitCode::from(1));
    }
    let listening = snap.sockets.iter().filter(|s| s.is_listening()).count();
    if listening > 0 && !args.listening {
        return Err(Failure::Usage(format!(
            "the filter selects {listening} listening socket(s); add --listening to close them too, or narrow the filter"
        )));
    }

    let mut report = Report::new();
    {
        let ctx = Context::new(&snap, &cfg);
        report.write(|out| render::table::write(out, &ctx))?;
    }
    let n = snap.sockets.len();
    if args.dry_run {
        report.line(format_args!(
            "{n} connection(s) would be closed; nothing closed (--dry-run)"
        ))?;
        report.finish()?;
        return Ok(ExitCode::SUCCESS);
    }
    let count_confirmed = match args.count {
        Some(c) if c != n => {
            return Err(Failure::Usage(format!(
                "the filter selects {n} connection(s), not --count {c}; nothing closed"
            )));
        }
        Some(_) => true,
        None => args.all,
    };
    // Many connections: the number itself must be confirmed, so that a
    // filter broader than meant does not close everything it happens to hit.
    let needs_count = n > CONFIRM_COUNT_ABOVE && !count_confirmed;
    if !args.yes {
        if !io::stdin().is_terminal() {
            return Err(Failure::Usage(
                "close asks for confirmation on a terminal; pass --yes to go ahead without one"
                    .into(),
            ));
        }
        let answer = if needs_count {
            crate::ask(format_args!(
                "Close these {n} connections? Type {n} to confirm: "
            ))?
        } else {
            crate::ask(format_args!("Close these {n} connection(s)? [y/N] "))?
        };
        let yes = if needs_count {
            answer.trim() == n.to_string()
        } else {
            matches!(answer.trim(), "y" | "Y" | "yes" | "YES")
        };
        if !yes {
            crate::say(format_args!("nothing closed"));
            report.finish()?;
            return Ok(ExitCode::from(1));
        }
    } else if needs_count {
        return Err(Failure::Usage(format!(
            "the filter selects {n} connections (more than {CONFIRM_COUNT_ABOVE}): add --count {n} to confirm the number, or --all; nothing closed"
        )));
    }

    let mut failed = false;
    for s in &snap.sockets {
        let outcome = sys.close(s)?;
        let word = match outcome {
            CloseOutcome::Closed => "closed",
            CloseOutcome::Gone => "gone",
            CloseOutcome::Recorded => "recorded: nothing to close",
            CloseOutcome::NotPermitted => {
                failed = true;
                "not permitted (needs CAP_NET_ADMIN)"
            }
            CloseOutcome::Unsupported => {
                report.line(format_args!("{} -> {}: not closed", s.local, s.remote))?;
                crate::say(format_args!(
                    "this kernel cannot close sockets (built without CONFIG_INET_DIAG_DESTROY)"
                ));
                report.finish()?;
                return Ok(ExitCode::from(3));
            }
        };
        report.line(format_args!("{} -> {}: {word}", s.local, s.remote))?;
    }
    report.finish()?;
    Ok(if failed {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
