//! `portscope scan TARGET…`: what answers from the outside. Validates the
//! flags, runs `portscope_scan::scanner` with a progress bar on a terminal,
//! prints a table or JSON. The scanning itself lives in the `portscope-scan`
//! crate; everything shown to people is made here.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use portscope::Text;
use portscope::model::Proto;
use portscope::services::{self, Transport};
use portscope::text::escape;
use rustix::process::{Resource, Rlimit};
use serde::Serialize;

use crate::Failure;
use crate::args::ScanArgs;
use portscope_scan::engine::SweepConfig;
use portscope_scan::probe::ProbeConfig;
use portscope_scan::scanner::{self, HostResult, PortResult, ScanConfig, ScanResult};
use portscope_scan::tls::TlsInfo;
use portscope_scan::{PortState, Progress, TargetError, ports, targets, udp};

/// File descriptors kept free for everything but connection attempts:
/// stdio, the snapshot's owner walk, the runtime, probe connections.
const FD_MARGIN: u64 = 128;
/// Default cap on attempts in flight when the fd limit allows more.
const DEFAULT_CONCURRENCY: usize = 4096;
/// Open ports identified at once.
const PROBE_CONCURRENCY: usize = 64;

/// Runs `scan`.
pub fn run(args: &ScanArgs) -> Result<ExitCode, Failure> {
    let cfg = config(args)?;
    let identifies = !cfg.udp && cfg.probe.is_some();
    let mut result = match with_progress(identifies, |p| scanner::run(&cfg, p)) {
        Ok(r) => r,
        Err(e) => {
            crate::say(format_args!("scan: {e}"));
            return Ok(ExitCode::from(3));
        }
    };
    // Local targets: which process holds each open port.
    if result.wants_owners() {
        match snapshot(result.proto) {
            Ok(snap) => result.link_owners(&snap),
            Err(e) => crate::say(format_args!("cannot link ports to processes: {e}")),
        }
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        write_json(&mut out, &result, args.open)?;
    } else {
        write_text(&mut out, &result)?;
    }
    out.flush()?;
    Ok(if result.totals.open > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn config(args: &ScanArgs) -> Result<ScanConfig, Failure> {
    let usage = |m: &str| Failure::Usage(m.to_string());
    if args.timeout == 0 || args.timeout > 600_000 {
        return Err(usage("--timeout: 1 to 600000 milliseconds"));
    }
    if args.banner_timeout > 600_000 {
        return Err(usage("--banner-timeout: at most 600000 milliseconds"));
    }
    if args.retries > 10 {
        return Err(usage("--retries: at most 10"));
    }
    if args.rate == Some(0) {
        return Err(usage("--rate: at least 1 attempt per second"));
    }
    if args.concurrency == Some(0) {
        return Err(usage("--concurrency: at least 1"));
    }
    let max_hosts = u64::try_from(args.max_hosts).unwrap_or(u64::MAX);
    if max_hosts == 0 || max_hosts > targets::MAX_HOSTS_CAP {
        return Err(Failure::Usage(format!(
            "--max-hosts: 1 to {}",
            targets::MAX_HOSTS_CAP
        )));
    }
    let transport = if args.udp {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    // Ports before names: a bad spec is reported without a DNS lookup.
    let ports = match &args.ports {
        Some(spec) => {
            ports::parse(spec, transport).map_err(|e| Failure::Usage(format!("--ports {e}")))?
        }
        None if args.udp => udp::DEFAULT_PORTS.to_vec(),
        None => portscope_scan::top::top(ports::DEFAULT_TOP),
    };
    let hosts = targets::resolve(&args.targets, max_hosts)
        .map_err(|e| Failure::Usage(target_message(&e)))?;
    let budget = fd_budget();
    let concurrency = args
        .concurrency
        .unwrap_or(DEFAULT_CONCURRENCY)
        .min(budget)
        .max(1);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    let timeout = Duration::from_millis(args.timeout);
    Ok(ScanConfig {
        hosts,
        ports,
        udp: args.udp,
        sweep: SweepConfig {
            timeout,
            retries: args.retries,
            rate: args.rate,
            concurrency,
            threads,
        },
        probe: (!args.no_probe).then_some(ProbeConfig {
            connect_timeout: timeout,
            banner_wait: Duration::from_millis(args.banner_timeout),
            reply_timeout: timeout.max(Duration::from_millis(500)),
        }),
        probe_concurrency: PROBE_CONCURRENCY.min(budget).max(1),
    })
}

/// This machine's listeners of `proto`, with their processes.
fn snapshot(proto: Proto) -> portscope::Result<portscope::model::Snapshot> {
    use portscope::collect::{self, Options, SourceChoice};
    use portscope::model::Query;
    let query = Query::only(proto);
    collect::take(
        &collect::Native::new(),
        &Options {
            query,
            owners: true,
            source: SourceChoice::Auto,
            ..Options::default()
        },
    )
}

/// A target error as one line, with how to raise the cap when that helps.
fn target_message(e: &TargetError) -> String {
    match (e, e.cap()) {
        (TargetError::BlockTooLarge { .. }, Some(cap)) if cap < targets::MAX_HOSTS_CAP => {
            format!("{e} (raise it with --max-hosts)")
        }
        (TargetError::BlockTooLarge { .. }, _) => format!("{e}, the most one scan covers"),
        (TargetError::TooManyHosts { .. }, _) => {
            format!("{e}; --max-hosts sets it, up to {}", targets::MAX_HOSTS_CAP)
        }
        _ => e.to_string(),
    }
}

/// The scan's progress for the bar: an atomic count the engine adds to, and
/// the total, read by a thread that redraws a few times a second.
#[derive(Default)]
struct Bar {
    total: AtomicU64,
    done: AtomicU64,
    /// Open ports found once the sweep is over (`u64::MAX` before).
    swept: AtomicU64,
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }
    fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
    fn swept(&self, open: u64) {
        self.swept.store(open, Ordering::Relaxed);
    }
}

/// Runs `work` with a progress bar on stderr when stderr is a terminal;
/// `identifies`: the sweep is followed by identification of the open ports,
/// which the bar says while it runs.
fn with_progress<T: Send>(identifies: bool, work: impl FnOnce(&dyn Progress) -> T + Send) -> T {
    if !io::stderr().is_terminal() {
        return work(&portscope_scan::NoProgress);
    }
    let progress = Bar {
        swept: AtomicU64::new(u64::MAX),
        ..Bar::default()
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} ports  {per_sec}  {eta}  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let finished = AtomicBool::new(false);
    let out = std::thread::scope(|s| {
        let (p, b, f) = (&progress, &bar, &finished);
        s.spawn(move || {
            while !f.load(Ordering::Relaxed) {
                b.set_length(p.total.load(Ordering::Relaxed));
                b.set_position(p.done.load(Ordering::Relaxed));
                let open = p.swept.load(Ordering::Relaxed);
                if identifies && open != u64::MAX && open > 0 {
                    let s = if open == 1 { "" } else { "s" };
                    b.set_message(format!("identifying {open} open port{s}"));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let out = work(&progress);
        finished.store(true, Ordering::Relaxed);
        out
    });
    bar.finish_and_clear();
    out
}

/// How many connection attempts may be in flight: the open-file soft limit
/// (raised to the hard limit when allowed) less what is already open and a
/// margin. Never more than the limit, so a scan cannot fail on EMFILE.
fn fd_budget() -> usize {
    let lim = rustix::process::getrlimit(Resource::Nofile);
    let mut soft = lim.current.unwrap_or(u64::MAX);
    if let Some(hard) = lim.maximum
        && hard > soft
        && rustix::process::setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            },
        )
        .is_ok()
    {
        soft = hard;
    }
    let open =
        portscope::collect::System::open_fds(&portscope::collect::Native::new()).unwrap_or(16);
    let free = soft.saturating_sub(open).saturating_sub(FD_MARGIN);
    usize::try_from(free).unwrap_or(usize::MAX).max(1)
}

#[derive(Serialize)]
struct OwnerJson<'a> {
    pid: u32,
    name: Option<&'a Text>,
}

#[derive(Serialize)]
struct PortJson<'a> {
    port: u16,
    proto: &'static str,
    state: &'static str,
    service: Option<&'static str>,
    protocol: Option<&'static str>,
    product: Option<&'a Text>,
    version: Option<&'a Text>,
    info: Option<&'a Text>,
    banner: Option<&'a str>,
    probe: Option<&'static str>,
    response: Option<&'a str>,
    tls: Option<&'a TlsInfo>,
    owners: Vec<OwnerJson<'a>>,
}

#[derive(Serialize, Default)]
struct Counts {
    open: usize,
    closed: usize,
    filtered: usize,
    /// UDP: silent, but held by a process of this machine.
    #[serde(skip_serializing_if = "is_zero")]
    open_filtered: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Counts {
    fn of<'a>(ports: impl Iterator<Item = &'a PortResult>) -> Counts {
        let mut c = Counts::default();
        for p in ports {
            match p.state {
                PortState::Open => c.open += 1,
                PortState::Closed => c.closed += 1,
                PortState::Filtered => c.filtered += 1,
                PortState::OpenFiltered => c.open_filtered += 1,
            }
        }
        c
    }
}

#[derive(Serialize)]
struct HostJson<'a> {
    target: &'a str,
    addr: String,
    name: Option<&'a str>,
    local: bool,
    counts: Counts,
    ports: Vec<PortJson<'a>>,
}

#[derive(Serialize)]
struct SummaryJson {
    proto: &'static str,
    hosts: u64,
    ports: usize,
    open: u64,
    closed: u64,
    filtered: u64,
    elapsed_ms: f64,
    sweep_ms: f64,
}

#[derive(Serialize)]
struct ScanJson<'a> {
    hosts: HostsJson<'a>,
    summary: SummaryJson,
}

