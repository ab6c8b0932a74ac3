//! The listing: take a snapshot, keep what was asked for, sort, render; and
//! `-c`, which does that again every interval, optionally printing only the
//! changes.

use std::io::{self, Write};
use std::process::ExitCode;

use portscope::collect;
use portscope::model::Snapshot;

use crate::Failure;
use crate::args::Format;
use crate::config::ListConfig;
use crate::render;
use portscope::track::{Differ, Mark};

/// Lists sockets as configured.
pub fn run(cfg: &ListConfig) -> Result<ExitCode, Failure> {
    if let Some(secs) = cfg.continuous {
        let every = crate::config::interval("-c/--continuous", secs).map_err(Failure::Usage)?;
        return continuous(cfg, every);
    }
    let snap = gather(cfg)?;
    for note in &snap.notes {
        crate::say(format_args!("note: {note}"));
    }
    let stdout = io::stdout().lock();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout);
    render::write(&mut out, &snap, cfg)?;
    out.flush()?;
    report_hidden(cfg, &snap);
    crate::names::report_pending(cfg, &snap);
    Ok(ExitCode::SUCCESS)
}

/// The snapshot, or the saved file when `--from-snapshot` names one, with
/// the sockets the query wants.
pub fn take_or_read(cfg: &ListConfig) -> Result<Snapshot, Failure> {
    let sys = crate::system::open(cfg.from_snapshot.as_deref())?;
    let mut opts = cfg.collect;
    let pick = crate::netns_pick::resolve(cfg.netns.as_deref(), &*sys)?;
    opts.netns = pick.scope;
    let mut snap = collect::take(&*sys, &opts)?;
    // Published ports' targets, joined on the whole snapshot before the
    // filter narrows it (the listener inside may not be shown). The NAT
    // rules are read only when a forwarder holds a host port.
    snap.forwards = sys.forwards();
    if snap.forwards.is_empty() && portscope::forward::any_forwarder(&snap) {
        let maps = sys.port_maps();
        snap.forwards = portscope::forward::targets(&snap, &maps.maps);
    }
    pick.keep(&mut snap);
    snap.resolved = sys.names();
    Ok(snap)
}

/// One listing: the snapshot (or the saved file), filtered and sorted.
fn gather(cfg: &ListConfig) -> Result<Snapshot, Failure> {
    let mut snap = take_or_read(cfg)?;
    cfg.filter
        .check_users(&snap)
        .map_err(|e| crate::cmd::filter_failure(&e))?;
    if cfg.filter.has_expression() || cfg.filter.states().is_some() {
        let sockets = std::mem::take(&mut snap.sockets);
        snap.sockets = sockets
            .into_iter()
            .filter(|s| cfg.filter.matches(s, &snap))
            .collect();
    }
    if cfg.listening_only {
        snap.sockets.retain(|s| s.is_listening());
    }
    if let Some((key, reverse)) = cfg.sort {
        render::sort(&mut snap, key, reverse);
    }
    if let Some(limit) = cfg.resolve {
        crate::names::resolve(&mut snap, limit);
    }
    Ok(snap)
}

/// The hidden-owners line, about the sockets listed (not every socket the
/// kernel returned before the filter).
fn report_hidden(cfg: &ListConfig, snap: &Snapshot) {
    let hidden = snap.sockets.iter().filter(|s| s.owners_hidden).count();
    if cfg.owners && snap.hidden.processes > 0 && hidden > 0 {
        crate::say(format_args!(
            "owners of {hidden} socket(s) hidden: {} process(es) could not be read (run as root to see them)",
            snap.hidden.processes
        ));
    }
}

/// `-c`: a listing every `every`, until interrupted (or the output closes).
/// Notes and the hidden-owners line are said once, not every round.
fn continuous(cfg: &ListConfig, every: std::time::Duration) -> Result<ExitCode, Failure> {
    if cfg.changes && cfg.format == Format::Netstat {
        // Its columns are netstat's own, and a script reading them expects
        // no other: a mark would have nowhere to go.
        return Err(Failure::Usage(
            "--changes works with the table, JSON and CSV layouts: the netstat layout keeps netstat's own columns and has no column for a change mark".into(),
        ));
    }
    // Every round is stamped: a line before it in the table and netstat
    // layouts, a `time` column in CSV (whose header is written once), a
    // `"time"` field on each NDJSON line.
    let stamped_inline = matches!(cfg.format, Format::Json | Format::Csv);
    let mut differ = Differ::default();
    let mut round = 0u64;
    loop {
        let started = std::time::Instant::now();
        let mut snap = gather(cfg)?;
        if round == 0 {
            for note in &snap.notes {
                crate::say(format_args!("note: {note}"));
            }
            report_hidden(cfg, &snap);
            crate::names::report_pending(cfg, &snap);
        }
        let stdout = io::stdout().lock();
        let mut out = io::BufWriter::with_capacity(1 << 16, stdout);
        let time = render::rfc3339_utc(std::time::SystemTime::now());
        let inline = stamped_inline.then_some(time.as_str());
        if cfg.changes {
            let changes = differ.next(&snap.sockets);
            if round == 0 {
                // The first listing is the baseline: shown whole, unmarked.
                let marks = vec![Mark::Same; snap.sockets.len()];
                if !stamped_inline {
                    writeln!(out, "{time}")?;
                }
                render::write_round(&mut out, &snap, cfg, Some(&marks), true, inline)?;
            } else if !changes.is_empty() {
                let (sockets, marks): (Vec<_>, Vec<_>) = changes.into_iter().unzip();
                snap.sockets = sockets;
                if !stamped_inline {
                    writeln!(out, "{time}")?;
                }
                render::write_round(&mut out, &snap, cfg, Some(&marks), false, inline)?;
            }
        } else {
            if !stamped_inline {
                if round > 0 {
                    out.write_all(b"\n")?;
                }
                writeln!(out, "{time}")?;
            }
            // The table repeats its header each round, as `netstat -c`;
            // CSV has one header for the whole stream.
            render::write_round(
                &mut out,
                &snap,
                cfg,
                None,
                round == 0 || !stamped_inline,
                inline,
            )?;
        }
        out.flush()?;
        drop(out);
        round += 1;
        // Sleep in short steps: a reader that went away while nothing was
        // written ends the loop as a failed write would.
        let until = started + every;
        loop {
            if crate::stdout_gone() {
                return Ok(ExitCode::SUCCESS);
            }
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(std::time::Duration::from_millis(200)));
        }
    }
}
