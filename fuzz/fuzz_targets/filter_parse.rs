//! Fuzzes the filter language: any bytes, cut into words at NUL bytes (so a
//! word may hold blanks and several tokens, as a quoted shell argument can),
//! must parse or fail with an error whose column lies within the text, and a
//! parsed filter must judge sockets without panicking.

#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use portscope::filter::Filter;
use portscope::model::{Endpoint, Family, Owner, Process, Proto, Snapshot, Socket, TcpState};

fn socket(proto: Proto, local: Endpoint, remote: Endpoint, state: TcpState) -> Socket {
    let family = match (&local, proto) {
        (_, Proto::Unix) => Family::Unix,
        (Endpoint::Inet { addr, .. }, _) if addr.is_ipv4() => Family::Inet,
        _ => Family::Inet6,
    };
    Socket {
        proto,
        family,
        local,
        remote,
        state,
        recv_q: 0,
        send_q: 0,
        uid: 0,
        inode: 1,
        unix_type: None,
        bound_if: 1,
        owners: vec![Owner { pid: 1, fd: 3 }],
        owners_hidden: false,
    }
}

fn sockets() -> Vec<Socket> {
    let mapped = Ipv4Addr::LOCALHOST.to_ipv6_mapped();
    vec![
        socket(
            Proto::Tcp,
            Endpoint::v4(Ipv4Addr::LOCALHOST, 22),
            Endpoint::v4(Ipv4Addr::new(10, 0, 0, 1), 50000),
            TcpState::Established,
        ),
        socket(
            Proto::Tcp,
            Endpoint::v6(Ipv6Addr::UNSPECIFIED, 80),
            Endpoint::v6(Ipv6Addr::UNSPECIFIED, 0),
            TcpState::Listen,
        ),
        socket(
            Proto::Udp,
            Endpoint::v6(mapped, 53),
            Endpoint::v6(mapped, 40000),
            TcpState::Established,
        ),
        socket(
            Proto::Unix,
            Endpoint::Unix {
                path: Some("/run/x.sock".into()),
                inode: 7,
            },
            Endpoint::Unix {
                path: None,
                inode: 8,
            },
            TcpState::Listen,
        ),
    ]
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let words: Vec<String> = text.split('\0').map(String::from).collect();
    match Filter::parse(&words) {
        Ok(filter) => {
            let mut snap = Snapshot::default();
            snap.processes.insert(
                1,
                Process {
                    pid: 1,
                    name: "sshd".into(),
                    user: Some("root".into()),
                    uid: Some(0),
                    ..Process::default()
                },
            );
            let _ = filter.query_hint();
            for s in sockets() {
                let _ = filter.matches(&s, &snap);
            }
        }
        Err(e) => {
            assert!(e.column >= 1 && e.column <= e.text.chars().count() + 1);
            let _ = e.caret_lines();
        }
    }
});
