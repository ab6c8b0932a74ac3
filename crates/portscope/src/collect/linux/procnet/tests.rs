//! Tests of the `/proc/net` parsers: recorded fixtures
//! (`tests/fixtures/procnet/`), every table's quirks, forged unix records,
//! truncated and garbage input, and the live files compared with netlink.

use super::unix::{SO_ACCEPTCON, UNIX_NAME_MAX};
use super::*;
use crate::model::UnixType;
use crate::text::Text;

#[test]
fn timers_are_read_when_asked() {
    let text = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 02:000003E8 00000001  1000        0 4242 1 0000000000000000 20 4 30 10 -1\n\
   1: 0100007F:1F90 0100007F:D432 01 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0000000000000000 20 4 30 10 -1\n";
    let timers = Detail {
        timers: true,
        ..Detail::default()
    };
    let mut out = Vec::new();
    parse_with(Table::Tcp, text, "tcp", timers, &mut out).unwrap();
    let t = out[0].extra.as_ref().unwrap().timer.unwrap();
    assert_eq!(
        t,
        Timer {
            kind: TimerKind::Keepalive,
            expires_ms: 10_000,
            retrans: 1
        }
    );
    assert!(out[1].extra.is_none());
    let mut plain = Vec::new();
    parse(Table::Tcp, text, "tcp", &mut plain).unwrap();
    assert!(plain.iter().all(|s| s.extra.is_none() && s.cookie == 0));
}

#[test]
fn hex_and_dec_reject_junk() {
    assert_eq!(hex32(b"0100007F"), Some(0x0100_007F));
    assert_eq!(hex32(b"ff"), Some(255));
    assert_eq!(hex32(b""), None);
    assert_eq!(hex32(b"123456789"), None);
    assert_eq!(hex32(b"12 4"), None);
    assert_eq!(hex32(b"+1"), None);
    assert_eq!(hex(b"100", 2), None);
    assert_eq!(dec(b"18446744073709551615"), Some(u64::MAX));
    assert_eq!(dec(b"18446744073709551616"), None);
    assert_eq!(dec(b"-1"), None);
    assert_eq!(dec(b""), None);
}

#[test]
fn addresses_follow_memory_order() {
    let v4 = |ip: Ipv4Addr| format!("{:08X}", u32::from_ne_bytes(ip.octets()));
    let ip = Ipv4Addr::new(192, 0, 2, 1);
    let field = format!("{}:0050", v4(ip));
    assert_eq!(
        parse_inet_addr(field.as_bytes(), Family::Inet),
        Some((IpAddr::V4(ip), 80))
    );
    #[cfg(target_endian = "little")]
    assert_eq!(
        parse_inet_addr(b"0100007F:1F90", Family::Inet),
        Some((IpAddr::V4(Ipv4Addr::LOCALHOST), 8080))
    );
    #[cfg(target_endian = "little")]
    assert_eq!(
        parse_inet_addr(b"0000000000000000FFFF00000100007F:0016", Family::Inet6),
        Some((IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()), 22))
    );
    assert_eq!(parse_inet_addr(b"0100007F:1F90", Family::Inet6), None);
    assert_eq!(parse_inet_addr(b"0100007F1F90", Family::Inet), None);
    assert_eq!(parse_inet_addr(b"0100007F:10000", Family::Inet), None);
    assert_eq!(parse_inet_addr(b"0100007:1F90", Family::Inet), None);
}

#[test]
fn retain_from_keeps_the_head_and_order() {
    let mut v = Vec::new();
    let text = b"h\n\
        0: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1\n\
        1: 00000000:0002 00000000:0000 01 00000000:00000000 00:00000000 00000000 0 0 2\n\
        2: 00000000:0003 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 3\n\
        3: 00000000:0004 00000000:0000 01 00000000:00000000 00:00000000 00000000 0 0 4\n";
    parse(Table::Raw, text, "raw", &mut v).unwrap();
    retain_from(&mut v, 1, |s| s.state == TcpState::Close);
    let inodes: Vec<u64> = v.iter().map(|s| s.inode).collect();
    assert_eq!(inodes, [1, 3]);
}

#[test]
fn body_lines_keeps_inner_empty_lines() {
    let lines: Vec<_> = body_lines(b"h\na\n\nb\n").collect();
    assert_eq!(lines, [(2, &b"a"[..]), (3, &b""[..]), (4, &b"b"[..])]);
    assert_eq!(body_lines(b"").count(), 0);
    assert_eq!(body_lines(b"h\n").count(), 0);
    assert_eq!(body_lines(b"h").count(), 0);
    assert_eq!(body_lines(b"\n").count(), 0);
}

