//! The schema pinned: a listing with every kind of socket and detail, and an
//! audit report, built from model values (never the live machine), written
//! and compared with the saved snapshots; and read back to the same model.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;
use crate::Text;
use crate::audit;
use crate::collect::host::{HostAddr, HostFacts};
use crate::model::{
    NetlinkInfo, Owner, PacketFanout, PacketInfo, PacketMembership, PacketRing, PacketType,
    Process, Proto, SocketExtra, TcpState, TimerKind, UnixType, UnknownName,
};

fn process(pid: u32, name: Text, uid: u32, euid: u32, exe: &str) -> Process {
    Process {
        pid,
        name,
        cmdline: Text::from(format!("{exe} --serve")),
        uid: Some(uid),
        user: Some(Text::from(if uid == 0 { "root" } else { "alice" })),
        euid: Some(euid),
        euser: Some(Text::from(if euid == 0 { "root" } else { "alice" })),
        exe: Some(Text::from(exe)),
        ..Process::default()
    }
}

/// One socket of each kind, with every detail, two owners (one a setuid
/// program whose euid differs, one whose name is not UTF-8), an IPv6
/// listener that is v6-only and one that is dual-stack, and a socket whose
/// owners are hidden.
fn every_kind() -> Snapshot {
    let mut snap = Snapshot::default();
    snap.processes.insert(
        100,
        process(100, Text::from("sshd"), 0, 0, "/usr/sbin/sshd"),
    );
    snap.processes.insert(
        200,
        process(
            200,
            Text::from(b"caf\xff\x1b[2J".to_vec()),
            1000,
            0,
            "/tmp/x (deleted)",
        ),
    );
    // The first is a systemd service; the second runs in a container.
    if let Some(p) = snap.processes.get_mut(&100) {
        p.unit = Some(Text::from("ssh.service"));
    }
    let web = crate::model::Container {
        runtime: crate::model::Runtime::Podman,
        id: Text::from("7cac9f3560b60ee875f1422befadb1c0d6488ec21be2f49336fcc566dac5e83d"),
        name: Some(Text::from("web")),
        image: Some(Text::from("localhost/bb:latest")),
        pod: None,
        pod_namespace: None,
    };
    if let Some(p) = snap.processes.get_mut(&200) {
        p.container = Some(web.clone());
    }
    // The cgroup of a socket whose owner is hidden.
    snap.cgroups.insert(
        4_242,
        crate::model::Cgroup {
            path: Text::from("/system.slice/named.service"),
            container: Some(web.clone()),
            unit: Some(Text::from("named.service")),
        },
    );
    let host = std::sync::Arc::new(crate::model::Netns::host(4_026_531_833));
    let inner = std::sync::Arc::new(crate::model::Netns {
        inode: 4_026_532_177,
        name: Some(Text::from("web")),
        host: false,
        container: Some(web),
    });
    let any4 = Endpoint::v4(Ipv4Addr::UNSPECIFIED, 0);
    let any6 = Endpoint::v6(Ipv6Addr::UNSPECIFIED, 0);
    let info = TcpInfo {
        ca_state: 0,
        options: 7,
        snd_wscale: 7,
        rcv_wscale: 7,
        rto_us: 204_000,
        ato_us: 40_000,
        rtt_us: 1_500,
        rttvar_us: 750,
        min_rtt_us: 20,
        snd_mss: 32_768,
        rcv_mss: 536,
        advmss: 65_483,
        pmtu: 65_535,
        snd_cwnd: 10,
        snd_ssthresh: 0xffff_ffff,
        rcv_ssthresh: 65_483,
        rcv_space: 65_483,
        snd_wnd: 65_536,
        total_retrans: 2,
        reordering: 3,
        bytes_sent: 4_096,
        bytes_acked: 4_097,
        bytes_received: 12,
        segs_out: 9,
        segs_in: 8,
        data_segs_out: 3,
        data_segs_in: 1,
        delivered: 4,
        delivery_rate: 1_000_000,
        delivery_rate_app_limited: true,
        pacing_rate: 2_000_000,
        max_pacing_rate: u64::MAX,
        busy_time_us: 3_000,
        last_data_sent_ms: 10,
        last_data_recv_ms: 11,
        last_ack_recv_ms: 12,
        ..TcpInfo::default()
    };
    // The host's port 22 forwards (as a forwarder's would) into "web".
    snap.forwards.insert(
        1001,
        crate::model::ForwardTo {
            netns: Some(std::sync::Arc::clone(&inner)),
            container: inner.container.clone(),
            addr: Some(IpAddr::V4(Ipv4Addr::new(10, 88, 0, 2))),
            port: Some(8080),
        },
    );
    snap.sockets = vec![
        Socket {
            proto: Proto::Tcp,
            family: Family::Inet6,
            local: Endpoint::v6(Ipv6Addr::UNSPECIFIED, 22),
            remote: any6.clone(),
            state: TcpState::Listen,
            send_q: 128,
            uid: Some(0),
            inode: 1001,
            cookie: 11,
            v6only: Some(false),
            owners: vec![Owner { pid: 100, fd: 3 }],
            netns: Some(std::sync::Arc::clone(&host)),
            ..Socket::default()
        },
        Socket {
            proto: Proto::Tcp,
            family: Family::Inet6,
            local: Endpoint::v6(Ipv6Addr::LOCALHOST, 8443),
            remote: any6.clone(),
            state: TcpState::Listen,
            uid: Some(1000),
            inode: 1002,
            cookie: 12,
            v6only: Some(true),
            owners: vec![Owner { pid: 200, fd: 5 }, Owner { pid: 100, fd: 9 }],
            ..Socket::default()
        },
        Socket {
            proto: Proto::Tcp,
            family: Family::Inet,
            local: Endpoint::v4(Ipv4Addr::LOCALHOST, 40_000),
            remote: Endpoint::v4(Ipv4Addr::LOCALHOST, 22),
            state: TcpState::Established,
            recv_q: 3,
            send_q: 1,
            uid: Some(1000),
            inode: 1003,
            cookie: 13,
            owners: vec![Owner { pid: 200, fd: 6 }],
            extra: Some(Box::new(SocketExtra {
                tcp_info: Some(info),
                congestion: Some(CongName::from_bytes(b"cubic\0")),
                packet: None,
                netlink: None,
                sock_filter: None,
                memory: Some(SkMemInfo {
                    rmem_alloc: 0,
                    rcvbuf: 131_072,
                    wmem_alloc: 0,
                    sndbuf: 2_626_560,
                    fwd_alloc: 4_096,
                    wmem_queued: 0,
                    optmem: 0,
                    backlog: 0,
                    drops: 1,
                }),
                timer: Some(Timer {
                    kind: TimerKind::Keepalive,
                    expires_ms: 7_140_000,
                    retrans: 0,
                }),
            })),
            ..Socket::default()
        },
        Socket {
            proto: Proto::Tcp,
            family: Family::Inet,
            local: Endpoint::v4(Ipv4Addr::LOCALHOST, 40_001),
            remote: Endpoint::v4(Ipv4Addr::LOCALHOST, 22),
            state: TcpState::TimeWait,
            uid: Some(0),
            cookie: 14,
            // A connection left in a container's namespace.
            netns: Some(inner),
            extra: Some(Box::new(SocketExtra {
                timer: Some(Timer {
                    kind: TimerKind::TimeWait,
                    expires_ms: 59_000,
                    retrans: 0,
                }),
                ..SocketExtra::default()
            })),
            ..Socket::default()
        },
        Socket {
            proto: Proto::Udp,
            family: Family::Inet,
            local: Endpoint::v4(Ipv4Addr::UNSPECIFIED, 53),
            remote: any4.clone(),
            state: TcpState::Close,
            uid: Some(0),
            inode: 1005,
            cookie: 15,
            owners_hidden: true,
            cgroup_id: 4_242,
            ..Socket::default()
        },
        Socket {
            proto: Proto::Raw,
            family: Family::Inet,
            local: Endpoint::v4(Ipv4Addr::UNSPECIFIED, 1),
            remote: any4,
            state: TcpState::Close,
            uid: Some(0),
            inode: 1006,
            cookie: 16,
            owners: vec![Owner { pid: 100, fd: 4 }],
            extra: Some(Box::new(SocketExtra {
                sock_filter: Some(crate::model::SockFilter::Classic(4)),
                ..SocketExtra::default()
            })),
            ..Socket::default()
        },
        Socket {
            proto: Proto::Unix,
            family: Family::Unix,
            local: Endpoint::Unix {
                path: Some(Text::from(b"/run/caf\xff.sock".to_vec())),
                inode: 1007,
            },
            remote: Endpoint::Unix {
                path: None,
                inode: 0,
            },
            state: TcpState::Listen,
            inode: 1007,
            unix_type: Some(UnixType::Stream),
            owners: vec![Owner { pid: 200, fd: 7 }],
            ..Socket::default()
        },
        Socket {
            proto: Proto::Unix,
            family: Family::Unix,
            local: Endpoint::Unix {
                path: Some(Text::from(b"@abstract\0name".to_vec())),
                inode: 1008,
            },
            remote: Endpoint::Unix {
                path: None,
                inode: 1009,
            },
            state: TcpState::Established,
            uid: None,
            inode: 1008,
            unix_type: Some(UnixType::Dgram),
            ..Socket::default()
        },
        Socket {
            proto: Proto::Mptcp,
            family: Family::Inet,
            local: Endpoint::v4(Ipv4Addr::LOCALHOST, 8080),
            remote: Endpoint::v4(Ipv4Addr::UNSPECIFIED, 0),
            state: TcpState::Listen,
            send_q: 128,
            uid: Some(1000),
            inode: 1010,
            cookie: 20,
            owners: vec![Owner { pid: 200, fd: 11 }],
            ..Socket::default()
        },
        Socket {
            proto: Proto::Packet,
            family: Family::Packet,
            local: Endpoint::Link {
                protocol: 3,
                ifindex: 2,
            },
            remote: Endpoint::Link {
                protocol: 0,
                ifindex: 0,
            },
            state: TcpState::Close,
            recv_q: 640,
            uid: Some(0),
            inode: 1011,
            bound_if: 2,
            cookie: 21,
            owners: vec![Owner { pid: 100, fd: 12 }],
            extra: Some(Box::new(SocketExtra {
                packet: Some(PacketInfo {
                    kind: PacketType::Raw,
                    interface: Some(Text::from("eth\x1b0")),
                    memberships: vec![PacketMembership {
                        ifindex: 2,
                        kind: PacketMembership::PROMISC,
                        count: 1,
                    }],
                    fanout: Some(PacketFanout {
                        id: 7,
                        mode: 0x8002,
                    }),
                    rx_ring: Some(PacketRing {
                        block_size: 4096,
                        block_nr: 64,
                        frame_size: 2048,
                        frame_nr: 128,
                    }),
                    tx_ring: None,
                    filter: Some(Some(6)),
                    version: 2,
                }),
                ..SocketExtra::default()
            })),
            ..Socket::default()
        },
        Socket {
            proto: Proto::Netlink,
            family: Family::Netlink,
            local: Endpoint::Netlink {
                protocol: 15,
                portid: 4242,
            },
            remote: Endpoint::Netlink {
                protocol: 15,
                portid: 0,
            },
            state: TcpState::Close,
            inode: 1012,
            cookie: 22,
            owners: vec![Owner { pid: 200, fd: 13 }],
            extra: Some(Box::new(SocketExtra {
                netlink: Some(NetlinkInfo {
                    groups: vec![1],
                    dst_group: 0,
                }),
                ..SocketExtra::default()
            })),
            ..Socket::default()
        },
    ];
    // A name found for the first socket's address (`--resolve`).
    if let Some(addr) = snap
        .sockets
        .iter()
        .find_map(|s| s.local.addr().filter(|a| !a.is_unspecified()))
    {
        snap.resolved
            .names
            .insert(addr.to_canonical(), Text::from("host.example"));
    }
    snap
}

