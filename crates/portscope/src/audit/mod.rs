//! What this machine exposes, judged from the inside: findings about its
//! listening sockets (who can reach them, what service answers, what runs
//! behind them), each from one rule of the [`RULES`] table.
//!
//! Pure: everything is computed from a [`Snapshot`] and the [`HostFacts`]
//! gathered with it, so saved snapshots audit the same as live ones. Not
//! here: gathering (`collect`), scanning from outside, or printing.
//!
//! ```
//! use portscope::audit::{self, Severity};
//! use portscope::collect::host::HostFacts;
//! use portscope::model::*;
//!
//! let mut snap = Snapshot::default();
//! snap.sockets.push(Socket {
//!     proto: Proto::Tcp, family: Family::Inet,
//!     local: Endpoint::v4([0, 0, 0, 0].into(), 6379),
//!     remote: Endpoint::v4([0, 0, 0, 0].into(), 0),
//!     state: TcpState::Listen, send_q: 128, inode: 9,
//!     ..Socket::default()
//! });
//! let report = audit::audit(&snap, &HostFacts::default(), &[]);
//! let redis = report.findings.iter().find(|f| f.rule.id == "internal-service-exposed").unwrap();
//! assert_eq!(redis.rule.severity, Severity::High);
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::net::IpAddr;

use crate::collect::host::{HostAddr, HostFacts};
use crate::model::{Proto, Snapshot};

mod reach;
mod rules;
#[cfg(test)]
mod tests;

pub use reach::Reach;
pub use rules::{RULES, Rule};

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing; nothing to fix as such.
    Info,
    /// A hardening opportunity.
    Low,
    /// Exposure that should be deliberate, and usually is not.
    Medium,
    /// Likely a problem now: fix or explain it.
    High,
}

impl Severity {
    /// All levels, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
    ];

    /// `info`, `low`, `medium` or `high`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// Parses a level name, in any case.
    ///
    /// ```
    /// use portscope::audit::Severity;
    /// assert_eq!(Severity::from_name("HIGH"), Some(Severity::High));
    /// assert_eq!(Severity::from_name("severe"), None);
    /// ```
    pub fn from_name(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::str::FromStr for Severity {
    type Err = crate::model::UnknownName;
    /// As [`Severity::from_name`]: any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::from_name(s).ok_or(crate::model::UnknownName { what: "severity" })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a rule found about one listening socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule that found it (its id, severity and advice).
    pub rule: &'static Rule,
    /// The socket's protocol (TCP or UDP).
    pub proto: Proto,
    /// The local address the socket is bound to.
    pub addr: IpAddr,
    /// The local port.
    pub port: u16,
    /// The socket's inode, to find it in a listing; not part of the identity.
    pub inode: u64,
    /// The registry's name for the port, if any.
    pub service: Option<&'static str>,
    /// Who can reach the socket.
    pub reach: Reach,
    /// This host's non-loopback addresses the socket accepts traffic on.
    pub reachable_on: Vec<HostAddr>,
    /// The processes concerned (a subset of the owners when the rule is
    /// about a process), sorted.
    pub pids: Vec<u32>,
    /// Their names, sorted, distinct, joined by `,`; `-` when none. Part of
    /// the identity, unlike pids, which change on every restart.
    pub process: String,
    /// What was found, in one sentence naming the socket and processes.
    pub message: String,
    /// The network namespace the socket lives in, where known.
    pub netns: Option<std::sync::Arc<crate::model::Netns>>,
}

impl Finding {
    /// The finding's identity across runs: rule, protocol, local address and
    /// port, and process names (never pids or inodes, which change).
    pub fn key(&self) -> FindingKey {
        FindingKey {
            rule: self.rule.id.to_string(),
            proto: self.proto,
            addr: self.addr,
            port: self.port,
            process: self.process.clone(),
            netns: netns_label(self.netns.as_deref()),
        }
    }

    /// The severity, which is the rule's.
    pub fn severity(&self) -> Severity {
        self.rule.severity
    }
}

/// A finding's identity; two runs that find the same key found the same thing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FindingKey {
    /// Rule id.
    pub rule: String,
    /// Protocol.
    pub proto: Proto,
    /// Local address.
    pub addr: IpAddr,
    /// Local port.
    pub port: u16,
    /// Process names as [`Finding::process`] has them.
    pub process: String,
    /// The namespace, as it stays the same across runs: empty for the
    /// host's (or unknown), else its name (escaped), else its inode.
    pub netns: String,
}

/// A namespace's part of a finding's identity (see [`FindingKey::netns`]).
///
/// ```
/// use portscope::audit::netns_label;
/// use portscope::model::Netns;
/// assert_eq!(netns_label(Some(&Netns::host(1))), "");
/// let n = Netns { inode: 7, name: None, host: false, container: None };
/// assert_eq!(netns_label(Some(&n)), "7");
/// ```
pub fn netns_label(n: Option<&crate::model::Netns>) -> String {
    match n {
        None => String::new(),
        Some(n) if n.host => String::new(),
        Some(n) => match &n.name {
            Some(name) => name.escaped().to_string(),
            None => n.inode.to_string(),
        },
    }
}

