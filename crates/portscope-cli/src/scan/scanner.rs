//! One scan from start to finish: the connect sweep, then identification of
//! the open ports, then the link to local processes. Returns the results as
//! data; printing them is the command's job.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use portscope::collect::{self, Options, SourceChoice};
use portscope::model::{Proto, Query, Snapshot, StateSet};
use tokio::sync::Semaphore;

use super::PortState;
use super::engine::{self, Progress, SweepConfig};
use super::probe::{self, Finding, ProbeConfig};
use super::targets::{self, Host};
use super::udp;

/// Everything a scan needs, validated.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// The hosts.
    pub hosts: Vec<Host>,
    /// The ports, in scan order.
    pub ports: Vec<u16>,
    /// UDP instead of TCP.
    pub udp: bool,
    /// The TCP sweep's settings (also: timeout and retries for UDP).
    pub sweep: SweepConfig,
    /// How to identify open TCP ports; `None` skips it.
    pub probe: Option<ProbeConfig>,
    /// Open ports probed at once.
    pub probe_concurrency: usize,
    /// Draw a progress bar (stderr is a terminal).
    pub progress: bool,
}

/// A local process holding a scanned port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRef {
    /// Process id.
    pub pid: u32,
    /// Process name.
    pub name: Option<portscope::Text>,
}

/// One port's result.
#[derive(Clone, Debug)]
pub struct PortResult {
    /// The port.
    pub port: u16,
    /// Open, closed or filtered.
    pub state: PortState,
    /// What identification found (open ports only).
    pub finding: Finding,
    /// Local processes holding the port (local targets only).
    pub owners: Vec<OwnerRef>,
}

/// One host's results.
#[derive(Clone, Debug)]
pub struct HostResult {
    /// The host.
    pub host: Host,
    /// Whether the address belongs to this machine.
    pub local: bool,
    /// Every scanned port, in scan order.
    pub ports: Vec<PortResult>,
}

/// A whole scan's results.
#[derive(Clone, Debug)]
pub struct ScanResult {
    /// TCP or UDP.
    pub proto: Proto,
    /// Per host, in target order.
    pub hosts: Vec<HostResult>,
    /// Wall time of the whole scan.
    pub elapsed: Duration,
    /// Wall time of the connect sweep alone (TCP).
    pub sweep_elapsed: Duration,
    /// Why processes could not be linked, when a snapshot failed.
    pub owners_error: Option<String>,
}

/// Runs the scan.
pub fn run(cfg: &ScanConfig) -> std::io::Result<ScanResult> {
    let started = Instant::now();
    let jobs: Vec<SocketAddr> = cfg
        .hosts
        .iter()
        .flat_map(|h| cfg.ports.iter().map(move |&p| SocketAddr::new(h.addr, p)))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.sweep.threads.max(1))
        .enable_all()
        .build()?;

    let mut sweep_elapsed = Duration::ZERO;
    let mut per_job: Vec<(PortState, Finding)>;
    if cfg.udp {
        let found = with_progress(cfg.progress, jobs.len(), |progress| {
            runtime.block_on(udp_all(&jobs, cfg, progress))
        });
        per_job = found;
    } else {
        let states = with_progress(cfg.progress, jobs.len(), |progress| {
            engine::sweep(&jobs, &cfg.sweep, progress)
        });
        sweep_elapsed = started.elapsed();
        per_job = states
            .into_iter()
            .map(|s| (s, Finding::default()))
            .collect();
        if let Some(pc) = cfg.probe {
            let open: Vec<usize> = (0..jobs.len())
                .filter(|&i| per_job.get(i).is_some_and(|(s, _)| *s == PortState::Open))
                .collect();
            let names: Vec<Option<String>> = cfg.hosts.iter().map(|h| h.name.clone()).collect();
            let found = runtime.block_on(probe_all(
                &jobs,
                &open,
                &names,
                cfg.ports.len(),
                pc,
                cfg.probe_concurrency,
            ));
            for (i, f) in found {
                if let Some(slot) = per_job.get_mut(i) {
                    slot.1 = f;
                }
            }
        }
    }
    drop(runtime);

    let proto = if cfg.udp { Proto::Udp } else { Proto::Tcp };
    let locals: Vec<bool> = cfg
        .hosts
        .iter()
        .map(|h| targets::is_local(h.addr))
        .collect();
    let any_local_open = cfg.hosts.iter().enumerate().any(|(hi, _)| {
        locals.get(hi).copied().unwrap_or(false)
            && per_job
                .iter()
                .skip(hi * cfg.ports.len())
                .take(cfg.ports.len())
                .any(|(s, _)| *s == PortState::Open)
    });
    let mut owners_error = None;
    let snap = if any_local_open {
        match snapshot(proto) {
            Ok(s) => Some(s),
            Err(e) => {
                owners_error = Some(e.to_string());
                None
            }
        }
    } else {
        None
    };

    let mut results = per_job.into_iter();
    let mut hosts = Vec::with_capacity(cfg.hosts.len());
    for (hi, host) in cfg.hosts.iter().enumerate() {
        let local = locals.get(hi).copied().unwrap_or(false);
        let mut ports = Vec::with_capacity(cfg.ports.len());
        for &port in &cfg.ports {
            let Some((state, finding)) = results.next() else {
                break;
            };
            let owners = match (&snap, local, state) {
                (Some(s), true, PortState::Open) => owners_of(s, host.addr, port, proto),
                _ => Vec::new(),
            };
            ports.push(PortResult {
                port,
                state,
                finding,
                owners,
            });
        }
        hosts.push(HostResult {
            host: host.clone(),
            local,
            ports,
        });
    }
    Ok(ScanResult {
        proto,
        hosts,
        elapsed: started.elapsed(),
        sweep_elapsed,
        owners_error,
    })
}

