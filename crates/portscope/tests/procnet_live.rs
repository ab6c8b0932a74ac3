//! The /proc/net collector against the live kernel: real loopback sockets
//! must come back with the right protocol, family, ends, state and inode
//! (the inode `fstat` gives for the socket's fd), and the whole TCP/UDP table
//! must agree with `ss -tuanH`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram, UnixListener, UnixStream};

use portscope::collect::Collector;
use portscope::collect::linux::procnet::ProcNet;
use portscope::model::{Endpoint, Family, Proto, Query, Socket, TcpState, UnixType};

fn inode(fd: impl AsFd) -> u64 {
    rustix::fs::fstat(fd).unwrap().st_ino
}

fn collect(query: &Query) -> Vec<Socket> {
    let mut out = Vec::new();
    ProcNet::new().collect(query, &mut out).unwrap();
    out
}

fn find(sockets: &[Socket], fd: impl AsFd) -> &Socket {
    let ino = inode(fd);
    let mut hits = sockets.iter().filter(|s| s.inode == ino);
    let s = hits
        .next()
        .unwrap_or_else(|| panic!("socket with inode {ino} not in /proc/net"));
    assert!(hits.next().is_none(), "inode {ino} listed twice");
    s
}

fn ep(addr: SocketAddr) -> Endpoint {
    Endpoint::Inet {
        addr: addr.ip(),
        port: addr.port(),
    }
}

fn any_v4() -> Endpoint {
    Endpoint::v4(Ipv4Addr::UNSPECIFIED, 0)
}

fn any_v6() -> Endpoint {
    Endpoint::v6(Ipv6Addr::UNSPECIFIED, 0)
}

/// Connects to `listener` and accepts: (client, server end).
fn tcp_pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

#[test]
fn loopback_tcp_and_udp_sockets_are_seen() {
    let uid = rustix::process::geteuid().as_raw();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (mut client, server) = tcp_pair(&listener);
    client.write_all(b"abc").unwrap();
    // Left in the accept queue: counts in the listener's recv_q.
    let _waiting = TcpStream::connect(listener.local_addr().unwrap()).unwrap();

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_conn = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp_conn.connect(udp.local_addr().unwrap()).unwrap();
    udp_conn.send(&[7; 10]).unwrap();

    // Wait for the kernel to have queued what was sent (loopback is
    // synchronous, but don't rely on it).
    let mut all = collect(&Query::default());
    for _ in 0..50 {
        if find(&all, &server).recv_q == 3 && find(&all, &udp).recv_q > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        all = collect(&Query::default());
    }

    let l = find(&all, &listener);
    assert_eq!((l.proto, l.family), (Proto::Tcp, Family::Inet));
    assert_eq!(l.local, ep(listener.local_addr().unwrap()));
    assert_eq!(l.remote, any_v4());
    assert_eq!(l.state, TcpState::Listen);
    // The accept queue, and 0 where netlink would give the backlog.
    assert_eq!((l.recv_q, l.send_q), (1, 0));
    assert_eq!((l.uid, l.bound_if, l.unix_type), (Some(uid), 0, None));

    let c = find(&all, &client);
    assert_eq!(c.local, ep(client.local_addr().unwrap()));
    assert_eq!(c.remote, ep(listener.local_addr().unwrap()));
    assert_eq!(c.state, TcpState::Established);
    let s = find(&all, &server);
    assert_eq!(s.local, ep(server.local_addr().unwrap()));
    assert_eq!(s.remote, ep(client.local_addr().unwrap()));
    assert_eq!((s.state, s.recv_q, s.send_q), (TcpState::Established, 3, 0));

    let u = find(&all, &udp);
    assert_eq!((u.proto, u.family), (Proto::Udp, Family::Inet));
    assert_eq!(
        (u.local.clone(), u.remote.clone()),
        (ep(udp.local_addr().unwrap()), any_v4())
    );
    assert_eq!(u.state, TcpState::Close);
    assert!(
        u.recv_q >= 10,
        "10 bytes waiting count in rmem: {}",
        u.recv_q
    );
    let uc = find(&all, &udp_conn);
    assert_eq!(uc.remote, ep(udp.local_addr().unwrap()));
    assert_eq!((uc.state, uc.uid), (TcpState::Established, Some(uid)));

    // The query narrows what comes back.
    let only_udp = collect(&Query {
        tcp: false,
        raw: false,
        unix: false,
        ..Query::default()
    });
    assert!(only_udp.iter().all(|s| s.proto == Proto::Udp));
    find(&only_udp, &udp_conn);
    let listeners = collect(&Query {
        states: portscope::model::StateSet::only(TcpState::Listen),
        ..Query::default()
    });
    assert!(listeners.iter().all(|s| s.state == TcpState::Listen));
    find(&listeners, &listener);
}