fn full(snap: &Snapshot) -> Listing<'_> {
    Listing {
        snap,
        owners: true,
        detail: Detail {
            info: true,
            memory: true,
            timers: true,
        },
        ephemeral: Some(EphemeralRange {
            low: 32_768,
            high: 60_999,
        }),
    }
}

fn written(listing: &Listing<'_>, change: impl FnMut(usize) -> Option<&'static str>) -> String {
    let mut out = Vec::new();
    listing.write(&mut out, change).expect("write");
    String::from_utf8(out).expect("JSON is UTF-8")
}

#[test]
fn listing_field_names_are_pinned() {
    let snap = every_kind();
    let text = written(&full(&snap), |i| (i == 0).then_some("+"));
    insta::assert_snapshot!("listing", text);
}

#[test]
fn listing_without_owners_or_details_leaves_their_fields_out() {
    let snap = every_kind();
    let text = written(&Listing::new(&snap), |_| None);
    insta::assert_snapshot!("listing_plain", text);
}

#[test]
fn listing_reads_back_to_the_same_model() {
    let snap = every_kind();
    let read = read_listing(&written(&full(&snap), |_| None)).expect("read back");
    assert!(read.owners_known);
    assert_eq!(read.snapshot.source, crate::model::Source::File);
    assert_eq!(read.snapshot.sockets, snap.sockets);
    assert_eq!(read.snapshot.processes, snap.processes);
    // And writing what was read gives the same bytes.
    assert_eq!(
        written(&full(&read.snapshot), |_| None),
        written(&full(&snap), |_| None)
    );
}

