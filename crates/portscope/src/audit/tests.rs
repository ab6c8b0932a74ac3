//! One test per rule, on hand-built snapshots: each rule fires where it
//! should and stays quiet on the loopback twin of the same socket.

use std::collections::HashMap;
use std::net::IpAddr;

use super::*;
use crate::collect::host::{ExeFacts, HostAddr, HostFacts};
use crate::model::{Endpoint, Family, Owner, Process, Proto, Snapshot, Socket, TcpState};
use crate::services::EphemeralRange;

fn sock(proto: Proto, addr: &str, port: u16, pid: Option<u32>) -> Socket {
    let ip: IpAddr = addr.parse().unwrap();
    let family = if ip.is_ipv6() {
        Family::Inet6
    } else {
        Family::Inet
    };
    let any: IpAddr = if ip.is_ipv6() {
        "::".parse().unwrap()
    } else {
        "0.0.0.0".parse().unwrap()
    };
    Socket {
        proto,
        family,
        local: Endpoint::Inet { addr: ip, port },
        remote: Endpoint::Inet { addr: any, port: 0 },
        state: if proto == Proto::Tcp {
            TcpState::Listen
        } else {
            TcpState::Close
        },
        inode: u64::from(port) * 10 + u64::from(ip.is_ipv6()),
        owners: pid
            .map(|pid| vec![Owner { pid, fd: 3 }])
            .unwrap_or_default(),
        ..Socket::default()
    }
}

fn proc_(pid: u32, name: &str, uid: u32, exe: &str) -> Process {
    Process {
        pid,
        name: name.into(),
        cmdline: name.into(),
        uid: Some(uid),
        user: Some(uid.to_string().into()),
        euid: Some(uid),
        euser: Some(uid.to_string().into()),
        exe: Some(exe.into()),
        ..Process::default()
    }
}

fn host() -> HostFacts {
    HostFacts {
        addresses: vec![
            HostAddr {
                addr: "192.0.2.2".parse().unwrap(),
                interface: "eth0".into(),
                index: 2,
            },
            HostAddr {
                addr: "fd00::2".parse().unwrap(),
                interface: "eth0".into(),
                index: 2,
            },
            HostAddr {
                addr: "10.200.0.1".parse().unwrap(),
                interface: "wg0".into(),
                index: 5,
            },
        ],
        executables: HashMap::new(),
        v6_dual_stack: true,
        ephemeral: Some(EphemeralRange {
            low: 32768,
            high: 60999,
        }),
        notes: vec![],
        ..HostFacts::default()
    }
}

fn snap(sockets: Vec<Socket>, procs: Vec<Process>) -> Snapshot {
    Snapshot {
        sockets,
        processes: procs.into_iter().map(|p| (p.pid, p)).collect(),
        ..Snapshot::default()
    }
}

/// Runs the audit with executables taken from the processes' exe links.
fn run(s: &Snapshot, facts: &HostFacts) -> Report {
    let mut facts = facts.clone();
    facts.executables = HostFacts::from_snapshot(s).executables;
    audit(s, &facts, &[])
}

fn ids_for(r: &Report, port: u16, addr: &str) -> Vec<&'static str> {
    let a: IpAddr = addr.parse().unwrap();
    r.findings
        .iter()
        .filter(|f| f.port == port && f.addr == a)
        .map(|f| f.rule.id)
        .collect()
}

#[test]
fn rule_ids_are_unique_and_kebab_case() {
    for (i, r) in RULES.iter().enumerate() {
        assert!(RULES[..i].iter().all(|q| q.id != r.id), "{}", r.id);
        assert!(
            r.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{}",
            r.id
        );
        assert!(!r.title.is_empty() && !r.test.is_empty() && !r.advice.is_empty());
    }
}