impl fmt::Display for FindingKey {
    /// `rule proto addr:port process`, IPv6 addresses in brackets, and
    /// ` netns NAME` for a namespace other than the host's.
    ///
    /// ```
    /// use portscope::audit::FindingKey;
    /// use portscope::model::Proto;
    /// let mut k = FindingKey { rule: "wildcard-bind".into(), proto: Proto::Tcp,
    ///     addr: "::".parse().unwrap(), port: 22, process: "sshd".into(),
    ///     netns: String::new() };
    /// assert_eq!(k.to_string(), "wildcard-bind tcp [::]:22 sshd");
    /// k.netns = "web".into();
    /// assert_eq!(k.to_string(), "wildcard-bind tcp [::]:22 sshd netns web");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sa = std::net::SocketAddr::new(self.addr, self.port);
        write!(f, "{} {} {sa} {}", self.rule, self.proto, self.process)?;
        if !self.netns.is_empty() {
            write!(f, " netns {}", self.netns)?;
        }
        Ok(())
    }
}

/// How the listeners split by reach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// TCP and UDP listening sockets examined.
    pub listeners: usize,
    /// Of those, reachable from this host only.
    pub loopback: usize,
    /// Bound to all interfaces.
    pub all_interfaces: usize,
    /// Bound to one non-loopback address.
    pub address: usize,
}

/// The result of an audit.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Findings, most severe first, then in rule-table order, then by socket.
    pub findings: Vec<Finding>,
    /// The listeners by reach.
    pub summary: Summary,
}

impl Report {
    /// How many findings there are at each level, lowest level first.
    pub fn counts(&self) -> [usize; 4] {
        let mut c = [0; 4];
        for f in &self.findings {
            c[f.severity() as usize] += 1;
        }
        c
    }
}

/// The rule with this id.
///
/// ```
/// assert!(portscope::audit::rule("deleted-exe").is_some());
/// assert!(portscope::audit::rule("no-such-rule").is_none());
/// ```
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Runs every rule not in `skip` over the snapshot's TCP and UDP listeners.
///
/// Unknown ids in `skip` are ignored; callers that take them from a user
/// check them with [`rule`] first.
pub fn audit(snap: &Snapshot, facts: &HostFacts, skip: &[&str]) -> Report {
    let listeners = reach::listeners(snap, facts);
    let mut summary = Summary {
        listeners: listeners.len(),
        ..Summary::default()
    };
    for l in &listeners {
        match l.reach {
            Reach::Loopback => summary.loopback += 1,
            Reach::AllInterfaces => summary.all_interfaces += 1,
            Reach::Address => summary.address += 1,
        }
    }
    let captures = reach::captures(snap, facts);
    let mut findings = Vec::new();
    for rule in RULES.iter().filter(|r| !skip.contains(&r.id)) {
        let judged = if rules::PACKET_RULES.contains(&rule.id) {
            &captures
        } else {
            &listeners
        };
        for l in judged {
            if let Some(hit) = (rule.check)(l, facts) {
                findings.push(reach::finding(rule, l, hit));
            }
        }
    }
    findings.sort_by(order);
    // A process's packet sockets share an identity (they have no address
    // or port), as do its raw sockets of one protocol on one address: one
    // finding per identity, saying what each socket does.
    findings.dedup_by(|later, first| {
        let same = matches!(later.proto, Proto::Packet | Proto::Raw) && later.key() == first.key();
        if same {
            first.message.push_str("; ");
            first.message.push_str(&later.message);
        }
        same
    });
    Report { findings, summary }
}

fn order(a: &Finding, b: &Finding) -> Ordering {
    let pos = |f: &Finding| RULES.iter().position(|r| r.id == f.rule.id);
    b.severity()
        .cmp(&a.severity())
        .then_with(|| pos(a).cmp(&pos(b)))
        .then_with(|| (a.port, a.addr, a.proto).cmp(&(b.port, b.addr, b.proto)))
        .then_with(|| a.process.cmp(&b.process))
        // The same listener in two namespaces is two findings, side by side.
        .then_with(|| {
            let ns = |f: &Finding| f.netns.as_ref().map(|n| (!n.host, n.inode));
            ns(a).cmp(&ns(b))
        })
}

/// What changed since a baseline: the current findings whose key the
/// baseline lacks, and the positions in `baseline` of keys no current
/// finding has.
pub fn compare<'a>(
    current: &'a [Finding],
    baseline: &[FindingKey],
) -> (Vec<&'a Finding>, Vec<usize>) {
    let before: std::collections::HashSet<&FindingKey> = baseline.iter().collect();
    let now: std::collections::HashSet<FindingKey> = current.iter().map(Finding::key).collect();
    let new = current
        .iter()
        .filter(|f| !before.contains(&f.key()))
        .collect();
    let gone = baseline
        .iter()
        .enumerate()
        .filter(|(_, k)| !now.contains(*k))
        .map(|(i, _)| i)
        .collect();
    (new, gone)
}