/// Runs `work` with a progress bar on stderr when asked for.
fn with_progress<T>(show: bool, total: usize, work: impl FnOnce(&Progress) -> T + Send) -> T
where
    T: Send,
{
    let progress = Progress::default();
    if !show || !std::io::stderr().is_terminal() {
        return work(&progress);
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} ports  {per_sec}  {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let done = std::sync::atomic::AtomicBool::new(false);
    let out = std::thread::scope(|s| {
        let (p, b, d) = (&progress, &bar, &done);
        s.spawn(move || {
            while !d.load(Ordering::Relaxed) {
                b.set_position(p.done.load(Ordering::Relaxed) as u64);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let out = work(&progress);
        done.store(true, Ordering::Relaxed);
        out
    });
    bar.finish_and_clear();
    out
}

async fn probe_all(
    jobs: &[SocketAddr],
    open: &[usize],
    names: &[Option<String>],
    ports_per_host: usize,
    cfg: ProbeConfig,
    concurrency: usize,
) -> Vec<(usize, Finding)> {
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for &i in open {
        let Some(&addr) = jobs.get(i) else { continue };
        let name = names
            .get(i.checked_div(ports_per_host).unwrap_or(0))
            .cloned()
            .flatten();
        let sem = Arc::clone(&sem);
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (i, probe::tcp(addr, name.as_deref(), &cfg).await)
        });
    }
    let mut out = Vec::with_capacity(open.len());
    while let Some(r) = set.join_next().await {
        if let Ok(x) = r {
            out.push(x);
        }
    }
    out
}

async fn udp_all(
    jobs: &[SocketAddr],
    cfg: &ScanConfig,
    progress: &Progress,
) -> Vec<(PortState, Finding)> {
    let sem = Arc::new(Semaphore::new(cfg.sweep.concurrency.max(1)));
    let wait = cfg.sweep.timeout;
    let retries = cfg.sweep.retries;
    let mut set = tokio::task::JoinSet::new();
    for (i, &addr) in jobs.iter().enumerate() {
        let sem = Arc::clone(&sem);
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (i, udp::probe(addr, wait, retries).await)
        });
    }
    let mut out: Vec<(PortState, Finding)> = jobs
        .iter()
        .map(|_| (PortState::Filtered, Finding::default()))
        .collect();
    while let Some(r) = set.join_next().await {
        progress.done.fetch_add(1, Ordering::Relaxed);
        if let Ok((i, u)) = r
            && let Some(slot) = out.get_mut(i)
        {
            *slot = (
                u.state,
                Finding {
                    protocol: u.protocol,
                    version: u.version,
                    response: u.response,
                    probe: u.protocol.map(|p| match p {
                        "dns" => "dns-query",
                        "ntp" => "ntp-client",
                        "snmp" => "snmp-get",
                        "ssdp" => "ssdp-search",
                        _ => "memcached-version",
                    }),
                    ..Finding::default()
                },
            );
        }
    }
    out
}

fn snapshot(proto: Proto) -> portscope::Result<Snapshot> {
    let query = Query {
        tcp: proto == Proto::Tcp,
        udp: proto == Proto::Udp,
        raw: false,
        unix: false,
        ipv4: true,
        ipv6: true,
        states: StateSet::ALL,
    };
    collect::take(&Options {
        query,
        owners: true,
        source: SourceChoice::Auto,
        ..Options::default()
    })
}

/// The processes holding `port` on `addr`: sockets listening on that address
/// or on the wildcard of its family (an IPv6 wildcard also takes IPv4 unless
/// the socket is v6-only, which the snapshot does not tell; it counts only
/// when nothing closer matches).
pub fn owners_of(snap: &Snapshot, addr: IpAddr, port: u16, proto: Proto) -> Vec<OwnerRef> {
    let candidates: Vec<_> = snap
        .sockets
        .iter()
        .filter(|s| s.proto == proto && s.local.port() == Some(port) && s.is_listening())
        .collect();
    let rank = |a: IpAddr| -> Option<u8> {
        if a == addr || (to_v4(a).is_some() && to_v4(a) == to_v4(addr)) {
            Some(0)
        } else if a.is_unspecified() && a.is_ipv4() == addr.is_ipv4() {
            Some(1)
        } else if a.is_unspecified() {
            Some(2)
        } else {
            None
        }
    };
    let best = candidates
        .iter()
        .filter_map(|s| s.local.addr().and_then(rank))
        .min();
    let Some(best) = best else {
        return Vec::new();
    };
    let mut pids: BTreeMap<u32, Option<portscope::Text>> = BTreeMap::new();
    for s in candidates {
        if s.local.addr().and_then(rank) != Some(best) {
            continue;
        }
        for o in &s.owners {
            let name = snap.processes.get(&o.pid).map(|p| p.name.clone());
            pids.entry(o.pid).or_insert(name);
        }
    }
    pids.into_iter()
        .map(|(pid, name)| OwnerRef { pid, name })
        .collect()
}

/// An IPv4 address, also when written v4-mapped (`::ffff:127.0.0.1`).
fn to_v4(a: IpAddr) -> Option<std::net::Ipv4Addr> {
    match a {
        IpAddr::V4(v) => Some(v),
        IpAddr::V6(v) => v.to_ipv4_mapped(),
    }
}
