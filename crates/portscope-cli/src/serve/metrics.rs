//! `/metrics`: the exposition of one refresh, rendered once per refresh
//! (a scrape only copies the bytes) in OpenMetrics by `prometheus-client`
//! and turned into the Prometheus text format 0.0.4 for clients that ask
//! for it ([`to_prometheus_text`]; the crate writes only OpenMetrics).
//!
//! Cardinality is bounded by listeners and processes, never by
//! connections: a connection only ever adds to a count whose labels are a
//! listener's, a state, or a process's.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;

use portscope::audit::{RULES, Report};
use portscope::model::{Proto, Snapshot, Socket, TcpState};
use portscope::services;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::events::Change;
use super::labels;

/// Label sets: (name, value already escaped for the exposition format).
type Labels = Vec<(&'static str, String)>;

/// Most process label sets the closed-connection counters keep; closes of
/// processes beyond them count under process="other".
const MAX_CLOSED_KEYS: usize = 1000;

/// A listener's identity in the metrics: what `first_seen` is keyed by.
pub type ListenerKey = Labels;

/// Counters that only grow while the server runs.
#[derive(Default)]
pub struct Totals {
    /// Closed connections, bytes sent and received, by (process, container, unit).
    closed: HashMap<(String, String, String), [u64; 3]>,
    /// Refreshes that failed.
    pub refresh_errors: u64,
    /// Socket-destroy notifications the OS dropped.
    pub events_lost: u64,
    /// When each listener now open was first seen (Unix seconds).
    first_seen: HashMap<ListenerKey, f64>,
}

impl Totals {
    /// Counts the TCP connections closed among `changes`, with the bytes
    /// their final counters say they moved, under the process the engine
    /// last saw holding them (`-` for one never seen with an owner).
    pub fn add(&mut self, changes: &[Change]) {
        for c in changes.iter().filter(|c| c.is_connection_closed()) {
            let p = c.event.processes.first();
            let mut key = (process_label(p), labels::container(p), labels::unit(p));
            if !self.closed.contains_key(&key) && self.closed.len() >= MAX_CLOSED_KEYS {
                key = ("other".into(), String::new(), String::new());
            }
            let e = self.closed.entry(key).or_default();
            e[0] += 1;
            e[1] += c.event.bytes_sent.unwrap_or(0);
            e[2] += c.event.bytes_received.unwrap_or(0);
        }
    }

    /// Notes the listeners of `snap` seen at `now` (Unix seconds) and
    /// forgets those gone.
    pub fn see_listeners(&mut self, snap: &Snapshot, now: f64) {
        let mut current = HashSet::new();
        for s in snap.sockets.iter().filter(|s| is_listener(s)) {
            let key = listener_key(s, snap);
            self.first_seen.entry(key.clone()).or_insert(now);
            current.insert(key);
        }
        self.first_seen.retain(|k, _| current.contains(k));
    }
}

/// A TCP or UDP socket waiting for peers (UDP: unconnected).
pub fn is_listener(s: &Socket) -> bool {
    matches!(s.proto, Proto::Tcp | Proto::Udp) && s.is_listening() && s.local.port().is_some()
}

fn esc(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    labels::exposition(v, &mut out);
    out
}

fn process_label(p: Option<&portscope::model::Process>) -> String {
    match p {
        Some(p) => labels::text(Some(&p.name)),
        None => "-".into(),
    }
}

fn listener_key(s: &Socket, snap: &Snapshot) -> ListenerKey {
    let p = labels::first_process(s, snap);
    vec![
        ("proto", s.proto.as_str().into()),
        ("family", s.family.as_str().into()),
        (
            "addr",
            s.local.addr().map(|a| a.to_string()).unwrap_or_default(),
        ),
        ("port", s.local.port().unwrap_or(0).to_string()),
        ("netns", esc(&labels::netns(s))),
        ("process", esc(&process_label(p))),
    ]
}

/// What one rendering needs besides the snapshot.
pub struct Inputs<'a> {
    /// The latest snapshot.
    pub snap: &'a Snapshot,
    /// The counters so far.
    pub totals: &'a Totals,
    /// The audit of the latest snapshot.
    pub audit: &'a Report,
    /// How many processes get their own `portscope_process_sockets`.
    pub top: usize,
    /// How long the latest refresh took.
    pub refresh_seconds: f64,
    /// When it was taken, Unix seconds.
    pub refreshed_at: f64,
}

