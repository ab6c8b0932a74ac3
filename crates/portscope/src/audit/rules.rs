//! The rules table: every audit rule with its id, severity, what it tests
//! and what to do, and the check that applies it to one listener.
//!
//! A rule is a pure function of a listener and the host facts. Adding one
//! is adding a row and a check here, and a test in `tests.rs`.

use std::fmt;

use crate::collect::host::{ExeFacts, HostFacts};
use crate::exposure;
use crate::model::{Proto, SockFilter};

use super::Severity;
use super::reach::{Hit, Listener, Reach};

/// One audit rule.
pub struct Rule {
    /// Stable identifier, used by `--skip` and in finding identities.
    pub id: &'static str,
    /// Severity of every finding of this rule.
    pub severity: Severity,
    /// What it reports, in a few words.
    pub title: &'static str,
    /// When it fires.
    pub test: &'static str,
    /// What to do about a finding.
    pub advice: &'static str,
    pub(crate) check: fn(&Listener<'_>, &HostFacts) -> Option<Hit>,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        self.id == other.id
    }
}

impl Eq for Rule {}

/// Every rule, in the order reports list them within a severity.
pub static RULES: &[Rule] = &[
    Rule {
        id: "published-port-exposed",
        severity: Severity::Medium,
        title: "Container port published beyond this host",
        test: "a host port that a forwarder (conmon, docker-proxy, rootlessport, slirp4netns, pasta) holds, or a DNAT rule publishes, for a container's listener is bound to a non-loopback address",
        advice: "Publish it on 127.0.0.1 (`-p 127.0.0.1:HOST:CONTAINER`) unless it must face the network; otherwise firewall it (DNAT happens before the INPUT chain: filter in DOCKER-USER or the forward chain).",
        check: published_exposed,
    },
    Rule {
        id: "host-network-container",
        severity: Severity::Low,
        title: "Container sharing the host's network namespace",
        test: "a process that runs in a container (by its cgroup) holds a listener in the host's network namespace (`--network host`)",
        advice: "Give the container its own network namespace and publish only the ports it needs, unless it must see the host's interfaces.",
        check: host_network_container,
    },
    Rule {
        id: "deleted-exe",
        severity: Severity::High,
        title: "Listener whose executable was deleted or replaced",
        test: "a process holding a listening socket runs a file that no longer exists (the kernel marks its executable link \" (deleted)\")",
        advice: "If the program was upgraded, restart it so the new version runs. Otherwise treat it as suspect: malware often deletes its own binary. Inspect its executable link and the process tree before killing it.",
        check: deleted_exe,
    },
    Rule {
        id: "exe-in-temp",
        severity: Severity::High,
        title: "Listener running from a temporary directory",
        test: "a process holding a listening socket runs an executable from a directory every user may write to (or below one): /tmp, /var/tmp, /dev/shm, /run/lock or any other with mode o+w",
        advice: "Installed software does not run from scratch directories anyone can write to; droppers and test builds do. Find out who started it; install real services under /usr or /opt.",
        check: exe_in_temp,
    },
    Rule {
        id: "internal-service-exposed",
        severity: Severity::High,
        title: "Database or internal service reachable from outside",
        test: "a listener on the default port of a service that should never face untrusted networks (databases, caches, search, RPC, file sharing, Docker API, VNC) is not bound to loopback",
        advice: "Bind it to 127.0.0.1/::1 (or a private interface), or firewall the port to the hosts that need it; turn on its authentication and TLS.",
        check: internal_service,
    },
    Rule {
        id: "public-service-exposed",
        severity: Severity::Medium,
        title: "Well-known service on its default port reachable from outside",
        test: "a listener on the default port of a commonly scanned service (ssh 22, ftp 21, telnet 23, smtp 25, dns 53, http 80, pop3 110, imap 143, ldap 389, https 443, rdp 3389, http-alt 8080) is not bound to loopback",
        advice: "If it need not be public, bind it to loopback; otherwise firewall it to known sources, or move it to a non-standard port to cut down automated probing. Keep the software current: its banner names the version.",
        check: public_service,
    },
    Rule {
        id: "cleartext-exposed",
        severity: Severity::Medium,
        title: "Cleartext protocol reachable from outside where an encrypted variant exists",
        test: "a TCP listener on the default port of a cleartext protocol (telnet, ftp, smtp, http, pop3, nntp, imap, ldap, irc, the Docker API, HTTP admin ports) is not bound to loopback",
        advice: "Serve the encrypted variant instead (SSH, FTPS/SFTP, SMTPS, HTTPS, POP3S, IMAPS, LDAPS, TLS) or require STARTTLS, and close the cleartext port.",
        check: cleartext,
    },
    Rule {
        id: "udp-amplifier",
        severity: Severity::Medium,
        title: "Amplification-prone UDP service on a non-loopback address",
        test: "an unconnected UDP socket on the port of a protocol that answers small requests with large replies (qotd, chargen, dns, tftp, rpcbind, ntp, netbios-ns, snmp, cldap, ssdp, ws-discovery, coap, memcached) is not bound to loopback",
        advice: "Bind it to loopback or the internal interface, or firewall it; answer only your own networks (no open resolver, no NTP monlist, memcached without UDP).",
        check: udp_amplifier,
    },
    Rule {
        id: "wildcard-bind",
        severity: Severity::Low,
        title: "Listener bound to all interfaces",
        test: "a TCP listener or UDP socket is bound to 0.0.0.0 or :: (a process's UDP sockets on ephemeral ports, which are clients, aside, and DHCP sockets on UDP 67, 68, 546 and 547, which must bind the wildcard), so every address of this host, present or future, reaches it",
        advice: "Bind to 127.0.0.1/::1 when only this host needs it, or to the one address that should serve it.",
        check: wildcard_bind,
    },
    Rule {
        id: "root-high-port",
        severity: Severity::Low,
        title: "Root-owned listener on an unprivileged port",
        test: "a process with root's rights (effective uid 0, setuid programs too) holds a listener on a port of 1024 or above (UDP sockets on ephemeral ports aside)",
        advice: "Ports from 1024 up need no privilege: run the service as its own unprivileged user, or drop root after start-up.",
        check: root_high_port,
    },
    Rule {
        id: "no-owner",
        severity: Severity::Info,
        title: "Listener with no visible owning process",
        test: "no process holds a file descriptor for the listening socket, or the owners could not be read",
        advice: "Kernel services (NFS, WireGuard, in-kernel servers) own sockets with no process; otherwise run as root to see all owners. A listener that neither explains should be investigated.",
        check: no_owner,
    },
    Rule {
        id: "packet-filter-unknown",
        severity: Severity::High,
        title: "BPF filter on a packet or raw socket of a process that is not a known capture tool",
        test: "a packet socket (AF_PACKET) or raw IP socket has a BPF filter attached (classic, or eBPF through SO_ATTACH_BPF) and none of its processes is a known capture or link-layer tool (tcpdump, dumpcap, wireshark, tshark, termshark, ngrep, tcpflow, arpwatch, p0f, suricata, snort, zeek, iftop, nethogs, bandwhich, dhclient, dhcpcd, udhcpc, dhcpd, dnsmasq, systemd-networkd, NetworkManager, wpa_supplicant, hostapd, lldpd, ptp4l, keepalived). A packet socket's filter comes from packet_diag (needs CAP_NET_ADMIN); a raw socket's is asked of the socket through a duplicate of an owner's descriptor (needs root), so without them the rule cannot fire",
        advice: "Passive backdoors wait behind a BPF filter on a packet or raw socket for a magic packet that appears in no TCP/UDP listing. Find out what the process is (its executable, parent and start time); if nothing explains it, isolate the host and investigate.",
        check: packet_filter_unknown,
    },
    Rule {
        id: "packet-sniffer",
        severity: Severity::Medium,
        title: "Process capturing every frame or holding promiscuous mode",
        test: "a packet socket (AF_PACKET) is bound to every protocol (ETH_P_ALL) or holds promiscuous mode on an interface: its processes can read all traffic of the interface (or of every interface)",
        advice: "Capture tools and some DHCP clients do this on purpose; anything else reading every frame is a sniffer. Check the processes named, and stop captures that are not meant to run.",
        check: packet_sniffer,
    },
];