#[test]
fn wildcard_bind_names_the_addresses_that_reach_it() {
    let s = snap(
        vec![
            sock(Proto::Tcp, "0.0.0.0", 7000, Some(10)),
            sock(Proto::Tcp, "::", 7001, Some(10)),
            sock(Proto::Tcp, "127.0.0.1", 7002, Some(10)),
            sock(Proto::Tcp, "::1", 7003, Some(10)),
        ],
        vec![proc_(10, "app", 1000, "/usr/bin/app")],
    );
    let r = run(&s, &host());
    let f = r
        .findings
        .iter()
        .find(|f| f.rule.id == "wildcard-bind" && f.port == 7000)
        .unwrap();
    let on: Vec<String> = f.reachable_on.iter().map(|a| a.addr.to_string()).collect();
    assert_eq!(on, ["192.0.2.2", "10.200.0.1"]);
    assert!(f.message.contains("192.0.2.2 (eth0)"), "{}", f.message);
    // A dual-stack :: listener reaches both families.
    let f = r.findings.iter().find(|f| f.port == 7001).unwrap();
    assert_eq!(f.reachable_on.len(), 3);
    assert!(ids_for(&r, 7002, "127.0.0.1").is_empty());
    assert!(ids_for(&r, 7003, "::1").is_empty());
    assert_eq!(
        r.summary,
        Summary {
            listeners: 4,
            loopback: 2,
            all_interfaces: 2,
            address: 0
        }
    );
}

#[test]
fn v6_wildcard_with_a_v4_twin_is_v6_only() {
    let s = snap(
        vec![
            sock(Proto::Tcp, "0.0.0.0", 7000, Some(10)),
            sock(Proto::Tcp, "::", 7000, Some(10)),
        ],
        vec![proc_(10, "app", 1000, "/usr/bin/app")],
    );
    let r = run(&s, &host());
    let f = r
        .findings
        .iter()
        .find(|f| f.addr.is_ipv6() && f.rule.id == "wildcard-bind")
        .unwrap();
    let on: Vec<String> = f.reachable_on.iter().map(|a| a.addr.to_string()).collect();
    assert_eq!(on, ["fd00::2"]);
}

#[test]
fn the_sockets_own_v6only_flag_decides_over_the_system_default() {
    let flagged = |port: u16, v6only: Option<bool>| Socket {
        v6only,
        ..sock(Proto::Tcp, "::", port, Some(10))
    };
    let s = snap(
        vec![
            flagged(7010, Some(true)),
            flagged(7011, Some(false)),
            flagged(7012, None),
        ],
        vec![proc_(10, "app", 1000, "/usr/bin/app")],
    );
    let reach = |r: &Report, port: u16| -> Vec<String> {
        let f = r
            .findings
            .iter()
            .find(|f| f.port == port && f.rule.id == "wildcard-bind")
            .unwrap();
        f.reachable_on.iter().map(|a| a.addr.to_string()).collect()
    };
    // The host says dual-stack by default; the v6-only socket is not.
    let r = run(&s, &host());
    assert_eq!(reach(&r, 7010), ["fd00::2"]);
    assert_eq!(reach(&r, 7011), ["192.0.2.2", "fd00::2", "10.200.0.1"]);
    assert_eq!(reach(&r, 7012).len(), 3, "unknown: the system default");
    // The host says v6-only by default; the dual-stack socket still is.
    let mut v6_host = host();
    v6_host.v6_dual_stack = false;
    let r = run(&s, &v6_host);
    assert_eq!(reach(&r, 7010), ["fd00::2"]);
    assert_eq!(reach(&r, 7011).len(), 3);
    assert_eq!(reach(&r, 7012), ["fd00::2"]);
}

#[test]
fn bound_device_limits_reach() {
    let mut lo = sock(Proto::Tcp, "0.0.0.0", 6379, Some(10));
    lo.bound_if = 1;
    let mut wg = sock(Proto::Tcp, "0.0.0.0", 5432, Some(10));
    wg.bound_if = 5;
    let s = snap(vec![lo, wg], vec![proc_(10, "db", 1000, "/usr/bin/db")]);
    let r = run(&s, &host());
    assert!(ids_for(&r, 6379, "0.0.0.0").is_empty());
    let f = r.findings.iter().find(|f| f.port == 5432).unwrap();
    let on: Vec<String> = f.reachable_on.iter().map(|a| a.addr.to_string()).collect();
    assert_eq!(on, ["10.200.0.1"]);
}

