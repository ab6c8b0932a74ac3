//! `portscope history`: the events `events --record` stored, selected by
//! time, kind and the listing's filter language, shown as `events` shows
//! them; `--summary` groups them by process, remote peer, local port and hour.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::SystemTime;

use portscope::events::{Event, EventKind};
use portscope::filter::Filter;
use serde::Serialize;

use crate::Failure;
use crate::args::HistoryArgs;
use crate::eventline::{self, Clock};
use crate::report::Report;
use crate::store::{self, Store};

/// Bounds of one stored line: a line longer than this is not one portscope wrote.
const MAX_LINE: usize = 1 << 20;

/// `--since`/`--until`: an age before now, or an RFC 3339 time. Milliseconds
/// since the epoch.
fn when(flag: &str, s: &str) -> Result<i64, Failure> {
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    let age = eventline::age(flag, s).map_err(|_| {
        Failure::Usage(format!(
            "{flag}: '{}' is neither an age (90s, 30m, 1h, 7d) nor an RFC 3339 time",
            portscope::text::escape(s.as_bytes())
        ))
    })?;
    let t = SystemTime::now()
        .checked_sub(age)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
}

#[derive(Default, Serialize, Clone)]
struct Group {
    key: String,
    events: u64,
    opened: u64,
    closed: u64,
    bytes_sent: u64,
    bytes_received: u64,
}

#[derive(Default)]
struct Groups(BTreeMap<String, Group>);

impl Groups {
    fn add(&mut self, key: String, e: &Event) {
        let g = self.0.entry(key.clone()).or_insert_with(|| Group {
            key,
            ..Group::default()
        });
        g.events += 1;
        if e.kind == EventKind::Open {
            g.opened += 1;
        }
        if e.kind == EventKind::Close {
            g.closed += 1;
        }
        g.bytes_sent += e.bytes_sent.unwrap_or(0);
        g.bytes_received += e.bytes_received.unwrap_or(0);
    }

    /// Biggest first (by events, then key).
    fn ranked(self) -> Vec<Group> {
        let mut v: Vec<Group> = self.0.into_values().collect();
        v.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.key.cmp(&b.key)));
        v
    }
}

#[derive(Serialize)]
struct Summary {
    events: u64,
    processes: Vec<Group>,
    peers: Vec<Group>,
    ports: Vec<Group>,
    hours: Vec<Group>,
}

pub fn run(a: &HistoryArgs) -> Result<ExitCode, Failure> {
    let filter = Filter::parse(&a.filter)
        .map_err(|e| Failure::Usage(format!("{e}\n{}", e.caret_lines())))?;
    let kinds = eventline::kinds(&a.event)?;
    let since = a.since.as_deref().map(|s| when("--since", s)).transpose()?;
    let until = a.until.as_deref().map(|s| when("--until", s)).transpose()?;
    let path = match &a.db {
        Some(p) => p.clone(),
        None => store::default_path().ok_or_else(|| {
            Failure::Usage("no default history database (HOME is unset); give --db FILE".into())
        })?,
    };
    let db = Store::open_read(&path)?;
    let clock = Clock { utc: a.utc };
    let euid = rustix::process::geteuid().as_raw();
    let mut report = Report::new();
    let mut found: u64 = 0;
    let (mut procs, mut peers, mut ports, mut hours) = (
        Groups::default(),
        Groups::default(),
        Groups::default(),
        Groups::default(),
    );
    let hour_clock = |e: &Event| {
        let text = clock.format(e.time);
        // 2026-12-01T11 … → "2026-12-01T11:00"
        format!("{}:00", text.get(..13).unwrap_or(&text))
    };
    let limit = if a.summary { None } else { a.limit };
    db.query(since, until, &kinds, limit, |line| {
        if line.len() > MAX_LINE {
            return Ok(true);
        }
        let e = match portscope::json::read_event(line) {
            Ok(e) => e,
            Err(msg) => {
                return Err(Failure::Usage(format!(
                    "{}: a stored event is not readable: {msg}",
                    crate::cmd::shown_path(&path)
                )));
            }
        };
        if !eventline::wanted(&e, &kinds, &filter) {
            return Ok(true);
        }
        found += 1;
        if a.summary {
            if e.kind != EventKind::Lost {
                let who = match e.processes.first() {
                    Some(p) => format!("{}[{}]", p.name.bounded(64), p.pid),
                    None => "owner unknown".into(),
                };
                procs.add(who, &e);
                if let Some(addr) = e.socket.remote.addr().filter(|a| !a.is_unspecified()) {
                    peers.add(addr.to_string(), &e);
                }
                if let Some(p) = e.socket.local.port() {
                    ports.add(format!("{}/{}", p, e.socket.proto), &e);
                }
            }
            hours.add(hour_clock(&e), &e);
            return Ok(true);
        }
        report.write(|out| {
            if a.json {
                portscope::json::write_event(
                    out,
                    &e,
                    crate::system::ephemeral_range(),
                    &clock.format(e.time),
                )
            } else {
                writeln!(out, "{}", eventline::human(&e, clock, euid, false))
            }
        })?;
        Ok(!report.is_closed())
    })?;
    if a.summary {
        let mut hours_v: Vec<Group> = hours.0.into_values().collect();
        hours_v.sort_by(|a, b| a.key.cmp(&b.key));
        let s = Summary {
            events: found,
            processes: procs.ranked(),
            peers: peers.ranked(),
            ports: ports.ranked(),
            hours: hours_v,
        };
        report.write(|out| {
            if a.json {
                serde_json::to_writer(&mut *out, &s).map_err(std::io::Error::from)?;
                return writeln!(out);
            }
            writeln!(out, "{} events", s.events)?;
            for (title, groups) in [
                ("By process", &s.processes),
                ("By remote peer", &s.peers),
                ("By local port", &s.ports),
                ("By hour", &s.hours),
            ] {
                writeln!(out, "\n{title}:")?;
                writeln!(
                    out,
                    "  {:>8} {:>8} {:>8} {:>12} {:>12}  key",
                    "events", "opened", "closed", "sent", "received"
                )?;
                for g in groups {
                    writeln!(
                        out,
                        "  {:>8} {:>8} {:>8} {:>12} {:>12}  {}",
                        g.events, g.opened, g.closed, g.bytes_sent, g.bytes_received, g.key
                    )?;
                }
            }
            Ok(())
        })?;
    }
    report.finish()?;
    Ok(if found > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