#[test]
fn loopback_ipv6_sockets_are_seen() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    };
    let (client, server) = tcp_pair(&listener);
    let udp = UdpSocket::bind("[::1]:0").unwrap();
    // A dual-stack wildcard listener reached over IPv4: the accepted end is v4-mapped.
    let dual = TcpListener::bind("[::]:0").unwrap();
    let v4_client = TcpStream::connect((Ipv4Addr::LOCALHOST, dual.local_addr().unwrap().port()));
    let mapped = v4_client.as_ref().ok().map(|_| dual.accept().unwrap().0);

    let all = collect(&Query::default());
    let l = find(&all, &listener);
    assert_eq!(
        (l.proto, l.family, l.state),
        (Proto::Tcp, Family::Inet6, TcpState::Listen)
    );
    assert_eq!(
        (l.local.clone(), l.remote.clone()),
        (ep(listener.local_addr().unwrap()), any_v6())
    );
    let c = find(&all, &client);
    assert_eq!(c.remote, ep(listener.local_addr().unwrap()));
    let s = find(&all, &server);
    assert_eq!(s.remote, ep(client.local_addr().unwrap()));
    assert_eq!(s.state, TcpState::Established);
    let u = find(&all, &udp);
    assert_eq!(
        (u.proto, u.family, u.state),
        (Proto::Udp, Family::Inet6, TcpState::Close)
    );
    assert_eq!(u.local, ep(udp.local_addr().unwrap()));

    let d = find(&all, &dual);
    assert_eq!(
        d.local,
        Endpoint::v6(Ipv6Addr::UNSPECIFIED, dual.local_addr().unwrap().port())
    );
    if let Some(m) = &mapped {
        let sm = find(&all, m);
        assert_eq!(sm.family, Family::Inet6);
        let v4 = v4_client.as_ref().unwrap().local_addr().unwrap();
        let IpAddr::V4(v4ip) = v4.ip() else { panic!() };
        assert_eq!(sm.remote, Endpoint::v6(v4ip.to_ipv6_mapped(), v4.port()));
    }
}

#[test]
fn raw_sockets_show_their_protocol_as_the_port() {
    use rustix::net::{AddressFamily, SocketType, ipproto, socket};
    let icmp = match socket(AddressFamily::INET, SocketType::RAW, Some(ipproto::ICMP)) {
        Ok(fd) => fd,
        Err(e) if e == rustix::io::Errno::PERM || e == rustix::io::Errno::ACCESS => {
            eprintln!("skipped: raw sockets need CAP_NET_RAW ({e})");
            return;
        }
        Err(e) => panic!("raw socket: {e}"),
    };
    let icmp6 = socket(AddressFamily::INET6, SocketType::RAW, Some(ipproto::ICMPV6)).ok();

    let all = collect(&Query::default());
    let r = find(&all, &icmp);
    assert_eq!(
        (r.proto, r.family, r.state),
        (Proto::Raw, Family::Inet, TcpState::Close)
    );
    assert_eq!(r.local, Endpoint::v4(Ipv4Addr::UNSPECIFIED, 1));
    assert_eq!(r.remote, any_v4());
    if let Some(fd) = &icmp6 {
        let r6 = find(&all, fd);
        assert_eq!((r6.proto, r6.family), (Proto::Raw, Family::Inet6));
        assert_eq!(r6.local, Endpoint::v6(Ipv6Addr::UNSPECIFIED, 58));
    }
}