// ---- recorded fixtures (tests/fixtures/procnet, made by record.py) ----

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/procnet")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parsed(table: Table) -> Vec<Socket> {
    let mut out = Vec::new();
    parse(
        table,
        &fixture(table.file_name()),
        table.file_name(),
        &mut out,
    )
    .unwrap();
    out
}

fn by_inode(sockets: &[Socket], inode: u64) -> &Socket {
    let mut found = sockets.iter().filter(|s| s.inode == inode);
    let s = found.next().unwrap_or_else(|| panic!("no socket {inode}"));
    assert!(found.next().is_none(), "two sockets with inode {inode}");
    s
}

fn v4(a: [u8; 4], port: u16) -> Endpoint {
    Endpoint::v4(Ipv4Addr::from(a), port)
}

fn v6(a: &str, port: u16) -> Endpoint {
    Endpoint::v6(a.parse().unwrap(), port)
}

#[test]
#[cfg_attr(
    target_endian = "big",
    ignore = "fixtures hold little-endian address words"
)]
fn fixture_tcp() {
    let t = parsed(Table::Tcp);
    assert_eq!(t.len(), 13);
    assert!(
        t.iter()
            .all(|s| s.proto == Proto::Tcp && s.family == Family::Inet)
    );
    assert!(t.iter().all(|s| s.unix_type.is_none() && s.bound_if == 0));

    // A listener with one connection waiting in its accept queue: rx_queue
    // is that queue; tx_queue is 0 (ss shows the backlog, 7, there).
    let l = by_inode(&t, 10986);
    assert_eq!(l.local, v4([127, 0, 0, 1], 34775));
    assert_eq!(l.remote, v4([0, 0, 0, 0], 0));
    assert_eq!(l.state, TcpState::Listen);
    assert_eq!((l.recv_q, l.send_q, l.uid), (1, 0, Some(0)));

    // The accepted end with 5 unread bytes.
    let a = by_inode(&t, 10988);
    assert_eq!(a.local, v4([127, 0, 0, 1], 34775));
    assert_eq!(a.remote, v4([127, 0, 0, 1], 54694));
    assert_eq!(a.state, TcpState::Established);
    assert_eq!((a.recv_q, a.send_q), (5, 0));

    // Made by uid 65534.
    let n = by_inode(&t, 10206);
    assert_eq!(n.local, v4([127, 0, 0, 5], 54105));
    assert_eq!((n.state, n.uid), (TcpState::Listen, Some(65534)));

    // TIME_WAIT: no file, so inode 0.
    let tw: Vec<_> = t.iter().filter(|s| s.state == TcpState::TimeWait).collect();
    assert_eq!(tw.len(), 4);
    assert!(tw.iter().all(|s| s.inode == 0));
    assert!(
        tw.iter()
            .any(|s| s.local == v4([127, 0, 0, 1], 42510) && s.remote == v4([127, 0, 0, 2], 48565))
    );

    // A connection still in the accept queue has no file either.
    let queued = t
        .iter()
        .find(|s| s.remote == v4([127, 0, 0, 1], 54706))
        .unwrap();
    assert_eq!((queued.state, queued.inode), (TcpState::Established, 0));
}

#[test]
#[cfg_attr(
    target_endian = "big",
    ignore = "fixtures hold little-endian address words"
)]
fn fixture_tcp6() {
    let t = parsed(Table::Tcp6);
    assert_eq!(t.len(), 6);
    assert!(
        t.iter()
            .all(|s| s.proto == Proto::Tcp && s.family == Family::Inet6)
    );
    let l = by_inode(&t, 10993);
    assert_eq!(
        (l.local.clone(), l.state),
        (v6("::1", 48033), TcpState::Listen)
    );
    assert_eq!(l.remote, v6("::", 0));
    let any = by_inode(&t, 10996);
    assert_eq!(
        (any.local.clone(), any.state),
        (v6("::", 56759), TcpState::Listen)
    );
    // Bound to ::1: v6-only, as the kernel makes it; on ::, the system
    // default, unknown without the sysctl.
    assert_eq!((l.v6only, any.v6only), (Some(true), None));
    let mut with_default = Vec::new();
    let text = fixture("tcp6");
    parse_inet(
        &text,
        Table::Tcp6,
        "tcp6",
        false,
        Some(false),
        &mut with_default,
    )
    .unwrap();
    assert_eq!(by_inode(&with_default, 10996).v6only, Some(false));
    assert_eq!(by_inode(&with_default, 10993).v6only, Some(true));
    // Connected sockets: the kernel reports no flag for them either.
    assert_eq!(by_inode(&with_default, 10998).v6only, None);
    // A v4 client accepted by a dual-stack listener: v4-mapped, as the kernel keeps it.
    let m = by_inode(&t, 10998);
    assert_eq!(m.local, v6("::ffff:127.0.0.1", 56759));
    assert_eq!(m.remote, v6("::ffff:127.0.0.1", 56096));
    assert_eq!(m.state, TcpState::Established);
    let c = by_inode(&t, 10994);
    assert_eq!(
        (c.local.clone(), c.remote.clone()),
        (v6("::1", 49438), v6("::1", 48033))
    );
}

