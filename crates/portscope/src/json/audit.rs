//! The audit report's JSON (`audit --json`) and the rules table's
//! (`audit --rules --json`), written and read back (a saved report is a
//! baseline).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::audit::{Finding, FindingKey, Report, Rule, Severity};
use crate::collect::host::HostAddr;
use crate::model::{Proto, Snapshot};
use crate::text::Text;

/// A finding as JSON: written by `audit --json`, read back from a baseline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingOut {
    /// The identity: `rule proto addr:port process`.
    pub id: String,
    /// The rule's id.
    pub rule: String,
    /// `info`, `low`, `medium` or `high`.
    pub severity: String,
    /// The rule's title.
    #[serde(default)]
    pub title: String,
    /// `tcp` or `udp`.
    pub proto: String,
    /// The socket's local address and port.
    pub local: LocalOut,
    /// The socket's inode.
    #[serde(default)]
    pub inode: u64,
    /// The port's registry name.
    #[serde(default)]
    pub service: Option<String>,
    /// `loopback`, `all-interfaces` or `address`.
    #[serde(default)]
    pub reach: String,
    /// This host's non-loopback addresses the socket takes traffic on.
    #[serde(default)]
    pub reachable_on: Vec<AddrOut>,
    /// Process names, as in the identity (`-` for none); escaped prose.
    #[serde(default)]
    pub process: String,
    /// The processes concerned, exact.
    #[serde(default)]
    pub processes: Vec<ProcessOut>,
    /// One sentence for people (escaped).
    #[serde(default)]
    pub message: String,
    /// The rule's advice.
    #[serde(default)]
    pub advice: String,
    /// The socket's network namespace (absent where the source did not
    /// say); part of the identity unless it is the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<FindingNetns>,
}

/// The namespace of a finding's socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingNetns {
    /// The namespace's inode.
    pub inode: u64,
    /// Its name (`ip netns`, the container's), if any.
    #[serde(default)]
    pub name: Option<Text>,
    /// Whether it is the host's.
    #[serde(default)]
    pub host: bool,
}

impl FindingNetns {
    fn model(&self) -> crate::model::Netns {
        crate::model::Netns {
            inode: self.inode,
            name: self.name.clone(),
            host: self.host,
            container: None,
        }
    }
}

/// An address and port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalOut {
    /// The address.
    pub addr: IpAddr,
    /// The port.
    pub port: u16,
}

/// One of this host's addresses and its interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrOut {
    /// The address.
    pub addr: IpAddr,
    /// The interface's name, as the kernel has it (chosen by whoever made it).
    pub interface: String,
}

impl From<&HostAddr> for AddrOut {
    fn from(a: &HostAddr) -> AddrOut {
        AddrOut {
            addr: a.addr,
            interface: a.interface.clone(),
        }
    }
}

/// A process a finding is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessOut {
    /// Process id.
    pub pid: u32,
    /// Short name.
    pub name: Text,
    /// Real user name.
    #[serde(default)]
    pub user: Option<Text>,
    /// Real uid.
    #[serde(default)]
    pub uid: Option<u32>,
    /// Effective user name.
    #[serde(default)]
    pub euser: Option<Text>,
    /// Effective uid.
    #[serde(default)]
    pub euid: Option<u32>,
    /// Executable path.
    #[serde(default)]
    pub exe: Option<Text>,
    /// Command line.
    #[serde(default)]
    pub cmdline: Text,
}

impl FindingOut {
    /// The object for finding `f` of an audit of `snap`.
    pub fn new(f: &Finding, snap: &Snapshot) -> FindingOut {
        FindingOut {
            id: f.key().to_string(),
            rule: f.rule.id.to_string(),
            severity: f.severity().as_str().to_string(),
            title: f.rule.title.to_string(),
            proto: f.proto.as_str().to_string(),
            local: LocalOut {
                addr: f.addr,
                port: f.port,
            },
            inode: f.inode,
            service: f.service.map(str::to_string),
            reach: f.reach.as_str().to_string(),
            reachable_on: f.reachable_on.iter().map(AddrOut::from).collect(),
            process: f.process.clone(),
            processes: f
                .pids
                .iter()
                .map(|pid| {
                    let p = snap.processes.get(pid);
                    ProcessOut {
                        pid: *pid,
                        name: p.map(|p| p.name.clone()).unwrap_or_default(),
                        user: p.and_then(|p| p.user.clone()),
                        uid: p.and_then(|p| p.uid),
                        euser: p.and_then(|p| p.euser.clone()),
                        euid: p.and_then(|p| p.euid),
                        exe: p.and_then(|p| p.exe.clone()),
                        cmdline: p.map(|p| p.cmdline.clone()).unwrap_or_default(),
                    }
                })
                .collect(),
            message: f.message.clone(),
            advice: f.rule.advice.to_string(),
            netns: f.netns.as_deref().map(|n| FindingNetns {
                inode: n.inode,
                name: n.name.clone(),
                host: n.host,
            }),
        }
    }

