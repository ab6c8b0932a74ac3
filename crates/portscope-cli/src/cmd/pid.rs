//! `portscope pid N|NAME`: the process behind a connection on one screen —
//! parent chain, start time, users, executable, command line, cgroup, every
//! socket it holds (listening first), its connections' throughput (tcp_info
//! counters read twice, `--interval` apart) and the audit's findings about it.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use portscope::audit;
use portscope::collect::{self, System};
use portscope::json::FindingOut;
use portscope::model::{Detail, Process, ProcessDetails, Proto, Query, Socket};
use portscope::{Endpoint, Text};
use serde::Serialize;

use crate::Failure;
use crate::args::PidArgs;
use crate::config::ListConfig;
use crate::render::Context;
use crate::report::Report;

/// At most this many ancestors are followed (a pid namespace is rarely deeper).
const MAX_PARENTS: usize = 64;

/// The processes `target` names: a pid, or every process with that name.
fn targets(sys: &dyn System, target: &str) -> Result<Vec<Process>, Failure> {
    if let Ok(pid) = target.parse::<u32>() {
        return Ok(sys.process(pid)?.into_iter().collect());
    }
    let mut out = Vec::new();
    for pid in sys.pids()? {
        if let Some(p) = sys.process(pid)?
            && p.name.as_bytes() == target.as_bytes()
        {
            out.push(p);
        }
    }
    Ok(out)
}