#[test]
fn internal_services_are_high_only_from_outside() {
    let s = snap(
        vec![
            sock(Proto::Tcp, "0.0.0.0", 6379, Some(10)),
            sock(Proto::Tcp, "127.0.0.1", 5432, Some(11)),
            sock(Proto::Tcp, "192.0.2.2", 3306, Some(12)),
            sock(Proto::Udp, "0.0.0.0", 6379, Some(10)),
        ],
        vec![
            proc_(10, "redis-server", 999, "/usr/bin/redis-server"),
            proc_(11, "postgres", 999, "/usr/lib/postgresql/bin/postgres"),
            proc_(12, "mysqld", 999, "/usr/sbin/mysqld"),
        ],
    );
    let r = run(&s, &host());
    assert!(ids_for(&r, 6379, "0.0.0.0").contains(&"internal-service-exposed"));
    let my = r
        .findings
        .iter()
        .find(|f| f.port == 3306 && f.rule.id == "internal-service-exposed")
        .unwrap();
    assert_eq!(my.reach, Reach::Address);
    assert!(my.message.contains("MySQL"), "{}", my.message);
    assert!(ids_for(&r, 5432, "127.0.0.1").is_empty());
    // Redis is TCP; a UDP socket on 6379 is not it.
    assert!(
        !r.findings
            .iter()
            .any(|f| f.proto == Proto::Udp && f.rule.id == "internal-service-exposed")
    );
}

#[test]
fn public_and_cleartext_services() {
    let s = snap(
        vec![
            sock(Proto::Tcp, "::", 23, Some(10)),
            sock(Proto::Tcp, "0.0.0.0", 22, Some(11)),
            sock(Proto::Tcp, "127.0.0.1", 21, Some(12)),
        ],
        vec![
            proc_(10, "telnetd", 0, "/usr/sbin/telnetd"),
            proc_(11, "sshd", 0, "/usr/sbin/sshd"),
            proc_(12, "vsftpd", 0, "/usr/sbin/vsftpd"),
        ],
    );
    let r = run(&s, &host());
    let telnet = ids_for(&r, 23, "::");
    assert!(telnet.contains(&"public-service-exposed"), "{telnet:?}");
    assert!(telnet.contains(&"cleartext-exposed"), "{telnet:?}");
    let ssh = ids_for(&r, 22, "0.0.0.0");
    assert!(ssh.contains(&"public-service-exposed"), "{ssh:?}");
    assert!(!ssh.contains(&"cleartext-exposed"), "{ssh:?}");
    assert!(ids_for(&r, 21, "127.0.0.1").is_empty());
    let f = r
        .findings
        .iter()
        .find(|f| f.rule.id == "cleartext-exposed")
        .unwrap();
    assert!(f.message.contains("SSH (22)"), "{}", f.message);
}

#[test]
fn udp_amplifiers_off_loopback() {
    let s = snap(
        vec![
            sock(Proto::Udp, "0.0.0.0", 123, Some(10)),
            sock(Proto::Udp, "127.0.0.53", 53, Some(11)),
            sock(Proto::Udp, "192.0.2.2", 11211, Some(12)),
            sock(Proto::Tcp, "0.0.0.0", 123, Some(10)),
        ],
        vec![
            proc_(10, "ntpd", 100, "/usr/sbin/ntpd"),
            proc_(
                11,
                "systemd-resolve",
                100,
                "/usr/lib/systemd/systemd-resolved",
            ),
            proc_(12, "memcached", 100, "/usr/bin/memcached"),
        ],
    );
    let r = run(&s, &host());
    let amp: Vec<(u16, Proto)> = r
        .findings
        .iter()
        .filter(|f| f.rule.id == "udp-amplifier")
        .map(|f| (f.port, f.proto))
        .collect();
    assert_eq!(amp, [(123, Proto::Udp), (11211, Proto::Udp)]);
}