#[test]
fn bad_listings_say_which_socket_and_field() {
    let one = |body: &str| {
        format!(
            r#"[{{"proto":"tcp","family":"inet","local":{{"addr":"127.0.0.1","port":1}},"remote":{{"addr":"0.0.0.0","port":0}},"state":"LISTEN"}},{body}]"#
        )
    };
    let sock = |proto: &str, state: &str, extra: &str| {
        format!(
            r#"{{"proto":"{proto}","family":"inet","local":{{"addr":"127.0.0.1","port":1}},"remote":{{"addr":"0.0.0.0","port":0}},"state":"{state}"{extra}}}"#
        )
    };
    assert!(read_listing(&one(&sock("tcp", "LISTEN", ""))).is_ok());
    // Only a packet socket may have no remote end.
    assert_eq!(
        read_listing(&one(
            r#"{"proto":"tcp","family":"inet","local":{"addr":"127.0.0.1","port":1},"remote":null,"state":"LISTEN"}"#
        ))
        .expect_err("remote"),
        "socket 2: bad remote"
    );
    assert!(read_listing(&one(
        r#"{"proto":"packet","family":"packet","local":{"protocol":"all","protocol_number":3,"ifindex":0},"remote":null,"state":"UNCONN","packet":{"type":"raw"}}"#
    ))
    .is_ok());
    assert_eq!(
        read_listing(&one(
            r#"{"proto":"packet","family":"packet","local":{"protocol":"all","protocol_number":3,"ifindex":0},"remote":null,"state":"UNCONN","packet":{"type":"tap"}}"#
        ))
        .expect_err("packet"),
        "socket 2: bad packet"
    );
    assert_eq!(
        read_listing(&one(&sock("sctp", "LISTEN", ""))).expect_err("proto"),
        "socket 2: bad proto"
    );
    assert_eq!(
        read_listing(&one(&sock("tcp", "OPEN", ""))).expect_err("state"),
        "socket 2: bad state"
    );
    assert_eq!(
        read_listing(&one(&sock(
            "tcp",
            "LISTEN",
            r#","timer":{"kind":"soon","expires_ms":1,"retrans":0}"#
        )))
        .expect_err("timer"),
        "socket 2: bad timer kind"
    );
    assert!(read_listing("{}").is_err());
    assert!(read_listing("[").is_err());
    assert!(read_listing("[] []").is_err());
    // The Text forms are exact both ways; bad hex is refused.
    let bad_hex = sock(
        "tcp",
        "LISTEN",
        r#","owners":[{"pid":1,"fd":2,"name":{"lossy":"x","hex":"zz"},"user":null,"uid":null,"cmdline":"","exe":null}]"#,
    );
    assert!(read_listing(&one(&bad_hex)).is_err());
    assert_eq!("sctp".parse::<Proto>(), Err(UnknownName { what: "proto" }));
}

