//! Tests of the sock_diag collector: the parsers on recorded fixtures
//! (`tests/fixtures/netlink/`), truncated and garbage input, request
//! layouts, and a few live dumps on loopback.

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::destroy::{INET_DIAG_NOCOOKIE, SOCK_DESTROY};
use super::inet::{INET_DIAG_INFO, INET_DIAG_MSG_LEN, INET_DIAG_SKV6ONLY};
use super::requests::{SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK, inet_request, unix_request};
use super::tcp_info::TCP_INFO_KNOWN;
use super::unix::UNIX_DIAG_MSG_LEN;
use super::wire::*;
use super::*;
use crate::Error;
use crate::model::{
    Detail, Endpoint, Family, Query, SkMemInfo, Socket, SocketExtra, StateSet, TcpState, Timer,
    TimerKind, UnixType,
};

/// The details asking for tcp_info and congestion give for one message.
fn info_of(payload: &[u8]) -> SocketExtra {
    parse_inet_extra(payload, INFO).map_or_else(SocketExtra::default, |x| *x)
}

const ALL: Detail = Detail {
    info: true,
    memory: true,
    timers: true,
};

const INFO: Detail = Detail {
    info: true,
    memory: false,
    timers: false,
};

/// A dump fed whole to a reader that parses tcp_info and congestion.
fn parse_info(bytes: &[u8]) -> Vec<Socket> {
    let mut out = Vec::new();
    let mut r = DumpReader::new(DumpKind::Inet(Proto::Tcp)).with_detail(INFO);
    assert_eq!(r.feed(bytes, &mut out).unwrap(), Progress::Done);
    out
}

const TCP4: &[u8] = include_bytes!("../../../../tests/fixtures/netlink/tcp4.bin");
const TCP6: &[u8] = include_bytes!("../../../../tests/fixtures/netlink/tcp6.bin");
const UDP4: &[u8] = include_bytes!("../../../../tests/fixtures/netlink/udp4.bin");
const UDP6: &[u8] = include_bytes!("../../../../tests/fixtures/netlink/udp6.bin");
const UNIX: &[u8] = include_bytes!("../../../../tests/fixtures/netlink/unix.bin");
const TCP4_INFO: &[u8] = include_bytes!("../../../../tests/fixtures/netlink/tcp4_info.bin");
const KNOWN: &str = include_str!("../../../../tests/fixtures/netlink/known.txt");

fn fixtures() -> [(&'static str, &'static [u8], DumpKind); 6] {
    [
        ("tcp4", TCP4, DumpKind::Inet(Proto::Tcp)),
        ("tcp6", TCP6, DumpKind::Inet(Proto::Tcp)),
        ("udp4", UDP4, DumpKind::Inet(Proto::Udp)),
        ("udp6", UDP6, DumpKind::Inet(Proto::Udp)),
        ("unix", UNIX, DumpKind::Unix),
        ("tcp4_info", TCP4_INFO, DumpKind::Inet(Proto::Tcp)),
    ]
}

fn parse_all(bytes: &[u8], kind: DumpKind) -> Vec<Socket> {
    let mut out = Vec::new();
    let mut r = DumpReader::new(kind);
    assert_eq!(r.feed(bytes, &mut out).unwrap(), Progress::Done);
    assert!(!r.interrupted);
    if kind == DumpKind::Unix {
        resolve_unix_peers(&mut out);
    }
    out
}

/// Offsets where each netlink message of `bytes` starts, and the end.
fn boundaries(bytes: &[u8]) -> Vec<usize> {
    let mut at = vec![0];
    let mut off = 0;
    while off < bytes.len() {
        off += align4(read_u32(bytes, off).unwrap() as usize);
        at.push(off.min(bytes.len()));
    }
    at
}

/// The payloads of the SOCK_DIAG_BY_FAMILY messages in `bytes`.
fn payloads(bytes: &[u8]) -> Vec<&[u8]> {
    let b = boundaries(bytes);
    b.windows(2)
        .filter(|w| read_u16(bytes, w[0] + 4) == Some(SOCK_DIAG_BY_FAMILY))
        .map(|w| &bytes[w[0] + NLMSG_HDRLEN..w[0] + read_u32(bytes, w[0]).unwrap() as usize])
        .collect()
}

/// As `ss -n` writes an endpoint (the form `known.txt` uses).
fn shown(e: &Endpoint) -> String {
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
        Endpoint::Unix { path, .. } => path
            .as_ref()
            .map_or("*".to_owned(), |p| p.to_str_lossy().replace('\0', "@")),
        other => other.to_string(),
    }
}