#[test]
fn deleted_and_temp_executables() {
    let s = snap(
        vec![
            sock(Proto::Tcp, "127.0.0.1", 4444, Some(10)),
            sock(Proto::Tcp, "127.0.0.1", 4445, Some(11)),
            sock(Proto::Tcp, "127.0.0.1", 4446, Some(12)),
        ],
        vec![
            proc_(10, "kworkerd", 1000, "/usr/bin/x (deleted)"),
            proc_(11, "x", 1000, "/dev/shm/.x/x"),
            proc_(12, "ok", 1000, "/usr/bin/tmp/x"),
        ],
    );
    let r = run(&s, &host());
    assert_eq!(ids_for(&r, 4444, "127.0.0.1"), ["deleted-exe"]);
    assert_eq!(ids_for(&r, 4445, "127.0.0.1"), ["exe-in-temp"]);
    assert!(ids_for(&r, 4446, "127.0.0.1").is_empty());
    let f = &r.findings[0];
    assert_eq!(f.severity(), Severity::High);
    assert_eq!(f.pids, [10]);
    assert!(f.message.contains("/usr/bin/x,"), "{}", f.message);
}

#[test]
fn only_the_offending_process_is_named() {
    let mut s = sock(Proto::Tcp, "127.0.0.1", 8000, Some(10));
    s.owners.push(Owner { pid: 11, fd: 4 });
    let snap = snap(
        vec![s],
        vec![
            proc_(10, "master", 0, "/usr/sbin/srv"),
            proc_(11, "worker", 33, "/tmp/srv"),
        ],
    );
    let r = run(&snap, &host());
    let tmp = r
        .findings
        .iter()
        .find(|f| f.rule.id == "exe-in-temp")
        .unwrap();
    assert_eq!(
        (tmp.pids.as_slice(), tmp.process.as_str()),
        (&[11][..], "worker")
    );
    let root = r
        .findings
        .iter()
        .find(|f| f.rule.id == "root-high-port")
        .unwrap();
    assert_eq!(root.process, "master");
}

#[test]
fn root_high_port_and_no_owner() {
    let mut hidden = sock(Proto::Tcp, "0.0.0.0", 9100, None);
    hidden.owners_hidden = true;
    let s = snap(
        vec![
            sock(Proto::Tcp, "127.0.0.1", 8125, Some(10)),
            sock(Proto::Tcp, "127.0.0.1", 1023, Some(10)),
            sock(Proto::Udp, "0.0.0.0", 40000, Some(10)),
            sock(Proto::Udp, "0.0.0.0", 51820, None),
            hidden,
        ],
        vec![proc_(10, "agent", 0, "/usr/bin/agent")],
    );
    let r = run(&s, &host());
    assert_eq!(ids_for(&r, 8125, "127.0.0.1"), ["root-high-port"]);
    assert!(ids_for(&r, 1023, "127.0.0.1").is_empty());
    // A UDP socket on an ephemeral port is a client's: neither rule.
    assert!(ids_for(&r, 40000, "0.0.0.0").is_empty());
    assert_eq!(ids_for(&r, 51820, "0.0.0.0"), ["wildcard-bind", "no-owner"]);
    let h = r
        .findings
        .iter()
        .find(|f| f.port == 9100 && f.rule.id == "no-owner")
        .unwrap();
    assert!(h.message.contains("could not be read"), "{}", h.message);
    assert_eq!(h.process, "-");
}