/// An audit of the listing above on a host with one public address.
fn audited(snap: &Snapshot) -> AuditOut {
    let mut facts = HostFacts::from_snapshot(snap);
    facts.addresses = vec![HostAddr {
        addr: "192.0.2.7".parse().expect("addr"),
        interface: "eth0".into(),
        index: 2,
    }];
    let report = audit::audit(snap, &facts, &[]);
    let findings: Vec<FindingOut> = report
        .findings
        .iter()
        .map(|f| FindingOut::new(f, snap))
        .collect();
    AuditOut {
        summary: SummaryOut::new(&report, &findings),
        host_addresses: facts.addresses.iter().map(AddrOut::from).collect(),
        skipped: vec![],
        baseline: None,
        findings,
        gone: None,
    }
}

#[test]
fn audit_report_field_names_are_pinned() {
    let snap = every_kind();
    let doc = audited(&snap);
    assert!(
        !doc.findings.is_empty(),
        "the fixture should find something"
    );
    let text = serde_json::to_string_pretty(&doc).expect("json");
    insta::assert_snapshot!("audit", text);
    // It reads back as a baseline, and every finding keeps its identity.
    let back = read_audit(&text).expect("read back");
    assert_eq!(back.findings, doc.findings);
    for f in &back.findings {
        let key = f.key().expect("tcp or udp");
        assert_eq!(key.to_string(), f.id);
        assert!(f.level().is_some());
    }
    let again = read_baseline(&text, &HostFacts::default(), &[]).expect("baseline");
    assert_eq!(again, doc.findings);
}

#[test]
fn a_listing_is_a_baseline_too() {
    let snap = every_kind();
    let listing = written(&full(&snap), |_| None);
    let from_listing = read_baseline(&listing, &HostFacts::default(), &[]).expect("baseline");
    let keys: Vec<_> = from_listing.iter().filter_map(FindingOut::key).collect();
    let direct: Vec<_> = audited(&snap)
        .findings
        .iter()
        .filter_map(FindingOut::key)
        .collect();
    assert_eq!(keys, direct);
    let e = read_baseline("[1]", &HostFacts::default(), &[]).expect_err("not a listing");
    assert!(e.contains("neither"), "{e}");
}