/// The OpenMetrics exposition of one refresh.
pub fn render(inp: &Inputs<'_>) -> String {
    let snap = inp.snap;
    let mut reg = Registry::default();

    let info = Family::<Labels, Gauge>::default();
    let queue = Family::<Labels, Gauge>::default();
    let queue_max = Family::<Labels, Gauge>::default();
    let first_seen = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    // (proto, port) of listening TCP sockets → the listener's process label.
    let mut tcp_ports: HashMap<u16, String> = HashMap::new();
    for s in snap.sockets.iter().filter(|s| is_listener(s)) {
        let key = listener_key(s, snap);
        let p = labels::first_process(s, snap);
        let port = s.local.port().unwrap_or(0);
        let mut full = key.clone();
        full.push((
            "service",
            services::lookup(port, s.proto)
                .map(|x| esc(x.name))
                .unwrap_or_default(),
        ));
        full.push(("container", esc(&labels::container(p))));
        full.push(("unit", esc(&labels::unit(p))));
        full.push(("exe", esc(&labels::text(p.and_then(|p| p.exe.as_ref())))));
        full.push(("exposure", labels::exposure(s).into()));
        info.get_or_create(&full).set(1);
        if s.proto == Proto::Tcp {
            // For a LISTEN socket inet_diag reports the accept queue's
            // length as rqueue and its limit (the backlog) as wqueue.
            queue.get_or_create(&key).inc_by(i64::from(s.recv_q));
            queue_max.get_or_create(&key).inc_by(i64::from(s.send_q));
            tcp_ports
                .entry(port)
                .or_insert_with(|| esc(&process_label(p)));
        }
        if let Some(t) = inp.totals.first_seen.get(&key) {
            first_seen.get_or_create(&key).set(*t);
        }
    }

    let conns = Family::<Labels, Gauge>::default();
    let sockets = Family::<Labels, Gauge>::default();
    let counts = Counts::of(snap, &tcp_ports);
    for (_, label, table) in &counts.by_state {
        for (p, row) in table.iter().enumerate() {
            for (st, &n) in row.iter().enumerate() {
                let (Some(&proto), Some(state)) = (
                    Proto::ALL.get(p),
                    u8::try_from(st).ok().and_then(TcpState::from_kernel),
                ) else {
                    continue;
                };
                if n == 0 {
                    continue;
                }
                sockets
                    .get_or_create(&vec![
                        ("proto", proto.as_str().into()),
                        ("state", state.name_for(proto).into()),
                        ("netns", label.clone()),
                    ])
                    .inc_by(n);
            }
        }
    }
    for (&(port, state), &n) in &counts.on_port {
        let process = tcp_ports.get(&port).cloned().unwrap_or_default();
        conns
            .get_or_create(&vec![
                ("proto", "tcp".into()),
                ("port", port.to_string()),
                ("process", process),
                ("state", state.name_for(Proto::Tcp).into()),
            ])
            .inc_by(n);
    }
    let by_pid = counts.by_pid;
    let mut per_process: HashMap<(String, String, String), i64> = HashMap::new();
    for (pid, n) in by_pid {
        let p = pid.and_then(|pid| snap.processes.get(&pid));
        *per_process
            .entry((process_label(p), labels::container(p), labels::unit(p)))
            .or_default() += n;
    }
    let process_sockets = Family::<Labels, Gauge>::default();
    let mut ranked: Vec<_> = per_process.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut other = 0i64;
    for (i, ((process, container, unit), n)) in ranked.into_iter().enumerate() {
        if i < inp.top && process != "-" {
            process_sockets
                .get_or_create(&vec![
                    ("process", esc(&process)),
                    ("container", esc(&container)),
                    ("unit", esc(&unit)),
                ])
                .set(n);
        } else if process == "-" {
            // Sockets of no known process: always their own series.
            process_sockets
                .get_or_create(&vec![
                    ("process", "-".into()),
                    ("container", String::new()),
                    ("unit", String::new()),
                ])
                .inc_by(n);
        } else {
            other += n;
        }
    }
    // The rest and the sockets of no known process always have a series,
    // so that which processes hold sockets never adds or drops one.
    for (name, n) in [("other", other), ("-", 0)] {
        process_sockets
            .get_or_create(&vec![
                ("process", name.into()),
                ("container", String::new()),
                ("unit", String::new()),
            ])
            .inc_by(n);
    }

    let closed = Family::<Labels, Counter>::default();
    let sent = Family::<Labels, Counter>::default();
    let received = Family::<Labels, Counter>::default();
    // Closes by no known process always have a series, so the first one
    // adds none.
    for f in [&closed, &sent, &received] {
        let _ = f.get_or_create(&vec![
            ("process", "-".into()),
            ("container", String::new()),
            ("unit", String::new()),
        ]);
    }
    for ((process, container, unit), [n, tx, rx]) in &inp.totals.closed {
        let l = vec![
            ("process", esc(process)),
            ("container", esc(container)),
            ("unit", esc(unit)),
        ];
        closed.get_or_create(&l).inc_by(*n);
        sent.get_or_create(&l).inc_by(*tx);
        received.get_or_create(&l).inc_by(*rx);
    }

    let findings = Family::<Labels, Gauge>::default();
    for r in RULES {
        let _ = findings.get_or_create(&vec![
            ("rule", r.id.into()),
            ("severity", r.severity.as_str().into()),
        ]);
    }
    for f in &inp.audit.findings {
        findings
            .get_or_create(&vec![
                ("rule", f.rule.id.into()),
                ("severity", f.severity().as_str().into()),
            ])
            .inc();
    }

    let duration = Gauge::<f64, AtomicU64>::default();
    duration.set(inp.refresh_seconds);
    let refreshed = Gauge::<f64, AtomicU64>::default();
    refreshed.set(inp.refreshed_at);
    let errors = Counter::<u64>::default();
    errors.inc_by(inp.totals.refresh_errors);
    let lost = Counter::<u64>::default();
    lost.inc_by(inp.totals.events_lost);

    reg.register(
        "portscope_listener_info",
        "A listening TCP socket or unconnected UDP socket, with who holds it and how exposed it is",
        info,
    );
    reg.register(
        "portscope_listener_accept_queue",
        "Connections waiting in a TCP listener's accept queue",
        queue,
    );
    reg.register(
        "portscope_listener_accept_queue_max",
        "The limit of a TCP listener's accept queue (its backlog)",
        queue_max,
    );
    reg.register(
        "portscope_listener_first_seen_timestamp_seconds",
        "When this server first saw the listener, Unix time",
        first_seen,
    );
    reg.register(
        "portscope_listener_connections",
        "TCP connections on a listener's port, by state",
        conns,
    );
    reg.register(
        "portscope_sockets",
        "Sockets by protocol and state",
        sockets,
    );
    reg.register(
        "portscope_process_sockets",
        "Sockets held per process, the top processes and the rest as process=\"other\"",
        process_sockets,
    );
    reg.register(
        "portscope_connections_closed",
        "TCP connections seen closing",
        closed,
    );
    reg.register(
        "portscope_connections_closed_bytes_sent",
        "Bytes sent by TCP connections seen closing, from their final counters",
        sent,
    );
    reg.register(
        "portscope_connections_closed_bytes_received",
        "Bytes received by TCP connections seen closing, from their final counters (a FIN counts as one)",
        received,
    );
    reg.register(
        "portscope_audit_findings",
        "Findings of the exposure audit, by rule",
        findings,
    );
    reg.register(
        "portscope_scrape_duration_seconds",
        "How long the latest refresh of the sockets took",
        duration,
    );
    reg.register(
        "portscope_last_refresh_timestamp_seconds",
        "When the latest refresh was taken, Unix time",
        refreshed,
    );
    reg.register("portscope_refresh_errors", "Refreshes that failed", errors);
    reg.register(
        "portscope_events_lost",
        "Socket-destroy notifications the OS dropped in bursts (those closes are counted without their bytes)",
        lost,
    );
    let mut out = String::new();
    // Writing to a String cannot fail, and every label value was escaped.
    let _ = encode(&mut out, &reg);
    out
}