/// Process names (as the kernel's 15-character `comm` has them) of tools
/// that attach classic BPF filters to packet sockets for a living.
pub(crate) const CAPTURE_TOOLS: &[&str] = &[
    "tcpdump",
    "dumpcap",
    "wireshark",
    "tshark",
    "termshark",
    "ngrep",
    "tcpflow",
    "arpwatch",
    "p0f",
    "suricata",
    "Suricata-Main",
    "snort",
    "zeek",
    "iftop",
    "nethogs",
    "bandwhich",
    "dhclient",
    "dhcpcd",
    "udhcpc",
    "dhcpd",
    "dnsmasq",
    "systemd-network",
    "NetworkManager",
    "wpa_supplicant",
    "hostapd",
    "lldpd",
    "ptp4l",
    "keepalived",
];

/// The rules that judge packet sockets ([`super::reach::captures`]); the
/// others judge TCP and UDP listeners.
pub(crate) const PACKET_RULES: &[&str] = &["packet-filter-unknown", "packet-sniffer"];

/// `all:lo`, `ip:*`: what a packet socket takes, and where.
fn packet_label(l: &Listener<'_>) -> String {
    format!("packet socket {}", l.socket.shown_local())
}

fn packet_filter_unknown(l: &Listener<'_>, _: &HostFacts) -> Option<Hit> {
    let asked = l.socket.extra.as_ref().and_then(|x| x.sock_filter);
    let dumped = l.socket.packet().and_then(|p| p.filter).flatten();
    let what = match (dumped, asked) {
        (Some(len), _) | (None, Some(SockFilter::Classic(len))) => {
            format!("a classic BPF filter of {len} instructions")
        }
        (None, Some(SockFilter::Ebpf)) => "an eBPF filter".to_string(),
        _ => return None,
    };
    let label = if l.socket.proto == crate::model::Proto::Raw {
        format!("raw socket {}", l.socket.shown_local())
    } else {
        packet_label(l)
    };
    if l.processes.is_empty() {
        return Hit::socket(format!(
            "{label} has {what} and no process that can be seen"
        ));
    }
    if l.processes.iter().any(|p| {
        CAPTURE_TOOLS
            .iter()
            .any(|t| p.name.as_bytes() == t.as_bytes())
    }) {
        return None;
    }
    Hit::socket(format!(
        "{} {} {label} with {what}; {} no known capture tool",
        Listener::names(&l.processes),
        verb(l.processes.len(), "holds", "hold"),
        verb(l.processes.len(), "it is", "they are"),
    ))
}