#[test]
fn skip_and_order_and_identity() {
    let s = snap(
        vec![
            sock(Proto::Tcp, "0.0.0.0", 6379, Some(10)),
            sock(Proto::Tcp, "127.0.0.1", 9000, Some(11)),
        ],
        vec![
            proc_(10, "redis-server", 0, "/usr/bin/redis-server"),
            proc_(11, "x", 1000, "/tmp/x"),
        ],
    );
    let mut facts = host();
    facts.executables = HostFacts::from_snapshot(&s).executables;
    let all = audit(&s, &facts, &[]);
    let sev: Vec<Severity> = all.findings.iter().map(Finding::severity).collect();
    let mut sorted = sev.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(sev, sorted);
    assert_eq!(all.counts(), [0, 2, 0, 2]);
    let fewer = audit(&s, &facts, &["wildcard-bind", "exe-in-temp"]);
    assert!(
        fewer
            .findings
            .iter()
            .all(|f| f.rule.id != "wildcard-bind" && f.rule.id != "exe-in-temp")
    );
    assert_eq!(fewer.findings.len(), all.findings.len() - 2);

    // The identity ignores pids and inodes: a restart is the same finding.
    let mut again = s.clone();
    again.sockets[0].inode = 777;
    again.sockets[0].owners = vec![Owner { pid: 99, fd: 5 }];
    again
        .processes
        .insert(99, proc_(99, "redis-server", 0, "/usr/bin/redis-server"));
    let later = audit(&again, &facts, &[]);
    let keys: Vec<FindingKey> = all.findings.iter().map(Finding::key).collect();
    let (new, gone) = compare(&later.findings, &keys);
    assert!(new.is_empty(), "{new:?}");
    assert!(gone.is_empty(), "{gone:?}");
    let (new, gone) = compare(&fewer.findings, &keys);
    assert!(new.is_empty());
    let gone_rules: Vec<&str> = gone.iter().map(|&i| keys[i].rule.as_str()).collect();
    assert_eq!(gone_rules.len(), 2);
    assert!(gone_rules.contains(&"wildcard-bind") && gone_rules.contains(&"exe-in-temp"));
}

#[test]
fn exe_facts_read_the_deleted_mark() {
    let e = ExeFacts::from_link(b"/tmp/a (deleted)");
    assert!(e.deleted && e.in_temp_dir());
    assert_eq!(e.path, "/tmp/a".into());
    assert!(!ExeFacts::from_link(b"/tmp").in_temp_dir());
    assert!(ExeFacts::from_link(b"/var/tmp/y").in_temp_dir());
}

#[test]
fn setuid_root_and_world_writable_dirs_and_hostile_names() {
    let mut suid = proc_(20, "x", 65534, "/srv/drop/\u{1b}[2Jx");
    suid.name = crate::text::Text::from(&b"n\xff\x1b[2J,y"[..]);
    (suid.euid, suid.euser) = (Some(0), Some("root".into()));
    let s = snap(
        vec![
            sock(Proto::Tcp, "127.0.0.1", 8300, Some(20)),
            sock(Proto::Tcp, "127.0.0.1", 8301, Some(21)),
            sock(Proto::Tcp, "127.0.0.1", 8302, Some(22)),
        ],
        vec![
            suid,
            proc_(21, "lock", 1000, "/run/lock/x"),
            proc_(22, "user", 1000, "/srv/drop/y"),
        ],
    );
    let mut facts = host();
    facts.executables = HostFacts::from_snapshot(&s).executables;
    // What the host seam found: /srv/drop is world-writable.
    for pid in [20, 22] {
        facts
            .executables
            .get_mut(&pid)
            .expect("exe")
            .world_writable_dir = Some(true);
    }
    let r = audit(&s, &facts, &[]);
    assert_eq!(
        ids_for(&r, 8300, "127.0.0.1"),
        ["exe-in-temp", "root-high-port"]
    );
    // Without the host's word, /run/lock is a known scratch directory.
    assert_eq!(ids_for(&r, 8301, "127.0.0.1"), ["exe-in-temp"]);
    assert_eq!(ids_for(&r, 8302, "127.0.0.1"), ["exe-in-temp"]);
    for f in r.findings.iter().filter(|f| f.port == 8300) {
        // Names and paths reach findings escaped; `,` can't split the name.
        assert_eq!(f.process, r"n\xff\x1b[2J\x2cy");
        assert!(!f.message.chars().any(char::is_control), "{}", f.message);
    }
}