    /// The identity, from the fields (not the `id` text), so a baseline
    /// written by hand or by an older version compares the same. `None`
    /// for a protocol audits do not judge.
    pub fn key(&self) -> Option<FindingKey> {
        let proto = match self.proto.parse().ok()? {
            p @ (Proto::Tcp | Proto::Udp | Proto::Packet | Proto::Raw) => p,
            Proto::Unix | Proto::Netlink | Proto::Mptcp => return None,
        };
        Some(FindingKey {
            rule: self.rule.clone(),
            proto,
            addr: self.local.addr,
            port: self.local.port,
            process: if self.process.is_empty() {
                "-".into()
            } else {
                self.process.clone()
            },
            netns: crate::audit::netns_label(self.netns.as_ref().map(FindingNetns::model).as_ref()),
        })
    }

    /// The severity, if it is a known level.
    pub fn level(&self) -> Option<Severity> {
        self.severity.parse().ok()
    }
}

/// One rule of the table, as `audit --rules --json` writes it.
#[derive(Clone, Debug, Serialize)]
pub struct RuleOut {
    /// Rule id.
    pub id: &'static str,
    /// Its severity.
    pub severity: &'static str,
    /// Title.
    pub title: &'static str,
    /// What it tests.
    pub test: &'static str,
    /// What to do about a finding.
    pub advice: &'static str,
}

impl From<&'static Rule> for RuleOut {
    fn from(r: &'static Rule) -> RuleOut {
        RuleOut {
            id: r.id,
            severity: r.severity.as_str(),
            title: r.title,
            test: r.test,
            advice: r.advice,
        }
    }
}

/// A whole audit report, as `audit --json` writes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditOut {
    /// Counts.
    pub summary: SummaryOut,
    /// This host's non-loopback addresses.
    pub host_addresses: Vec<AddrOut>,
    /// Rules not run.
    pub skipped: Vec<String>,
    /// Present when compared with a baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineOut>,
    /// The findings (only the new ones against a baseline).
    pub findings: Vec<FindingOut>,
    /// Against a baseline: the baseline's findings no longer found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gone: Option<Vec<FindingOut>>,
}

/// The listeners by reach, and the reported findings by severity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryOut {
    /// TCP and UDP listeners examined.
    pub listeners: usize,
    /// Of those, reachable from this host only.
    pub loopback: usize,
    /// Bound to all interfaces.
    pub all_interfaces: usize,
    /// Bound to one non-loopback address.
    pub address: usize,
    /// Reported findings by severity (every level, 0 included).
    pub findings: BTreeMap<String, usize>,
}

impl SummaryOut {
    /// The summary of `report` whose reported findings are `shown`.
    pub fn new(report: &Report, shown: &[FindingOut]) -> SummaryOut {
        let mut findings: BTreeMap<String, usize> = Severity::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), 0))
            .collect();
        for f in shown {
            *findings.entry(f.severity.clone()).or_default() += 1;
        }
        SummaryOut {
            listeners: report.summary.listeners,
            loopback: report.summary.loopback,
            all_interfaces: report.summary.all_interfaces,
            address: report.summary.address,
            findings,
        }
    }
}

/// What a comparison with a baseline found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineOut {
    /// The baseline file, as given.
    pub file: String,
    /// Findings not in the baseline.
    pub new: usize,
    /// Baseline findings no longer found.
    pub gone: usize,
}

/// Reads a saved `audit --json` report. The error is one line.
pub fn read_audit(text: &str) -> Result<AuditOut, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// A baseline's findings, from a saved `audit --json` report (an object) or
/// worked out from a saved `--json` listing (an array) by the same rules.
/// The host's addresses do not change a finding's identity, so the
/// listing's own facts suffice; `now`'s ephemeral range and dual-stack
/// default are used. The error is one line.
pub fn read_baseline(
    text: &str,
    now: &crate::collect::host::HostFacts,
    skip: &[&str],
) -> Result<Vec<FindingOut>, String> {
    use crate::model::TcpState;
    // Each form is parsed into its own types (never a generic JSON tree,
    // which takes many times the text's size).
    if text.trim_start().starts_with('{') {
        let saved = read_audit(text).map_err(|e| format!("not a saved `audit --json`: {e}"))?;
        if saved.baseline.is_some() {
            return Err("this audit was itself run against a baseline and lists only changes; save a plain `audit --json`".into());
        }
        return Ok(saved.findings);
    }
    let read = super::read_listing(text)
        .map_err(|_| "neither a saved `audit --json` nor a `--json` listing".to_string())?;
    let mut snap = read.snapshot;
    snap.sockets.retain(|s| {
        matches!(
            s.proto,
            Proto::Tcp | Proto::Udp | Proto::Packet | Proto::Raw
        ) && matches!(s.state, TcpState::Listen | TcpState::Close)
    });
    let mut facts = crate::collect::host::HostFacts::from_snapshot(&snap);
    facts.ephemeral = now.ephemeral;
    facts.v6_dual_stack = now.v6_dual_stack;
    let mut skip = skip.to_vec();
    if !read.owners_known {
        skip.push("no-owner");
    }
    let report = crate::audit::audit(&snap, &facts, &skip);
    Ok(report
        .findings
        .iter()
        .map(|f| FindingOut::new(f, &snap))
        .collect())
}