fn packet_sniffer(l: &Listener<'_>, _: &HostFacts) -> Option<Hit> {
    let p = l.socket.packet()?;
    let all = matches!(l.socket.local, crate::model::Endpoint::Link { protocol, .. } if protocol == crate::model::EthProto::ALL.0);
    let promisc = p.promiscuous();
    if !all && !promisc {
        return None;
    }
    let what = match (all, promisc) {
        (true, true) => "every frame, in promiscuous mode",
        (true, false) => "every frame",
        _ => "frames in promiscuous mode",
    };
    let who = if l.processes.is_empty() {
        "no process that can be seen".to_string()
    } else {
        Listener::names(&l.processes)
    };
    Hit::socket(format!("{} takes {what} ({who})", packet_label(l)))
}

/// Services that should never face untrusted networks, on their default ports.
const INTERNAL: &[(u16, Proto, &str)] = &[
    (111, Proto::Tcp, "rpcbind"),
    (111, Proto::Udp, "rpcbind"),
    (135, Proto::Tcp, "MS RPC"),
    (139, Proto::Tcp, "SMB over NetBIOS"),
    (445, Proto::Tcp, "SMB"),
    (1433, Proto::Tcp, "Microsoft SQL Server"),
    (2049, Proto::Tcp, "NFS"),
    (2049, Proto::Udp, "NFS"),
    (2375, Proto::Tcp, "Docker API"),
    (3306, Proto::Tcp, "MySQL"),
    (5432, Proto::Tcp, "PostgreSQL"),
    (5900, Proto::Tcp, "VNC"),
    (5984, Proto::Tcp, "CouchDB"),
    (6379, Proto::Tcp, "Redis"),
    (9200, Proto::Tcp, "Elasticsearch"),
    (11211, Proto::Tcp, "memcached"),
    (11211, Proto::Udp, "memcached"),
    (27017, Proto::Tcp, "MongoDB"),
];

/// Commonly scanned services that are often public on purpose.
const PUBLIC: &[(u16, Proto, &str)] = &[
    (21, Proto::Tcp, "FTP"),
    (22, Proto::Tcp, "SSH"),
    (23, Proto::Tcp, "Telnet"),
    (25, Proto::Tcp, "SMTP"),
    (53, Proto::Tcp, "DNS"),
    (53, Proto::Udp, "DNS"),
    (80, Proto::Tcp, "HTTP"),
    (110, Proto::Tcp, "POP3"),
    (143, Proto::Tcp, "IMAP"),
    (389, Proto::Tcp, "LDAP"),
    (443, Proto::Tcp, "HTTPS"),
    (3389, Proto::Tcp, "RDP"),
    (8080, Proto::Tcp, "HTTP alternate"),
];