/// The hosts array, written host by host as the results make them: the
/// document is never held whole.
struct HostsJson<'a> {
    r: &'a ScanResult,
    open_only: bool,
}

impl Serialize for HostsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(None)?;
        for h in self.r.hosts() {
            seq.serialize_element(&host_json(&h, self.r.proto, self.open_only))?;
        }
        seq.end()
    }
}

fn host_json(h: &HostResult, proto: Proto, open_only: bool) -> HostJson<'_> {
    HostJson {
        target: &h.host.target,
        addr: h.host.addr.to_string(),
        name: h.host.name.as_deref(),
        local: h.local,
        counts: Counts::of(h.ports.iter()),
        ports: h
            .ports
            .iter()
            .filter(|p| !open_only || matches!(p.state, PortState::Open | PortState::OpenFiltered))
            .map(|p| port_json(p, proto))
            .collect(),
    }
}

fn proto_name(p: Proto) -> &'static str {
    if p == Proto::Udp { "udp" } else { "tcp" }
}

fn service_name(port: u16, proto: Proto) -> Option<&'static str> {
    services::lookup(port, proto).map(|s| s.name)
}

fn port_json(p: &PortResult, proto: Proto) -> PortJson<'_> {
    let f = &p.finding;
    PortJson {
        port: p.port,
        proto: proto_name(proto),
        state: p.state.as_str(),
        service: service_name(p.port, proto),
        protocol: f.protocol,
        product: f.product.as_ref(),
        version: f.version.as_ref(),
        info: f.info.as_ref(),
        banner: f.banner.as_deref(),
        probe: f.probe,
        response: f.response.as_deref(),
        tls: f.tls.as_ref(),
        owners: p
            .owners
            .iter()
            .map(|o| OwnerJson {
                pid: o.pid,
                name: o.name.as_ref(),
            })
            .collect(),
    }
}

