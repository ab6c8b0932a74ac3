//! The netlink collector against the running kernel: real loopback and unix
//! sockets are created, dumped, and checked against their own fds (inode
//! from fstat) and against `ss` as an oracle.
//!
//! `record_fixtures` (ignored) writes the recorded replies under
//! `tests/fixtures/netlink/` that the parser unit tests read.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

mod common;

use portscope::collect::Collector;
use portscope::collect::linux::netlink::{EXT_CONG, EXT_INFO, Netlink};
use portscope::model::{Endpoint, Family, Proto, Query, Socket, StateSet, TcpState, UnixType};

fn inode(fd: impl AsFd) -> u64 {
    rustix::fs::fstat(fd).expect("fstat socket").st_ino
}

fn dump(query: &Query) -> Vec<Socket> {
    let nl = Netlink::open().expect("netlink sock_diag");
    let mut out = Vec::new();
    nl.collect(query, &mut out).expect("dump");
    out
}

fn by_inode(sockets: &[Socket], ino: u64) -> &Socket {
    let found: Vec<&Socket> = sockets.iter().filter(|s| s.inode == ino).collect();
    assert_eq!(found.len(), 1, "socket with inode {ino}: {found:?}");
    found[0]
}

fn inet(addr: SocketAddr) -> Endpoint {
    Endpoint::Inet {
        addr: addr.ip(),
        port: addr.port(),
    }
}

fn unique() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A unix socket path removed again on drop.
struct TempPath(PathBuf);
impl TempPath {
    fn new() -> TempPath {
        TempPath(std::env::temp_dir().join(format!("portscope-nl-{}.sock", unique())))
    }
}
impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Every kind of socket the tests look for, held open together.
struct Population {
    tcp4_listener: TcpListener,
    tcp6_listener: TcpListener,
    client: TcpStream,
    server: TcpStream,
    mapped_client: TcpStream,
    mapped_server: TcpStream,
    udp4: UdpSocket,
    udp6: UdpSocket,
    udp4_connected: UdpSocket,
    unix_path: TempPath,
    unix_listener: UnixListener,
    abstract_name: Vec<u8>,
    abstract_listener: UnixListener,
    unix_client: UnixStream,
    unix_server: UnixStream,
    dgram_pair: (UnixDatagram, UnixDatagram),
}

impl Population {
    fn new() -> Population {
        let tcp4_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp6_listener = TcpListener::bind("[::1]:0").unwrap();
        let client = TcpStream::connect(tcp4_listener.local_addr().unwrap()).unwrap();
        let (server, _) = tcp4_listener.accept().unwrap();
        // An IPv6 socket talking to an IPv4 listener: v4-mapped addresses.
        let port = tcp4_listener.local_addr().unwrap().port();
        let mapped_client = TcpStream::connect(("::ffff:127.0.0.1", port)).unwrap();
        let (mapped_server, _) = tcp4_listener.accept().unwrap();
        let udp4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp6 = UdpSocket::bind("[::1]:0").unwrap();
        let udp4_connected = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp4_connected.connect(udp4.local_addr().unwrap()).unwrap();

        let unix_path = TempPath::new();
        let unix_listener = UnixListener::bind(&unix_path.0).unwrap();
        // An embedded NUL, which ss (and we) show as '@'.
        let abstract_name = format!("portscope-nl\0{}", unique()).into_bytes();
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&abstract_name).unwrap();
        let abstract_listener = UnixListener::bind_addr(&addr).unwrap();
        let unix_client = UnixStream::connect(&unix_path.0).unwrap();
        let (unix_server, _) = unix_listener.accept().unwrap();
        let dgram_pair = UnixDatagram::pair().unwrap();
        Population {
            tcp4_listener,
            tcp6_listener,
            client,
            server,
            mapped_client,
            mapped_server,
            udp4,
            udp6,
            udp4_connected,
            unix_path,
            unix_listener,
            abstract_name,
            abstract_listener,
            unix_client,
            unix_server,
            dgram_pair,
        }
    }

    fn abstract_shown(&self) -> String {
        let name = String::from_utf8(self.abstract_name.clone()).unwrap();
        format!("@{}", name.replace('\0', "@"))
    }

    fn unix_path_str(&self) -> String {
        self.unix_path.0.to_str().unwrap().to_owned()
    }
}

