//! The filter language against `ss` itself, in a network namespace of the
//! test's own: real sockets on loopback, listed once by `ss -tuanH`; then
//! for each expression, the sockets `ss -tuanH EXPR` shows must be exactly
//! those our filter keeps from the first listing.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;

use portscope::filter::Filter;
use portscope::model::{Endpoint, Family, Proto, Snapshot, Socket, TcpState};

/// An expression split into words as a shell would (no quoting in ours).
fn words(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

struct Population {
    /// Kept open for the test's duration.
    _keep: (Vec<TcpListener>, Vec<TcpStream>, Vec<UdpSocket>),
    /// Our sockets' local ports; a listed socket is ours if its local port is in here
    /// and it appears in the listing (addresses are all loopback).
    ports: HashSet<u16>,
    vars: HashMap<&'static str, u16>,
}

fn populate() -> Option<Population> {
    let mut listeners = Vec::new();
    let mut streams = Vec::new();
    let mut udps = Vec::new();
    let mut vars = HashMap::new();

    let l4 = TcpListener::bind("127.0.0.1:0").ok()?;
    let l6 = TcpListener::bind("[::1]:0").ok()?;
    // A wildcard IPv6 listener: accepts IPv4 clients as v4-mapped.
    let ld = TcpListener::bind("[::]:0").ok()?;
    let l4b = TcpListener::bind("127.0.0.2:0").ok()?;
    vars.insert("L4", l4.local_addr().ok()?.port());
    vars.insert("L6", l6.local_addr().ok()?.port());
    vars.insert("LD", ld.local_addr().ok()?.port());
    vars.insert("L4B", l4b.local_addr().ok()?.port());

    let pairs: [(&TcpListener, SocketAddr, &str, &str); 4] = [
        (
            &l4,
            SocketAddr::from((Ipv4Addr::LOCALHOST, vars["L4"])),
            "C4",
            "A4",
        ),
        (
            &l6,
            format!("[::1]:{}", vars["L6"]).parse().ok()?,
            "C6",
            "A6",
        ),
        (
            &ld,
            SocketAddr::from((Ipv4Addr::LOCALHOST, vars["LD"])),
            "CM",
            "AM",
        ),
        (
            &l4b,
            SocketAddr::from(([127, 0, 0, 2], vars["L4B"])),
            "C4B",
            "A4B",
        ),
    ];
    for (listener, addr, cname, aname) in pairs {
        let c = TcpStream::connect(addr).ok()?;
        let (a, _) = listener.accept().ok()?;
        vars.insert(cname, c.local_addr().ok()?.port());
        vars.insert(aname, a.peer_addr().ok()?.port());
        streams.push(c);
        streams.push(a);
    }
    let u1 = UdpSocket::bind("127.0.0.1:0").ok()?;
    let u2 = UdpSocket::bind("127.0.0.1:0").ok()?;
    let u6 = UdpSocket::bind("[::1]:0").ok()?;
    u2.connect(u1.local_addr().ok()?).ok()?;
    vars.insert("U1", u1.local_addr().ok()?.port());
    vars.insert("U2", u2.local_addr().ok()?.port());
    vars.insert("U6", u6.local_addr().ok()?.port());
    udps.extend([u1, u2, u6]);
    listeners.extend([l4, l6, ld, l4b]);

    let ports = [
        "L4", "L6", "LD", "L4B", "C4", "C6", "CM", "C4B", "U1", "U2", "U6",
    ]
    .iter()
    .map(|k| vars[k])
    .collect();
    Some(Population {
        _keep: (listeners, streams, udps),
        ports,
        vars,
    })
}

/// One line of `ss -tuanH`: proto, state, local, remote.
fn parse_line(line: &str) -> Option<Socket> {
    let mut f: Vec<&str> = line.split_whitespace().collect();
    // ss drops the State column when only one state is selected.
    if f.get(1).is_some_and(|s| s.parse::<u32>().is_ok()) {
        f.insert(1, "ESTAB");
    }
    if f.len() < 6 {
        return None;
    }
    let proto = match f[0] {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return None,
    };
    let state = common::ss::state(f[1])?;
    let local = common::ss::endpoint(f[4])?;
    let v6 = matches!(local.addr(), Some(IpAddr::V6(_)));
    let mut remote = common::ss::endpoint(f[5])?;
    // ss's `*` is the IPv6 wildcard; the peer of an IPv4 socket is IPv4.
    if !v6 && remote.addr() == Some(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)) {
        remote = Endpoint::Inet {
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: remote.port().unwrap_or(0),
        };
    }
    Some(Socket {
        proto,
        family: if v6 { Family::Inet6 } else { Family::Inet },
        local,
        remote,
        state,
        inode: 1,
        ..Socket::default()
    })
}