fn summary(r: &ScanResult) -> SummaryJson {
    let all = r.totals;
    SummaryJson {
        proto: proto_name(r.proto),
        hosts: r.host_count(),
        ports: if r.targets.is_empty() {
            0
        } else {
            r.ports.len()
        },
        open: all.open,
        closed: all.closed,
        filtered: all.filtered,
        elapsed_ms: r.elapsed.as_secs_f64() * 1000.0,
        sweep_ms: r.sweep_elapsed.as_secs_f64() * 1000.0,
    }
}

fn write_json(out: &mut dyn Write, r: &ScanResult, open_only: bool) -> io::Result<()> {
    let doc = ScanJson {
        hosts: HostsJson { r, open_only },
        summary: summary(r),
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
    writeln!(out)
}

/// How much of a certificate's name list the details column shows.
const MAX_NAMES_SHOWN: usize = 160;

/// Appends certificate names, escaped (a name's `,` too, so names can't
/// be forged), as many as fit in [`MAX_NAMES_SHOWN`] characters, then how
/// many more there are.
fn push_names(s: &mut String, names: &[Text]) {
    let mut used = 0;
    for (i, n) in names.iter().enumerate() {
        let shown = n.bounded(MAX_NAMES_SHOWN).also(b",").to_string();
        let len = shown.chars().count();
        if i > 0 && used + len > MAX_NAMES_SHOWN {
            s.push_str(&format!("…(+{} names)", names.len() - i));
            return;
        }
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&shown);
        used += len + 2;
    }
}

