//! One scan from start to finish: the connect sweep, then identification of
//! the open ports. Returns the results as data; printing them is the
//! caller's job, and so is showing progress (a [`Progress`] passed in hears
//! of every settled port). Which local process holds an open port is a join
//! with a [`Snapshot`] the caller takes ([`ScanResult::link_owners`]): the
//! scanner itself walks no processes.
//!
//! Memory does not grow with hosts x ports: jobs are made by number as the
//! sweep claims them, and only ports that did not end closed are kept.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portscope::model::{Proto, Snapshot, Socket};
use tokio::sync::Semaphore;

use super::PortState;
use super::engine::{self, Jobs, SweepConfig};
use super::probe::{self, Finding, ProbeConfig};
use super::targets::{self, Host, Targets};
use super::udp;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Everything a scan needs, validated.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// The hosts (blocks stay blocks: nothing is expanded up front).
    pub hosts: Targets,
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
}

impl ScanConfig {
    /// A TCP scan of `ports` on `hosts` with everyday settings: 1 s per
    /// attempt and one retry, no rate cap, 1024 attempts in flight on two
    /// threads, open ports identified 64 at a time.
    pub fn tcp(hosts: Targets, ports: Vec<u16>) -> ScanConfig {
        let timeout = Duration::from_secs(1);
        ScanConfig {
            hosts,
            ports,
            udp: false,
            sweep: SweepConfig {
                timeout,
                retries: 1,
                rate: None,
                concurrency: 1024,
                threads: 2,
            },
            probe: Some(ProbeConfig {
                connect_timeout: timeout,
                banner_wait: Duration::from_millis(1500),
                reply_timeout: timeout,
            }),
            probe_concurrency: 64,
        }
    }
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
    /// Local processes holding the port: local targets, once
    /// [`ScanResult::link_owners`] has run.
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

/// Totals over a whole scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Ports that answered.
    pub open: u64,
    /// Ports that refused.
    pub closed: u64,
    /// Ports that stayed silent.
    pub filtered: u64,
}

/// A whole scan's results, held as what did not end closed: a sweep of a
/// large block where almost everything is closed keeps almost nothing.
/// [`ScanResult::hosts`] makes each host's full result as it is asked for.
#[derive(Clone, Debug)]
pub struct ScanResult {
    /// TCP or UDP.
    pub proto: Proto,
    /// The hosts scanned, in target order.
    pub targets: Targets,
    /// The ports scanned, in scan order.
    pub ports: Vec<u16>,
    /// Jobs (host index x port count + port index) that were open or
    /// filtered, as runs; every other job was closed.
    notable: Runs,
    findings: HashMap<u64, Finding>,
    owners: HashMap<u64, Vec<OwnerRef>>,
    /// For each host with an open port, whether it is this machine.
    locals: HashMap<u64, bool>,
    /// Counts over every port of every host.
    pub totals: Totals,
    /// Wall time of the whole scan.
    pub elapsed: Duration,
    /// Wall time of the connect sweep alone (TCP).
    pub sweep_elapsed: Duration,
}

impl ScanResult {
    /// Whether some open port is on an address of this machine, so that
    /// [`link_owners`](Self::link_owners) has something to do: take the
    /// snapshot only then.
    pub fn wants_owners(&self) -> bool {
        self.locals.values().any(|l| *l)
    }

    /// Links each open port on an address of this machine to the processes
    /// holding it in `snap` (a snapshot of this machine's listeners of the
    /// scan's protocol, with owners), as [`owners_of`] finds them.
    pub fn link_owners(&mut self, snap: &Snapshot) {
        let grid = Grid {
            hosts: &self.targets,
            ports: &self.ports,
        };
        let udp = self.proto == Proto::Udp;
        // UDP: a silent port may still be held here (open|filtered).
        let open = self
            .notable
            .iter()
            .filter(|&(_, _, s)| s == PortState::Open || (udp && s == PortState::Filtered))
            .flat_map(|(start, end, _)| start..end);
        for job in open {
            let Some((hi, port)) = grid.split(job) else {
                continue;
            };
            if self.locals.get(&hi) == Some(&true)
                && let Some(addr) = self.targets.addr(hi)
            {
                let o = owners_of(snap, addr, port, self.proto);
                if o.is_empty() {
                    self.owners.remove(&job);
                } else {
                    self.owners.insert(job, o);
                }
            }
        }
    }

    /// How many hosts were scanned.
    pub fn host_count(&self) -> u64 {
        self.targets.len()
    }