#[test]
#[cfg_attr(
    target_endian = "big",
    ignore = "fixtures hold little-endian address words"
)]
fn fixture_udp() {
    let u = parsed(Table::Udp);
    assert_eq!(u.len(), 2);
    let bound = by_inode(&u, 10999);
    assert_eq!(bound.local, v4([127, 0, 0, 1], 34017));
    assert_eq!(bound.remote, v4([0, 0, 0, 0], 0));
    // Unconnected UDP is state 07; 100 bytes waiting cost 832 bytes of rmem.
    assert_eq!((bound.state, bound.recv_q), (TcpState::Close, 832));
    assert!(bound.is_listening());
    let conn = by_inode(&u, 11000);
    assert_eq!(conn.remote, v4([127, 0, 0, 1], 34017));
    assert_eq!(conn.state, TcpState::Established);

    let u6 = parsed(Table::Udp6);
    assert_eq!(u6.len(), 2);
    let b6 = by_inode(&u6, 11001);
    assert_eq!(
        (b6.local.clone(), b6.state),
        (v6("::1", 37046), TcpState::Close)
    );
    let c6 = by_inode(&u6, 11002);
    assert_eq!(
        (c6.local.clone(), c6.remote.clone()),
        (v6("::1", 57762), v6("::1", 37046))
    );
    assert_eq!((c6.proto, c6.family), (Proto::Udp, Family::Inet6));
}

#[test]
#[cfg_attr(
    target_endian = "big",
    ignore = "fixtures hold little-endian address words"
)]
fn fixture_raw_port_is_the_protocol() {
    let r = parsed(Table::Raw);
    assert_eq!(r.len(), 2);
    let icmp = by_inode(&r, 11003);
    assert_eq!((icmp.proto, icmp.family), (Proto::Raw, Family::Inet));
    assert_eq!(icmp.local, v4([0, 0, 0, 0], 1));
    assert_eq!(
        (icmp.remote.clone(), icmp.state),
        (v4([0, 0, 0, 0], 0), TcpState::Close)
    );
    // A connected raw UDP socket: protocol 17 as the local port, remote port 0.
    let conn = by_inode(&r, 11004);
    assert_eq!(conn.local, v4([127, 0, 0, 3], 17));
    assert_eq!(conn.remote, v4([127, 0, 0, 4], 0));
    assert_eq!(conn.state, TcpState::Established);

    let r6 = parsed(Table::Raw6);
    assert_eq!(r6.len(), 1);
    assert_eq!(r6[0].local, v6("::", 58));
    assert_eq!((r6[0].family, r6[0].inode), (Family::Inet6, 11005));
}