/// The details column: version, TLS facts, then what the service said.
fn details(p: &PortResult) -> String {
    let f = &p.finding;
    let mut parts: Vec<String> = Vec::new();
    // What the service or its certificate says is the server's choice:
    // escaped, and cut so 2000 SANs don't make a row of megabytes.
    let software = [&f.product, &f.version, &f.info]
        .into_iter()
        .flatten()
        .map(|t| t.escaped().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    if !software.is_empty() {
        parts.push(software);
    }
    if let Some(t) = &f.tls {
        let mut s = t.version.clone().unwrap_or_else(|| "TLS".into());
        if !t.names.is_empty() {
            s.push_str(" names: ");
            push_names(&mut s, &t.names);
        }
        if t.self_signed {
            s.push_str(" (self-signed)");
        }
        parts.push(s);
    }
    let said = f.banner.as_deref().or(f.response.as_deref());
    if let Some(b) = said {
        // Already made printable by the prober (`identify::printable`).
        let short: String = b.chars().take(60).collect();
        let cut = b.len() - short.len();
        if cut > 0 {
            parts.push(format!("\"{short}…(+{cut} bytes)\""));
        } else {
            parts.push(format!("\"{short}\""));
        }
    }
    parts.join("  ")
}

fn write_text(out: &mut dyn Write, r: &ScanResult) -> io::Result<()> {
    let proto = proto_name(r.proto);
    for h in r.hosts() {
        let h = &h;
        let mut title = h.host.addr.to_string();
        if let Some(n) = &h.host.name {
            title.push_str(&format!(" ({})", escape(n.as_bytes())));
        }
        if h.local {
            title.push_str("  this host");
        }
        writeln!(out, "{title}")?;
        let rows: Vec<[String; 6]> = h
            .ports
            .iter()
            .filter(|p| matches!(p.state, PortState::Open | PortState::OpenFiltered))
            .map(|p| {
                let mut owners: Vec<String> = p
                    .owners
                    .iter()
                    .take(2)
                    .map(|o| match &o.name {
                        Some(n) => format!("{}[{}]", n.escaped(), o.pid),
                        None => format!("pid {}", o.pid),
                    })
                    .collect();
                // Pre-forked servers share a listener among many processes.
                if p.owners.len() > 2 {
                    owners.push(format!("+{}", p.owners.len() - 2));
                }
                [
                    format!("{}/{proto}", p.port),
                    p.state.as_str().to_string(),
                    service_name(p.port, r.proto).unwrap_or("-").to_string(),
                    p.finding.protocol.unwrap_or("-").to_string(),
                    owners.join(","),
                    details(p),
                ]
            })
            .collect();
        if !rows.is_empty() {
            let header = ["PORT", "STATE", "SERVICE", "PROTOCOL", "PROCESS", "DETAILS"];
            let mut widths = header.map(str::len);
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row.iter()) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let line = |cells: [&str; 6]| -> String {
                let mut s = String::new();
                for (i, (cell, w)) in cells.iter().zip(widths.iter()).enumerate() {
                    if i + 1 == cells.len() {
                        s.push_str(cell);
                    } else {
                        s.push_str(&format!("{cell:<w$}  "));
                    }
                }
                s.trim_end().to_string()
            };
            writeln!(out, "{}", line(header))?;
            for row in &rows {
                writeln!(out, "{}", line(row.each_ref().map(String::as_str)))?;
            }
        }
        let c = Counts::of(h.ports.iter());
        if c.closed + c.filtered > 0 {
            let filtered_word = if r.proto == Proto::Udp {
                "no answer"
            } else {
                "filtered"
            };
            writeln!(
                out,
                "not shown: {} closed, {} {filtered_word}",
                c.closed, c.filtered
            )?;
        }
        writeln!(out)?;
    }
    let s = summary(r);
    let hosts = if s.hosts == 1 { "host" } else { "hosts" };
    writeln!(
        out,
        "{} {hosts}, {} {proto} ports: {} open, {} closed, {} filtered in {:.2} s",
        s.hosts,
        s.ports,
        s.open,
        s.closed,
        s.filtered,
        r.elapsed.as_secs_f64()
    )
}
