//! `portscope events`: the library's event stream ([`portscope::events::Engine`])
//! as lines or NDJSON, optionally recorded into the history database, until
//! interrupted (SIGINT, SIGTERM, SIGHUP), `--count` events, or the reader
//! leaves.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use portscope::collect::{Native, System};
use portscope::events::{Engine, EngineOptions, Event};
use portscope::filter::Filter;

use crate::Failure;
use crate::args::EventsArgs;
use crate::eventline::{self, Clock};
use crate::report::Report;
use crate::store::{self, Store};

/// How often retention runs while recording.
const RETAIN_EVERY: Duration = Duration::from_secs(60);

pub fn run(a: &EventsArgs) -> Result<ExitCode, Failure> {
    let filter = Filter::parse(&a.filter)
        .map_err(|e| Failure::Usage(format!("{e}\n{}", e.caret_lines())))?;
    let kinds = eventline::kinds(&a.event)?;
    let sel = &a.select;
    if sel.raw || sel.unix || sel.packet || sel.netlink || sel.mptcp {
        return Err(Failure::Usage(
            "events: only TCP and UDP sockets have destroy notifications (-x, -w, --packet, --netlink and -M are not watched)"
                .into(),
        ));
    }
    if a.refresh == 0 || a.refresh > 3_600_000 {
        return Err(Failure::Usage(
            "--refresh takes milliseconds above 0 and at most 3600000".into(),
        ));
    }
    let keep = eventline::age("--keep", &a.keep)?;
    let max_size = a
        .max_size
        .as_deref()
        .map(|s| eventline::size("--max-size", s))
        .transpose()?;
    let db_path = match (&a.record, &a.db) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(Failure::Usage(
                "--db names the database to record into: add --record".into(),
            ));
        }
        (Some(r), Some(_)) if !r.as_os_str().is_empty() => {
            return Err(Failure::Usage(
                "--record=FILE and --db FILE both name the database: give one".into(),
            ));
        }
        (Some(r), db) => Some(match (r.as_os_str().is_empty(), db) {
            (false, _) => r.clone(),
            (true, Some(db)) => db.clone(),
            (true, None) => store::default_path().ok_or_else(|| {
                Failure::Usage(
                    "--record: no default database (HOME is unset); give --db FILE".into(),
                )
            })?,
        }),
    };
    let mut db = match &db_path {
        Some(p) => {
            let mut s = Store::create(p)?;
            s.retain(keep, max_size)?;
            Some(s)
        }
        None => None,
    };

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| Failure::System(portscope::Error::Netlink(e)))?;
    }

    let sys = Native::new();
    let euid = sys.euid();
    own_namespace_only(a.ns.netns.as_deref(), &sys)?;
    let opts = EngineOptions {
        refresh: Duration::from_millis(a.refresh),
        rcvbuf: a.rcvbuf,
        query: crate::config::select_query(&a.select),
        owners: true,
        source: portscope::collect::SourceChoice::Auto,
    };
    let mut engine = Engine::new(&sys, opts)?;
    for n in engine.notes() {
        crate::say(format_args!("{n}"));
    }
    let hidden = engine.hidden().processes > 0;
    if hidden {
        crate::say(format_args!(
            "owners of other users' sockets are hidden ({} processes could not be read); \
             run as root to see them",
            engine.hidden().processes
        ));
    }
    crate::say(format_args!(
        "watching events (owner refresh {} ms); stop with Ctrl-C",
        a.refresh
    ));

    let clock = Clock { utc: a.utc };
    let ephemeral = sys.ephemeral_range();
    let mut report = Report::new();
    let mut batch: Vec<Event> = Vec::new();
    let mut shown: u64 = 0;
    let mut last_retain = Instant::now();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut finishing = false;
    loop {
        if stop.load(Ordering::Relaxed) || report.is_closed() || crate::stdout_gone() {
            if finishing {
                break;
            }
            finishing = true;
            engine.flush(&mut batch);
        } else {
            engine.next_batch(&mut batch)?;
        }
        batch.retain(|e| eventline::wanted(e, &kinds, &filter));
        if let Some(max) = a.count {
            let room = usize::try_from(max.saturating_sub(shown)).unwrap_or(usize::MAX);
            batch.truncate(room);
        }
        if !batch.is_empty() {
            // The JSON line of each event, in UTC for the database.
            lines.clear();
            if let Some(db) = db.as_mut() {
                let utc = Clock { utc: true };
                for e in &batch {
                    let mut line = Vec::with_capacity(512);
                    portscope::json::write_event(&mut line, e, ephemeral, &utc.format(e.time))?;
                    lines.push(line);
                }
                let rows: Vec<(&Event, &[u8])> =
                    batch.iter().zip(lines.iter().map(Vec::as_slice)).collect();
                // Committed before it is shown: what was printed is on disk.
                db.append(&rows)?;
            }
            report.write(|out| {
                for e in &batch {
                    if a.json {
                        portscope::json::write_event(out, e, ephemeral, &clock.format(e.time))?;
                    } else {
                        writeln!(out, "{}", eventline::human(e, clock, euid, hidden))?;
                    }
                }
                Ok(())
            })?;
            shown += batch.len() as u64;
            batch.clear();
        }
        if a.count.is_some_and(|max| shown >= max) {
            break;
        }
        if let Some(db) = db.as_mut()
            && last_retain.elapsed() >= RETAIN_EVERY
        {
            db.retain(keep, max_size)?;
            last_retain = Instant::now();
        }
        if finishing {
            break;
        }
    }
    if engine.lost() > 0 {
        crate::say(format_args!(
            "{} destroy notifications were dropped in bursts (each reported as a `lost` event)",
            engine.lost()
        ));
    }
    report.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// `-N` for events: the engine hears the destroy notifications of the
/// namespace it runs in, so a scope is accepted when it is that one (its
/// name, a pid in it, `host` when it is the host's) and refused otherwise.
fn own_namespace_only(
    spec: Option<&str>,
    sys: &dyn portscope::collect::System,
) -> Result<(), Failure> {
    use portscope::collect::NetnsScope;
    let Some(given) = spec else {
        return Ok(());
    };
    let own = sys.netns_of(std::process::id());
    let host = sys.netns_of(1);
    let ok = match crate::netns_pick::scope(spec, sys)? {
        NetnsScope::Default | NetnsScope::Own => true,
        NetnsScope::Host => own.is_some() && own == host,
        NetnsScope::Only(ino) => own == Some(ino),
        NetnsScope::All => false,
    };
    if ok {
        return Ok(());
    }
    Err(Failure::Usage(format!(
        "events follows the network namespace it runs in (destroy notifications are heard per namespace): -N/--netns {} names another; run it inside that one (`ip netns exec NAME portscope events`, `nsenter -n -t PID portscope events`)",
        portscope::text::escape(given.as_bytes())
    )))
}
