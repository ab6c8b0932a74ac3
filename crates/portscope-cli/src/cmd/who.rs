//! `portscope who PORT|SERVICE…`: what holds these ports, one block per
//! process; optionally signal the holders and check the ports come free.

use std::collections::BTreeMap;
use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use portscope::Text;
use portscope::collect;
use portscope::model::{Proto, Snapshot, Socket};
use portscope::services;
use rustix::process::{Pid, Signal};
use serde::Serialize;

use crate::Failure;
use crate::args::WhoArgs;
use crate::config::ListConfig;
use crate::render::{self, Context};

/// Ports asked about: an inclusive range, for one protocol or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    /// First port.
    pub low: u16,
    /// Last port.
    pub high: u16,
    /// `None` for both TCP and UDP.
    pub proto: Option<Proto>,
}

impl PortSpec {
    fn matches(&self, s: &Socket) -> bool {
        let Some(port) = s.local.port() else {
            return false;
        };
        (self.low..=self.high).contains(&port) && self.proto.is_none_or(|p| p == s.proto)
    }
}

/// Parses `3000`, `3000-3100`, `https`, `53/udp`, `5432,8080`.
pub fn parse_specs(words: &[String]) -> Result<Vec<PortSpec>, String> {
    let mut specs = Vec::new();
    for word in words {
        for item in word.split(',').filter(|i| !i.is_empty()) {
            specs.extend(parse_one(item)?);
        }
    }
    if specs.is_empty() {
        return Err("no port given".into());
    }
    Ok(specs)
}

fn parse_one(item: &str) -> Result<Vec<PortSpec>, String> {
    let (body, proto) = match item.rsplit_once('/') {
        Some((b, "tcp")) => (b, Some(Proto::Tcp)),
        Some((b, "udp")) => (b, Some(Proto::Udp)),
        Some((_, other)) => {
            return Err(format!(
                "'{item}': unknown protocol '{other}' (use /tcp or /udp)"
            ));
        }
        None => (item, None),
    };
    let port = |t: &str| -> Result<u16, String> {
        t.parse::<u16>()
            .map_err(|_| format!("'{item}': '{t}' is not a port (0-65535)"))
    };
    if body.chars().all(|c| c.is_ascii_digit() || c == '-') {
        let (low, high) = match body.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(body)?, port(body)?),
        };
        if low > high {
            return Err(format!("'{item}': the range runs backwards"));
        }
        return Ok(vec![PortSpec { low, high, proto }]);
    }
    // A service name: every port the registry gives it, per transport.
    let mut out: Vec<PortSpec> = Vec::new();
    for svc in services::by_name(body) {
        let p = match svc.transport {
            services::Transport::Tcp => Proto::Tcp,
            services::Transport::Udp => Proto::Udp,
            _ => continue,
        };
        if proto.is_some_and(|want| want != p) {
            continue;
        }
        let spec = PortSpec {
            low: svc.port,
            high: svc.port,
            proto: Some(p),
        };
        if !out.contains(&spec) {
            out.push(spec);
        }
    }
    if out.is_empty() {
        return Err(format!(
            "'{body}' is neither a port nor a known service name"
        ));
    }
    Ok(out)
}

/// Runs `who`.
pub fn run(args: &WhoArgs) -> Result<ExitCode, Failure> {
    let specs = parse_specs(&args.ports).map_err(Failure::Usage)?;
    let signal = if args.kill {
        Some(parse_signal(args)?)
    } else {
        None
    };
    let cfg = ListConfig::with_owners();
    let snap = holders(&cfg, &specs)?;
    let ctx = Context::new(&snap, &cfg);
    let groups = group(&snap);

    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        write_json(&mut out, &ctx, &groups)?;
    } else {
        write_text(&mut out, &ctx, &groups)?;
    }
    out.flush()?;
    drop(out);

    if snap.sockets.is_empty() {
        return Ok(ExitCode::from(1));
    }
    if let Some(sig) = signal {
        return kill(args, sig, &snap, &cfg, &specs);
    }
    Ok(ExitCode::SUCCESS)
}

fn holders(cfg: &ListConfig, specs: &[PortSpec]) -> Result<Snapshot, Failure> {
    let mut snap = collect::take(&cfg.collect)?;
    snap.sockets.retain(|s| specs.iter().any(|p| p.matches(s)));
    Ok(snap)
}

/// Sockets by owning pid (`None`: no visible owner), in pid order.
type Groups<'a> = BTreeMap<Option<u32>, Vec<&'a Socket>>;

fn group(snap: &Snapshot) -> Groups<'_> {
    let mut g: Groups<'_> = BTreeMap::new();
    for s in &snap.sockets {
        if s.owners.is_empty() {
            g.entry(None).or_default().push(s);
        }
        let mut last = None;
        for o in &s.owners {
            if last != Some(o.pid) {
                g.entry(Some(o.pid)).or_default().push(s);
                last = Some(o.pid);
            }
        }
    }
    g
}