fn any4() -> Endpoint {
    Endpoint::v4(Ipv4Addr::UNSPECIFIED, 0)
}
fn any6() -> Endpoint {
    Endpoint::v6(Ipv6Addr::UNSPECIFIED, 0)
}

#[test]
fn inet_sockets_appear_with_their_fields() {
    let p = Population::new();
    let all = dump(&Query::default());
    let uid = rustix::process::getuid().as_raw();

    let s = by_inode(&all, inode(&p.tcp4_listener));
    assert_eq!(
        (s.proto, s.family, s.state),
        (Proto::Tcp, Family::Inet, TcpState::Listen)
    );
    assert_eq!(s.local, inet(p.tcp4_listener.local_addr().unwrap()));
    assert_eq!(s.remote, any4());
    assert_eq!(s.recv_q, 0);
    assert!(s.send_q > 0, "listener backlog in send_q: {s:?}");
    assert_eq!(s.uid, Some(uid));
    assert_eq!(s.unix_type, None);
    assert_eq!(s.bound_if, 0);
    assert!(s.owners.is_empty());

    let s = by_inode(&all, inode(&p.tcp6_listener));
    assert_eq!(
        (s.proto, s.family, s.state),
        (Proto::Tcp, Family::Inet6, TcpState::Listen)
    );
    assert_eq!(s.local, inet(p.tcp6_listener.local_addr().unwrap()));
    assert_eq!(s.remote, any6());

    for (stream, local, remote) in [
        (&p.client, p.client.local_addr(), p.client.peer_addr()),
        (&p.server, p.server.local_addr(), p.server.peer_addr()),
    ] {
        let s = by_inode(&all, inode(stream));
        assert_eq!(
            (s.proto, s.family, s.state),
            (Proto::Tcp, Family::Inet, TcpState::Established)
        );
        assert_eq!(s.local, inet(local.unwrap()));
        assert_eq!(s.remote, inet(remote.unwrap()));
    }

    // The v6 side of a v4-mapped connection stays IPv6.
    let s = by_inode(&all, inode(&p.mapped_client));
    assert_eq!(s.family, Family::Inet6);
    let mapped: Ipv6Addr = "::ffff:127.0.0.1".parse().unwrap();
    assert_eq!(s.local.addr(), Some(IpAddr::V6(mapped)));
    assert_eq!(s.remote, inet(p.mapped_client.peer_addr().unwrap()));
    assert!(matches!(s.remote.addr(), Some(IpAddr::V6(_))));
    let s = by_inode(&all, inode(&p.mapped_server));
    assert_eq!(s.family, Family::Inet);

    let s = by_inode(&all, inode(&p.udp4));
    assert_eq!(
        (s.proto, s.family, s.state),
        (Proto::Udp, Family::Inet, TcpState::Close)
    );
    assert_eq!(s.local, inet(p.udp4.local_addr().unwrap()));
    assert_eq!(s.remote, any4());
    assert!(s.is_listening());

    let s = by_inode(&all, inode(&p.udp6));
    assert_eq!(
        (s.proto, s.family, s.state),
        (Proto::Udp, Family::Inet6, TcpState::Close)
    );
    assert_eq!(s.local, inet(p.udp6.local_addr().unwrap()));

    let s = by_inode(&all, inode(&p.udp4_connected));
    assert_eq!((s.proto, s.state), (Proto::Udp, TcpState::Established));
    assert_eq!(s.remote, inet(p.udp4.local_addr().unwrap()));
}