/// A podman container "web" (namespace 7, address 10.88.0.2 on its eth0)
/// listening on *:8080, published on the host by conmon on `host_addr`:18080,
/// and a host-network container holding *:9000 in the host's namespace.
fn containers(host_addr: &str) -> (Snapshot, HostFacts) {
    use crate::model::{Container, Netns, Runtime};
    use std::sync::Arc;
    let web = Container {
        name: Some("web".into()),
        ..Container::new(
            Runtime::Podman,
            "7cac9f3560b60ee875f1422befadb1c0d6488ec21be2f49336fcc566dac5e83d",
        )
    };
    let hostns = Arc::new(Netns::host(1));
    let inner = Arc::new(Netns {
        inode: 7,
        name: Some("web".into()),
        host: false,
        container: Some(web.clone()),
    });
    let mut published = sock(Proto::Tcp, host_addr, 18_080, Some(10));
    published.netns = Some(Arc::clone(&hostns));
    let mut listener = sock(Proto::Tcp, "::", 8080, Some(20));
    listener.netns = Some(inner);
    let mut hostnet = sock(Proto::Tcp, "0.0.0.0", 9000, Some(30));
    hostnet.netns = Some(hostns);
    let mut conmon = proc_(10, "conmon", 0, "/usr/bin/conmon");
    conmon.cmdline = format!(
        "/usr/bin/conmon -c {} -n web",
        String::from_utf8_lossy(web.id.as_bytes())
    )
    .into();
    let mut busybox = proc_(20, "busybox", 0, "/bin/busybox");
    busybox.container = Some(web.clone());
    let mut agent = proc_(30, "agent", 0, "/usr/bin/agent");
    agent.container = Some(Container {
        name: Some("agent".into()),
        ..Container::new(
            Runtime::Docker,
            "a3f1c0de5b7e4d2f9a8b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f",
        )
    });
    let s = snap(
        vec![published, listener, hostnet],
        vec![conmon, busybox, agent],
    );
    let mut facts = host();
    facts.netns_addresses.insert(
        7,
        vec![HostAddr {
            addr: "10.88.0.2".parse().unwrap(),
            interface: "eth0".into(),
            index: 2,
        }],
    );
    (s, facts)
}

#[test]
fn a_published_port_beyond_loopback_names_the_container() {
    let (s, facts) = containers("0.0.0.0");
    let r = run(&s, &facts);
    let f = r
        .findings
        .iter()
        .find(|f| f.rule.id == "published-port-exposed")
        .expect("published-port-exposed");
    assert_eq!(f.port, 18_080);
    assert!(
        f.message.contains("container web (podman)"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("[::]:8080") || f.message.contains("*:8080"),
        "{}",
        f.message
    );
    // On loopback it is not exposed.
    let (s, facts) = containers("127.0.0.1");
    let r = run(&s, &facts);
    assert!(
        !r.findings
            .iter()
            .any(|f| f.rule.id == "published-port-exposed")
    );
}

#[test]
fn listeners_inside_a_namespace_reach_its_own_addresses() {
    let (s, facts) = containers("127.0.0.1");
    let r = run(&s, &facts);
    let f = r
        .findings
        .iter()
        .find(|f| f.rule.id == "wildcard-bind" && f.port == 8080)
        .expect("the container's wildcard listener");
    let on: Vec<String> = f.reachable_on.iter().map(|a| a.addr.to_string()).collect();
    assert_eq!(on, ["10.88.0.2"]);
    assert!(f.message.contains("in netns web"), "{}", f.message);
}

#[test]
fn a_host_network_container_is_found_and_forwarders_are_not() {
    let (s, facts) = containers("0.0.0.0");
    let r = run(&s, &facts);
    let hits: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.rule.id == "host-network-container")
        .collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!((hits[0].port, hits[0].pids.clone()), (9000, vec![30]));
    assert!(hits[0].message.contains("container agent (docker)"));
}