/// Cleartext protocols (TCP) and what to use instead.
const CLEARTEXT: &[(u16, &str, &str)] = &[
    (21, "FTP", "FTPS (990) or SFTP"),
    (23, "Telnet", "SSH (22)"),
    (25, "SMTP", "SMTPS (465) or STARTTLS"),
    (80, "HTTP", "HTTPS (443)"),
    (110, "POP3", "POP3S (995)"),
    (119, "NNTP", "NNTPS (563)"),
    (143, "IMAP", "IMAPS (993)"),
    (389, "LDAP", "LDAPS (636) or StartTLS"),
    (2375, "Docker API", "the TLS port 2376"),
    (6667, "IRC", "IRC over TLS (6697)"),
    (8000, "HTTP (admin/dev)", "HTTPS"),
    (8080, "HTTP alternate (admin/proxy)", "HTTPS (8443)"),
    (8888, "HTTP (admin/dev)", "HTTPS"),
];

/// UDP protocols whose replies are much larger than the requests.
const AMPLIFIERS: &[(u16, &str)] = &[
    (17, "qotd"),
    (19, "chargen"),
    (53, "DNS"),
    (69, "TFTP"),
    (111, "rpcbind"),
    (123, "NTP"),
    (137, "NetBIOS name service"),
    (161, "SNMP"),
    (389, "CLDAP"),
    (1900, "SSDP"),
    (3702, "WS-Discovery"),
    (5683, "CoAP"),
    (11211, "memcached"),
];