#[test]
fn unix_sockets_appear_with_names_and_peers() {
    let p = Population::new();
    let all = dump(&Query::default());
    let path = p.unix_path_str();

    let s = by_inode(&all, inode(&p.unix_listener));
    assert_eq!(
        (s.proto, s.family, s.state),
        (Proto::Unix, Family::Unix, TcpState::Listen)
    );
    assert_eq!(s.unix_type, Some(UnixType::Stream));
    assert_eq!(
        s.local,
        Endpoint::Unix {
            path: Some(path.clone().into()),
            inode: inode(&p.unix_listener)
        }
    );
    assert_eq!(s.uid, Some(rustix::process::getuid().as_raw()));
    assert!(s.send_q > 0, "listener backlog in send_q: {s:?}");

    let s = by_inode(&all, inode(&p.abstract_listener));
    let Endpoint::Unix { path: name, .. } = &s.local else {
        panic!("not unix: {s:?}")
    };
    assert_eq!(
        name.as_ref()
            .map(|n| String::from_utf8_lossy(n.as_bytes()).replace('\0', "@"))
            .as_deref(),
        Some(p.abstract_shown().as_str())
    );

    // The client's peer is the accepted socket, which carries the path.
    let client = by_inode(&all, inode(&p.unix_client));
    let server_ino = inode(&p.unix_server);
    assert_eq!(client.state, TcpState::Established);
    assert_eq!(
        client.remote,
        Endpoint::Unix {
            path: Some(path.clone().into()),
            inode: server_ino
        }
    );
    assert_eq!(
        client.local,
        Endpoint::Unix {
            path: None,
            inode: inode(&p.unix_client)
        }
    );
    let server = by_inode(&all, server_ino);
    assert_eq!(
        server.local,
        Endpoint::Unix {
            path: Some(path.into()),
            inode: server_ino
        }
    );
    assert_eq!(
        server.remote,
        Endpoint::Unix {
            path: None,
            inode: inode(&p.unix_client)
        }
    );

    let (a, b) = &p.dgram_pair;
    let s = by_inode(&all, inode(a));
    assert_eq!(s.unix_type, Some(UnixType::Dgram));
    assert_eq!(
        s.remote,
        Endpoint::Unix {
            path: None,
            inode: inode(b)
        }
    );
}

#[test]
fn unix_queue_lengths_count_unread_bytes() {
    let (a, b) = UnixStream::pair().unwrap();
    (&a).write_all(&[7u8; 1000]).unwrap();
    let all = dump(&Query::default());
    assert_eq!(by_inode(&all, inode(&b)).recv_q, 1000);
    drop(a);
}

#[test]
fn kernel_filters_states_and_families() {
    let p = Population::new();
    let listen_only = Query {
        udp: false,
        raw: false,
        unix: false,
        ipv6: false,
        states: StateSet::only(TcpState::Listen),
        ..Query::default()
    };
    let got = dump(&listen_only);
    assert!(!got.is_empty());
    for s in &got {
        assert_eq!(
            (s.proto, s.family, s.state),
            (Proto::Tcp, Family::Inet, TcpState::Listen),
            "{s:?}"
        );
    }
    by_inode(&got, inode(&p.tcp4_listener));

    let unconnected_udp = Query {
        tcp: false,
        raw: false,
        unix: false,
        states: StateSet::only(TcpState::Close),
        ..Query::default()
    };
    let got = dump(&unconnected_udp);
    by_inode(&got, inode(&p.udp4));
    by_inode(&got, inode(&p.udp6));
    assert!(got.iter().all(|s| s.inode != inode(&p.udp4_connected)));
    assert!(
        got.iter()
            .all(|s| s.proto == Proto::Udp && s.state == TcpState::Close)
    );

    let none = Query {
        states: StateSet::NONE,
        ..Query::default()
    };
    assert!(dump(&none).is_empty());
}

#[test]
fn raw_sockets_come_from_netlink_or_are_left_to_procfs() {
    use rustix::net::{AddressFamily, SocketType, ipproto};
    // Creating a raw socket needs CAP_NET_RAW; without it there is nothing to look for.
    let Ok(raw) = rustix::net::socket(AddressFamily::INET, SocketType::RAW, Some(ipproto::ICMP))
    else {
        return;
    };
    let ino = inode(&raw);
    let nl = Netlink::open().unwrap();
    let mut out = Vec::new();
    let raw_only = Query {
        tcp: false,
        udp: false,
        unix: false,
        ..Query::default()
    };
    nl.collect(&raw_only, &mut out)
        .expect("raw dump never fails the collect");
    let supported = nl.raw_supported();
    if supported {
        let s = by_inode(&out, ino);
        assert_eq!(s.proto, Proto::Raw);
    } else {
        assert!(out.is_empty(), "{out:?}");
        // Then /proc/net/raw has it, for the procfs collector to fill in.
        let text = std::fs::read_to_string("/proc/net/raw").unwrap();
        let found = text
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(9) == Some(ino.to_string().as_str()));
        assert!(found, "raw socket {ino} not in /proc/net/raw");
    }
    // Asking again gives the same answer without failing.
    assert_eq!(Netlink::open().unwrap().raw_supported(), supported);
    let mut again = Vec::new();
    nl.collect(&Query::default(), &mut again).unwrap();
    assert_eq!(
        again
            .iter()
            .any(|s| s.proto == Proto::Raw && s.inode == ino),
        supported
    );
}