#[test]
fn fixtures_hold_the_known_sockets() {
    let mut checked = 0;
    for line in KNOWN.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (dump, state, local, remote, ino) = (f[0], f[1], f[2], f[3], f[4]);
        let (_, bytes, kind) = fixtures().into_iter().find(|x| x.0 == dump).unwrap();
        let all = parse_all(bytes, kind);
        let ino: u64 = ino.parse().unwrap();
        let s = all
            .iter()
            .find(|s| s.inode == ino)
            .unwrap_or_else(|| panic!("{line}"));
        assert_eq!(s.state.name_for(s.proto), state, "{line}");
        assert_eq!(shown(&s.local), local, "{line}");
        assert_eq!(shown(&s.remote), remote, "{line}");
        let family = match dump {
            "tcp6" | "udp6" => Family::Inet6,
            "unix" => Family::Unix,
            _ => Family::Inet,
        };
        assert_eq!(s.family, family, "{line}");
        match kind {
            DumpKind::Inet(p) => assert_eq!((s.proto, s.unix_type), (p, None)),
            DumpKind::Unix => assert_eq!(s.unix_type, Some(UnixType::Stream)),
            DumpKind::Packet | DumpKind::Netlink => {}
        }
        checked += 1;
    }
    assert!(checked >= 12, "known.txt has {checked} lines");
}

/// The recorded IPv6 dumps carry INET_DIAG_SKV6ONLY for the listener
/// and the unbound UDP socket, both on `::1` (binding a specific IPv6
/// address makes a socket v6-only in the kernel), and not for connected
/// sockets; IPv4 sockets have no flag.
#[test]
fn fixture_v6only_flags() {
    let tcp6 = parse_all(TCP6, DumpKind::Inet(Proto::Tcp));
    let flag = |all: &[Socket], ino: u64| all.iter().find(|s| s.inode == ino).unwrap().v6only;
    assert_eq!(flag(&tcp6, 27409), Some(true));
    assert_eq!(flag(&tcp6, 27412), None);
    let udp6 = parse_all(UDP6, DumpKind::Inet(Proto::Udp));
    assert_eq!(flag(&udp6, 27415), Some(true));
    for (bytes, proto) in [(TCP4, Proto::Tcp), (UDP4, Proto::Udp)] {
        assert!(
            parse_all(bytes, DumpKind::Inet(proto))
                .iter()
                .all(|s| s.v6only.is_none())
        );
    }
    // The attribute set to 0 in the recorded bytes reads as dual-stack.
    let listener = payloads(TCP6)
        .into_iter()
        .find(|p| read_u32(p, 68) == Some(27409))
        .unwrap();
    let mut at = INET_DIAG_MSG_LEN;
    let mut patched = listener.to_vec();
    while at + 4 < patched.len() {
        let len = usize::from(read_u16(&patched, at).unwrap());
        if read_u16(&patched, at + 2) == Some(INET_DIAG_SKV6ONLY) {
            patched[at + 4] = 0;
            break;
        }
        at += align4(len.max(4));
    }
    assert_ne!(patched, listener, "no INET_DIAG_SKV6ONLY in the recording");
    let s = parse_inet_msg(&patched, Proto::Tcp).unwrap().unwrap();
    assert_eq!(s.v6only, Some(false));
    // Cut short before the attributes: the socket, flag unknown.
    let s = parse_inet_msg(&listener[..INET_DIAG_MSG_LEN + 2], Proto::Tcp)
        .unwrap()
        .unwrap();
    assert_eq!((s.inode, s.v6only), (27409, None));
}

#[test]
fn fixture_sockets_are_sane() {
    for (name, bytes, kind) in fixtures() {
        let all = parse_all(bytes, kind);
        assert!(!all.is_empty(), "{name}");
        // Every SOCK_DIAG message became a socket (all states are known).
        assert_eq!(all.len(), payloads(bytes).len(), "{name}");
        for s in &all {
            match kind {
                DumpKind::Unix => assert_eq!(s.family, Family::Unix),
                DumpKind::Inet(_) => {
                    let v6 = matches!(s.local.addr(), Some(IpAddr::V6(_)));
                    assert_eq!(v6, s.family == Family::Inet6, "{name}: {s:?}");
                }
                DumpKind::Packet => assert_eq!(s.family, Family::Packet),
                DumpKind::Netlink => assert_eq!(s.family, Family::Netlink),
            }
        }
    }
}

#[test]
fn feeding_message_by_message_gives_the_same_sockets() {
    for (name, bytes, kind) in fixtures() {
        let whole = parse_all(bytes, kind);
        let mut out = Vec::new();
        let mut r = DumpReader::new(kind);
        let b = boundaries(bytes);
        let mut last = Progress::More;
        for w in b.windows(2) {
            assert_eq!(last, Progress::More, "{name}: data after DONE");
            last = r.feed(&bytes[w[0]..w[1]], &mut out).unwrap();
        }
        assert_eq!(last, Progress::Done, "{name}");
        if kind == DumpKind::Unix {
            resolve_unix_peers(&mut out);
        }
        assert_eq!(out, whole, "{name}");
    }
}