#[test]
fn fixture_unix() {
    let u = parsed(Table::Unix);
    assert_eq!(u.len(), 12);
    assert!(
        u.iter()
            .all(|s| s.proto == Proto::Unix && s.family == Family::Unix)
    );
    assert!(u.iter().all(|s| s.remote
        == Endpoint::Unix {
            path: None,
            inode: 0
        }));
    let path = |p: &str, inode| Endpoint::Unix {
        path: Some(p.into()),
        inode,
    };
    let spaced = "/tmp/portscope-fixture/sock dir/with space.sock";

    let l = by_inode(&u, 11008);
    assert_eq!(l.local, path(spaced, 11008));
    assert_eq!(
        (l.state, l.unix_type),
        (TcpState::Listen, Some(UnixType::Stream))
    );
    assert!(l.is_listening());
    // The accepted end carries the listener's name.
    let a = by_inode(&u, 11010);
    assert_eq!(
        (a.local.clone(), a.state),
        (path(spaced, 11010), TcpState::Established)
    );
    // The client end has no name.
    let c = by_inode(&u, 11009);
    assert_eq!(
        c.local,
        Endpoint::Unix {
            path: None,
            inode: 11009
        }
    );
    // Not yet accepted: St 02, no file, the listener's name.
    let e = by_inode(&u, 0);
    assert_eq!(
        (e.local.clone(), e.state),
        (path(spaced, 0), TcpState::SynSent)
    );

    let ab = by_inode(&u, 11012);
    assert_eq!(ab.local, path("@portscope-abstract@x", 11012));
    assert_eq!(
        (ab.state, ab.unix_type),
        (TcpState::Established, Some(UnixType::Dgram))
    );
    // A name with a newline in it spans two lines of the file.
    let nl = by_inode(&u, 11016);
    assert_eq!(nl.local, path("@portscope\nnew line", 11016));
    assert_eq!(
        (nl.state, nl.unix_type),
        (TcpState::Close, Some(UnixType::Dgram))
    );
    let sp = by_inode(&u, 11014);
    assert_eq!(
        (sp.state, sp.unix_type),
        (TcpState::Established, Some(UnixType::Seqpacket))
    );
}

// The ss output readers the live tests use too.
#[path = "../../../../tests/common/ss.rs"]
mod ss;

fn ss_state(name: &str) -> TcpState {
    ss::state(name).unwrap_or_else(|| panic!("ss state {name}"))
}

fn ss_endpoint(s: &str) -> Endpoint {
    ss::endpoint(s).unwrap_or_else(|| panic!("not an ss end: {s}"))
}

#[test]
#[cfg_attr(
    target_endian = "big",
    ignore = "fixtures hold little-endian address words"
)]
fn fixture_matches_ss_recorded_with_it() {
    let ss = String::from_utf8(fixture("ss.txt")).unwrap();
    let mut from_ss = Vec::new();
    let mut unix_ss = std::collections::HashMap::new();
    for line in ss.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.first().copied() {
            Some(p @ ("tcp" | "udp" | "raw")) => from_ss.push((
                p.to_owned(),
                ss_endpoint(f[4]),
                ss_endpoint(f[5]),
                ss_state(f[1]),
            )),
            Some("u_str" | "u_dgr" | "u_seq") if f.len() >= 8 => {
                let inode: u64 = f[f.len() - 3].parse().unwrap();
                unix_ss.insert(inode, ss_state(f[1]));
            }
            _ => {}
        }
    }
    let mut ours = Vec::new();
    for t in [
        Table::Tcp,
        Table::Tcp6,
        Table::Udp,
        Table::Udp6,
        Table::Raw,
        Table::Raw6,
    ] {
        for s in parsed(t) {
            ours.push((s.proto.as_str().to_owned(), s.local, s.remote, s.state));
        }
    }
    from_ss.sort_by_key(|k| format!("{k:?}"));
    ours.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(ours, from_ss);

    // Unix: ss (netlink) names the same states for every socket it lists
    // (it leaves out the not-yet-accepted one).
    let unix = parsed(Table::Unix);
    let mut compared = 0;
    for s in &unix {
        if let Some(st) = unix_ss.get(&s.inode) {
            assert_eq!(s.state, *st, "unix inode {}", s.inode);
            compared += 1;
        }
    }
    assert!(
        compared >= 10,
        "only {compared} unix sockets in common with ss"
    );
}

#[test]
fn fixture_dir_through_the_collector() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/procnet");
    // Every unix socket recorded there was held by the recording script.
    let held = parsed(Table::Unix)
        .iter()
        .map(|s| s.inode)
        .collect::<Vec<_>>();
    let pn = ProcNet::at(&dir).with_held_inodes(held);
    assert_eq!(pn.source(), Source::Procfs);
    let mut all = Vec::new();
    pn.collect(&Query::default(), &mut all).unwrap();
    assert_eq!(all.len(), 13 + 6 + 2 + 2 + 2 + 1 + 12);

    let mut v4_listen = Vec::new();
    let q = Query {
        ipv6: false,
        unix: false,
        states: crate::model::StateSet::only(TcpState::Listen),
        ..Query::default()
    };
    pn.collect(&q, &mut v4_listen).unwrap();
    assert_eq!(v4_listen.len(), 4);
    assert!(
        v4_listen.iter().all(|s| s.proto == Proto::Tcp
            && s.family == Family::Inet
            && s.state == TcpState::Listen)
    );

    let q = Query {
        tcp: false,
        udp: false,
        raw: true,
        unix: false,
        ..Query::default()
    };
    let mut raw = vec![all[0].clone()];
    pn.collect(&q, &mut raw).unwrap();
    assert_eq!(raw.len(), 1 + 3, "appends after what is there");
    assert_eq!(raw[0], all[0]);
}