/// One `ss` row: netid, state, queues, local, peer, and the inode.
#[derive(Debug)]
struct SsRow {
    netid: String,
    state: String,
    recv_q: u32,
    send_q: u32,
    local: String,
    peer: String,
    ino: u64,
}

// Other processes' socket names may be any bytes (and hold newlines, which
// split ss's rows): common::ss reads lossily, and rows that don't parse are
// skipped.
use common::ss;

/// `ss -tuaneH`: `netid state rq sq local peer ... ino:N ...`.
fn ss_inet() -> HashMap<u64, SsRow> {
    let mut rows = HashMap::new();
    for line in ss(&["-tuaneH"]).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(ino) = f.iter().find_map(|x| x.strip_prefix("ino:")) else {
            continue;
        };
        let (Ok(ino), Some(Ok(recv_q)), Some(Ok(send_q))) = (
            ino.parse::<u64>(),
            f.get(2).map(|q| q.parse()),
            f.get(3).map(|q| q.parse()),
        ) else {
            continue;
        };
        if ino == 0 || f.len() < 6 {
            continue;
        }
        rows.insert(
            ino,
            SsRow {
                netid: f[0].into(),
                state: f[1].into(),
                recv_q,
                send_q,
                local: f[4].into(),
                peer: f[5].into(),
                ino,
            },
        );
    }
    rows
}

/// `ss -xaH`: `netid state rq sq local ino peer peer_ino`.
fn ss_unix() -> HashMap<u64, SsRow> {
    let mut rows = HashMap::new();
    for line in ss(&["-xaH"]).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(ino), Ok(recv_q), Ok(send_q)) = (f[5].parse::<u64>(), f[2].parse(), f[3].parse())
        else {
            continue;
        };
        rows.insert(
            ino,
            SsRow {
                netid: f[0].into(),
                state: f[1].into(),
                recv_q,
                send_q,
                local: f[4].into(),
                peer: f[7].into(),
                ino,
            },
        );
    }
    rows
}

fn ss_state(s: &Socket) -> &'static str {
    match (s.state, s.proto) {
        (TcpState::Established, _) => "ESTAB",
        (TcpState::Listen, _) => "LISTEN",
        (TcpState::Close, Proto::Tcp) => "CLOSE",
        (TcpState::Close, _) => "UNCONN",
        (other, _) => other.name(),
    }
}

/// ss's address:port, `*` for a zero port, brackets for IPv6.
fn ss_endpoint(e: &Endpoint) -> String {
    match e {
        Endpoint::Inet { addr, port } => {
            let port = if *port == 0 {
                "*".to_owned()
            } else {
                port.to_string()
            };
            match addr {
                IpAddr::V4(a) => format!("{a}:{port}"),
                IpAddr::V6(a) => format!("[{a}]:{port}"),
            }
        }
        // ss shows an abstract name's NULs as `@`.
        Endpoint::Unix { path, .. } => path.as_ref().map_or("*".to_owned(), |p| {
            String::from_utf8_lossy(p.as_bytes()).replace('\0', "@")
        }),
        other => other.to_string(),
    }
}

