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