/// In a namespace of its own: `/proc/net/unix` of the whole machine may hold
/// a socket no process holds right after the test's named listener, which
/// `parse_unix_checked` rightly reads as the rest of the listener's name.
#[test]
fn unix_sockets_are_seen() {
    // Alone in a namespace: on the host, another process's unix path holding
    // a newline can make /proc/net/unix ambiguous next to ours (with
    // bench/churn.py running, this test's path once came back with the next
    // record glued on; reported, not fixed here).
    let _ns = common::netns();
    let dir = std::env::temp_dir().join(format!("portscope procnet live {}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a listener.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let client = UnixStream::connect(&path).unwrap();
    let (server, _) = listener.accept().unwrap();
    let name = format!("portscope-live-{}", std::process::id());
    let abs =
        UnixDatagram::bind_addr(&UnixAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    let (pa, pb) = UnixStream::pair().unwrap();

    let query = Query {
        tcp: false,
        udp: false,
        raw: false,
        ..Query::default()
    };
    let mut all = Vec::new();
    // /proc/net is the main thread's namespace; this thread's is here.
    ProcNet::at("/proc/thread-self/net")
        .collect(&query, &mut all)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_dir(&dir).unwrap();
    assert!(
        all.iter()
            .all(|s| s.proto == Proto::Unix && s.family == Family::Unix)
    );
    // /proc/net/unix has no uid column: not known, not root.
    assert!(all.iter().all(|s| s.uid.is_none()));

    let p = path.to_str().unwrap();
    let l = find(&all, &listener);
    assert_eq!(
        l.local,
        Endpoint::Unix {
            path: Some(p.into()),
            inode: inode(&listener)
        }
    );
    assert_eq!(
        (l.state, l.unix_type),
        (TcpState::Listen, Some(UnixType::Stream))
    );
    assert_eq!(
        l.remote,
        Endpoint::Unix {
            path: None,
            inode: 0
        }
    );
    let c = find(&all, &client);
    assert_eq!(
        c.local,
        Endpoint::Unix {
            path: None,
            inode: inode(&client)
        }
    );
    assert_eq!(c.state, TcpState::Established);
    let s = find(&all, &server);
    assert_eq!(
        (s.local.clone(), s.state),
        (
            Endpoint::Unix {
                path: Some(p.into()),
                inode: inode(&server)
            },
            TcpState::Established
        )
    );
    let a = find(&all, &abs);
    assert_eq!(
        a.local,
        Endpoint::Unix {
            path: Some(format!("@{name}").into()),
            inode: inode(&abs)
        }
    );
    assert_eq!(
        (a.state, a.unix_type),
        (TcpState::Close, Some(UnixType::Dgram))
    );
    for end in [&pa, &pb] {
        assert_eq!(find(&all, end).state, TcpState::Established);
    }
}

// ---- the whole TCP/UDP table against ss ----

type Key = (Proto, Endpoint, Endpoint, TcpState);

fn ss_state(name: &str) -> TcpState {
    common::ss::state(name).unwrap_or_else(|| panic!("unknown ss state {name}"))
}

fn ss_endpoint(s: &str) -> Endpoint {
    common::ss::endpoint(s).unwrap_or_else(|| panic!("not an ss end: {s}"))
}

fn ss_table() -> HashMap<Key, usize> {
    let mut keys = HashMap::new();
    for line in common::ss(&["-tuanH"]).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let proto = match f[0] {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            other => panic!("unexpected netid {other} in {line:?}"),
        };
        let key = (proto, ss_endpoint(f[4]), ss_endpoint(f[5]), ss_state(f[1]));
        *keys.entry(key).or_insert(0) += 1;
    }
    keys
}

fn proc_table() -> HashMap<Key, usize> {
    let mut keys = HashMap::new();
    let q = Query {
        raw: false,
        unix: false,
        ..Query::default()
    };
    for s in collect(&q) {
        // ss names request sockets SYN-RECV, whichever number they carry.
        let state = match s.state {
            TcpState::NewSynRecv => TcpState::SynRecv,
            st => st,
        };
        *keys.entry((s.proto, s.local, s.remote, state)).or_insert(0) += 1;
    }
    keys
}

#[test]
fn tcp_and_udp_tables_agree_with_ss() {
    // Alone in a namespace (read through /proc/thread-self/net), the tables
    // hold our sockets only and must equal ss's exactly.
    let _ns = common::netns();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (client, _server) = tcp_pair(&listener);
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mine: Vec<Key> = vec![
        (
            Proto::Tcp,
            ep(listener.local_addr().unwrap()),
            any_v4(),
            TcpState::Listen,
        ),
        (
            Proto::Tcp,
            ep(client.local_addr().unwrap()),
            ep(listener.local_addr().unwrap()),
            TcpState::Established,
        ),
        (
            Proto::Udp,
            ep(udp.local_addr().unwrap()),
            any_v4(),
            TcpState::Close,
        ),
    ];

    let exact = proc_table();
    let mut expected: HashMap<Key, usize> = mine.iter().map(|k| (k.clone(), 1)).collect();
    // The accepted end of the connection.
    expected.insert(
        (
            Proto::Tcp,
            ep(listener.local_addr().unwrap()),
            ep(client.local_addr().unwrap()),
            TcpState::Established,
        ),
        1,
    );
    assert_eq!(exact, expected);
    assert_eq!(ss_table(), expected);

    // The comparison as it was written for a busy host, kept because it
    // must also hold here: what ss shows must be in one of two reads, and
    // what both reads show must be in ss.
    let mut last = Vec::new();
    for attempt in 1..=5 {
        let before = proc_table();
        let ss = ss_table();
        let after = proc_table();
        for k in &mine {
            assert!(before.contains_key(k), "{k:?} not in /proc/net");
            assert!(ss.contains_key(k), "{k:?} not in ss");
        }
        let mut diff = Vec::new();
        for (k, &n) in &ss {
            let seen = before
                .get(k)
                .copied()
                .unwrap_or(0)
                .max(after.get(k).copied().unwrap_or(0));
            if seen < n {
                diff.push(format!("only in ss: {k:?} x{}", n - seen));
            }
        }
        for (k, &n) in &before {
            let both = n.min(after.get(k).copied().unwrap_or(0));
            let in_ss = ss.get(k).copied().unwrap_or(0);
            if both > in_ss {
                diff.push(format!("only in /proc/net: {k:?} x{}", both - in_ss));
            }
        }
        if diff.is_empty() {
            eprintln!(
                "{} TCP/UDP sockets agree with ss (attempt {attempt})",
                ss.len()
            );
            return;
        }
        last = diff;
    }
    panic!("/proc/net and ss disagree:\n{}", last.join("\n"));
}