/// Sockets counted in one pass over a snapshot, by numbers: labels are
/// made once per key afterwards (at 100k sockets, strings or string hashes
/// per socket would be most of a refresh).
struct Counts {
    /// Per namespace (its key, its label): sockets by protocol and state
    /// (indexed as `Proto::ALL` and by the kernel's state number).
    by_state: Vec<(u64, String, [[i64; 13]; 7])>,
    /// TCP connections on a listener's port, by port and state.
    on_port: HashMap<(u16, TcpState), i64>,
    /// Sockets by the first owner the snapshot knows (`None`: none).
    by_pid: HashMap<Option<u32>, i64>,
}

impl Counts {
    fn of(snap: &Snapshot, tcp_ports: &HashMap<u16, String>) -> Counts {
        // Listener ports as a bitmap: one test per connection, no hashing.
        let mut listening = vec![0u64; 1024];
        for &port in tcp_ports.keys() {
            if let Some(w) = listening.get_mut(usize::from(port / 64)) {
                *w |= 1 << (port % 64);
            }
        }
        let on_listener = |port: u16| {
            listening
                .get(usize::from(port / 64))
                .is_some_and(|w| w & (1 << (port % 64)) != 0)
        };
        let mut by_state: Vec<(u64, String, [[i64; 13]; 7])> = Vec::new();
        let mut on_port = Tally::default();
        let mut by_pid = Tally::default();
        // First owners the snapshot knows (the socket's process), the
        // first few met: most sockets are of few processes.
        let mut known_pids: Vec<u32> = Vec::with_capacity(RECENT);
        // Sockets come grouped by namespace: the last one is tried first.
        let mut ns_at = usize::MAX;
        for s in &snap.sockets {
            let netns = labels::netns_key(s);
            if by_state.get(ns_at).is_none_or(|(k, _, _)| *k != netns) {
                ns_at = match by_state.iter().position(|(k, _, _)| *k == netns) {
                    Some(i) => i,
                    None => {
                        by_state.push((netns, esc(&labels::netns(s)), [[0; 13]; 7]));
                        by_state.len() - 1
                    }
                };
            }
            let p = s.proto as usize;
            let st = usize::from(s.state.kernel());
            if let Some(n) = by_state
                .get_mut(ns_at)
                .and_then(|(_, _, t)| t.get_mut(p))
                .and_then(|row| row.get_mut(st))
            {
                *n += 1;
            }
            if s.proto == Proto::Tcp
                && s.state != TcpState::Listen
                && let Some(port) = s.local.port()
                && on_listener(port)
            {
                on_port.add((port, s.state));
            }
            let first = s.owners.first().map(|o| o.pid);
            let pid = match first {
                Some(f) if known_pids.contains(&f) => first,
                _ => {
                    let known = s
                        .owners
                        .iter()
                        .map(|o| o.pid)
                        .find(|p| snap.processes.contains_key(p));
                    if let Some(k) = known
                        && known == first
                        && known_pids.len() < RECENT
                    {
                        known_pids.push(k);
                    }
                    known
                }
            };
            by_pid.add(pid);
        }
        Counts {
            by_state,
            on_port: on_port.into_map(),
            by_pid: by_pid.into_map(),
        }
    }
}

