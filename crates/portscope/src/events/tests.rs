use std::time::{Duration, SystemTime};

use super::*;
use crate::model::{Endpoint, Owner, Process, Snapshot, Socket, TcpState};
use crate::text::Text;

fn t(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
}

fn listener(port: u16, cookie: u64, pid: u32) -> Socket {
    Socket {
        local: Endpoint::v4([127, 0, 0, 1].into(), port),
        state: TcpState::Listen,
        cookie,
        inode: cookie,
        owners: vec![Owner { pid, fd: 3 }],
        ..Socket::default()
    }
}

fn snap_of(sockets: Vec<Socket>, exe: &str) -> Snapshot {
    let mut snap = Snapshot::default();
    for s in &sockets {
        for o in &s.owners {
            snap.processes.insert(
                o.pid,
                Process {
                    pid: o.pid,
                    name: Text::from(exe.as_bytes().to_vec()),
                    exe: Some(Text::from(exe.as_bytes().to_vec())),
                    ..Process::default()
                },
            );
        }
    }
    snap.sockets = sockets;
    snap
}

fn kinds(out: &[Event]) -> Vec<EventKind> {
    out.iter().map(|e| e.kind).collect()
}

#[test]
fn listen_replaced_unlisten() {
    let mut d = Differ::default();
    let mut out = Vec::new();
    d.on_dump(&Snapshot::default(), t(0), &mut out);
    d.on_dump(
        &snap_of(vec![listener(8000, 1, 10)], "/a"),
        t(250),
        &mut out,
    );
    d.on_destroyed(
        Socket {
            state: TcpState::Close,
            ..listener(8000, 1, 10)
        },
        t(300),
        &mut out,
    );
    d.on_dump(
        &snap_of(vec![listener(8000, 2, 11)], "/b"),
        t(500),
        &mut out,
    );
    d.on_destroyed(
        Socket {
            state: TcpState::Close,
            ..listener(8000, 2, 11)
        },
        t(900),
        &mut out,
    );
    d.on_dump(&Snapshot::default(), t(5000), &mut out);
    assert_eq!(
        kinds(&out),
        [EventKind::Listen, EventKind::Replaced, EventKind::Unlisten]
    );
    let prev = out[1].previous.as_ref().expect("previous");
    assert_eq!(prev.1[0].pid, 10);
    assert_eq!(out[1].processes[0].pid, 11);
    assert_eq!(out[2].processes[0].pid, 11);
}

#[test]
fn time_wait_is_not_a_new_open_and_unknown_says_how_long() {
    let conn = Socket {
        local: Endpoint::v4([127, 0, 0, 1].into(), 40000),
        remote: Endpoint::v4([127, 0, 0, 1].into(), 80),
        state: TcpState::Established,
        cookie: 9,
        ..Socket::default()
    };
    let mut d = Differ::default();
    let mut out = Vec::new();
    d.on_dump(&Snapshot::default(), t(0), &mut out);
    d.on_destroyed(
        Socket {
            state: TcpState::Close,
            ..conn.clone()
        },
        t(100),
        &mut out,
    );
    let tw = Socket {
        state: TcpState::TimeWait,
        inode: 0,
        ..conn.clone()
    };
    d.on_dump(&snap_of(vec![tw], "/x"), t(250), &mut out);
    assert_eq!(kinds(&out), [EventKind::Close]);
    assert_eq!(out[0].lived_under_ms, Some(100));
    assert!(out[0].processes.is_empty());
}

#[test]
fn a_loss_resyncs_and_closes_what_is_gone() {
    let conn = Socket {
        local: Endpoint::v4([127, 0, 0, 1].into(), 40001),
        remote: Endpoint::v4([127, 0, 0, 1].into(), 80),
        state: TcpState::Established,
        cookie: 5,
        ..Socket::default()
    };
    let mut d = Differ::default();
    let mut out = Vec::new();
    d.on_dump(&snap_of(vec![conn.clone()], "/x"), t(0), &mut out);
    d.on_lost(Some(3), t(10), &mut out);
    d.on_dump(&Snapshot::default(), t(20), &mut out);
    assert_eq!(kinds(&out), [EventKind::Lost, EventKind::Close]);
    assert_eq!(out[0].lost, Some(3));
    // Its notification arriving late changes nothing.
    d.on_destroyed(conn, t(30), &mut out);
    assert_eq!(out.len(), 2);
}

#[test]
fn state_changes_are_events() {
    let conn = Socket {
        local: Endpoint::v4([127, 0, 0, 1].into(), 40002),
        remote: Endpoint::v4([127, 0, 0, 1].into(), 80),
        state: TcpState::Established,
        cookie: 6,
        ..Socket::default()
    };
    let mut d = Differ::default();
    let mut out = Vec::new();
    d.on_dump(&snap_of(vec![conn.clone()], "/x"), t(0), &mut out);
    let cw = Socket {
        state: TcpState::CloseWait,
        ..conn
    };
    d.on_dump(&snap_of(vec![cw], "/x"), t(250), &mut out);
    assert_eq!(kinds(&out), [EventKind::State]);
    assert_eq!(out[0].from_state, Some(TcpState::Established));
}

#[test]
fn kinds_read_back() {
    for k in EventKind::ALL {
        assert_eq!(k.as_str().parse(), Ok(k));
    }
}

fn in_netns(mut s: Socket, inode: u64) -> Socket {
    s.netns = Some(std::sync::Arc::new(crate::model::Netns {
        inode,
        name: None,
        host: false,
        container: None,
    }));
    s
}

#[test]
fn namespaces_are_kept_apart() {
    let mut d = Differ {
        netns: Some(1),
        ..Differ::default()
    };
    let mut out = Vec::new();
    d.on_dump(&Snapshot::default(), t(0), &mut out);
    // The same cookie and port in two namespaces: two listeners.
    let a = in_netns(listener(8000, 5, 10), 1);
    let b = in_netns(listener(8000, 5, 20), 2);
    d.on_dump(&snap_of(vec![a.clone(), b.clone()], "/a"), t(250), &mut out);
    assert_eq!(kinds(&out), [EventKind::Listen, EventKind::Listen]);
    let mut ns: Vec<Option<u64>> = out.iter().map(|e| e.netns).collect();
    ns.sort();
    assert_eq!(ns, [Some(1), Some(2)]);
    out.clear();
    // A's goes; a destroyed socket with no namespace is the differ's own (1).
    let mut gone = listener(8000, 5, 10);
    gone.state = TcpState::Close;
    d.on_destroyed(gone, t(300), &mut out);
    // A listener on the same port in namespace 2 is no replacement of it.
    let c = in_netns(listener(8000, 6, 30), 2);
    d.on_dump(&snap_of(vec![b, c], "/c"), t(500), &mut out);
    d.tick(t(5000), &mut out);
    assert_eq!(kinds(&out), [EventKind::Listen, EventKind::Unlisten]);
    assert_eq!(out[0].netns, Some(2));
    assert_eq!(out[1].netns, Some(1));
    assert_eq!(out[1].processes[0].pid, 10);
}