fn packet(protocol: u16, ifindex: u32, pid: Option<u32>, info: crate::model::PacketInfo) -> Socket {
    Socket {
        proto: Proto::Packet,
        family: Family::Packet,
        local: Endpoint::Link { protocol, ifindex },
        remote: Endpoint::Link {
            protocol: 0,
            ifindex: 0,
        },
        state: TcpState::Close,
        bound_if: ifindex,
        inode: 9000 + u64::from(protocol) + u64::from(ifindex) * 100,
        owners: pid
            .map(|pid| vec![Owner { pid, fd: 4 }])
            .unwrap_or_default(),
        extra: Some(Box::new(crate::model::SocketExtra {
            packet: Some(info),
            ..Default::default()
        })),
        ..Socket::default()
    }
}

fn packet_info(filter: Option<Option<u32>>, promisc_on: Option<u32>) -> crate::model::PacketInfo {
    crate::model::PacketInfo {
        kind: crate::model::PacketType::Raw,
        interface: None,
        memberships: promisc_on
            .map(|ifindex| {
                vec![crate::model::PacketMembership {
                    ifindex,
                    kind: crate::model::PacketMembership::PROMISC,
                    count: 1,
                }]
            })
            .unwrap_or_default(),
        fanout: None,
        rx_ring: None,
        tx_ring: None,
        filter,
        version: 0,
    }
}

fn by_rule<'a>(r: &'a Report, id: &str) -> Vec<&'a Finding> {
    r.findings.iter().filter(|f| f.rule.id == id).collect()
}

#[test]
fn packet_sniffers_are_every_protocol_or_promiscuous() {
    let s = snap(
        vec![
            // ETH_P_ALL on every interface.
            packet(3, 0, Some(10), packet_info(Some(None), None)),
            // ETH_P_IP, promiscuous on eth0.
            packet(0x0800, 2, Some(11), packet_info(Some(None), Some(2))),
            // ETH_P_ARP, not promiscuous: a DHCP or ARP tool, no sniffer.
            packet(0x0806, 2, Some(12), packet_info(Some(None), None)),
            // A TCP listener is no packet socket.
            sock(Proto::Tcp, "127.0.0.1", 8080, Some(12)),
        ],
        vec![
            proc_(10, "sniff", 0, "/usr/bin/sniff"),
            proc_(11, "promisc", 0, "/usr/bin/promisc"),
            proc_(12, "arping", 0, "/usr/bin/arping"),
        ],
    );
    let r = run(&s, &host());
    let mut hits = by_rule(&r, "packet-sniffer");
    hits.sort_by_key(|f| f.pids.clone());
    let pids: Vec<Vec<u32>> = hits.iter().map(|f| f.pids.clone()).collect();
    assert_eq!(pids, vec![vec![10], vec![11]], "{hits:#?}");
    assert!(hits.iter().all(|f| f.proto == Proto::Packet && f.port == 0));
    assert!(hits[0].message.contains("all:*") && hits[0].message.contains("every frame"));
    assert!(
        hits[1].message.contains("promiscuous"),
        "{}",
        hits[1].message
    );
    assert_eq!(hits[0].reach, Reach::AllInterfaces);
    assert_eq!(hits[1].reach, Reach::Address);
    assert_eq!(hits[1].reachable_on.len(), 2, "eth0's two addresses");
    // Packet sockets are not listeners: the summary counts the TCP one only.
    assert_eq!(r.summary.listeners, 1);
    assert!(by_rule(&r, "no-owner").is_empty());
}

