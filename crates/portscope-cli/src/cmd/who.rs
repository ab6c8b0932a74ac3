//! `portscope who PORT|SERVICE…`: what holds these ports, one block per
//! process; optionally signal the holders and check the ports come free.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use portscope::collect::{self, PinError, ProcessHandle, Signal, SignalOutcome, System};
use portscope::json::{ContainerOut, ProcessFields};
use portscope::model::{Proto, Snapshot, Socket};
use portscope::services;
use serde::Serialize;

use crate::Failure;
use crate::args::WhoArgs;
use crate::config::ListConfig;
use crate::render::{self, Context};
use crate::report::Report;

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
    pub(crate) fn matches(&self, s: &Socket) -> bool {
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

pub(crate) fn parse_one(item: &str) -> Result<Vec<PortSpec>, String> {
    // What the user typed, quoted in the errors: escaped for the terminal.
    let q = |s: &str| portscope::text::escape(s.as_bytes()).to_string();
    let (body, proto) = match item.rsplit_once('/') {
        Some((b, "tcp")) => (b, Some(Proto::Tcp)),
        Some((b, "udp")) => (b, Some(Proto::Udp)),
        Some((_, other)) => {
            return Err(format!(
                "'{}': unknown protocol '{}' (use /tcp or /udp)",
                q(item),
                q(other)
            ));
        }
        None => (item, None),
    };
    let port = |t: &str| -> Result<u16, String> {
        t.parse::<u16>()
            .map_err(|_| format!("'{}': '{}' is not a port (0-65535)", q(item), q(t)))
    };
    if body.chars().all(|c| c.is_ascii_digit() || c == '-') {
        let (low, high) = match body.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(body)?, port(body)?),
        };
        if low > high {
            return Err(format!("'{}': the range runs backwards", q(item)));
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
            "'{}' is neither a port nor a known service name",
            q(body)
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
    let mut cfg = ListConfig::with_owners();
    let sys = crate::system::open(args.from_snapshot.as_deref())?;
    let sys = &*sys;
    cfg.collect.netns = crate::netns_pick::scope(args.ns.netns.as_deref(), sys)?;
    let (snap, published) = holders_published(sys, &cfg, &specs)?;
    // Pin the holders now, as they are shown: whatever happens to their pids
    // before the answer to the prompt, only these processes can be signalled.
    let targets = signal.map(|_| Targets::pin(sys, &snap, args.any_socket));
    let ctx = Context::new(&snap, &cfg);
    let groups = group(&snap);

    let mut report = Report::new();
    let found = !(snap.sockets.is_empty() && published.is_empty());
    let killing = found && signal.is_some();
    // With --kill and --json the holders and the kill's outcome are one
    // JSON document, written when the outcome is known.
    if !(killing && args.json) {
        report.write(|out| {
            if args.json {
                write_json(out, &ctx, &groups, &published)
            } else {
                super::published::write_text(out, &published)?;
                write_text(out, &ctx, &groups)
            }
        })?;
    }
    let (true, Some(sig), Some(targets)) = (found, signal, &targets) else {
        report.finish()?;
        return Ok(ExitCode::from(if found { 0 } else { 1 }));
    };
    let mut log = KillLog::new(sig);
    let code = kill(
        sys,
        args,
        sig,
        &snap,
        targets,
        &cfg,
        &specs,
        &mut report,
        &mut log,
    )?;
    if args.json {
        report.write(|out| {
            let doc = KillJson {
                holders: json_blocks(&ctx, &groups, &published),
                kill: log,
            };
            serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
            writeln!(out)
        })?;
    }
    report.finish()?;
    Ok(code)
}

pub(crate) fn holders(
    sys: &dyn System,
    cfg: &ListConfig,
    specs: &[PortSpec],
) -> Result<Snapshot, Failure> {
    let mut snap = collect::take(sys, &cfg.collect)?;
    snap.sockets.retain(|s| specs.iter().any(|p| p.matches(s)));
    Ok(snap)
}

/// The sockets on the ports, and what answers those that are published
/// (worked out on the whole snapshot: the listener inside a container is
/// on another port than the host's).
fn holders_published(
    sys: &dyn System,
    cfg: &ListConfig,
    specs: &[PortSpec],
) -> Result<(Snapshot, Vec<super::published::Published>), Failure> {
    let mut snap = collect::take(sys, &cfg.collect)?;
    let wanted: Vec<&Socket> = snap
        .sockets
        .iter()
        .filter(|s| specs.iter().any(|p| p.matches(s)))
        .collect();
    let maps = sys.port_maps();
    let wants = |proto, port| {
        specs
            .iter()
            .any(|p| (p.low..=p.high).contains(&port) && p.proto.is_none_or(|x| x == proto))
    };
    let (published, note) = super::published::find(&snap, &maps, &wanted, wants);
    if let Some(note) = note {
        crate::say(format_args!("note: {note}"));
    }
    snap.sockets.retain(|s| specs.iter().any(|p| p.matches(s)));
    Ok((snap, published))
}

/// Sockets by owning pid (`None`: no visible owner), in pid order.
pub(crate) type Groups<'a> = BTreeMap<Option<u32>, Vec<&'a Socket>>;

pub(crate) fn group(snap: &Snapshot) -> Groups<'_> {
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

pub(crate) fn write_text(
    out: &mut dyn Write,
    ctx: &Context<'_>,
    groups: &Groups<'_>,
) -> io::Result<()> {
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
                if portscope::forward::is_forwarder(&p.name) {
                    // A forwarder's command line runs to kilobytes of ids
                    // and paths: the line above says what it forwards.
                    writeln!(out, "  command  {}", p.cmdline.bounded(160))?;
                } else if !p.cmdline.is_empty() {
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
                } else if sockets.iter().all(|s| kernel_held(s.state)) {
                    writeln!(
                        out,
                        "no process (kernel-held: TIME_WAIT, pending connections)"
                    )?;
                } else {
                    // A listener or a live connection has a holder; it was not
                    // found (a process whose fd table refused even root, one in
                    // another pid namespace, or a socket passed on meanwhile).
                    writeln!(out, "no process found (its holder could not be read)")?;
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
                s.shown_local().to_string(),
                s.shown_remote().to_string(),
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

/// One process's block: its pid, the process as listings describe owners
/// ([`ProcessFields`]), then its sockets.
struct WhoJson<'a, S: Serialize> {
    pid: Option<u32>,
    process: ProcessFields<'a>,
    sockets: Vec<S>,
    /// For a forwarder: the container and the listeners it forwards to
    /// (left out for other processes).
    forwarded_to: Option<ForwardJson<'a, S>>,
}

#[derive(Serialize)]
struct ForwardJson<'a, S: Serialize> {
    container: Option<ContainerOut<'a>>,
    inner: Vec<S>,
}

impl<S: Serialize> Serialize for WhoJson<'_, S> {
    fn serialize<Ser: serde::Serializer>(&self, ser: Ser) -> Result<Ser::Ok, Ser::Error> {
        use serde::ser::SerializeStruct;
        let mut o = ser.serialize_struct("Who", 2 + ProcessFields::LEN)?;
        o.serialize_field("pid", &self.pid)?;
        self.process.write(&mut o)?;
        o.serialize_field("sockets", &self.sockets)?;
        match &self.forwarded_to {
            Some(f) => o.serialize_field("forwarded_to", f)?,
            None => o.skip_field("forwarded_to")?,
        }
        o.end()
    }
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

fn write_json(
    out: &mut dyn Write,
    ctx: &Context<'_>,
    groups: &Groups<'_>,
    published: &[super::published::Published],
) -> io::Result<()> {
    let blocks = json_blocks(ctx, groups, published);
    serde_json::to_writer_pretty(&mut *out, &blocks).map_err(io::Error::from)?;
    writeln!(out)
}

/// One JSON block per holder, as `who --json` prints them.
fn json_blocks<'a>(
    ctx: &'a Context<'_>,
    groups: &'a Groups<'_>,
    published: &'a [super::published::Published],
) -> Vec<impl Serialize + 'a> {
    groups
        .iter()
        .map(|(pid, sockets)| {
            let fwd = pid.and_then(|pid| published.iter().find(|f| f.by.contains(&pid)));
            WhoJson {
                forwarded_to: fwd.map(|f| ForwardJson {
                    container: f.container.as_ref().map(ContainerOut),
                    inner: f
                        .inner
                        .iter()
                        .map(|s| render::json::socket_json(s, ctx, true))
                        .collect(),
                }),
                pid: *pid,
                process: ProcessFields(pid.and_then(|p| ctx.snap.processes.get(&p))),
                sockets: sockets
                    .iter()
                    .map(|s| render::json::socket_json(s, ctx, true))
                    .collect(),
            }
        })
        .collect()
}