/// One socket of the process, with its throughput when measured.
#[derive(Debug, Serialize)]
struct SocketOut {
    proto: &'static str,
    state: &'static str,
    local: String,
    remote: String,
    /// The unix name, exact (JSON only; the table shows it escaped).
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<Text>,
    inode: u64,
    fds: Vec<u32>,
    listening: bool,
    service: Option<&'static str>,
    bytes_sent: Option<u64>,
    bytes_received: Option<u64>,
    /// Bytes per second acknowledged by the peer over the interval.
    tx_rate: Option<f64>,
    /// Bytes per second received over the interval.
    rx_rate: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Parent {
    pid: u32,
    name: Option<Text>,
}

#[derive(Debug, Serialize)]
struct ProcessReport {
    pid: u32,
    name: Text,
    cmdline: Text,
    uid: Option<u32>,
    user: Option<Text>,
    euid: Option<u32>,
    euser: Option<Text>,
    exe: Option<Text>,
    exe_deleted: bool,
    exe_dir_world_writable: Option<bool>,
    ppid: Option<u32>,
    /// Nearest first, ending at the first process of the pid namespace.
    parents: Vec<Parent>,
    start_time: Option<u64>,
    threads: Option<u32>,
    cgroup: Option<Text>,
    /// The container the process runs in, read from its cgroup and the
    /// runtime's state files (null when none or not known).
    #[serde(serialize_with = "container_json")]
    container: Option<portscope::model::Container>,
    /// The systemd unit it runs in (`nginx.service`), null when none.
    unit: Option<Text>,
    sockets: Vec<SocketOut>,
    findings: Vec<FindingOut>,
}

/// The `container` object, as the listing writes it.
fn container_json<S: serde::Serializer>(
    c: &Option<portscope::model::Container>,
    ser: S,
) -> Result<S::Ok, S::Error> {
    c.as_ref().map(portscope::json::ContainerOut).serialize(ser)
}

/// Runs `pid`.
pub fn run(args: &PidArgs) -> Result<ExitCode, Failure> {
    if args.interval > 10_000 {
        return Err(Failure::Usage("--interval: at most 10000 ms".to_string()));
    }
    let recorded = args.from_snapshot.is_some();
    let sys = crate::system::open(args.from_snapshot.as_deref())?;
    let sys = &*sys;
    let procs = targets(sys, &args.target)?;
    if procs.is_empty() {
        crate::say(format_args!(
            "no process {}{}",
            portscope::text::escape(args.target.as_bytes()),
            if recorded { " in the recording" } else { "" }
        ));
        return Ok(ExitCode::from(1));
    }
    let mut cfg = ListConfig::with_owners();
    cfg.collect.query = Query::default();
    cfg.collect.detail = Detail {
        info: true,
        ..Detail::default()
    };
    let snap = collect::take(sys, &cfg.collect)?;
    let facts = sys.host_facts(&snap);
    let findings = audit::audit(&snap, &facts, &[]);

    // Throughput: every TCP socket of every process asked about, read again
    // once, `--interval` after the snapshot.
    let wanted: HashSet<u32> = procs.iter().map(|p| p.pid).collect();
    let mut again: Vec<Socket> = snap
        .sockets
        .iter()
        .filter(|s| s.proto == Proto::Tcp && s.owners.iter().any(|o| wanted.contains(&o.pid)))
        .cloned()
        .collect();
    let started = Instant::now();
    // A recording's counters never move: there is no throughput to measure.
    let measured = !recorded && args.interval > 0 && again.iter().any(|s| counters(s).is_some());
    if measured {
        std::thread::sleep(Duration::from_millis(args.interval));
        let mut refs: Vec<&mut Socket> = again.iter_mut().collect();
        sys.tcp_info(&mut refs)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let after: HashMap<(u64, u64), (u64, u64)> = again
        .iter()
        .filter_map(|s| Some(((s.cookie, s.inode), counters(s)?)))
        .collect();

    let mut reports = Vec::new();
    for p in procs {
        let mut mine: Vec<Socket> = snap
            .sockets
            .iter()
            .filter(|s| s.owners.iter().any(|o| o.pid == p.pid))
            .cloned()
            .collect();
        // Listening first, then by protocol and address.
        mine.sort_by(|a, b| {
            (!a.is_listening(), a.proto as u8, a.local.sort_key()).cmp(&(
                !b.is_listening(),
                b.proto as u8,
                b.local.sort_key(),
            ))
        });
        let ctx = Context::new(&snap, &cfg);
        let sockets = mine
            .iter()
            .map(|s| {
                let later = after.get(&(s.cookie, s.inode)).copied();
                socket_out(s, p.pid, &ctx, measured.then_some((later, secs)))
            })
            .collect();
        let details = sys.process_details(p.pid)?.unwrap_or_default();
        let parents = parents(sys, &details)?;
        let mine_findings = findings
            .findings
            .iter()
            .filter(|f| f.pids.contains(&p.pid))
            .map(|f| FindingOut::new(f, &snap))
            .collect();
        // The owner walk's view of the process knows its container and unit.
        let walked = snap.processes.get(&p.pid).unwrap_or(&p);
        let container = walked.container.clone();
        let unit = walked.unit.clone();
        reports.push(ProcessReport {
            container,
            unit,
            pid: p.pid,
            name: p.name,
            cmdline: p.cmdline,
            uid: p.uid,
            user: p.user,
            euid: p.euid,
            euser: p.euser,
            exe: p.exe,
            exe_deleted: details.exe_deleted,
            exe_dir_world_writable: details.exe_dir_world_writable,
            ppid: details.ppid,
            parents,
            start_time: details.start_unix,
            threads: details.threads,
            cgroup: details.cgroup,
            sockets,
            findings: mine_findings,
        });
    }

    let mut report = Report::new();
    report.write(|out| {
        if args.json {
            serde_json::to_writer_pretty(&mut *out, &reports)?;
            writeln!(out)
        } else {
            for (i, r) in reports.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                write_text(out, r)?;
            }
            Ok(())
        }
    })?;
    report.finish()?;
    Ok(ExitCode::SUCCESS)
}

fn parents(sys: &dyn System, d: &ProcessDetails) -> Result<Vec<Parent>, Failure> {
    let mut out = Vec::new();
    let mut next = d.ppid;
    while let Some(pid) = next.filter(|p| *p != 0) {
        if out.len() >= MAX_PARENTS || out.iter().any(|p: &Parent| p.pid == pid) {
            break;
        }
        let name = sys.process(pid)?.map(|p| p.name);
        out.push(Parent { pid, name });
        next = sys.process_details(pid)?.and_then(|d| d.ppid);
    }
    Ok(out)
}

/// (bytes acknowledged, bytes received) of a TCP socket's tcp_info.
fn counters(s: &Socket) -> Option<(u64, u64)> {
    let info = s.extra.as_ref()?.tcp_info.as_ref()?;
    Some((info.bytes_acked, info.bytes_received))
}

/// One socket's line; `measured` is its counters `secs` after the
/// snapshot's (`None` inside: it closed meanwhile).
fn socket_out(
    s: &Socket,
    pid: u32,
    ctx: &Context<'_>,
    measured: Option<(Option<(u64, u64)>, f64)>,
) -> SocketOut {
    let before = counters(s);
    let now = match measured {
        Some((later, _)) => later.or(before),
        None => before,
    };
    let rate = |pick: fn((u64, u64)) -> u64| -> Option<f64> {
        let (Some(after), secs) = measured? else {
            return None;
        };
        let before = before?;
        (secs > 0.0).then(|| pick(after).saturating_sub(pick(before)) as f64 / secs)
    };
    let path = match &s.local {
        Endpoint::Unix { path, .. } => path.clone(),
        _ => None,
    };
    SocketOut {
        proto: s.proto.as_str(),
        state: s.state.name_for(s.proto),
        local: s.shown_local().to_string(),
        remote: s.shown_remote().to_string(),
        path,
        inode: s.inode,
        fds: s
            .owners
            .iter()
            .filter(|o| o.pid == pid)
            .map(|o| o.fd)
            .collect(),
        listening: s.is_listening(),
        service: ctx.service(s).and_then(|i| i.service).map(|svc| svc.name),
        bytes_sent: now.map(|c| c.0),
        bytes_received: now.map(|c| c.1),
        tx_rate: rate(|c| c.0),
        rx_rate: rate(|c| c.1),
    }
}

/// `1.2 kB/s`: decimal units, as ss and the live view show rates.
fn human_rate(bps: f64) -> String {
    const UNITS: [&str; 5] = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"];
    let mut v = bps;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `2026-12-01 11:17:50 UTC`, from seconds since the epoch.
fn utc(secs: u64) -> String {
    crate::render::utc(
        UNIX_EPOCH + Duration::from_secs(secs),
        "%Y-%m-%d %H:%M:%S UTC",
    )
}

fn ago(secs: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let d = now.saturating_sub(secs);
    match d {
        0..60 => format!("{d}s ago"),
        60..3600 => format!("{}m ago", d / 60),
        3600..86_400 => format!("{}h {}m ago", d / 3600, d % 3600 / 60),
        _ => format!("{}d {}h ago", d / 86_400, d % 86_400 / 3600),
    }
}

fn user(name: Option<&Text>, id: Option<u32>) -> String {
    match (name, id) {
        (Some(n), Some(id)) if n.as_bytes() != id.to_string().as_bytes() => {
            format!("{} ({id})", n.bounded(64))
        }
        (_, Some(id)) => id.to_string(),
        (Some(n), None) => n.bounded(64).to_string(),
        (None, None) => "?".into(),
    }
}

fn write_text(out: &mut dyn Write, r: &ProcessReport) -> io::Result<()> {
    writeln!(out, "{}[{}]", r.name.bounded(64), r.pid)?;
    if !r.parents.is_empty() {
        let chain: Vec<String> = r
            .parents
            .iter()
            .rev()
            .map(|p| match &p.name {
                Some(n) => format!("{}[{}]", n.bounded(64), p.pid),
                None => format!("[{}]", p.pid),
            })
            .collect();
        writeln!(
            out,
            "  parents   {} → {}[{}]",
            chain.join(" → "),
            r.name.bounded(64),
            r.pid
        )?;
    }
    if let Some(t) = r.start_time {
        writeln!(out, "  started   {} ({})", utc(t), ago(t))?;
    }
    let real = user(r.user.as_ref(), r.uid);
    let eff = user(r.euser.as_ref(), r.euid);
    if real == eff {
        writeln!(out, "  user      {real}")?;
    } else {
        writeln!(out, "  user      {real}, effective {eff}")?;
    }
    match &r.exe {
        Some(exe) => {
            let mut marks = String::new();
            if r.exe_deleted {
                marks.push_str("  [deleted]");
            }
            if r.exe_dir_world_writable == Some(true) {
                marks.push_str("  [in a world-writable directory]");
            }
            writeln!(out, "  exe       {}{marks}", exe.bounded(400))?;
        }
        None => writeln!(out, "  exe       (not readable)")?,
    }
    if !r.cmdline.is_empty() {
        writeln!(out, "  command   {}", r.cmdline.bounded(400))?;
    }
    if let Some(cg) = &r.cgroup {
        writeln!(out, "  cgroup    {}", cg.bounded(200))?;
    }
    if let Some(c) = &r.container {
        let id = c.id.as_bytes();
        let short = Text::from(id.get(..12).unwrap_or(id));
        write!(
            out,
            "  container {} ({}, {}",
            c.name.as_ref().unwrap_or(&short).bounded(64),
            c.runtime.as_str(),
            short.bounded(12)
        )?;
        if let Some(image) = &c.image {
            write!(out, ", image {}", image.bounded(200))?;
        }
        if let Some(pod) = &c.pod {
            write!(out, ", pod {}", pod.bounded(200))?;
            if let Some(ns) = &c.pod_namespace {
                write!(out, " in {}", ns.bounded(200))?;
            }
        }
        writeln!(out, ")")?;
    }
    if let Some(u) = &r.unit {
        writeln!(out, "  unit      {}", u.bounded(200))?;
    }
    if let Some(t) = r.threads {
        writeln!(out, "  threads   {t}")?;
    }
    let listening = r.sockets.iter().filter(|s| s.listening).count();
    writeln!(
        out,
        "  sockets   {} ({listening} listening)",
        r.sockets.len()
    )?;
    for s in &r.sockets {
        let mut line = format!("    {:<5} {:<11} {}", s.proto, s.state, s.local);
        if !s.listening && !s.remote.is_empty() {
            line.push_str(&format!(" → {}", s.remote));
        }
        if let Some(svc) = s.service {
            line.push_str(&format!("  ({svc})"));
        }
        match (s.tx_rate, s.rx_rate, s.bytes_sent, s.bytes_received) {
            (Some(tx), Some(rx), _, _) if !s.listening => {
                line.push_str(&format!("  tx {} rx {}", human_rate(tx), human_rate(rx)));
            }
            (None, None, Some(tx), Some(rx)) if !s.listening => {
                line.push_str(&format!("  sent {tx} B, received {rx} B"));
            }
            _ => {}
        }
        writeln!(out, "{line}")?;
    }
    if r.findings.is_empty() {
        writeln!(out, "  findings  none")?;
    } else {
        writeln!(out, "  findings  {}", r.findings.len())?;
        for f in &r.findings {
            writeln!(out, "    {:<6} {}: {}", f.severity, f.rule, f.message)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_rates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_796_123_870), "2026-12-01 11:17:50 UTC");
        assert_eq!(human_rate(999.0), "999 B/s");
        assert_eq!(human_rate(1500.0), "1.5 kB/s");
    }
}
