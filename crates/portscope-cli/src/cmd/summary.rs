//! `portscope -s`: counts by protocol and state (as `ss -s`, with every TCP
//! state), the listening ports with their processes, the processes holding
//! the most sockets and the remote peers with the most connections.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::net::IpAddr;
use std::process::ExitCode;

use portscope::model::{Family, Proto, Snapshot, TcpState};
use serde::Serialize;

use crate::Failure;
use crate::config::ListConfig;
use crate::render::{self, Context};

/// How many processes and peers the top lists show.
const TOP: usize = 10;

#[derive(Serialize, Default)]
struct Counts {
    total: usize,
    inet: usize,
    inet6: usize,
    states: BTreeMap<&'static str, usize>,
}

impl Counts {
    fn is_empty(&self) -> bool {
        self.total == 0
    }
}

#[derive(Serialize)]
struct Listener {
    proto: &'static str,
    local: String,
    service: Option<&'static str>,
    processes: Vec<String>,
}

#[derive(Serialize)]
struct Ranked {
    key: String,
    count: usize,
}

#[derive(Serialize)]
struct Summary {
    total: usize,
    tcp: Counts,
    udp: Counts,
    raw: Counts,
    unix: Counts,
    #[serde(skip_serializing_if = "Counts::is_empty")]
    packet: Counts,
    #[serde(skip_serializing_if = "Counts::is_empty")]
    netlink: Counts,
    #[serde(skip_serializing_if = "Counts::is_empty")]
    mptcp: Counts,
    listening: Vec<Listener>,
    top_processes: Vec<Ranked>,
    top_peers: Vec<Ranked>,
    owners_hidden: u32,
}

fn summarize(ctx: &Context<'_>) -> Summary {
    let snap: &Snapshot = ctx.snap;
    let mut by_proto: HashMap<Proto, Counts> = HashMap::new();
    let mut per_pid: HashMap<u32, usize> = HashMap::new();
    let mut per_peer: HashMap<IpAddr, usize> = HashMap::new();
    let mut listening = Vec::new();
    for s in &snap.sockets {
        let c = by_proto.entry(s.proto).or_default();
        c.total += 1;
        match s.family {
            Family::Inet => c.inet += 1,
            Family::Inet6 => c.inet6 += 1,
            Family::Unix | Family::Packet | Family::Netlink => {}
        }
        *c.states.entry(s.state.name_for(s.proto)).or_default() += 1;
        let mut last = None;
        for o in &s.owners {
            if last != Some(o.pid) {
                *per_pid.entry(o.pid).or_default() += 1;
                last = Some(o.pid);
            }
        }
        if s.proto == Proto::Tcp
            && s.state == TcpState::Established
            && let Some(addr) = s.remote.addr()
        {
            *per_peer.entry(addr).or_default() += 1;
        }
        // Ports only: raw, unix, packet and netlink sockets have none.
        if matches!(s.proto, Proto::Tcp | Proto::Udp | Proto::Mptcp) && s.is_listening() {
            let mut procs: Vec<String> = Vec::new();
            for o in &s.owners {
                let name = snap
                    .processes
                    .get(&o.pid)
                    .map(|p| format!("{}[{}]", p.name.escaped(), o.pid))
                    .unwrap_or_else(|| format!("pid {}", o.pid));
                if !procs.contains(&name) {
                    procs.push(name);
                }
            }
            listening.push(Listener {
                proto: render::table::proto_label(s),
                local: s.shown_local().to_string(),
                service: ctx.service(s).and_then(|i| i.service).map(|x| x.name),
                processes: procs,
            });
        }
    }
    listening.sort_by(|a, b| (a.proto, &a.local).cmp(&(b.proto, &b.local)));
    let rank = |m: HashMap<String, usize>| {
        let mut v: Vec<Ranked> = m
            .into_iter()
            .map(|(key, count)| Ranked { key, count })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        v.truncate(TOP);
        v
    };
    let top_processes = rank(
        per_pid
            .into_iter()
            .map(|(pid, n)| {
                let name = snap
                    .processes
                    .get(&pid)
                    .map(|p| format!("{}[{pid}]", p.name.escaped()))
                    .unwrap_or_else(|| format!("pid {pid}"));
                (name, n)
            })
            .collect(),
    );
    let top_peers = rank(
        per_peer
            .into_iter()
            .map(|(a, n)| (a.to_string(), n))
            .collect(),
    );
    let mut take = |p| by_proto.remove(&p).unwrap_or_default();
    Summary {
        total: snap.sockets.len(),
        tcp: take(Proto::Tcp),
        udp: take(Proto::Udp),
        raw: take(Proto::Raw),
        unix: take(Proto::Unix),
        packet: take(Proto::Packet),
        netlink: take(Proto::Netlink),
        mptcp: take(Proto::Mptcp),
        listening,
        top_processes,
        top_peers,
        owners_hidden: snap.hidden.sockets,
    }
}

/// Runs the summary with the listing's selection and output settings.
pub fn run(cfg: &ListConfig, json: bool) -> Result<ExitCode, Failure> {
    let mut cfg = cfg.clone();
    cfg.collect.owners = true;
    cfg.owners = true;
    let mut snap = crate::cmd::list::take_or_read(&cfg)?;
    let sockets = std::mem::take(&mut snap.sockets);
    snap.sockets = sockets
        .into_iter()
        .filter(|s| cfg.filter.matches(s, &snap))
        .collect();
    let ctx = Context::new(&snap, &cfg);
    let sum = summarize(&ctx);
    let mut out = io::BufWriter::new(io::stdout().lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &sum).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &sum)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_text(out: &mut dyn Write, s: &Summary) -> io::Result<()> {
    writeln!(out, "Total: {} sockets", s.total)?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<6}{:>8}{:>8}{:>8}  states",
        "", "total", "IPv4", "IPv6"
    )?;
    for (name, c) in [
        ("TCP", &s.tcp),
        ("UDP", &s.udp),
        ("RAW", &s.raw),
        ("UNIX", &s.unix),
        ("PACKET", &s.packet),
        ("NL", &s.netlink),
        ("MPTCP", &s.mptcp),
    ] {
        if c.total == 0 {
            continue;
        }
        let states: Vec<String> = c.states.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(
            out,
            "{:<6}{:>8}{:>8}{:>8}  {}",
            name,
            c.total,
            c.inet,
            c.inet6,
            states.join(", ")
        )?;
    }
    if !s.listening.is_empty() {
        writeln!(out)?;
        writeln!(out, "Listening:")?;
        for l in &s.listening {
            writeln!(
                out,
                "  {:<5} {:<28} {:<14} {}",
                l.proto,
                l.local,
                l.service.unwrap_or(""),
                l.processes.join(", ")
            )?;
        }
    }
    if !s.top_processes.is_empty() {
        writeln!(out)?;
        writeln!(out, "Processes with the most sockets:")?;
        for r in &s.top_processes {
            writeln!(out, "  {:>7}  {}", r.count, r.key)?;
        }
    }
    if !s.top_peers.is_empty() {
        writeln!(out)?;
        writeln!(out, "Remote peers with the most connections:")?;
        for r in &s.top_peers {
            writeln!(out, "  {:>7}  {}", r.count, r.key)?;
        }
    }
    if s.owners_hidden > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "Owners of {} socket(s) hidden: run as root to see them.",
            s.owners_hidden
        )?;
    }
    Ok(())
}