fn ss(args: &[String]) -> Option<Vec<Socket>> {
    let out = Command::new("ss").arg("-tuanH").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(parse_line)
            .collect(),
    )
}

/// Proto and both ends: unique among our sockets, and present even
/// when ss leaves out the state.
fn key(s: &Socket) -> String {
    format!("{} {} {}", s.proto, s.local, s.remote)
}

const EXPRESSIONS: &[&str] = &[
    "sport = :{L4}",
    "sport == :{L4}",
    "sport eq {L4}",
    "dport = :{L4}",
    "dport != :{L4}",
    "sport neq :{L4}",
    "sport < :{L6}",
    "sport > :{L6}",
    "sport <= :{L6}",
    "sport >= :{L6}",
    "dport lt :{LD}",
    "dport gt :{LD}",
    "dport le :{LD}",
    "dport geq :{LD}",
    "src 127.0.0.1",
    "src 127.0.0.1:{L4}",
    "dst 127.0.0.1",
    "src 127.0.0.2",
    "dst 127.0.0.2:{L4B}",
    "src 127.0.0.0/8",
    "src 127.0.0.0/24:{L4B}",
    "src 127.0.0.0/255.255.255.0",
    "src [::1]",
    "src [::1]:{L6}",
    "dst [::1]",
    "src ::1/128",
    "src [::]",
    "src [::ffff:127.0.0.1]",
    "dst [::ffff:127.0.0.1]",
    "src 0.0.0.0",
    "! src 0.0.0.0",
    "src 0.0.0.0/0",
    "src ::/0",
    "! src ::/0",
    "src *:{LD}",
    "src :{LD}",
    "src *",
    "src any",
    "src 127.0.0.1 and sport = :{L4}",
    "src 127.0.0.1 sport = :{L4}",
    "sport = :{L4} or sport = :{L6} and dport = :{C6}",
    "sport = :{L6} and dport = :{C6} or sport = :{L4}",
    "not sport = :{L4} and sport = :{L4}",
    "! ( sport = :{L4} or dport = :{L4} )",
    "( sport = :{L4} || sport = :{L6} ) && ! dport = :0",
    "sport = :{L4} | sport = :{U1} & dport = :0",
    "src inet6:[::1] or sport = :{L4}",
    "src inet:127.0.0.1 or sport = :{L6}",
    "state listening",
    "state established sport = :{LD}",
    "state connected dst 127.0.0.0/8",
    "exclude established",
    "excl listening src 127.0.0.0/8",
    "state listening state established dport = :{L4B}",
    "state unconnected",
    "sport = :0x{L4X}",
    "dst 127.0.0.1:{U1} or dst [::1]:{L6}",
];

fn expand(template: &str, vars: &HashMap<&'static str, u16>) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}X}}"), &format!("{v:x}"));
        out = out.replace(&format!("{{{k}}}"), &v.to_string());
    }
    out
}

#[test]
fn same_sockets_as_ss() {
    assert!(
        Command::new("ss").arg("-V").output().is_ok(),
        "ss not found: install the Debian package iproute2"
    );
    // Only this test's sockets exist in here: nothing else on the machine
    // (churn, TIME_WAITs on the same ports) can change either side.
    let _ns = common::netns();
    let pop = populate().expect("loopback sockets");
    let ours = |s: &Socket| {
        s.local.port().is_some_and(|p| pop.ports.contains(&p)) && s.state != TcpState::TimeWait
    };
    let all: Vec<Socket> = ss(&[]).expect("ss runs").into_iter().filter(ours).collect();
    assert!(all.len() >= 15, "population not listed: {}", all.len());
    let snap = Snapshot::default();
    let mut failures = Vec::new();
    for template in EXPRESSIONS {
        let expr = expand(template, &pop.vars);
        let ws = words(&expr);
        let filter = Filter::parse(&ws).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let Some(listed) = ss(&ws) else {
            failures.push(format!("{expr}: ss refused it"));
            continue;
        };
        let want: HashSet<String> = listed.iter().filter(|s| ours(s)).map(key).collect();
        let got: HashSet<String> = all
            .iter()
            .filter(|s| filter.matches(s, &snap))
            .map(key)
            .collect();
        if want != got {
            failures.push(format!(
                "{expr}\n  only ss: {:?}\n  only us: {:?}",
                want.difference(&got).collect::<Vec<_>>(),
                got.difference(&want).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