/// `who --kill --json`: the holders as `who --json` lists them, and what
/// the kill did.
#[derive(Serialize)]
struct KillJson<B: Serialize> {
    holders: Vec<B>,
    kill: KillLog,
}

/// What `--kill` did, for `--json` (the text mode says the same in lines).
#[derive(Debug, Serialize)]
struct KillLog {
    /// `SIGTERM`, `SIGKILL`, `signal 10`.
    signal: String,
    /// One per holder chosen and asked about: pid, outcome, whether sent.
    results: Vec<KillResult>,
    /// Holders of client connections only, not signalled (no --any-socket).
    passed_over: Vec<u32>,
    /// Pid 1 and portscope itself: never signalled.
    refused: Vec<u32>,
    /// False when the prompt was answered no.
    confirmed: bool,
    /// Whether the ports came free after the signals; null when nothing
    /// was signalled (or nobody read on).
    ports_free: Option<bool>,
    /// Who still held them at the deadline.
    still_held_by: Vec<u32>,
}

#[derive(Debug, Serialize)]
struct KillResult {
    pid: u32,
    /// The outcome in words: `sent SIGTERM`, `no permission`,
    /// `exited meanwhile; not signalled`.
    outcome: String,
    sent: bool,
}

impl KillLog {
    fn new(sig: Signal) -> KillLog {
        KillLog {
            signal: signal_name(sig),
            results: Vec::new(),
            passed_over: Vec::new(),
            refused: Vec::new(),
            confirmed: true,
            ports_free: None,
            still_held_by: Vec::new(),
        }
    }
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
        .ok_or_else(|| {
            Failure::Usage(format!(
                "--signal: unknown signal '{}'",
                portscope::text::escape(text.as_bytes())
            ))
        })
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

/// A process `--kill` means to signal, pinned when it was listed.
struct Target {
    pid: u32,
    /// The sockets on the ports it was chosen for.
    inodes: Vec<u64>,
    handle: Result<ProcessHandle, PinError>,
}

/// The processes `--kill` would signal, and those it passes over.
struct Targets {
    chosen: Vec<Target>,
    /// Holders of client connections only (without `--any-socket`).
    clients_only: Vec<u32>,
}

impl Targets {
    /// Chooses the holders to signal and pins them. Without `any_socket`,
    /// only the server side counts: a listening TCP socket, an unconnected
    /// UDP socket, or a TCP connection on a port its process listens on. A
    /// client whose ephemeral port falls in a range asked about is not a
    /// holder of that port.
    fn pin(sys: &dyn System, snap: &Snapshot, any_socket: bool) -> Targets {
        let mut listening: Vec<(u32, u16)> = snap
            .sockets
            .iter()
            .filter(|s| s.proto == Proto::Tcp && s.is_listening())
            .filter_map(|s| s.local.port().map(|port| (s, port)))
            .flat_map(|(s, port)| s.owners.iter().map(move |o| (o.pid, port)))
            .collect();
        listening.sort_unstable();
        let serves = |s: &Socket, pid: u32| {
            any_socket
                || s.is_listening()
                || (s.proto == Proto::Tcp
                    && s.local
                        .port()
                        .is_some_and(|port| listening.binary_search(&(pid, port)).is_ok()))
        };
        // Each holder with the sockets it serves (none: a client only).
        let mut by_pid: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
        for s in &snap.sockets {
            for o in &s.owners {
                let inodes = by_pid.entry(o.pid).or_default();
                if serves(s, o.pid) && !inodes.contains(&s.inode) {
                    inodes.push(s.inode);
                }
            }
        }
        let mut chosen = Vec::new();
        let mut clients_only = Vec::new();
        for (pid, inodes) in by_pid {
            if inodes.is_empty() {
                clients_only.push(pid);
                continue;
            }
            let handle = sys.pin(pid);
            chosen.push(Target {
                pid,
                inodes,
                handle,
            });
        }
        Targets {
            chosen,
            clients_only,
        }
    }
}

/// `name[pid]` as listed, or `pid N` for a process not seen.
fn label(snap: &Snapshot, pid: u32) -> String {
    snap.processes
        .get(&pid)
        .map(|p| format!("{}[{pid}]", p.name.escaped()))
        .unwrap_or_else(|| format!("pid {pid}"))
}

/// Signals the chosen holders (bar pid 1 and ourselves), each only if it is
/// still the process listed and still holds the socket, then waits briefly
/// for the ports to come free. Exit 0 when they did, 1 when something still
/// holds them or nothing was signalled. What happens goes into `log`, and,
/// unless `--json` (whose caller writes the log), into `report` as lines.
#[allow(clippy::too_many_arguments)]
fn kill(
    sys: &dyn System,
    args: &WhoArgs,
    sig: Signal,
    snap: &Snapshot,
    targets: &Targets,
    cfg: &ListConfig,
    specs: &[PortSpec],
    report: &mut Report,
    log: &mut KillLog,
) -> Result<ExitCode, Failure> {
    let text = !args.json;
    let me = std::process::id();
    for &pid in &targets.clients_only {
        log.passed_over.push(pid);
        crate::say(format_args!(
            "not signalling {}: it holds only client connections on these ports (--any-socket to include them)",
            label(snap, pid)
        ));
    }
    let mut chosen = Vec::new();
    for t in &targets.chosen {
        if t.pid == 1 {
            log.refused.push(t.pid);
            crate::say(format_args!(
                "refusing to signal {} (init)",
                label(snap, t.pid)
            ));
        } else if t.pid == me {
            log.refused.push(t.pid);
            crate::say(format_args!("refusing to signal portscope itself"));
        } else {
            chosen.push(t);
        }
    }
    if chosen.is_empty() {
        crate::say(format_args!("no process to signal"));
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
        let list: Vec<String> = chosen.iter().map(|t| label(snap, t.pid)).collect();
        let answer = crate::ask(format_args!(
            "Send {sig_name} to {}? [y/N] ",
            list.join(", ")
        ))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES") {
            log.confirmed = false;
            crate::say(format_args!("nothing signalled"));
            return Ok(ExitCode::from(1));
        }
    }
    let mut signalled = Vec::new();
    for t in &chosen {
        let mut sent = false;
        let outcome = match &t.handle {
            Err(PinError::Gone) => "exited meanwhile; not signalled".to_string(),
            Err(e) => format!("not signalled: {e}"),
            Ok(h) => match h.signal_if_holding(&t.inodes, sig) {
                SignalOutcome::Sent => {
                    signalled.push(t.pid);
                    sent = true;
                    format!("sent {sig_name}")
                }
                SignalOutcome::NotPermitted => "no permission".into(),
                other => other.to_string(),
            },
        };
        if text {
            report.line(format_args!("{}: {outcome}", label(snap, t.pid)))?;
        }
        log.results.push(KillResult {
            pid: t.pid,
            outcome,
            sent,
        });
    }
    // Nobody reads on: the signals went out; a closed pipe ends quietly.
    if report.is_closed() {
        return Ok(ExitCode::SUCCESS);
    }
    if signalled.is_empty() {
        return Ok(ExitCode::from(1));
    }
    // Give the processes a moment to exit and release the ports. Only a look
    // begun after the deadline may report "still held": on a loaded machine
    // one look (a whole owner walk) can outlast the deadline, and what it saw
    // at its start says nothing about the time since.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let looked_at = Instant::now();
        let now = holders(sys, cfg, specs)?;
        let still: Vec<&Socket> = now
            .sockets
            .iter()
            .filter(|s| s.is_listening() || s.owners.iter().any(|o| signalled.contains(&o.pid)))
            .collect();
        if still.is_empty() {
            log.ports_free = Some(true);
            if text {
                report.line(format_args!("the port(s) are free"))?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        if looked_at >= deadline {
            let mut pids: Vec<u32> = still
                .iter()
                .flat_map(|s| s.owners.iter().map(|o| o.pid))
                .collect();
            pids.sort_unstable();
            pids.dedup();
            let mut who: Vec<String> = pids.iter().map(|&pid| label(&now, pid)).collect();
            who.sort();
            log.ports_free = Some(false);
            log.still_held_by = pids;
            if text && who.is_empty() {
                report.line(format_args!(
                    "still open, held by no process that can be seen"
                ))?;
            } else if text {
                report.line(format_args!("still held by {}", who.join(", ")))?;
            }
            return Ok(ExitCode::from(1));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// States a socket is in when no process holds it any more, or not yet:
/// TIME-WAIT and the other orphaned closing states, and connections not
/// yet accepted.
fn kernel_held(state: portscope::model::TcpState) -> bool {
    use portscope::model::TcpState as S;
    matches!(
        state,
        S::TimeWait | S::SynRecv | S::NewSynRecv | S::FinWait2 | S::LastAck | S::Closing
    )
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