    /// Each host's results in target order, made one host at a time.
    pub fn hosts(&self) -> impl Iterator<Item = HostResult> + '_ {
        let per_host = self.ports.len() as u64;
        let mut runs = self.notable.iter().peekable();
        (0..self.targets.len()).filter_map(move |hi| {
            let host = self.targets.get(hi)?;
            let first = hi * per_host;
            let mut ports = Vec::with_capacity(self.ports.len());
            for (pi, &port) in (0u64..).zip(&self.ports) {
                let job = first + pi;
                while runs.next_if(|&(_, end, _)| end <= job).is_some() {}
                let mut state = match runs.peek() {
                    Some(&(start, _, s)) if start <= job => s,
                    _ => PortState::Closed,
                };
                if state == PortState::Filtered && self.owners.contains_key(&job) {
                    state = PortState::OpenFiltered;
                }
                ports.push(PortResult {
                    port,
                    state,
                    finding: self.findings.get(&job).cloned().unwrap_or_default(),
                    owners: self.owners.get(&job).cloned().unwrap_or_default(),
                });
            }
            Some(HostResult {
                local: targets::is_local(host.addr),
                host,
                ports,
            })
        })
    }
}

/// Job states other than closed, as runs of consecutive jobs in one state:
/// a block where every port is filtered (a firewall that drops everything)
/// is one run, not one entry per port. Jobs settle in roughly claim order,
/// so runs merge as the gaps between them fill.
#[derive(Clone, Debug, Default)]
struct Runs {
    /// start -> (end, exclusive; state).
    runs: BTreeMap<u64, (u64, PortState)>,
}

impl Runs {
    /// Records one job's state (each job once).
    fn insert(&mut self, job: u64, state: PortState) {
        let Some(next_job) = job.checked_add(1) else {
            return;
        };
        // A run in the same state ending just before it grows by one...
        let before = self
            .runs
            .range(..job)
            .next_back()
            .filter(|&(_, &(end, s))| end == job && s == state)
            .map(|(&start, _)| start);
        // ...and one starting just after it joins.
        let after = self
            .runs
            .get(&next_job)
            .filter(|&&(_, s)| s == state)
            .map(|&(end, _)| end);
        if after.is_some() {
            self.runs.remove(&next_job);
        }
        let end = after.unwrap_or(next_job);
        let start = before.unwrap_or(job);
        self.runs.insert(start, (end, state));
    }

    /// The runs in job order, as (start, end exclusive, state).
    fn iter(&self) -> impl Iterator<Item = (u64, u64, PortState)> + '_ {
        self.runs.iter().map(|(&start, &(end, s))| (start, end, s))
    }

    /// How many jobs are in this state.
    fn count(&self, state: PortState) -> u64 {
        self.iter()
            .filter(|&(_, _, s)| s == state)
            .map(|(start, end, _)| end - start)
            .sum()
    }
}

/// The jobs of a scan: every host, and for each host every port.
struct Grid<'a> {
    hosts: &'a Targets,
    ports: &'a [u16],
}

impl Grid<'_> {
    /// (host index, port) of a job.
    fn split(&self, job: u64) -> Option<(u64, u16)> {
        let per_host = self.ports.len() as u64;
        let hi = job.checked_div(per_host)?;
        let pi = usize::try_from(job % per_host).ok()?;
        Some((hi, *self.ports.get(pi)?))
    }
}

impl Jobs for Grid<'_> {
    fn len(&self) -> u64 {
        self.hosts.len().saturating_mul(self.ports.len() as u64)
    }
    fn addr(&self, job: u64) -> Option<SocketAddr> {
        let (hi, port) = self.split(job)?;
        Some(SocketAddr::new(self.hosts.addr(hi)?, port))
    }
}

