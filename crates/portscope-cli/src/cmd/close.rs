//! `portscope close FILTER…`: close live TCP connections without killing the
//! processes that hold them (the kernel's SOCK_DESTROY, as `ss -K` does).

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;

use portscope::collect::{self, CloseOutcome, Closer, Options, SourceChoice};
use portscope::filter::Filter;
use portscope::model::{Query, StateSet};

use crate::Failure;
use crate::args::CloseArgs;
use crate::config::ListConfig;
use crate::render::{self, Context};

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
    let query = hint.apply(Query {
        tcp: true,
        udp: false,
        raw: false,
        unix: false,
        ipv4: true,
        ipv6: true,
        states: StateSet::ALL,
    });
    let mut cfg = ListConfig::with_owners();
    cfg.collect = Options {
        query,
        owners: true,
        source: SourceChoice::Netlink,
        ..Options::default()
    };
    let mut snap = collect::take(&cfg.collect)?;
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

    {
        let ctx = Context::new(&snap, &cfg);
        let mut out = io::BufWriter::new(io::stdout().lock());
        render::table::write(&mut out, &ctx)?;
        out.flush()?;
    }
    if !args.yes {
        if !io::stdin().is_terminal() {
            return Err(Failure::Usage(
                "close asks for confirmation on a terminal; pass --yes to go ahead without one"
                    .into(),
            ));
        }
        eprint!("Close these {} connection(s)? [y/N] ", snap.sockets.len());
        let mut answer = String::new();
        io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
            eprintln!("portscope: nothing closed");
            return Ok(ExitCode::from(1));
        }
    }

    let closer = Closer::open()?;
    let mut failed = false;
    let mut out = io::stdout().lock();
    for s in &snap.sockets {
        let outcome = closer.close(s)?;
        let word = match outcome {
            CloseOutcome::Closed => "closed",
            CloseOutcome::Gone => "gone",
            CloseOutcome::NotPermitted => {
                failed = true;
                "not permitted (needs CAP_NET_ADMIN)"
            }
            CloseOutcome::Unsupported => {
                writeln!(out, "{} -> {}: not closed", s.local, s.remote)?;
                crate::say(format_args!(
                    "this kernel cannot close sockets (built without CONFIG_INET_DIAG_DESTROY)"
                ));
                return Ok(ExitCode::from(3));
            }
        };
        writeln!(out, "{} -> {}: {word}", s.local, s.remote)?;
    }
    Ok(if failed {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