#[test]
fn matches_ss_for_our_sockets() {
    // Alone in a namespace: ss's rows are ours, read at the same instant.
    let _ns = common::netns();
    let p = Population::new();
    let all = dump(&Query::default());
    let inet_rows = ss_inet();
    let unix_rows = ss_unix();

    let inet_fds = [
        inode(&p.tcp4_listener),
        inode(&p.tcp6_listener),
        inode(&p.client),
        inode(&p.server),
        inode(&p.mapped_client),
        inode(&p.mapped_server),
        inode(&p.udp4),
        inode(&p.udp6),
        inode(&p.udp4_connected),
    ];
    for ino in inet_fds {
        let s = by_inode(&all, ino);
        let row = inet_rows
            .get(&ino)
            .unwrap_or_else(|| panic!("ss lacks {ino}: {s:?}"));
        assert_eq!(row.netid, s.proto.as_str(), "{row:?}");
        assert_eq!(row.state, ss_state(s), "{row:?}");
        assert_eq!((row.recv_q, row.send_q), (s.recv_q, s.send_q), "{row:?}");
        assert_eq!(row.local, ss_endpoint(&s.local), "{row:?}");
        let peer = ss_endpoint(&s.remote);
        // ss prints an unconnected IPv4 peer as 0.0.0.0:* and IPv6 as [::]:*.
        assert_eq!(row.peer, peer, "{row:?}");
        assert_eq!(row.ino, s.inode);
    }

    let (a, b) = &p.dgram_pair;
    let unix_fds = [
        inode(&p.unix_listener),
        inode(&p.abstract_listener),
        inode(&p.unix_client),
        inode(&p.unix_server),
        inode(a),
        inode(b),
    ];
    for ino in unix_fds {
        let s = by_inode(&all, ino);
        let row = unix_rows
            .get(&ino)
            .unwrap_or_else(|| panic!("ss lacks {ino}: {s:?}"));
        let netid = match s.unix_type {
            Some(UnixType::Stream) => "u_str",
            Some(UnixType::Dgram) => "u_dgr",
            Some(UnixType::Seqpacket) => "u_seq",
            None => "?",
        };
        assert_eq!(row.netid, netid, "{row:?}");
        assert_eq!(row.state, ss_state(s), "{row:?}");
        assert_eq!((row.recv_q, row.send_q), (s.recv_q, s.send_q), "{row:?}");
        assert_eq!(row.local, ss_endpoint(&s.local), "{row:?}");
        let Endpoint::Unix { inode: peer, .. } = s.remote else {
            panic!("{s:?}")
        };
        assert_eq!(row.peer, peer.to_string(), "{row:?}");
    }
}

/// Records the fixtures under `tests/fixtures/netlink/`: the raw replies of
/// each dump while a known population is open, and `known.txt` naming the
/// sockets the parser tests must find in them. Run with
/// `PORTSCOPE_RECORD_FIXTURES=1 cargo test -p portscope --test netlink_live -- --ignored record_fixtures`.
/// A recorder, not a test: without the variable it does nothing, so that
/// `--include-ignored` (the slow suites, as CI runs them) leaves the
/// fixtures alone.
#[test]
#[ignore = "writes tests/fixtures/netlink; run by hand to re-record"]
fn record_fixtures() {
    if std::env::var_os("PORTSCOPE_RECORD_FIXTURES").is_none() {
        return;
    }
    let p = Population::new();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/netlink");
    std::fs::create_dir_all(&dir).unwrap();
    let nl = Netlink::open().unwrap();
    let dumps = [
        ("tcp4", Family::Inet, Proto::Tcp, 0),
        ("tcp6", Family::Inet6, Proto::Tcp, 0),
        ("udp4", Family::Inet, Proto::Udp, 0),
        ("udp6", Family::Inet6, Proto::Udp, 0),
        ("unix", Family::Unix, Proto::Unix, 0),
        ("tcp4_info", Family::Inet, Proto::Tcp, EXT_INFO | EXT_CONG),
    ];
    for (name, family, proto, ext) in dumps {
        let mut bytes = Vec::new();
        nl.dump_bytes(family, proto, StateSet::ALL, ext, &mut bytes)
            .unwrap();
        std::fs::write(dir.join(format!("{name}.bin")), bytes).unwrap();
    }

    // One line per known socket: dump, state, local, remote, inode.
    let mut known = String::new();
    let mut line = |dump: &str, state: &str, local: String, remote: String, ino: u64| {
        known.push_str(&format!("{dump} {state} {local} {remote} {ino}\n"));
    };
    let ep = |a: SocketAddr| ss_endpoint(&inet(a));
    let l4 = p.tcp4_listener.local_addr().unwrap();
    line(
        "tcp4",
        "LISTEN",
        ep(l4),
        "0.0.0.0:*".into(),
        inode(&p.tcp4_listener),
    );
    let l6 = p.tcp6_listener.local_addr().unwrap();
    line(
        "tcp6",
        "LISTEN",
        ep(l6),
        "[::]:*".into(),
        inode(&p.tcp6_listener),
    );
    for st in [&p.client, &p.server] {
        line(
            "tcp4",
            "ESTABLISHED",
            ep(st.local_addr().unwrap()),
            ep(st.peer_addr().unwrap()),
            inode(st),
        );
    }
    let m = &p.mapped_client;
    line(
        "tcp6",
        "ESTABLISHED",
        ep(m.local_addr().unwrap()),
        ep(m.peer_addr().unwrap()),
        inode(m),
    );
    line(
        "udp4",
        "UNCONN",
        ep(p.udp4.local_addr().unwrap()),
        "0.0.0.0:*".into(),
        inode(&p.udp4),
    );
    line(
        "udp6",
        "UNCONN",
        ep(p.udp6.local_addr().unwrap()),
        "[::]:*".into(),
        inode(&p.udp6),
    );
    let c = &p.udp4_connected;
    line(
        "udp4",
        "ESTABLISHED",
        ep(c.local_addr().unwrap()),
        ep(c.peer_addr().unwrap()),
        inode(c),
    );
    line(
        "unix",
        "LISTEN",
        p.unix_path_str(),
        "*".into(),
        inode(&p.unix_listener),
    );
    line(
        "unix",
        "LISTEN",
        p.abstract_shown(),
        "*".into(),
        inode(&p.abstract_listener),
    );
    // The client's peer name comes from resolving the accepted socket.
    line(
        "unix",
        "ESTABLISHED",
        "*".into(),
        p.unix_path_str(),
        inode(&p.unix_client),
    );
    line(
        "unix",
        "ESTABLISHED",
        p.unix_path_str(),
        "*".into(),
        inode(&p.unix_server),
    );
    line(
        "tcp4_info",
        "ESTABLISHED",
        ep(p.client.local_addr().unwrap()),
        ep(p.client.peer_addr().unwrap()),
        inode(&p.client),
    );
    std::fs::write(dir.join("known.txt"), known).unwrap();
    drop(p);
}