#[test]
fn missing_files_are_skipped_but_a_missing_dir_is_not() {
    let dir = std::env::temp_dir().join(format!("portscope-procnet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("udp"), fixture("udp")).unwrap();
    let mut out = Vec::new();
    let r = ProcNet::at(&dir).collect(&Query::default(), &mut out);
    std::fs::remove_dir_all(&dir).unwrap();
    r.unwrap();
    assert_eq!(out.len(), 2);

    let gone = ProcNet::at("/proc/net/no-such-dir");
    match gone.collect(&Query::default(), &mut out) {
        Err(Error::Io { path, source }) => {
            assert_eq!(path, Path::new("/proc/net/no-such-dir"));
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bad_table_leaves_out_as_it_was() {
    let dir = std::env::temp_dir().join(format!("portscope-procnet-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tcp"), fixture("tcp")).unwrap();
    std::fs::write(dir.join("udp"), [&fixture("udp")[..], b"junk\n"].concat()).unwrap();
    let mut out = parsed(Table::Raw);
    let before = out.clone();
    let r = ProcNet::at(&dir).collect(&Query::default(), &mut out);
    std::fs::remove_dir_all(&dir).unwrap();
    match r {
        Err(Error::Parse { file, line, .. }) => {
            assert!(file.ends_with("/udp"), "{file}");
            assert_eq!(line, 4);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(out, before);
}

// ---- malformed input ----

fn parse_err(table: Table, text: &[u8]) -> (usize, String) {
    let mut out = Vec::new();
    match parse(table, text, "f", &mut out) {
        Err(Error::Parse { file, line, msg }) => {
            assert_eq!(file, "f");
            (line, msg)
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

const TCP_HEADER: &[u8] = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const TCP_LINE: &[u8] = b"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0";

#[test]
fn empty_and_header_only_give_nothing() {
    for table in Table::ALL {
        let mut out = Vec::new();
        parse(table, b"", "f", &mut out).unwrap();
        let header = fixture(table.file_name());
        let first = header.split(|&b| b == b'\n').next().unwrap();
        parse(table, first, "f", &mut out).unwrap();
        parse(table, &[first, b"\n"].concat(), "f", &mut out).unwrap();
        assert!(out.is_empty(), "{table:?}");
    }
}

#[test]
fn truncated_lines_are_errors_with_their_number() {
    let text = fixture("tcp");
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    // Every cut of line 4 short of its inode fails on line 4.
    let inode_end = {
        let l = lines[3];
        let f: Vec<_> = Fields(l).collect();
        let inode = f[9];
        inode.as_ptr() as usize - l.as_ptr() as usize + inode.len()
    };
    for cut in 0..inode_end - 5 {
        let mut t = [lines[0], lines[1], lines[2]].join(&b'\n');
        t.push(b'\n');
        t.extend_from_slice(&lines[3][..cut]);
        t.push(b'\n');
        let (line, msg) = parse_err(Table::Tcp, &t);
        assert_eq!(line, 4, "cut at {cut}: {msg}");
    }
    let unix = fixture("unix");
    let first_two: Vec<&[u8]> = unix.split(|&b| b == b'\n').take(2).collect();
    for cut in 0..first_two[1].len() - 6 {
        let t = [first_two[0], b"\n", &first_two[1][..cut], b"\n"].concat();
        assert_eq!(parse_err(Table::Unix, &t).0, 2, "cut at {cut}");
    }
}

#[test]
fn garbage_is_an_error() {
    let with = |line: &[u8]| [TCP_HEADER, TCP_LINE, b"\n", line, b"\n"].concat();
    for bad in [
        &b"\xff\xfe\x00garbage"[..],
        b"",
        b"   1: 0100007F:1F90",
        b"   1: 0100007G:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
        b"   1: 0100007F:1F90 00000000:0000 0D 00000000:00000000 00:00000000 00000000 0 0 1",
        b"   1: 0100007F:1F90 00000000:0000 00 00000000:00000000 00:00000000 00000000 0 0 1",
        b"   1: 0100007F:1F90 00000000:0000 0A 00000000 00:00000000 00000000 0 0 1",
        b"   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 -1 0 1",
        b"   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x1",
        b"   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 4294967296 0 1",
        b"x1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
        b"   1:\t0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
    ] {
        let (line, msg) = parse_err(Table::Tcp, &with(bad));
        assert_eq!(line, 3, "{msg}");
    }
    // An IPv6 table read as IPv4 and the other way round.
    assert_eq!(parse_err(Table::Tcp, &fixture("tcp6")).0, 2);
    assert_eq!(parse_err(Table::Udp6, &fixture("udp")).0, 2);
    assert_eq!(parse_err(Table::Tcp, &fixture("unix")).0, 2);
    assert_eq!(parse_err(Table::Unix, &fixture("tcp")).0, 2);
}

/// `unix_forged` (made by `record_forged.py`): three sockets whose
/// abstract names are `psf-x` + newline + a record line the kernel then
/// prints as if it were one: a listener with an inode no socket has, a
/// copy of a real listener (its inode), and a connection queued on it
/// (inode 0). None of them may come out as a socket.
#[test]
fn forged_unix_records_are_names_not_sockets() {
    let text = fixture("unix_forged");
    let info: serde_json::Value = serde_json::from_slice(&fixture("unix_forged.json")).unwrap();
    let ino = |k: &str| info[k].as_u64().unwrap();
    let (real, forged) = (ino("real"), ino("forged_inode"));
    // What the fd walk of the recording would have seen: every socket
    // of the table (the recorder held its own), the forged ones aside.
    let mut all = Vec::new();
    parse(Table::Unix, &text, "unix_forged", &mut all).unwrap();
    let held: HashSet<u64> = all
        .iter()
        .map(|s| s.inode)
        .filter(|&i| i != forged)
        .collect();

    let mut out = Vec::new();
    let dropped = parse_unix_checked(
        &text,
        "unix_forged",
        Some(&mut |i| held.contains(&i)),
        &mut out,
    )
    .unwrap();
    assert_eq!(dropped.len(), 3, "{dropped:?}");
    for d in [real, 0, forged] {
        assert!(dropped.contains(&d), "{dropped:?}");
    }
    assert!(out.iter().all(|s| s.inode != forged));
    assert_eq!(by_inode(&out, real).state, TcpState::Listen);
    let name = |s: &Socket| match &s.local {
        Endpoint::Unix { path, .. } => path
            .as_ref()
            .map(|t| t.to_str_lossy().into_owned())
            .unwrap_or_default(),
        _ => String::new(),
    };
    assert_eq!(name(by_inode(&out, real)), "@psf-real");
    assert!(
        !out.iter().any(|s| s.inode == 0 && name(s) == "@psf-real"),
        "a forged queued connection"
    );
    // Each forged line is kept as the rest of the name it came from.
    let a = name(by_inode(&out, ino("fresh")));
    assert!(
        a.starts_with("@psf-a\n0000000000000000: ") && a.ends_with(" 999999 /run/forged.sock"),
        "{a:?}"
    );
    let c = name(by_inode(&out, ino("copy")));
    assert!(
        c.starts_with("@psf-c\n") && c.ends_with("@psf-copy"),
        "{c:?}"
    );
    let d = name(by_inode(&out, ino("queued")));
    assert!(
        d.starts_with("@psf-d\n") && d.ends_with("@psf-real"),
        "{d:?}"
    );
    // Every line is either a socket or part of a name.
    assert_eq!(out.len() + dropped.len(), body_lines(&text).count());

    // Without the fd check, a copied inode and inode 0 are still caught,
    // but a fresh inode cannot be told from a socket (as documented).
    let mut unchecked = Vec::new();
    let dropped = parse_unix_checked(&text, "unix_forged", None, &mut unchecked).unwrap();
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(unchecked.iter().any(|s| s.inode == forged));
}

#[test]
fn unix_tails_fit_in_a_name() {
    const H: &[u8] = b"Num       RefCount Protocol Flags    Type St Inode Path\n";
    let rec = b"0000000000000000: 00000002 00000000 00000000 0002 01  9 @";
    // A tail that would make the name longer than sun_path holds is not one.
    let long = [H, rec, b"\n", &[b'x'; 107], b"\n"].concat();
    let mut out = Vec::new();
    assert!(parse(Table::Unix, &long, "f", &mut out).is_err());
    let fits = [H, rec, b"\n", &[b'x'; 106], b"\n"].concat();
    out.clear();
    parse(Table::Unix, &fits, "f", &mut out).unwrap();
    assert_eq!(out.len(), 1);
    // A record after a name too long to continue is a record, checked or not.
    let name = [b'n'; 60];
    let two = [
        H,
        rec,
        &name[..],
        b"\n",
        b"0000000000000000: 00000002 00000000 00000000 0002 01  10\n",
    ]
    .concat();
    out.clear();
    let dropped = parse_unix_checked(&two, "f", Some(&mut |_| false), &mut out).unwrap();
    assert_eq!((out.len(), dropped.len()), (2, 0));
    // The same record after a short name is ambiguous, and unconfirmed.
    let short = [
        H,
        rec,
        b"\n",
        b"0000000000000000: 00000002 00000000 00000000 0002 01  10\n",
    ]
    .concat();
    out.clear();
    let dropped = parse_unix_checked(&short, "f", Some(&mut |_| false), &mut out).unwrap();
    assert_eq!((out.len(), dropped), (1, vec![10]));
    out.clear();
    let dropped = parse_unix_checked(&short, "f", Some(&mut |i| i == 10), &mut out).unwrap();
    assert_eq!((out.len(), dropped.len()), (2, 0));
}

#[test]
fn unix_garbage_is_an_error_unless_it_continues_a_name() {
    const H: &[u8] = b"Num       RefCount Protocol Flags    Type St Inode Path\n";
    const UNNAMED: &[u8] = b"0000000000000000: 00000002 00000000 00000000 0001 01  7777\n";
    const NAMED: &[u8] = b"0000000000000000: 00000002 00000000 00010000 0001 01  7778 /run/x\n";
    for bad in [
        &b"garbage\n"[..],
        b"0000000000000000: 00000002 00000000 00000000 0003 01  1\n",
        b"0000000000000000: 00000002 00000000 00000000 0001 05  1\n",
        b"0000000000000000: 00000002 00000000 00000000 0001 01  1x\n",
        b"0000000000000000: 00000002 00000000 00000000 0001 01  1\t\n",
        b"0000000000000000 00000002 00000000 00000000 0001 01  1\n",
        b": 00000002 00000000 00000000 0001 01  1\n",
    ] {
        assert_eq!(parse_err(Table::Unix, &[H, bad].concat()).0, 2);
        assert_eq!(parse_err(Table::Unix, &[H, UNNAMED, bad].concat()).0, 3);
    }
    let mut out = Vec::new();
    parse(
        Table::Unix,
        &[H, NAMED, b"more\n\n", UNNAMED].concat(),
        "f",
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0].local,
        Endpoint::Unix {
            path: Some("/run/x\nmore\n".into()),
            inode: 7778
        }
    );
    assert_eq!(out[0].state, TcpState::Listen);
    assert_eq!(
        out[1].local,
        Endpoint::Unix {
            path: None,
            inode: 7777
        }
    );
    // A name kept byte for byte: leading spaces, trailing spaces, not UTF-8.
    out.clear();
    let odd = b"0000000000000000: 00000002 00000000 00000000 0002 01  9  a b \xff \n";
    parse(Table::Unix, &[H, odd].concat(), "f", &mut out).unwrap();
    assert_eq!(
        out[0].local,
        Endpoint::Unix {
            path: Some(Text::from(&b" a b \xff "[..])),
            inode: 9
        }
    );
    // A name that starts with a newline.
    out.clear();
    let nl = b"0000000000000000: 00000002 00000000 00000000 0002 01  9 \nrest\n";
    parse(Table::Unix, &[H, nl].concat(), "f", &mut out).unwrap();
    assert_eq!(
        out[0].local,
        Endpoint::Unix {
            path: Some("\nrest".into()),
            inode: 9
        }
    );
    // Disconnecting (St 04).
    out.clear();
    let disc = b"0000000000000000: 00000002 00000000 00000000 0001 04  0\n";
    parse(Table::Unix, &[H, disc].concat(), "f", &mut out).unwrap();
    assert_eq!(out[0].state, TcpState::Closing);
}

// ---- properties ----

use proptest::prelude::*;

fn parse_all_tables(text: &[u8]) {
    for table in Table::ALL {
        let mut out = Vec::new();
        let _ = parse(table, text, "f", &mut out);
    }
    // The checked unix path, with a check that says yes to some inodes.
    let _ = parse_unix_checked(text, "f", Some(&mut |i| i % 2 == 0), &mut Vec::new());
}

fn kernel_words(bytes: &[u8]) -> String {
    bytes
        .chunks_exact(4)
        .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
        .collect()
}

proptest! {
    #[test]
    fn any_bytes_never_panic(text in prop::collection::vec(any::<u8>(), 0..3000)) {
        parse_all_tables(&text);
    }

    #[test]
    fn near_misses_never_panic(
        text in prop::collection::vec(
            prop::sample::select(b"0123456789abcdefABCDEF :\n@/-".to_vec()), 0..3000),
    ) {
        parse_all_tables(&text);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        table in prop::sample::select(Table::ALL.to_vec()),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..8),
    ) {
        let mut text = fixture(table.file_name());
        for (at, byte, op) in edits {
            if text.is_empty() {
                break;
            }
            let i = at.index(text.len());
            match op {
                0 => text[i] = byte,
                1 => text.insert(i, byte),
                _ => { text.remove(i); }
            }
        }
        parse_all_tables(&text);
    }

    /// A line written the way the kernel writes it reads back as what was written.
    #[test]
    fn inet_lines_round_trip(
        v6 in any::<bool>(),
        local in any::<[u8; 16]>(),
        remote in any::<[u8; 16]>(),
        ports in any::<(u16, u16)>(),
        st in 1u8..=12,
        queues in any::<(u32, u32)>(),
        uid in any::<u32>(),
        inode in any::<u64>(),
        table_kind in 0..3usize,
    ) {
        let (table, len) = match (v6, table_kind) {
            (false, 0) => (Table::Tcp, 4),
            (false, 1) => (Table::Udp, 4),
            (false, _) => (Table::Raw, 4),
            (true, 0) => (Table::Tcp6, 16),
            (true, 1) => (Table::Udp6, 16),
            (true, _) => (Table::Raw6, 16),
        };
        let line = format!(
            "{:4}: {}:{:04X} {}:{:04X} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:5} {:8} {} 2 0000000000000000 0\n",
            7, kernel_words(&local[..len]), ports.0, kernel_words(&remote[..len]), ports.1,
            st, queues.0, queues.1, uid, 0, inode,
        );
        let mut out = Vec::new();
        parse(table, &[TCP_HEADER, line.as_bytes()].concat(), "f", &mut out).unwrap();
        prop_assert_eq!(out.len(), 1);
        let s = &out[0];
        let ip = |b: &[u8; 16]| -> IpAddr {
            if v6 { IpAddr::from(*b) } else { IpAddr::from([b[0], b[1], b[2], b[3]]) }
        };
        prop_assert_eq!(&s.local, &Endpoint::Inet { addr: ip(&local), port: ports.0 });
        prop_assert_eq!(&s.remote, &Endpoint::Inet { addr: ip(&remote), port: ports.1 });
        prop_assert_eq!(s.state.kernel(), st);
        prop_assert_eq!((s.send_q, s.recv_q, s.uid, s.inode), (queues.0, queues.1, Some(uid), inode));
        prop_assert_eq!((s.proto, s.family), (table.proto(), table.family()));
    }

    #[test]
    fn unix_lines_round_trip(
        ptr in any::<u64>(),
        refs in any::<u32>(),
        listen in any::<bool>(),
        ty in prop::sample::select(vec![1u32, 2, 5]),
        st in 1u8..=4,
        inode in any::<u64>(),
        name in prop::option::of(prop::collection::vec(
            prop_oneof![20 => any::<u8>(), 1 => Just(b'\n')], 1..=UNIX_NAME_MAX)),
    ) {
        let mut line = format!(
            "{ptr:016x}: {refs:08X} 00000000 {:08X} {ty:04X} {st:02X} {inode:5}",
            if listen { SO_ACCEPTCON } else { 0 },
        )
        .into_bytes();
        if let Some(name) = &name {
            line.push(b' ');
            line.extend_from_slice(name);
        }
        line.push(b'\n');
        let header = b"Num       RefCount Protocol Flags    Type St Inode Path\n";
        let mut out = Vec::new();
        parse(Table::Unix, &[&header[..], &line].concat(), "f", &mut out).unwrap();
        prop_assert_eq!(out.len(), 1);
        let s = &out[0];
        let path = name.map(Text::from);
        prop_assert_eq!(&s.local, &Endpoint::Unix { path, inode });
        let state = match (listen, st) {
            (true, _) => TcpState::Listen,
            (_, 1) => TcpState::Close,
            (_, 2) => TcpState::SynSent,
            (_, 3) => TcpState::Established,
            _ => TcpState::Closing,
        };
        prop_assert_eq!(s.state, state);
        prop_assert_eq!(s.unix_type, UnixType::from_kernel(ty));
    }
}