/// How many keys a [`Tally`] counts in a list before a map.
const RECENT: usize = 8;

/// Counts by key: the first few keys in a short list searched in order
/// (no hashing; most sockets are of few processes and ports), the rest
/// in a map.
struct Tally<K> {
    recent: Vec<(K, i64)>,
    rest: HashMap<K, i64>,
}

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Tally {
            recent: Vec::with_capacity(RECENT),
            rest: HashMap::new(),
        }
    }
}

impl<K: Eq + std::hash::Hash + Copy> Tally<K> {
    fn add(&mut self, k: K) {
        if let Some((_, n)) = self.recent.iter_mut().find(|(x, _)| *x == k) {
            *n += 1;
        } else if self.recent.len() < RECENT {
            self.recent.push((k, 1));
        } else {
            *self.rest.entry(k).or_default() += 1;
        }
    }

    fn into_map(self) -> HashMap<K, i64> {
        let mut m = self.rest;
        for (k, n) in self.recent {
            *m.entry(k).or_default() += n;
        }
        m
    }
}

/// The Prometheus text format 0.0.4 of an OpenMetrics exposition as
/// `render` writes it: counters are announced under their `_total` name,
/// and there is no `# EOF` or `# UNIT`.
pub fn to_prometheus_text(om: &str) -> String {
    let mut counters: HashSet<&str> = HashSet::new();
    for line in om.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some(name) = rest.strip_suffix(" counter")
        {
            counters.insert(name);
        }
    }
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# TYPE ", "# HELP "]
            .into_iter()
            .find(|p| line.starts_with(p));
        match meta {
            Some(prefix) => {
                let rest = &line[prefix.len()..];
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                if counters.contains(name) {
                    out.push_str(&format!("{prefix}{name}_total {tail}"));
                } else {
                    out.push_str(line);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use portscope::audit::Report;
    use portscope::model::{Endpoint, Owner, Process};

    fn listener(port: u16, pid: u32) -> Socket {
        Socket {
            local: Endpoint::v4([127, 0, 0, 1].into(), port),
            state: TcpState::Listen,
            recv_q: 3,
            send_q: 128,
            cookie: u64::from(port),
            owners: vec![Owner { pid, fd: 3 }],
            ..Socket::default()
        }
    }

    fn conn(port: u16, peer: u16, pid: u32) -> Socket {
        Socket {
            local: Endpoint::v4([127, 0, 0, 1].into(), port),
            remote: Endpoint::v4([127, 0, 0, 1].into(), peer),
            state: TcpState::Established,
            cookie: 100_000 + u64::from(peer),
            owners: vec![Owner { pid, fd: 4 }],
            ..Socket::default()
        }
    }

    fn rendered(snap: &Snapshot) -> String {
        let mut totals = Totals::default();
        totals.see_listeners(snap, 1.0e9);
        render(&Inputs {
            snap,
            totals: &totals,
            audit: &Report::default(),
            top: 5,
            refresh_seconds: 0.01,
            refreshed_at: 1.0e9,
        })
    }

    fn series(text: &str) -> Vec<&str> {
        let mut v: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.rsplit_once(' ').map_or(l, |(k, _)| k))
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn connections_add_no_series_beyond_states() {
        let mut snap = Snapshot::default();
        snap.processes.insert(
            7,
            Process {
                pid: 7,
                name: "web\x1b".into(),
                ..Process::default()
            },
        );
        snap.sockets.push(listener(8080, 7));
        snap.sockets.push(conn(8080, 40000, 7));
        let few = rendered(&snap);
        for peer in 40001..45000 {
            snap.sockets.push(conn(8080, peer, 7));
        }
        let many = rendered(&snap);
        assert_eq!(series(&few), series(&many));
        assert!(many.contains(
            "portscope_listener_connections{proto=\"tcp\",port=\"8080\",process=\"web\\\\x1b\",state=\"ESTABLISHED\"} 5000"
        ), "{many}");
        assert!(many.contains("portscope_listener_accept_queue_max{"));
        assert!(many.ends_with("# EOF\n"));
    }

    #[test]
    fn one_pass_counts_every_process_and_port() {
        let mut snap = Snapshot::default();
        for pid in 1..=20u32 {
            snap.processes.insert(
                pid,
                Process {
                    pid,
                    ..Process::default()
                },
            );
            snap.sockets.push(listener(8000 + pid as u16, pid));
        }
        // Interleaved owners and ports, more of each than the short lists hold.
        for i in 0..2000u32 {
            let pid = i % 20 + 1;
            snap.sockets
                .push(conn(8000 + pid as u16, 20000 + i as u16, pid));
        }
        snap.sockets.push(Socket {
            owners: vec![Owner { pid: 99, fd: 3 }],
            ..conn(1, 2, 99)
        });
        let ports: HashMap<u16, String> = (1..=20).map(|p| (8000 + p, String::new())).collect();
        let c = Counts::of(&snap, &ports);
        for pid in 1..=20u32 {
            assert_eq!(c.by_pid.get(&Some(pid)), Some(&101), "pid {pid}");
            assert_eq!(
                c.on_port.get(&(8000 + pid as u16, TcpState::Established)),
                Some(&100)
            );
        }
        assert_eq!(c.by_pid.get(&None), Some(&1));
        assert_eq!(c.by_state.len(), 1);
        assert_eq!(
            c.by_state[0].2[0][usize::from(TcpState::Established.kernel())],
            2001
        );
    }

    #[test]
    fn text_format_names_counters_with_total() {
        let om = "# HELP a_b X.\n# TYPE a_b counter\na_b_total 3\n# TYPE g gauge\ng 1\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP a_b_total X.\n# TYPE a_b_total counter\na_b_total 3\n# TYPE g gauge\ng 1\n"
        );
    }
}