#[test]
fn every_truncation_is_a_clean_error_or_a_message_boundary() {
    for (name, bytes, kind) in fixtures() {
        let b = boundaries(bytes);
        for cut in 0..bytes.len() {
            let mut out = Vec::new();
            let res = DumpReader::new(kind).feed(&bytes[..cut], &mut out);
            if b.contains(&cut) {
                assert_eq!(res.unwrap(), Progress::More, "{name} cut at {cut}");
            } else {
                assert!(
                    matches!(res, Err(Error::NetlinkMalformed(_))),
                    "{name} cut at {cut}: {res:?}"
                );
            }
        }
    }
}

#[test]
fn truncated_payloads_never_panic() {
    for (name, bytes, kind) in fixtures() {
        for p in payloads(bytes) {
            for cut in 0..p.len() {
                let short = &p[..cut];
                match kind {
                    DumpKind::Inet(proto) => {
                        let res = parse_inet_msg(short, proto);
                        if cut < INET_DIAG_MSG_LEN {
                            assert!(matches!(res, Err(Error::NetlinkMalformed(_))), "{name}");
                        } else {
                            // Attributes are not read: the socket survives.
                            assert!(res.unwrap().is_some(), "{name}");
                        }
                        let _ = parse_inet_extra(short, ALL);
                    }
                    DumpKind::Unix => {
                        let res = parse_unix_msg(short);
                        if cut < UNIX_DIAG_MSG_LEN {
                            assert!(matches!(res, Err(Error::NetlinkMalformed(_))), "{name}");
                        }
                    }
                    DumpKind::Packet => {
                        let res = parse_packet_msg(short, ALL);
                        if cut < 16 {
                            assert!(matches!(res, Err(Error::NetlinkMalformed(_))), "{name}");
                        }
                    }
                    DumpKind::Netlink => {
                        let res = parse_netlink_msg(short, ALL);
                        if cut < 28 {
                            assert!(matches!(res, Err(Error::NetlinkMalformed(_))), "{name}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn tcp_info_fixture_has_congestion_and_timing() {
    let out = parse_info(TCP4_INFO);
    let line = KNOWN.lines().find(|l| l.starts_with("tcp4_info ")).unwrap();
    let ino: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    let s = out.iter().find(|s| s.inode == ino).unwrap();
    let d = s.extra.as_deref().unwrap();
    assert_eq!(s.state, TcpState::Established);
    let info = d.tcp_info.unwrap();
    assert!(info.len >= TCP_INFO_KNOWN, "{info:?}");
    assert!(
        info.rtt_us > 0 && info.snd_cwnd > 0 && info.rto_us > 0,
        "{info:?}"
    );
    assert_eq!(info.total_retrans, 0);
    let cong = d.congestion.unwrap();
    assert!(
        !cong.as_str().is_empty() && cong.as_str().is_ascii(),
        "{cong:?}"
    );
    // Full sockets (listeners too) carry tcp_info; TIME_WAIT ones do not.
    for s in &out {
        let info = s.extra.as_ref().and_then(|x| x.tcp_info);
        assert_eq!(info.is_some(), s.state != TcpState::TimeWait, "{s:?}");
    }
}

/// The first message of the info fixture that carries tcp_info.
fn info_payload() -> &'static [u8] {
    payloads(TCP4_INFO)
        .into_iter()
        .find(|p| info_of(p).tcp_info.is_some())
        .unwrap()
}

/// A message from the info fixture with its INET_DIAG_INFO cut to `keep` bytes.
fn with_short_info(keep: usize) -> Vec<u8> {
    let p = info_payload();
    let mut msg = p[..INET_DIAG_MSG_LEN].to_vec();
    for attr in Attrs(&p[INET_DIAG_MSG_LEN..]) {
        let (kind, data) = attr.unwrap();
        let data = if kind == INET_DIAG_INFO {
            &data[..keep]
        } else {
            data
        };
        let len = 4 + data.len();
        msg.extend_from_slice(&(len as u16).to_ne_bytes());
        msg.extend_from_slice(&kind.to_ne_bytes());
        msg.extend_from_slice(data);
        msg.resize(align4(msg.len()), 0);
    }
    msg
}

#[test]
fn short_tcp_info_is_padded_not_refused() {
    let full = info_of(info_payload());
    let full_info = full.tcp_info.unwrap();
    // 144 bytes: what kernel 4.4 sends (up to tcpi_segs_in).
    for keep in [0, 3, 104, 144] {
        let msg = with_short_info(keep);
        assert!(parse_inet_msg(&msg, Proto::Tcp).unwrap().is_some());
        let d = info_of(&msg);
        let info = d.tcp_info.unwrap();
        assert_eq!(info.len, keep);
        assert_eq!(d.congestion, full.congestion);
        assert_eq!(info.delivery_rate, 0);
        assert_eq!(info.bytes_sent, 0);
        if keep >= 104 {
            assert_eq!(info.rtt_us, full_info.rtt_us);
            assert_eq!(info.snd_cwnd, full_info.snd_cwnd);
        } else {
            assert_eq!(info.rtt_us, 0);
        }
    }
}

#[test]
fn parse_tcp_info_reads_known_offsets() {
    assert_eq!(parse_tcp_info(&[]), TcpInfo::default());
    let mut b = vec![0u8; 232];
    b[2] = 3;
    b[68..72].copy_from_slice(&1500u32.to_ne_bytes());
    b[80..84].copy_from_slice(&10u32.to_ne_bytes());
    b[120..128].copy_from_slice(&99u64.to_ne_bytes());
    b[200..208].copy_from_slice(&7u64.to_ne_bytes());
    let i = parse_tcp_info(&b);
    assert_eq!((i.retransmits, i.rtt_us, i.snd_cwnd), (3, 1500, 10));
    assert_eq!((i.bytes_acked, i.bytes_sent, i.len), (99, 7, 232));
    // Longer than we know (newer kernels): extra bytes ignored.
    b.resize(400, 0xff);
    assert_eq!(parse_tcp_info(&b).bytes_sent, 7);
}

#[test]
fn unix_names_keep_their_bytes() {
    let name = |raw: &[u8]| unix_name(raw).map(|t| t.as_bytes().to_vec());
    assert_eq!(name(b""), None);
    assert_eq!(name(b"/run/x.sock\0").as_deref(), Some(&b"/run/x.sock"[..]));
    assert_eq!(name(b"/run/x.sock").as_deref(), Some(&b"/run/x.sock"[..]));
    assert_eq!(name(b"\0abc").as_deref(), Some(&b"@abc"[..]));
    assert_eq!(name(b"\0a\0b\0").as_deref(), Some(&b"@a\0b\0"[..]));
    assert_eq!(name(b"\0").as_deref(), Some(&b"@"[..]));
    assert_eq!(name(b"\0\xff").as_deref(), Some(&b"@\xff"[..]));
    assert_eq!(
        unix_name(b"\0a\0\x1b").map(|t| t.escaped().to_string()),
        Some(r"@a\x00\x1b".to_string())
    );
}

fn nlmsg(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(payload);
    m.resize(align4(m.len()), 0);
    m
}

#[test]
fn kernel_errors_carry_their_errno() {
    let tcp = DumpKind::Inet(Proto::Tcp);
    let mut out = Vec::new();
    let err = nlmsg(NLMSG_ERROR, 0, 5, &(-2i32).to_ne_bytes());
    let res = DumpReader::new(tcp).feed(&err, &mut out);
    let Err(Error::Netlink(e)) = res else {
        panic!("{res:?}")
    };
    assert_eq!(e.raw_os_error(), Some(2));
    assert!(is_unsupported(&e));

    let done = nlmsg(NLMSG_DONE, 2, 5, &(-22i32).to_ne_bytes());
    let res = DumpReader::new(tcp).feed(&done, &mut out);
    let Err(Error::Netlink(e)) = res else {
        panic!("{res:?}")
    };
    assert_eq!(e.raw_os_error(), Some(22));

    let eperm = nlmsg(NLMSG_ERROR, 0, 5, &(-1i32).to_ne_bytes());
    let Err(Error::Netlink(e)) = DumpReader::new(tcp).feed(&eperm, &mut out) else {
        panic!()
    };
    assert!(!is_unsupported(&e));

    let short = nlmsg(NLMSG_ERROR, 0, 5, &[1, 2]);
    assert!(matches!(
        DumpReader::new(tcp).feed(&short, &mut out),
        Err(Error::NetlinkMalformed(_))
    ));
    // An old-style DONE without a payload is a plain end.
    let bare = nlmsg(NLMSG_DONE, 2, 5, &[]);
    assert_eq!(
        DumpReader::new(tcp).feed(&bare, &mut out).unwrap(),
        Progress::Done
    );
}

#[test]
fn stale_sequences_are_skipped_and_interruptions_noted() {
    let tcp = DumpKind::Inet(Proto::Tcp);
    let p = payloads(TCP4)[0];
    let mut buf = nlmsg(SOCK_DIAG_BY_FAMILY, 2, 6, p);
    buf.extend(nlmsg(NLMSG_DONE, 2, 6, &0i32.to_ne_bytes()));
    buf.extend(nlmsg(SOCK_DIAG_BY_FAMILY, 2 | NLM_F_DUMP_INTR, 7, p));
    buf.extend(nlmsg(NLMSG_NOOP, 0, 7, &[]));
    buf.extend(nlmsg(NLMSG_DONE, 2, 7, &0i32.to_ne_bytes()));
    let mut out = Vec::new();
    let mut r = DumpReader::new(tcp).with_seq(7);
    assert_eq!(r.feed(&buf, &mut out).unwrap(), Progress::Done);
    assert_eq!(out.len(), 1);
    assert!(r.interrupted);
}

#[test]
fn the_two_family_tcp_dump_is_laid_out_and_read_as_the_kernel_has_it() {
    let r = super::requests::tcp_both_request(5, StateSet::ALL.0, EXT_INFO);
    let r = r.as_ref();
    assert_eq!(read_u32(r, 0), Some(76));
    assert_eq!(read_u16(r, 4), Some(TCPDIAG_GETSOCK));
    assert_eq!(read_u16(r, 6), Some(0x301));
    assert_eq!(read_u32(r, 8), Some(5));
    // struct inet_diag_req: family, src_len, dst_len, ext, the sockid
    // (zero: every socket), then the states.
    assert_eq!(&r[16..20], &[AF_INET, 0, 0, EXT_INFO]);
    assert!(r[20..68].iter().all(|&b| b == 0));
    assert_eq!(read_u32(r, 68), Some(0x1ffe));
    assert_eq!(read_u32(r, 72), Some(0));
    // Its replies carry the request's type; only a TCP reader takes them.
    let p = payloads(TCP4)[0];
    let mut buf = nlmsg(TCPDIAG_GETSOCK, 2, 1, p);
    buf.extend(nlmsg(NLMSG_DONE, 2, 1, &0i32.to_ne_bytes()));
    let mut out = Vec::new();
    let mut tcp = DumpReader::new(DumpKind::Inet(Proto::Tcp));
    assert_eq!(tcp.feed(&buf, &mut out).unwrap(), Progress::Done);
    let mut v2 = nlmsg(SOCK_DIAG_BY_FAMILY, 2, 1, p);
    v2.extend(nlmsg(NLMSG_DONE, 2, 1, &0i32.to_ne_bytes()));
    assert_eq!(out, parse_all(&v2, DumpKind::Inet(Proto::Tcp)));
    assert_eq!(out.len(), 1);
    let mut udp_out = Vec::new();
    let mut udp = DumpReader::new(DumpKind::Inet(Proto::Udp));
    udp.feed(&buf, &mut udp_out).unwrap();
    assert!(udp_out.is_empty());
}

#[test]
fn unknown_states_and_types_are_skipped() {
    let mut p = payloads(TCP4)[0].to_vec();
    p[1] = 42;
    assert_eq!(parse_inet_msg(&p, Proto::Tcp).unwrap(), None);
    p[0] = 99;
    assert!(matches!(
        parse_inet_msg(&p, Proto::Tcp),
        Err(Error::NetlinkMalformed(_))
    ));
    let mut u = payloads(UNIX)[0].to_vec();
    u[1] = 3; // SOCK_RAW: not a unix type
    assert_eq!(parse_unix_msg(&u).unwrap(), None);
}

#[test]
fn requests_are_laid_out_as_the_kernel_expects() {
    let r = inet_request(9, AF_INET6, IPPROTO_TCP, 0x400, EXT_INFO);
    assert_eq!(read_u32(&r, 0), Some(72));
    assert_eq!(read_u16(&r, 4), Some(SOCK_DIAG_BY_FAMILY));
    assert_eq!(read_u16(&r, 6), Some(0x301));
    assert_eq!(read_u32(&r, 8), Some(9));
    assert_eq!(&r[16..20], &[AF_INET6, IPPROTO_TCP, 2, 0]);
    assert_eq!(read_u32(&r, 20), Some(0x400));
    assert!(r[24..].iter().all(|&b| b == 0));
    let raw = inet_request(1, AF_INET, IPPROTO_RAW, 1, 0);
    assert_eq!(&raw[16..20], &[AF_INET, IPPROTO_RAW, 0, IPPROTO_RAW]);
    // Every state asks for the twelve the parser knows, not the
    // bound-inactive ones (bit 13) it would drop.
    let all = inet_request(2, AF_INET, IPPROTO_TCP, StateSet::ALL.0, 0);
    assert_eq!(read_u32(&all, 20), Some(0x1ffe));
    let u = unix_request(3, 0xffff_ffff, false);
    assert_eq!(read_u32(&u, 0), Some(40));
    assert_eq!(u[16], AF_UNIX);
    assert_eq!(read_u32(&u, 20), Some(0xffff_ffff));
    assert_eq!(read_u32(&u, 28), Some(0x55));
}

#[test]
fn unix_peers_resolve_only_to_named_sockets() {
    let sock = |ino: u64, path: Option<&str>, peer: u64| Socket {
        proto: Proto::Unix,
        family: Family::Unix,
        local: Endpoint::Unix {
            path: path.map(Into::into),
            inode: ino,
        },
        remote: Endpoint::Unix {
            path: None,
            inode: peer,
        },
        state: TcpState::Established,
        inode: ino,
        unix_type: Some(UnixType::Stream),
        ..Socket::default()
    };
    let mut v = vec![
        sock(1, None, 2),
        sock(2, Some("/s"), 1),
        sock(3, None, 4),
        sock(4, None, 3),
        sock(5, None, 77),
    ];
    resolve_unix_peers(&mut v);
    let remote = |i: usize| match &v[i].remote {
        Endpoint::Unix { path, .. } => path.as_ref().map(|p| p.to_str_lossy().into_owned()),
        _ => None,
    };
    assert_eq!(remote(0).as_deref(), Some("/s"));
    assert_eq!(remote(1), None);
    assert_eq!(remote(2), None);
    assert_eq!(remote(4), None);
}

#[test]
fn cookies_are_read_and_tell_sockets_apart() {
    for (name, bytes, kind) in fixtures() {
        let all = parse_all(bytes, kind);
        let mut cookies: Vec<u64> = all.iter().map(|s| s.cookie).collect();
        assert!(cookies.iter().all(|&c| c != 0), "{name}");
        cookies.sort_unstable();
        cookies.dedup();
        assert_eq!(cookies.len(), all.len(), "{name}: cookies unique");
    }
    let mut p = payloads(TCP4)[0].to_vec();
    p[44..48].copy_from_slice(&1u32.to_ne_bytes());
    p[48..52].copy_from_slice(&2u32.to_ne_bytes());
    assert_eq!(
        parse_inet_msg(&p, Proto::Tcp).unwrap().unwrap().cookie,
        (2 << 32) | 1
    );
}

#[test]
fn details_are_parsed_only_when_asked() {
    let tcp = DumpKind::Inet(Proto::Tcp);
    let plain = parse_all(TCP4_INFO, tcp);
    assert!(plain.iter().all(|s| s.extra.is_none()));
    let mut with = Vec::new();
    let info = Detail {
        info: true,
        ..Detail::default()
    };
    DumpReader::new(tcp)
        .with_detail(info)
        .feed(TCP4_INFO, &mut with)
        .unwrap();
    // What each message's attributes hold, read here without the reader.
    let attrs: Vec<(Option<TcpInfo>, Option<CongName>)> = payloads(TCP4_INFO)
        .into_iter()
        .filter(|p| parse_inet_msg(p, Proto::Tcp).unwrap().is_some())
        .map(|p| {
            let mut found = (None, None);
            for (kind, data) in Attrs(&p[INET_DIAG_MSG_LEN..]).map(Result::unwrap) {
                match kind {
                    INET_DIAG_INFO => found.0 = Some(parse_tcp_info(data)),
                    4 => found.1 = Some(CongName::from_bytes(data)),
                    _ => {}
                }
            }
            found
        })
        .collect();
    assert_eq!(with.len(), attrs.len());
    assert!(attrs.iter().any(|a| a.0.is_some() && a.1.is_some()));
    for (s, (info, cong)) in with.iter().zip(&attrs) {
        let x = s.extra.as_deref();
        assert_eq!(x.and_then(|x| x.tcp_info), *info);
        assert_eq!(x.and_then(|x| x.congestion), *cong);
        assert!(x.is_none_or(|x| x.memory.is_none() && x.timer.is_none()));
    }
    // Asking for memory alone gives no tcp_info even where the bytes hold it.
    let mem = Detail {
        memory: true,
        ..Detail::default()
    };
    let mut out = Vec::new();
    DumpReader::new(tcp)
        .with_detail(mem)
        .feed(TCP4_INFO, &mut out)
        .unwrap();
    assert!(out.iter().all(|s| s.extra.is_none()));
}

#[test]
fn timers_come_from_the_message_header() {
    let mut p = payloads(TCP4)[0].to_vec();
    let timers = Detail {
        timers: true,
        ..Detail::default()
    };
    p[2] = 2;
    p[3] = 1;
    p[52..56].copy_from_slice(&9500u32.to_ne_bytes());
    let x = parse_inet_extra(&p, timers).unwrap();
    assert_eq!(
        x.timer,
        Some(Timer {
            kind: TimerKind::Keepalive,
            expires_ms: 9500,
            retrans: 1
        })
    );
    assert!(parse_inet_extra(&p, Detail::default()).is_none());
    p[2] = 0;
    assert!(parse_inet_extra(&p, timers).is_none());
    p[2] = 9;
    let x = parse_inet_extra(&p, timers).unwrap();
    assert_eq!(x.timer.unwrap().kind.as_str(), "unknown");
}

#[test]
fn skmeminfo_reads_in_order_and_pads() {
    let words: Vec<u8> = (1u32..=9).flat_map(|w| w.to_ne_bytes()).collect();
    let m = parse_skmeminfo(&words);
    assert_eq!((m.rmem_alloc, m.rcvbuf, m.sndbuf, m.drops), (1, 2, 4, 9));
    let short = parse_skmeminfo(&words[..10]);
    assert_eq!(
        (short.rmem_alloc, short.rcvbuf, short.wmem_alloc),
        (1, 2, 0)
    );
    assert_eq!(parse_skmeminfo(&[]), SkMemInfo::default());
}

#[test]
fn live_details_for_a_loopback_connection() {
    use std::io::{Read as _, Write as _};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut a, _) = l.accept().unwrap();
    rustix::net::sockopt::set_socket_keepalive(&c, true).unwrap();
    c.write_all(&[7u8; 10_000]).unwrap();
    let mut got = vec![0u8; 10_000];
    a.read_exact(&mut got).unwrap();
    // By inode: on a busy host another socket may share the port number
    // on another loopback address.
    let ino = rustix::fs::fstat(&c).unwrap().st_ino;
    let query = Query {
        udp: false,
        raw: false,
        unix: true,
        ipv6: false,
        ..Query::default()
    };
    let all = Detail {
        info: true,
        memory: true,
        timers: true,
    };
    let nl = Netlink::open().unwrap();
    // The ACKs come within milliseconds; the long bound only keeps a busy
    // machine from failing the test.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let s = loop {
        let mut out = Vec::new();
        nl.collect_with(&query, all, &mut out).unwrap();
        let s = out
            .into_iter()
            .find(|s| s.proto == Proto::Tcp && s.inode == ino)
            .unwrap();
        let acked = s
            .extra
            .as_ref()
            .and_then(|x| x.tcp_info)
            .map(|i| i.bytes_acked);
        if acked >= Some(10_000) || std::time::Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_ne!(s.cookie, 0);
    let x = s.extra.unwrap();
    let info = x.tcp_info.unwrap();
    assert!(info.rtt_us > 0 && info.snd_cwnd > 0, "{info:?}");
    // bytes_acked counts the SYN too.
    assert!((10_000..=10_001).contains(&info.bytes_acked), "{info:?}");
    assert!(!x.congestion.unwrap().as_str().is_empty());
    assert!(x.memory.unwrap().sndbuf > 0);
    let t = x.timer.unwrap();
    assert_eq!(t.kind, TimerKind::Keepalive);
    // The default keepalive time is 2 hours.
    assert!(t.expires_ms > 0, "{t:?}");
    // Unix sockets carry memory when asked.
    let mut out = Vec::new();
    nl.collect_with(&query, all, &mut out).unwrap();
    assert!(
        out.iter()
            .filter(|s| s.proto == Proto::Unix)
            .all(|s| s.extra.as_ref().is_some_and(|x| x.memory.is_some()))
    );
}

#[test]
fn a_buffer_too_small_grows_and_the_dump_is_redone() {
    // Enough sockets that one reply message is bigger than the buffer.
    let listeners: Vec<_> = (0..40)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let query = Query {
        udp: false,
        raw: false,
        unix: false,
        ipv6: false,
        states: StateSet::only(TcpState::Listen),
        ..Query::default()
    };
    let small = Netlink::open_with_buffer(512).unwrap();
    let mut out = Vec::new();
    small.collect(&query, &mut out).unwrap();
    assert!(small.nl.lock_buf().len() > 512, "buffer grew");
    for l in &listeners {
        let port = l.local_addr().unwrap().port();
        let n = out.iter().filter(|s| s.local.port() == Some(port)).count();
        assert_eq!(n, 1, "listener on {port} seen once");
    }
    // The socket is usable afterwards: nothing of the cut dump is left.
    let mut again = Vec::new();
    small.collect(&query, &mut again).unwrap();
    assert!(again.len() >= listeners.len());
}

proptest! {
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut out = Vec::new();
        for kind in [DumpKind::Unix, DumpKind::Inet(Proto::Udp)] {
            let _ = DumpReader::new(kind).feed(&bytes, &mut out);
            let _ = DumpReader::new(kind).with_detail(ALL).feed(&bytes, &mut out);
        }
        let _ = parse_inet_msg(&bytes, Proto::Tcp);
        let _ = parse_unix_msg(&bytes);
        let _ = parse_inet_extra(&bytes, ALL);
        let _ = parse_unix_extra(&bytes, ALL);
        let _ = parse_skmeminfo(&bytes);
        let _ = parse_tcp_info(&bytes);
        let _ = unix_name(&bytes);
    }

    #[test]
    fn corrupted_fixtures_never_panic(
        which in 0usize..6,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let (_, bytes, kind) = fixtures()[which];
        let mut b = bytes.to_vec();
        for (i, v) in edits {
            let at = i.index(b.len());
            b[at] = v;
        }
        let mut out = Vec::new();
        let res = DumpReader::new(kind).feed(&b, &mut out);
        let clean = matches!(res, Ok(_) | Err(Error::NetlinkMalformed(_) | Error::Netlink(_)));
        prop_assert!(clean, "{:?}", res);
        let mut detail = Vec::new();
        let _ = DumpReader::new(DumpKind::Inet(Proto::Tcp)).with_detail(ALL).feed(&b, &mut detail);
    }
}

// SOCK_DESTROY requests and acknowledgements.

#[test]
fn destroy_request_layout() {
    let s = Socket {
        proto: Proto::Tcp,
        family: Family::Inet,
        local: Endpoint::v4(Ipv4Addr::new(127, 0, 0, 1), 8080),
        remote: Endpoint::v4(Ipv4Addr::new(127, 0, 0, 2), 0x1234),
        state: TcpState::Established,
        inode: 1,
        bound_if: 3,
        ..Socket::default()
    };
    let b = destroy_request(9, &s).expect("tcp");
    assert_eq!(read_u16(&b, 4), Some(SOCK_DESTROY));
    assert_eq!(b[16], AF_INET);
    assert_eq!(b[17], IPPROTO_TCP);
    assert_eq!(&b[24..28], &[0x1f, 0x90, 0x12, 0x34]);
    assert_eq!(&b[28..32], &[127, 0, 0, 1]);
    assert_eq!(&b[44..48], &[127, 0, 0, 2]);
    assert_eq!(read_u32(&b, 60), Some(3));
    // No cookie known: match by addresses alone.
    assert_eq!(read_u32(&b, 64), Some(INET_DIAG_NOCOOKIE));
    assert_eq!(read_u32(&b, 68), Some(INET_DIAG_NOCOOKIE));
    let with_cookie = Socket {
        cookie: 0x0000_0002_0000_0001,
        ..s.clone()
    };
    let b = destroy_request(9, &with_cookie).expect("tcp");
    assert_eq!(cookie_at(&b, 64), Some(0x0000_0002_0000_0001));
    let udp = Socket {
        proto: Proto::Udp,
        ..s
    };
    assert!(destroy_request(1, &udp).is_none());
}

#[test]
fn ack_parsing() {
    let mut m = vec![0u8; 36];
    m[0..4].copy_from_slice(&36u32.to_ne_bytes());
    m[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
    m[8..12].copy_from_slice(&5u32.to_ne_bytes());
    m[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
    assert_eq!(ack_errno(&m, 5), Some(1));
    assert_eq!(ack_errno(&m, 6), None);
    assert_eq!(ack_errno(&m[..10], 5), None);
}

const PACKET: &[u8] = include_bytes!("../../../../tests/fixtures/netlink/packet.bin");
const NETLINK: &[u8] = include_bytes!("../../../../tests/fixtures/netlink/netlink.bin");
const MPTCP4: &[u8] = include_bytes!("../../../../tests/fixtures/netlink/mptcp4.bin");
const KNOWN_FAMILIES: &str = include_str!("../../../../tests/fixtures/netlink/known_families.txt");

/// The recorded packet, netlink and MPTCP replies (a namespace holding a
/// known population) hold the known sockets, and every truncation of them
/// is a clean error or a message boundary.
#[test]
fn family_fixtures_hold_the_known_sockets() {
    let dumps = [
        ("packet", PACKET, DumpKind::Packet),
        ("netlink", NETLINK, DumpKind::Netlink),
        ("mptcp4", MPTCP4, DumpKind::Inet(Proto::Mptcp)),
    ];
    let mut checked = 0;
    for line in KNOWN_FAMILIES.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (_, bytes, kind) = dumps.iter().find(|d| d.0 == f[0]).unwrap();
        let all = parse_all(bytes, *kind);
        let ino: u64 = f[2].parse().unwrap();
        let s = all
            .iter()
            .find(|s| s.inode == ino)
            .unwrap_or_else(|| panic!("{line}"));
        assert_eq!(s.shown_local().to_string(), f[1], "{line}");
        match kind {
            DumpKind::Packet => {
                assert_eq!((s.proto, s.state), (Proto::Packet, TcpState::Close));
                assert_eq!(s.packet().unwrap().filter, Some(None), "recorded as root");
            }
            DumpKind::Netlink => {
                assert_eq!(s.netlink().unwrap().groups, vec![1, 3]);
            }
            _ => assert_eq!((s.proto, s.state), (Proto::Mptcp, TcpState::Listen)),
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
    // The namespace's kernel sockets are in the netlink dump too.
    let nl = parse_all(NETLINK, DumpKind::Netlink);
    assert!(
        nl.iter()
            .any(|s| s.shown_local().to_string() == "rtnl:kernel")
    );
    for (name, bytes, kind) in dumps {
        let whole = parse_all(bytes, kind);
        let ends = boundaries(bytes);
        for cut in 0..bytes.len() {
            let mut out = Vec::new();
            let res = DumpReader::new(kind).feed(&bytes[..cut], &mut out);
            if ends.contains(&cut) {
                assert!(res.is_ok(), "{name} cut at a boundary {cut}");
            } else {
                assert!(res.is_err(), "{name} cut at {cut}");
            }
            assert!(out.len() <= whole.len());
        }
    }
}