/// Runs the scan, telling `progress` how far it got.
///
/// An error when the system would not let it run (no runtime, no epoll set,
/// no socket while none is in flight). Ports that refuse or stay silent are
/// results, not errors.
pub fn run(cfg: &ScanConfig, progress: &dyn Progress) -> Result<ScanResult> {
    let started = Instant::now();
    let grid = Grid {
        hosts: &cfg.hosts,
        ports: &cfg.ports,
    };
    let total = grid.len();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.sweep.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| Error::system("cannot start the async runtime", e))?;

    let mut sweep_elapsed = Duration::ZERO;
    // Whatever did not end closed, from any thread.
    let notable: Mutex<Runs> = Mutex::new(Runs::default());
    let mut findings: HashMap<u64, Finding> = HashMap::new();
    if cfg.udp {
        progress.start(total);
        findings = runtime.block_on(udp_all(&grid, cfg, progress, &notable))?;
    } else {
        let keep = |job: u64, state: PortState| {
            if state != PortState::Closed
                && let Ok(mut n) = notable.lock()
            {
                n.insert(job, state);
            }
        };
        engine::sweep(&grid, &cfg.sweep, progress, &keep)?;
        sweep_elapsed = started.elapsed();
    }
    let notable = notable.into_inner().map_err(|_| {
        Error::system(
            "scan",
            std::io::Error::other("a scan thread stopped unexpectedly"),
        )
    })?;
    let open: Vec<u64> = notable
        .iter()
        .filter(|&(_, _, s)| s == PortState::Open)
        .flat_map(|(start, end, _)| start..end)
        .collect();
    progress.swept(open.len() as u64);
    if !cfg.udp
        && let Some(pc) = cfg.probe
    {
        findings = runtime.block_on(probe_all(&grid, &open, pc, cfg.probe_concurrency));
    }
    drop(runtime);

    let proto = if cfg.udp { Proto::Udp } else { Proto::Tcp };
    // Only hosts with an open port need to know whether they are local.
    let mut locals: HashMap<u64, bool> = HashMap::new();
    for &job in &open {
        if let Some((hi, _)) = grid.split(job) {
            locals
                .entry(hi)
                .or_insert_with(|| cfg.hosts.addr(hi).is_some_and(targets::is_local));
        }
    }
    if cfg.udp {
        // A silent UDP port on this machine may be held by a process:
        // link_owners tells open|filtered from filtered.
        for (start, end, s) in notable.iter() {
            if s != PortState::Filtered {
                continue;
            }
            for job in start..end {
                if let Some((hi, _)) = grid.split(job) {
                    locals
                        .entry(hi)
                        .or_insert_with(|| cfg.hosts.addr(hi).is_some_and(targets::is_local));
                }
            }
        }
    }
    let open_count = open.len() as u64;
    let filtered = notable.count(PortState::Filtered);
    Ok(ScanResult {
        proto,
        targets: cfg.hosts.clone(),
        ports: cfg.ports.clone(),
        notable,
        findings,
        owners: HashMap::new(),
        locals,
        totals: Totals {
            open: open_count,
            closed: total.saturating_sub(open_count + filtered),
            filtered,
        },
        elapsed: started.elapsed(),
        sweep_elapsed,
    })
}

/// Identifies the open ports, `concurrency` at a time; a task is made only
/// when a slot is free.
async fn probe_all(
    grid: &Grid<'_>,
    open: &[u64],
    cfg: ProbeConfig,
    concurrency: usize,
) -> HashMap<u64, Finding> {
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let mut out = HashMap::with_capacity(open.len());
    for &job in open {
        let Some(addr) = grid.addr(job) else { continue };
        let Ok(permit) = Arc::clone(&sem).acquire_owned().await else {
            break;
        };
        while let Some(r) = set.try_join_next() {
            if let Ok((j, f)) = r {
                out.insert(j, f);
            }
        }
        let name = grid
            .split(job)
            .and_then(|(hi, _)| grid.hosts.name(hi))
            .map(str::to_string);
        set.spawn(async move {
            let _permit = permit;
            (job, probe::tcp(addr, name.as_deref(), &cfg).await)
        });
    }
    while let Some(r) = set.join_next().await {
        if let Ok((j, f)) = r {
            out.insert(j, f);
        }
    }
    out
}

/// Probes every job over UDP, `concurrency` at a time, tasks made as slots
/// free up. What did not end closed goes into `notable`; the findings of
/// open ports are returned. An error when sockets ran out.
async fn udp_all(
    grid: &Grid<'_>,
    cfg: &ScanConfig,
    progress: &dyn Progress,
    notable: &Mutex<Runs>,
) -> Result<HashMap<u64, Finding>> {
    let sem = Arc::new(Semaphore::new(cfg.sweep.concurrency.max(1)));
    let wait = cfg.sweep.timeout;
    let retries = cfg.sweep.retries;
    let mut set = tokio::task::JoinSet::new();
    let mut found = HashMap::new();
    let mut keep = |r: Result<(u64, Result<udp::UdpFinding>), tokio::task::JoinError>| {
        progress.advance(1);
        let Ok((job, u)) = r else {
            return Ok(());
        };
        let u = u?;
        if u.state != PortState::Closed
            && let Ok(mut n) = notable.lock()
        {
            n.insert(job, u.state);
        }
        if u.state == PortState::Open {
            found.insert(job, udp_finding(u));
        }
        Ok::<(), Error>(())
    };
    for job in 0..grid.len() {
        let Some(addr) = grid.addr(job) else { continue };
        let Ok(permit) = Arc::clone(&sem).acquire_owned().await else {
            break;
        };
        while let Some(r) = set.try_join_next() {
            keep(r)?;
        }
        set.spawn(async move {
            let _permit = permit;
            (job, udp::probe(addr, wait, retries).await)
        });
    }
    while let Some(r) = set.join_next().await {
        keep(r)?;
    }
    Ok(found)
}

fn udp_finding(u: udp::UdpFinding) -> Finding {
    Finding {
        protocol: u.protocol,
        product: u.product,
        version: u.version,
        info: u.info,
        response: u.response,
        probe: u.probe,
        ..Finding::default()
    }
}