fn write_text(out: &mut dyn Write, ctx: &Context<'_>, groups: &Groups<'_>) -> io::Result<()> {
    if groups.is_empty() {
        return writeln!(out, "nothing holds these ports");
    }
    let mut first = true;
    for (pid, sockets) in groups {
        if !first {
            writeln!(out)?;
        }
        first = false;
        match pid.and_then(|p| ctx.snap.processes.get(&p)) {
            Some(p) => {
                writeln!(
                    out,
                    "{}[{}]  user {}",
                    p.name.escaped(),
                    p.pid,
                    user_label(p)
                )?;
                if !p.cmdline.is_empty() {
                    writeln!(out, "  command  {}", p.cmdline.escaped())?;
                }
                if let Some(exe) = &p.exe {
                    writeln!(out, "  exe      {}", exe.escaped())?;
                }
            }
            None if pid.is_some() => writeln!(out, "pid {} (gone)", pid.unwrap_or(0))?,
            None => {
                let hidden = sockets.iter().any(|s| s.owners_hidden);
                if hidden {
                    writeln!(
                        out,
                        "no visible process (owners hidden: run as root to see them)"
                    )?;
                } else {
                    writeln!(
                        out,
                        "no process (kernel-held: TIME_WAIT, pending connections)"
                    )?;
                }
            }
        }
        for s in sockets {
            let fds: Vec<String> = s
                .owners
                .iter()
                .filter(|o| Some(o.pid) == *pid)
                .map(|o| o.fd.to_string())
                .collect();
            let svc = ctx
                .service(s)
                .and_then(|i| i.service)
                .map(|x| x.name)
                .unwrap_or("");
            write!(
                out,
                "  {:<5} {:<24} {:<24} {:<12} {:<10}",
                render::table::proto_label(s),
                s.local.to_string(),
                s.remote.to_string(),
                s.state.name_for(s.proto),
                svc
            )?;
            if fds.is_empty() {
                writeln!(out)?;
            } else {
                writeln!(out, " fd {}", fds.join(","))?;
            }
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct WhoJson<'a, S: Serialize> {
    pid: Option<u32>,
    name: Option<&'a Text>,
    user: Option<&'a Text>,
    uid: Option<u32>,
    euser: Option<&'a Text>,
    euid: Option<u32>,
    cmdline: Option<&'a Text>,
    exe: Option<&'a Text>,
    sockets: Vec<S>,
}

/// The user a process runs as, for people: the effective user, with the
/// real one beside it when they differ (a setuid program).
fn user_label(p: &portscope::Process) -> String {
    match (&p.user, p.shown_user()) {
        (Some(real), Some(eff)) if real != eff => {
            format!("{} (real {})", eff.escaped(), real.escaped())
        }
        (_, Some(u)) => u.escaped().to_string(),
        (_, None) => "?".to_string(),
    }
}

fn write_json(out: &mut dyn Write, ctx: &Context<'_>, groups: &Groups<'_>) -> io::Result<()> {
    let blocks: Vec<_> = groups
        .iter()
        .map(|(pid, sockets)| {
            let p = pid.and_then(|p| ctx.snap.processes.get(&p));
            WhoJson {
                pid: *pid,
                name: p.map(|p| &p.name),
                user: p.and_then(|p| p.user.as_ref()),
                uid: p.and_then(|p| p.uid),
                euser: p.and_then(|p| p.euser.as_ref()),
                euid: p.and_then(|p| p.euid),
                cmdline: p.map(|p| &p.cmdline),
                exe: p.and_then(|p| p.exe.as_ref()),
                sockets: sockets
                    .iter()
                    .map(|s| render::json::socket_json(s, ctx, true))
                    .collect(),
            }
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &blocks).map_err(io::Error::from)?;
    writeln!(out)
}

fn parse_signal(args: &WhoArgs) -> Result<Signal, Failure> {
    if args.force {
        return Ok(Signal::KILL);
    }
    let Some(text) = args.signal.as_deref() else {
        return Ok(Signal::TERM);
    };
    let name = text.trim_start_matches("SIG").trim_start_matches("sig");
    let by_name = match name.to_ascii_uppercase().as_str() {
        "HUP" => Some(Signal::HUP),
        "INT" => Some(Signal::INT),
        "QUIT" => Some(Signal::QUIT),
        "KILL" => Some(Signal::KILL),
        "TERM" => Some(Signal::TERM),
        "USR1" => Some(Signal::USR1),
        "USR2" => Some(Signal::USR2),
        "STOP" => Some(Signal::STOP),
        "CONT" => Some(Signal::CONT),
        _ => None,
    };
    by_name
        .or_else(|| text.parse::<i32>().ok().and_then(Signal::from_named_raw))
        .ok_or_else(|| Failure::Usage(format!("--signal: unknown signal '{text}'")))
}

fn signal_name(sig: Signal) -> String {
    match sig {
        Signal::TERM => "SIGTERM".into(),
        Signal::KILL => "SIGKILL".into(),
        Signal::HUP => "SIGHUP".into(),
        Signal::INT => "SIGINT".into(),
        other => format!("signal {}", other.as_raw()),
    }
}

/// Signals every owner (bar pid 1 and ourselves), then waits briefly for the
/// ports to come free. Exit 0 when they did, 1 when something still holds them.
fn kill(
    args: &WhoArgs,
    sig: Signal,
    snap: &Snapshot,
    cfg: &ListConfig,
    specs: &[PortSpec],
) -> Result<ExitCode, Failure> {
    let mut pids: Vec<u32> = snap
        .sockets
        .iter()
        .flat_map(|s| s.owners.iter().map(|o| o.pid))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    let me = std::process::id();
    let name_of = |pid: u32| {
        snap.processes
            .get(&pid)
            .map(|p| format!("{}[{pid}]", p.name.escaped()))
            .unwrap_or_else(|| format!("pid {pid}"))
    };
    let mut targets = Vec::new();
    for &pid in &pids {
        if pid == 1 {
            eprintln!("portscope: refusing to signal {} (init)", name_of(pid));
        } else if pid == me {
            eprintln!("portscope: refusing to signal portscope itself");
        } else {
            targets.push(pid);
        }
    }
    if targets.is_empty() {
        eprintln!("portscope: no process to signal");
        return Ok(ExitCode::from(1));
    }
    let sig_name = signal_name(sig);
    if !args.yes {
        if !io::stdin().is_terminal() {
            return Err(Failure::Usage(
                "--kill asks for confirmation on a terminal; pass --yes to go ahead without one"
                    .into(),
            ));
        }
        let list: Vec<String> = targets.iter().map(|&p| name_of(p)).collect();
        eprint!("Send {sig_name} to {}? [y/N] ", list.join(", "));
        let mut answer = String::new();
        io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
            eprintln!("portscope: nothing signalled");
            return Ok(ExitCode::from(1));
        }
    }
    for &pid in &targets {
        let outcome = match Pid::from_raw(pid as i32) {
            None => "not a pid".to_string(),
            Some(p) => match rustix::process::kill_process(p, sig) {
                Ok(()) => format!("sent {sig_name}"),
                Err(rustix::io::Errno::SRCH) => "already gone".into(),
                Err(rustix::io::Errno::PERM) => "no permission".into(),
                Err(e) => format!("failed: {e}"),
            },
        };
        println!("{}: {outcome}", name_of(pid));
    }
    // Give the processes a moment to exit and release the ports.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let now = holders(cfg, specs)?;
        let still: Vec<&Socket> = now
            .sockets
            .iter()
            .filter(|s| s.is_listening() || !s.owners.is_empty())
            .collect();
        if still.is_empty() {
            println!("the port(s) are free");
            return Ok(ExitCode::SUCCESS);
        }
        if Instant::now() >= deadline {
            let mut who: Vec<String> = still
                .iter()
                .flat_map(|s| s.owners.iter().map(|o| o.pid))
                .map(|pid| {
                    now.processes
                        .get(&pid)
                        .map(|p| format!("{}[{pid}]", p.name.escaped()))
                        .unwrap_or_else(|| format!("pid {pid}"))
                })
                .collect();
            who.sort();
            who.dedup();
            println!("still held by {}", who.join(", "));
            return Ok(ExitCode::from(1));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn specs_parse() {
        let p = parse_specs(&words(&["3000", "5432,8080", "3000-3100", "53/udp"])).unwrap();
        assert_eq!(
            p[0],
            PortSpec {
                low: 3000,
                high: 3000,
                proto: None
            }
        );
        assert_eq!(p[1].low, 5432);
        assert_eq!(p[2].low, 8080);
        assert_eq!(
            p[3],
            PortSpec {
                low: 3000,
                high: 3100,
                proto: None
            }
        );
        assert_eq!(
            p[4],
            PortSpec {
                low: 53,
                high: 53,
                proto: Some(Proto::Udp)
            }
        );
    }

    #[test]
    fn bad_specs_are_errors() {
        for bad in [
            "70000",
            "3100-3000",
            "80/sctp",
            "no-such-service-xyz",
            "-",
            "",
        ] {
            assert!(parse_specs(&words(&[bad])).is_err(), "{bad}");
        }
    }
}