#[test]
fn a_process_sockets_are_one_finding() {
    let s = snap(
        vec![
            packet(3, 0, Some(10), packet_info(Some(None), None)),
            packet(3, 1, Some(10), packet_info(Some(None), None)),
        ],
        vec![proc_(10, "sniff", 0, "/usr/bin/sniff")],
    );
    let r = run(&s, &host());
    let hits = by_rule(&r, "packet-sniffer");
    assert_eq!(hits.len(), 1, "{hits:#?}");
    assert!(hits[0].message.contains("all:*") && hits[0].message.contains("all:1"));
}

#[test]
fn filters_of_unknown_processes_are_high_and_capture_tools_are_not_named() {
    let s = snap(
        vec![
            packet(0x0800, 0, Some(20), packet_info(Some(Some(6)), None)),
            packet(0x0800, 0, Some(21), packet_info(Some(Some(12)), None)),
            packet(0x0800, 0, Some(22), packet_info(Some(Some(4)), None)),
            // Filter unknown (no CAP_NET_ADMIN) and no filter: quiet.
            packet(0x0806, 0, Some(23), packet_info(None, None)),
            packet(0x0806, 2, Some(23), packet_info(Some(None), None)),
            // No visible owner: still reported.
            packet(0x86dd, 0, None, packet_info(Some(Some(3)), None)),
        ],
        vec![
            proc_(20, "tcpdump", 0, "/usr/bin/tcpdump"),
            proc_(
                21,
                "systemd-network",
                0,
                "/usr/lib/systemd/systemd-networkd",
            ),
            proc_(22, "kworker-ish", 0, "/tmp/x"),
            proc_(23, "tcpdumpx", 0, "/usr/bin/tcpdumpx"),
        ],
    );
    let r = run(&s, &host());
    let hits = by_rule(&r, "packet-filter-unknown");
    let pids: Vec<Vec<u32>> = hits.iter().map(|f| f.pids.clone()).collect();
    assert_eq!(pids, vec![vec![], vec![22]], "{hits:#?}");
    assert!(hits.iter().all(|f| f.rule.severity == Severity::High));
    assert!(
        hits[1].message.contains("4 instructions"),
        "{}",
        hits[1].message
    );
    assert!(
        hits[0].message.contains("no process"),
        "{}",
        hits[0].message
    );
    assert_eq!(
        hits[1].key().to_string(),
        "packet-filter-unknown packet 0.0.0.0:0 kworker-ish"
    );
    // Skipping the rule skips it.
    let r = audit(&s, &host(), &["packet-filter-unknown"]);
    assert!(by_rule(&r, "packet-filter-unknown").is_empty());
}

#[test]
fn dhcp_sockets_are_not_wildcard_listeners() {
    let s = snap(
        vec![
            sock(Proto::Udp, "0.0.0.0", 68, Some(10)),
            sock(Proto::Udp, "0.0.0.0", 67, Some(11)),
            sock(Proto::Udp, "::", 546, Some(10)),
            sock(Proto::Udp, "0.0.0.0", 69, Some(11)),
            sock(Proto::Tcp, "0.0.0.0", 68, Some(11)),
        ],
        vec![
            proc_(10, "dhclient", 0, "/usr/sbin/dhclient"),
            proc_(11, "dnsmasq", 0, "/usr/sbin/dnsmasq"),
        ],
    );
    let r = run(&s, &host());
    let wild = |port: u16, proto: Proto| {
        r.findings
            .iter()
            .any(|f| f.port == port && f.proto == proto && f.rule.id == "wildcard-bind")
    };
    assert!(!wild(68, Proto::Udp), "a DHCP client cannot bind 127.0.0.1");
    assert!(!wild(67, Proto::Udp), "a DHCP server hears broadcasts");
    assert!(!wild(546, Proto::Udp));
    // The rule still holds next door and over TCP.
    assert!(wild(69, Proto::Udp));
    assert!(wild(68, Proto::Tcp));
}