/// Exact-match tcp_info reads: each socket asked about gets its own
/// counters (the bytes it sent), a socket that closed gets none, and a
/// socket on the same ports with another cookie is not taken for it.
#[test]
fn tcp_info_by_cookie_reads_just_those_sockets() {
    use portscope::collect::{Native, System};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut a, _) = l.accept().unwrap();
    let mut c6 = TcpStream::connect(l6.local_addr().unwrap()).unwrap();
    let (_a6, _) = l6.accept().unwrap();
    c.write_all(&[7u8; 3000]).unwrap();
    c6.write_all(&[7u8; 500]).unwrap();
    a.write_all(&[1u8; 20]).unwrap();
    let gone = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (gone_peer, _) = l.accept().unwrap();
    let gone_ino = inode(&gone);
    // The kernel acknowledges what loopback delivered; wait for it.
    std::thread::sleep(std::time::Duration::from_millis(50));

    let all = dump(&Query {
        udp: false,
        raw: false,
        unix: false,
        ..Query::default()
    });
    let mut c_s = by_inode(&all, inode(&c)).clone();
    let mut c6_s = by_inode(&all, inode(&c6)).clone();
    let mut a_s = by_inode(&all, inode(&a)).clone();
    let mut gone_s = by_inode(&all, gone_ino).clone();
    let mut forged = c_s.clone();
    forged.cookie ^= 1 << 40;
    // As /proc gives it: no cookie, so the ends alone pick the socket.
    let mut no_cookie = a_s.clone();
    no_cookie.cookie = 0;
    assert!(c_s.extra.is_none(), "a plain dump carries no tcp_info");
    drop(gone);
    drop(gone_peer);

    let r = Native::new();
    r.tcp_info(&mut [
        &mut c_s,
        &mut c6_s,
        &mut a_s,
        &mut gone_s,
        &mut forged,
        &mut no_cookie,
    ])
    .unwrap();
    let info = |s: &Socket| s.extra.as_ref().and_then(|x| x.tcp_info);
    let ci = info(&c_s).expect("tcp_info of the v4 client");
    assert!(ci.bytes_acked >= 3000, "{ci:?}");
    assert_eq!(ci.bytes_received, 20);
    let c6i = info(&c6_s).expect("tcp_info of the v6 client");
    assert!(c6i.bytes_acked >= 500 && c6i.bytes_acked < 3000, "{c6i:?}");
    assert_eq!(
        info(&a_s)
            .expect("tcp_info of the accepted end")
            .bytes_received,
        3000
    );
    assert!(c_s.extra.as_ref().unwrap().congestion.is_some());
    // Closed: now TIME_WAIT or gone, either way no tcp_info.
    assert_eq!(info(&gone_s), None);
    assert_eq!(info(&forged), None, "another cookie is another socket");
    assert_eq!(
        info(&no_cookie)
            .expect("matched by its ends")
            .bytes_received,
        3000
    );
}