/// The verb agreeing with `n` subjects.
fn verb(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// The exposure table's note for a port, as a sentence to append.
fn note(port: u16) -> String {
    exposure::for_port(port)
        .map(|e| format!(" {}", e.note))
        .unwrap_or_default()
}

/// A process's UDP socket on an ephemeral port is nearly always a client's
/// (a resolver, a DHCP or NTP client). Kernel-held ones (WireGuard) are not.
fn udp_client_like(l: &Listener<'_>, facts: &HostFacts) -> bool {
    l.socket.proto == Proto::Udp
        && !l.socket.owners.is_empty()
        && facts.ephemeral.is_some_and(|r| r.contains(l.port))
}

fn deleted_exe(l: &Listener<'_>, facts: &HostFacts) -> Option<Hit> {
    exe_rule(
        l,
        facts,
        |e| e.deleted,
        |runs, path| format!("but {runs} {path}, which was deleted or replaced after it started"),
    )
}

fn exe_in_temp(l: &Listener<'_>, facts: &HostFacts) -> Option<Hit> {
    exe_rule(l, facts, ExeFacts::in_temp_dir, |runs, path| {
        format!("and {runs} from a temporary directory: {path}")
    })
}

/// A hit naming the listener's processes whose executable `is_bad`; `tail`
/// words the rest of the message from the verb ("runs"/"run") and the first
/// such process's executable path.
fn exe_rule(
    l: &Listener<'_>,
    facts: &HostFacts,
    is_bad: impl Fn(&ExeFacts) -> bool,
    tail: impl Fn(&str, &str) -> String,
) -> Option<Hit> {
    let bad: Vec<_> = l
        .processes
        .iter()
        .filter(|p| facts.executables.get(&p.pid).is_some_and(&is_bad))
        .copied()
        .collect();
    let first = bad.first()?;
    let path = facts
        .executables
        .get(&first.pid)
        .map_or_else(|| "?".to_string(), |e| e.path.escaped().to_string());
    Some(Hit {
        pids: Some(bad.iter().map(|p| p.pid).collect()),
        message: format!(
            "{} {} on {} {}",
            Listener::names(&bad),
            verb(bad.len(), "listens", "listen"),
            l.label(),
            tail(verb(bad.len(), "runs", "run"), &path),
        ),
    })
}

fn by_port(table: &[(u16, Proto, &'static str)], l: &Listener<'_>) -> Option<&'static str> {
    table
        .iter()
        .find(|(p, proto, _)| *p == l.port && *proto == l.socket.proto)
        .map(|(_, _, what)| *what)
}

fn internal_service(l: &Listener<'_>, _: &HostFacts) -> Option<Hit> {
    if !l.reach.from_outside() {
        return None;
    }
    let what = by_port(INTERNAL, l)?;
    Hit::socket(format!(
        "{what} on its default port: {} is reachable {}.{}",
        l.label(),
        l.where_reachable(),
        note(l.port)
    ))
}

fn published_exposed(l: &Listener<'_>, _: &HostFacts) -> Option<Hit> {
    let behind = l.published.as_ref()?;
    if !l.reach.from_outside() {
        return None;
    }
    Hit::socket(format!(
        "{} publishes {behind}: reachable {}",
        l.label(),
        l.where_reachable()
    ))
}

fn host_network_container(l: &Listener<'_>, _: &HostFacts) -> Option<Hit> {
    if l.socket.netns.as_deref().is_none_or(|n| !n.host) {
        return None;
    }
    let inside: Vec<_> = l
        .processes
        .iter()
        .filter(|p| p.container.is_some() && !crate::forward::is_forwarder(&p.name))
        .copied()
        .collect();
    let c = inside.first()?.container.as_ref()?;
    Some(Hit {
        pids: Some(inside.iter().map(|p| p.pid).collect()),
        message: format!(
            "{} is held by {} of container {} ({}), which shares the host's network namespace",
            l.label(),
            Listener::names(&inside),
            c.label().bounded(64),
            c.runtime.as_str()
        ),
    })
}

fn public_service(l: &Listener<'_>, _: &HostFacts) -> Option<Hit> {
    if !l.reach.from_outside() {
        return None;
    }
    let what = by_port(PUBLIC, l)?;
    Hit::socket(format!(
        "{what} on its default port: {} is reachable {}.{}",
        l.label(),
        l.where_reachable(),
        note(l.port)
    ))
}

fn cleartext(l: &Listener<'_>, _: &HostFacts) -> Option<Hit> {
    if !l.reach.from_outside() || l.socket.proto != Proto::Tcp {
        return None;
    }
    let (_, what, instead) = CLEARTEXT.iter().find(|(p, _, _)| *p == l.port)?;
    Hit::socket(format!(
        "{what} sends data and credentials in clear text: {} is reachable {}; use {instead}",
        l.label(),
        l.where_reachable()
    ))
}

fn udp_amplifier(l: &Listener<'_>, _: &HostFacts) -> Option<Hit> {
    if !l.reach.from_outside() || l.socket.proto != Proto::Udp {
        return None;
    }
    let (_, what) = AMPLIFIERS.iter().find(|(p, _)| *p == l.port)?;
    Hit::socket(format!(
        "{what} over UDP answers small requests with large replies, which lets others aim it at a victim: {} is reachable {}",
        l.label(),
        l.where_reachable()
    ))
}

/// UDP ports whose sockets must be bound to the wildcard to work: a DHCP
/// client (68, DHCPv6 546) has no address yet when it asks, and a DHCP
/// server (67, DHCPv6 547) hears requests sent to the broadcast address
/// (or a multicast group), which a socket bound to one address never
/// receives. Telling them to bind 127.0.0.1 would break them.
const MUST_BIND_WILDCARD_UDP: &[u16] = &[67, 68, 546, 547];

fn must_bind_wildcard(l: &Listener<'_>) -> bool {
    l.socket.proto == Proto::Udp && MUST_BIND_WILDCARD_UDP.contains(&l.port)
}

fn wildcard_bind(l: &Listener<'_>, facts: &HostFacts) -> Option<Hit> {
    if l.reach != Reach::AllInterfaces || udp_client_like(l, facts) || must_bind_wildcard(l) {
        return None;
    }
    Hit::socket(format!(
        "{} is bound to all interfaces: reachable {}",
        l.label(),
        l.where_reachable()
    ))
}

fn root_high_port(l: &Listener<'_>, facts: &HostFacts) -> Option<Hit> {
    if l.port < 1024 || udp_client_like(l, facts) {
        return None;
    }
    let root: Vec<_> = l
        .processes
        .iter()
        .filter(|p| p.effective_uid() == Some(0))
        .copied()
        .collect();
    if root.is_empty() {
        return None;
    }
    Some(Hit {
        pids: Some(root.iter().map(|p| p.pid).collect()),
        message: format!(
            "{} {} as root and {} on {}, a port that needs no privilege",
            Listener::names(&root),
            verb(root.len(), "runs", "run"),
            verb(root.len(), "listens", "listen"),
            l.label()
        ),
    })
}

fn no_owner(l: &Listener<'_>, _: &HostFacts) -> Option<Hit> {
    if !l.socket.owners.is_empty() {
        return None;
    }
    let why = if l.socket.owners_hidden {
        "its owners could not be read (run as root to see them)"
    } else {
        "no process holds it (a kernel socket, or its process just exited)"
    };
    Hit::socket(format!("{}: {why}", l.label()))
}