/// The processes holding `port` on `addr`: sockets listening on that address
/// or on the wildcard of its family, or, for an IPv4 address, on the IPv6
/// wildcard of a socket that is not v6-only (by its own flag; the system
/// default when the source does not say). That counts only when nothing
/// closer matches.
pub fn owners_of(snap: &Snapshot, addr: IpAddr, port: u16, proto: Proto) -> Vec<OwnerRef> {
    let candidates: Vec<_> = snap
        .sockets
        .iter()
        .filter(|s| s.proto == proto && s.local.port() == Some(port) && s.is_listening())
        .collect();
    let dual_stack_default =
        portscope::collect::System::v6_dual_stack(&portscope::collect::Native::new());
    let rank = |s: &Socket| -> Option<u8> {
        let a = s.local.addr()?;
        if a == addr || (to_v4(a).is_some() && to_v4(a) == to_v4(addr)) {
            Some(0)
        } else if a.is_unspecified() && a.is_ipv4() == addr.is_ipv4() {
            Some(1)
        } else if a.is_unspecified()
            && a.is_ipv6()
            && to_v4(addr).is_some()
            && s.takes_ipv4(dual_stack_default)
        {
            Some(2)
        } else {
            None
        }
    };
    let best = candidates.iter().filter_map(|s| rank(s)).min();
    let Some(best) = best else {
        return Vec::new();
    };
    let mut pids: BTreeMap<u32, Option<portscope::Text>> = BTreeMap::new();
    for s in candidates {
        if rank(s) != Some(best) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_in_any_order_and_keep_states_apart() {
        let mut r = Runs::default();
        // Filtered 10..20 arriving out of order, an open job in the middle
        // of a second filtered stretch, and a lone filtered job.
        for j in [12, 10, 19, 11, 15, 14, 13, 18, 16, 17] {
            r.insert(j, PortState::Filtered);
        }
        for j in [30, 32, 31] {
            r.insert(
                j,
                if j == 31 {
                    PortState::Open
                } else {
                    PortState::Filtered
                },
            );
        }
        r.insert(40, PortState::Filtered);
        let got: Vec<_> = r.iter().collect();
        assert_eq!(
            got,
            vec![
                (10, 20, PortState::Filtered),
                (30, 31, PortState::Filtered),
                (31, 32, PortState::Open),
                (32, 33, PortState::Filtered),
                (40, 41, PortState::Filtered),
            ]
        );
        assert_eq!(r.count(PortState::Filtered), 13);
        assert_eq!(r.count(PortState::Open), 1);
        // A million filtered jobs in claim-like order are one run.
        let mut r = Runs::default();
        for chunk in (0..1_000_000u64).step_by(32) {
            for j in (chunk..chunk + 32).rev() {
                r.insert(j, PortState::Filtered);
            }
        }
        assert_eq!(
            r.iter().collect::<Vec<_>>(),
            vec![(0, 1_000_000, PortState::Filtered)]
        );
    }
}

#[cfg(test)]
mod owner_tests {
    use super::*;
    use portscope::model::{Endpoint, Family, Owner, TcpState};
    use std::net::Ipv6Addr;

    fn listener(addr: IpAddr, v6only: Option<bool>, pid: u32) -> Socket {
        Socket {
            family: if addr.is_ipv6() {
                Family::Inet6
            } else {
                Family::Inet
            },
            local: Endpoint::Inet { addr, port: 8080 },
            state: TcpState::Listen,
            owners: vec![Owner { pid, fd: 3 }],
            v6only,
            ..Socket::default()
        }
    }

    fn pids(snap: &Snapshot, addr: &str) -> Vec<u32> {
        let addr: IpAddr = addr.parse().expect("address");
        owners_of(snap, addr, 8080, Proto::Tcp)
            .iter()
            .map(|o| o.pid)
            .collect()
    }

    #[test]
    fn an_ipv6_wildcard_owns_ipv4_only_when_dual_stack() {
        let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let only = Snapshot {
            sockets: vec![listener(any6, Some(true), 5)],
            ..Snapshot::default()
        };
        assert!(pids(&only, "127.0.0.1").is_empty());
        assert_eq!(pids(&only, "::1"), [5]);
        let dual = Snapshot {
            sockets: vec![listener(any6, Some(false), 6)],
            ..Snapshot::default()
        };
        assert_eq!(pids(&dual, "127.0.0.1"), [6]);
        assert_eq!(pids(&dual, "::ffff:127.0.0.1"), [6]);
        // An IPv4 wildcard never answers IPv6.
        let v4 = Snapshot {
            sockets: vec![listener(IpAddr::V4([0, 0, 0, 0].into()), None, 7)],
            ..Snapshot::default()
        };
        assert!(pids(&v4, "::1").is_empty());
        assert_eq!(pids(&v4, "127.0.0.1"), [7]);
    }
}
