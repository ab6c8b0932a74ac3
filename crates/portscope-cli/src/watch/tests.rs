//! The live view without a terminal: scripted refreshes and keys through
//! [`App`], frames drawn on ratatui's `TestBackend`, and throughput measured
//! on a real loopback transfer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use portscope::model::{
    Endpoint, Family, Owner, Process, Proto, Snapshot, Socket, SocketExtra, TcpInfo, TcpState,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{Action, App};
use super::draw::{self, Look};
use super::view::{Line, Settings, SockCol};

fn sock(port: u16, rport: u16, state: TcpState, pid: Option<u32>, cookie: u64) -> Socket {
    Socket {
        proto: Proto::Tcp,
        family: Family::Inet,
        local: Endpoint::v4([127, 0, 0, 1].into(), port),
        remote: Endpoint::v4(
            if rport == 0 {
                [0, 0, 0, 0].into()
            } else {
                [127, 0, 0, 1].into()
            },
            rport,
        ),
        state,
        uid: Some(1000),
        inode: cookie,
        owners: pid.map(|pid| Owner { pid, fd: 3 }).into_iter().collect(),
        cookie,
        extra: Some(Box::new(SocketExtra {
            tcp_info: Some(TcpInfo {
                rtt_us: 1500,
                snd_cwnd: 10,
                total_retrans: u32::from(port % 3),
                bytes_acked: cookie * 1000,
                bytes_received: 0,
                ..TcpInfo::default()
            }),
            ..SocketExtra::default()
        })),
        ..Socket::default()
    }
}

fn snapshot(sockets: Vec<Socket>) -> Snapshot {
    let mut processes = HashMap::new();
    for (pid, name) in [(812, "nginx"), (900, "postgres"), (1, "systemd")] {
        processes.insert(
            pid,
            Process {
                pid,
                name: name.into(),
                ..Process::default()
            },
        );
    }
    Snapshot {
        sockets,
        processes,
        ..Snapshot::default()
    }
}

fn base() -> Vec<Socket> {
    vec![
        sock(80, 0, TcpState::Listen, Some(812), 1),
        sock(5432, 0, TcpState::Listen, Some(900), 2),
        sock(80, 40001, TcpState::Established, Some(812), 3),
        sock(5432, 40002, TcpState::Established, Some(900), 4),
    ]
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn render(app: &mut App, w: u16, h: u16, now: Instant) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| {
        let s = app.screen(h, now);
        draw::draw(f, &s);
    })
    .unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn started(t0: Instant) -> App {
    let mut app = App::new(Settings::default(), String::new(), Duration::from_secs(1));
    app.ingest(snapshot(base()), t0);
    app
}

#[test]
fn frames_at_80x24_and_wide() {
    let t0 = Instant::now();
    let mut app = started(t0);
    let t1 = t0 + Duration::from_secs(1);
    let mut next = base();
    next.remove(3); // the postgres connection closed
    next.push(sock(80, 40003, TcpState::Established, Some(812), 5)); // a new one
    app.ingest(snapshot(next), t1);
    let narrow = render(&mut app, 80, 24, t1);
    insta::assert_snapshot!("watch_80x24", narrow);
    let wide = render(&mut app, 160, 12, t1);
    insta::assert_snapshot!("watch_160x12", wide);
    // Every line fits the terminal.
    assert!(
        narrow
            .lines()
            .all(|l| unicode_width::UnicodeWidthStr::width(l) <= 80)
    );
}

#[test]
fn new_and_closed_rows_are_marked_then_fade() {
    let t0 = Instant::now();
    let mut app = started(t0);
    let t1 = t0 + Duration::from_secs(1);
    let mut next = base();
    next.remove(3);
    next.push(sock(80, 40003, TcpState::Established, Some(812), 5));
    app.ingest(snapshot(next.clone()), t1);
    let s = app.screen(24, t1);
    let looks: Vec<(String, Look)> = s
        .rows
        .iter()
        .map(|r| (format!("{}{}", r.cells[0], r.cells[3]), r.look))
        .collect();
    assert!(
        looks.contains(&("+127.0.0.1:40003".into(), Look::New)),
        "{looks:?}"
    );
    assert!(
        looks.contains(&("-127.0.0.1:40002".into(), Look::Gone)),
        "{looks:?}"
    );
    // A few seconds later: no longer new; the closed one is gone.
    let t2 = t1 + Duration::from_secs(6);
    app.ingest(snapshot(next), t2);
    let s = app.screen(24, t2);
    assert_eq!(s.rows.len(), 4);
    assert!(s.rows.iter().all(|r| r.look == Look::Normal));
}

#[test]
fn selection_follows_the_socket_across_refreshes() {
    let t0 = Instant::now();
    let mut app = started(t0);
    // Select the postgres connection (last by local address under Proto sort).
    app.key(code(KeyCode::End), t0, 10);
    let chosen = |app: &mut App, now| {
        let s = app.screen(24, now);
        s.rows[s.selected.unwrap()].cells[3].clone()
    };
    assert_eq!(chosen(&mut app, t0), "127.0.0.1:40002");
    // New rows sorting before it arrive: the selection stays on it.
    let mut next = base();
    next.push(sock(22, 0, TcpState::Listen, None, 6));
    next.push(sock(23, 0, TcpState::Listen, None, 7));
    let t1 = t0 + Duration::from_secs(1);
    app.ingest(snapshot(next), t1);
    assert_eq!(chosen(&mut app, t1), "127.0.0.1:40002");
}

#[test]
fn scrolling_keeps_the_selection_visible_and_the_offset_otherwise() {
    let t0 = Instant::now();
    let mut app = App::new(Settings::default(), String::new(), Duration::from_secs(1));
    let many: Vec<Socket> = (0..50)
        .map(|i| sock(1000 + i, 0, TcpState::Listen, None, u64::from(i) + 1))
        .collect();
    app.ingest(snapshot(many.clone()), t0);
    // 14 lines tall: 10 rows.
    for _ in 0..15 {
        app.key(code(KeyCode::Down), t0, 10);
    }
    let s = app.screen(14, t0);
    assert_eq!(s.selected, Some(9));
    assert_eq!(s.rows[9].cells[2], "127.0.0.1:1015");
    // A refresh does not move the view.
    app.ingest(snapshot(many), t0 + Duration::from_secs(1));
    let s = app.screen(14, t0 + Duration::from_secs(1));
    assert_eq!(s.rows[0].cells[2], "127.0.0.1:1006");
}

#[test]
fn sorting_and_reversing_change_the_order() {
    let t0 = Instant::now();
    let mut app = started(t0);
    let order = |app: &mut App| -> Vec<String> {
        app.screen(24, t0)
            .rows
            .iter()
            .map(|r| r.cells[2].clone())
            .collect()
    };
    let by_proto = order(&mut app);
    // Proto -> Local -> Remote -> State: LISTEN sorts after ESTAB.
    for _ in 0..3 {
        app.key(key('s'), t0, 10);
    }
    assert_eq!(app.settings.sort, SockCol::State);
    let by_state = order(&mut app);
    assert_ne!(by_proto, by_state);
    assert_eq!(&by_state[2..], ["127.0.0.1:80", "127.0.0.1:5432"]);
    app.key(key('r'), t0, 10);
    let reversed = order(&mut app);
    assert_eq!(&reversed[..2], ["127.0.0.1:5432", "127.0.0.1:80"]);
    let header = app.screen(24, t0).headers[4].clone();
    assert_eq!(header, "State▼");
    app.key(key('<'), t0, 10);
    assert_eq!(app.settings.sort, SockCol::Remote);
}

#[test]
fn the_filter_line_applies_valid_filters_and_keeps_the_last_one() {
    let t0 = Instant::now();
    let mut app = started(t0);
    app.key(key('/'), t0, 10);
    for c in "sport = :80".chars() {
        app.key(key(c), t0, 10);
    }
    assert_eq!(app.lines().len(), 2);
    // Typing on makes it invalid for a while: shown inline, last filter kept.
    for c in " and".chars() {
        app.key(key(c), t0, 10);
    }
    let s = app.screen(24, t0);
    assert_eq!(s.status_kind, draw::StatusKind::Error);
    assert!(s.status.starts_with("/sport = :80 and"), "{}", s.status);
    assert!(s.status.contains("filter:"), "{}", s.status);
    assert_eq!(app.lines().len(), 2);
    app.key(code(KeyCode::Enter), t0, 10);
    assert_eq!(app.lines().len(), 2);
    // Reopen, clear it: everything is back.
    app.key(key('/'), t0, 10);
    app.key(
        KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL),
        t0,
        10,
    );
    app.key(code(KeyCode::Esc), t0, 10);
    assert_eq!(app.lines().len(), 4);
    // The listening toggle.
    app.key(key('l'), t0, 10);
    assert_eq!(app.lines().len(), 2);
}

#[test]
fn grouping_sums_per_process() {
    let t0 = Instant::now();
    let mut app = started(t0);
    let mut next = base();
    for s in &mut next {
        if let Some(i) = s.extra.as_mut().and_then(|x| x.tcp_info.as_mut()) {
            i.bytes_acked += 2000;
        }
    }
    app.ingest(snapshot(next), t0 + Duration::from_secs(2));
    app.key(key('g'), t0, 10);
    let groups: Vec<_> = app
        .lines()
        .iter()
        .filter_map(|l| match l {
            Line::Group(g) => Some(g.clone()),
            Line::Socket(_) => None,
        })
        .collect();
    assert_eq!(groups.len(), 2);
    let nginx = groups.iter().find(|g| g.pid == Some(812)).unwrap();
    assert_eq!(nginx.name, "nginx");
    assert_eq!(nginx.sockets, 2);
    assert_eq!(nginx.listening, [80]);
    // 2 sockets x 2000 bytes over 2 s.
    assert_eq!(nginx.rate.outbound, 2000.0);
    let frame = render(&mut app, 80, 8, t0);
    assert!(frame.contains("nginx"), "{frame}");
    assert!(frame.contains("Listening"), "{frame}");
}

#[test]
fn kill_asks_first_and_refuses_init_and_itself() {
    let t0 = Instant::now();
    let mut app = App::new(Settings::default(), String::new(), Duration::from_secs(1));
    let me = std::process::id();
    app.ingest(
        snapshot(vec![
            sock(1, 0, TcpState::Listen, Some(1), 1),
            sock(2, 0, TcpState::Listen, Some(me), 2),
            sock(3, 0, TcpState::Listen, Some(812), 3),
            sock(4, 0, TcpState::Listen, None, 4),
        ]),
        t0,
    );
    assert_eq!(app.key(key('K'), t0, 10), Action::None);
    let s = app.screen(24, t0);
    assert!(
        s.status.contains("refusing to signal systemd[1]"),
        "{}",
        s.status
    );
    app.key(code(KeyCode::Down), t0, 10);
    app.key(key('K'), t0, 10);
    assert!(app.screen(24, t0).status.contains("itself"));
    app.key(code(KeyCode::Down), t0, 10);
    assert_eq!(app.key(key('K'), t0, 10), Action::Pin { pid: 812 });
    assert_eq!(app.screen(24, t0).status, "send SIGTERM to nginx[812]? y/n");
    // Anything but y cancels.
    assert_eq!(app.key(key('n'), t0, 10), Action::None);
    assert_eq!(app.screen(24, t0).status, "nothing signalled");
    app.key(key('K'), t0, 10);
    assert_eq!(
        app.key(key('y'), t0, 10),
        Action::Kill {
            pid: 812,
            label: "nginx[812]".into(),
            inodes: vec![3],
        }
    );
    app.key(code(KeyCode::Down), t0, 10);
    app.key(key('K'), t0, 10);
    assert!(app.screen(24, t0).status.contains("no process"));
}

#[test]
fn k_moves_up_as_in_vim_and_only_k_upper_or_x_kill() {
    let t0 = Instant::now();
    let mut app = App::new(Settings::default(), String::new(), Duration::from_secs(1));
    app.ingest(
        snapshot(vec![
            sock(1, 0, TcpState::Listen, Some(811), 1),
            sock(2, 0, TcpState::Listen, Some(812), 2),
        ]),
        t0,
    );
    assert_eq!(app.key(key('j'), t0, 10), Action::None);
    assert_eq!(app.screen(24, t0).selected, Some(1));
    // k moves back up and asks nothing.
    assert_eq!(app.key(key('k'), t0, 10), Action::None);
    let s = app.screen(24, t0);
    assert_eq!(s.selected, Some(0));
    assert!(!s.status.contains("SIGTERM"), "{}", s.status);
    // x asks, as K does.
    assert_eq!(app.key(key('x'), t0, 10), Action::Pin { pid: 811 });
    assert_eq!(app.key(key('n'), t0, 10), Action::None);
    assert!(s.keys.contains("K kill"), "{}", s.keys);
}

#[test]
fn quit_keys_and_help() {
    let t0 = Instant::now();
    let mut app = started(t0);
    app.key(key('?'), t0, 10);
    assert!(app.screen(24, t0).help.is_some());
    // Any key closes help, without quitting.
    assert_eq!(app.key(key('q'), t0, 10), Action::None);
    assert!(app.screen(24, t0).help.is_none());
    assert_eq!(app.key(key('q'), t0, 10), Action::Quit);
    assert_eq!(app.key(code(KeyCode::Esc), t0, 10), Action::Quit);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    app.key(key('/'), t0, 10);
    assert_eq!(app.key(ctrl_c, t0, 10), Action::Quit);
}

#[test]
fn narrow_columns_cut_addresses_in_the_middle() {
    assert_eq!(
        draw::fit_text("[2001:db8::1]:443", 12, false, true),
        "[2001:d…:443"
    );
    assert_eq!(
        draw::fit_text("127.0.0.1:40002", 12, false, true),
        "127.0…:40002"
    );
    assert_eq!(draw::fit_text("nginx-worker", 6, false, false), "nginx…");
    assert_eq!(draw::fit_text("12", 4, true, false), "  12");
}

/// Throughput from real tcp_info counters: a transfer of known size on
/// loopback between two refreshes shows up as that many bytes over the
/// time between them, within 10%.
#[test]
fn throughput_matches_a_known_transfer() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    const SIZE: usize = 8 << 20;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut rx, _) = l.accept().unwrap();
    let tx_port = tx.local_addr().unwrap().port();
    let opts = portscope::collect::Options {
        query: portscope::model::Query {
            udp: false,
            raw: false,
            unix: false,
            ..portscope::model::Query::default()
        },
        detail: portscope::model::Detail {
            info: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut app = App::new(Settings::default(), String::new(), Duration::from_secs(1));
    let t0 = Instant::now();
    app.ingest(
        portscope::collect::take(&portscope::collect::Native::new(), &opts).unwrap(),
        t0,
    );
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0;
        while got < SIZE {
            got += rx.read(&mut buf).unwrap();
        }
        rx
    });
    tx.write_all(&vec![1u8; SIZE]).unwrap();
    let _rx = reader.join().unwrap();
    // Let the last ACKs arrive.
    std::thread::sleep(Duration::from_millis(100));
    let t1 = Instant::now();
    app.ingest(
        portscope::collect::take(&portscope::collect::Native::new(), &opts).unwrap(),
        t1,
    );
    let secs = (t1 - t0).as_secs_f64();
    let find = |local: u16, remote: u16| {
        app.tracker
            .rows()
            .iter()
            .find(|t| {
                t.socket.local.port() == Some(local) && t.socket.remote.port() == Some(remote)
            })
            .and_then(|t| t.rate)
            .unwrap()
    };
    let server_port = l.local_addr().unwrap().port();
    let sender = find(tx_port, server_port);
    let receiver = find(server_port, tx_port);
    let within = |bytes: f64| (bytes - SIZE as f64).abs() <= SIZE as f64 * 0.10;
    assert!(
        within(sender.outbound * secs),
        "sent {}",
        sender.outbound * secs
    );
    assert!(
        within(receiver.inbound * secs),
        "received {}",
        receiver.inbound * secs
    );
    assert!(sender.inbound * secs < 1000.0);
}

#[test]
fn kill_is_not_offered_on_a_closed_row() {
    let t0 = Instant::now();
    let mut app = App::new(Settings::default(), String::new(), Duration::from_secs(1));
    app.ingest(
        snapshot(vec![sock(3, 0, TcpState::Listen, Some(812), 3)]),
        t0,
    );
    // The listener closes: its row stays a while, marked closed.
    let t1 = t0 + Duration::from_secs(1);
    app.ingest(snapshot(vec![]), t1);
    assert_eq!(app.lines().len(), 1, "the closed row is still shown");
    assert_eq!(app.key(key('K'), t1, 10), Action::None);
    let s = app.screen(24, t1);
    assert!(s.status.contains("closed"), "{}", s.status);
    assert!(!s.status.contains("y/n"), "{}", s.status);
    assert_eq!(app.key(key('y'), t1, 10), Action::None);
    // Grouped, the process whose every socket closed is not offered either.
    app.key(key('g'), t1, 10);
    assert_eq!(app.key(key('K'), t1, 10), Action::None);
    assert!(!app.screen(24, t1).status.contains("y/n"));
}

#[test]
fn tcp_info_is_read_for_the_rows_shown_unless_the_view_needs_every_row() {
    let t0 = Instant::now();
    let mut app = App::new(Settings::default(), String::new(), Duration::from_secs(1));
    // Snapshots without tcp_info, as they come when the order does not read it.
    let bare: Vec<Socket> = (0..100u16)
        .map(|i| Socket {
            extra: None,
            ..sock(
                1000 + i,
                40000 + i,
                TcpState::Established,
                None,
                10 + u64::from(i),
            )
        })
        .collect();
    assert!(!app.needs_all_info());
    app.ingest(snapshot(bare.clone()), t0);
    let height = 20;
    let body = draw::body_height(height);
    let on_screen = |app: &App| -> Vec<u64> {
        app.lines()
            .iter()
            .take(body)
            .map(|l| match l {
                Line::Socket(i) => app.tracker.rows()[*i].socket.cookie,
                Line::Group(_) => panic!("no groups"),
            })
            .collect()
    };
    // The reader is asked about exactly the rows on screen; what it reads
    // is what they then carry.
    let read = |sent: u64| {
        move |socks: &mut [&mut Socket]| -> Result<Vec<u64>, ()> {
            let mut asked = Vec::new();
            for s in socks.iter_mut() {
                asked.push(s.cookie);
                s.extra = Some(Box::new(SocketExtra {
                    tcp_info: Some(TcpInfo {
                        rtt_us: 250,
                        bytes_acked: s.cookie * sent,
                        ..TcpInfo::default()
                    }),
                    ..SocketExtra::default()
                }));
            }
            Ok(asked)
        }
    };
    let mut asked = Vec::new();
    app.read_info(height, t0, false, |s| read(1000)(s).map(|a| asked = a))
        .unwrap();
    assert_eq!(asked.len(), body);
    asked.sort_unstable();
    let mut shown = on_screen(&app);
    shown.sort_unstable();
    assert_eq!(asked, shown);
    // Rows with tcp_info are not asked about again after a key.
    app.read_info(height, t0, true, |s| {
        assert!(s.is_empty());
        Ok::<(), ()>(())
    })
    .unwrap();
    // The next refresh: rates over the second between the two readings.
    let t1 = t0 + Duration::from_secs(1);
    app.ingest(snapshot(bare), t1);
    app.read_info(height, t1, false, |s| read(3000)(s).map(drop))
        .unwrap();
    for t in app.tracker.rows() {
        let shown = on_screen(&app).contains(&t.socket.cookie);
        let rate = t.rate.map(|r| r.outbound);
        if shown {
            assert_eq!(rate, Some(2000.0 * t.socket.cookie as f64));
        } else {
            assert_eq!(rate, None, "cookie {}", t.socket.cookie);
            assert!(t.socket.extra.is_none());
        }
    }
    // Ordered by a tcp_info column or grouped, every row needs it.
    app.settings.sort = SockCol::Rtt;
    assert!(app.needs_all_info());
    app.settings.sort = SockCol::Local;
    app.settings.grouped = true;
    assert!(app.needs_all_info());
}

#[test]
fn a_connection_closed_between_refreshes_is_a_closed_row() {
    let t0 = Instant::now();
    let mut app = App::new(Settings::default(), String::new(), Duration::from_secs(1));
    app.ingest(
        snapshot(vec![sock(80, 0, TcpState::Listen, Some(812), 1)]),
        t0,
    );
    let t1 = t0 + Duration::from_millis(300);
    let mut short = sock(40000, 80, TcpState::Close, None, 77);
    short.inode = 0;
    app.closed(vec![short], t1);
    let t2 = t0 + Duration::from_secs(1);
    app.ingest(
        snapshot(vec![sock(80, 0, TcpState::Listen, Some(812), 1)]),
        t2,
    );
    let screen = app.screen(20, t2);
    let rows: Vec<String> = screen.rows.iter().map(|r| format!("{r:?}")).collect();
    assert!(
        rows.iter()
            .any(|r| r.contains("40000") && r.contains("\"-\"")),
        "{rows:#?}"
    );
}

#[test]
fn a_refresh_that_changed_nothing_keeps_the_order_a_full_sort_gives() {
    let t0 = Instant::now();
    let mut app = started(t0);
    let full = |app: &App, now| super::view::build(&app.tracker, &app.settings, now);
    // The same sockets again: the tracker is settled and the last order is kept.
    let t1 = t0 + Duration::from_secs(1);
    app.ingest(snapshot(base()), t1);
    assert!(app.tracker.settled());
    assert_eq!(app.lines(), full(&app, t1).as_slice());
    // Sorted by the receive queue, which then changes: the order must follow.
    while app.settings.sort != SockCol::RecvQ {
        app.key(key('s'), t1, 10);
    }
    let mut moved = base();
    moved[3].recv_q = 9000;
    let t2 = t1 + Duration::from_secs(1);
    app.ingest(snapshot(moved.clone()), t2);
    assert!(!app.tracker.settled());
    assert_eq!(app.lines(), full(&app, t2).as_slice());
    let last = |app: &App| match app.lines().last() {
        Some(Line::Socket(i)) => app.tracker.rows()[*i].socket.cookie,
        other => panic!("not a socket line: {other:?}"),
    };
    assert_eq!(last(&app), 4, "the socket with the longest queue goes last");
    // Settled again, reversed: the reversed order is a new sort, then kept.
    app.key(key('r'), t2, 10);
    assert_eq!(app.lines(), full(&app, t2).as_slice());
    let t3 = t2 + Duration::from_secs(1);
    app.ingest(snapshot(moved.clone()), t3);
    assert!(app.tracker.settled());
    assert_eq!(app.lines(), full(&app, t3).as_slice());
    // A socket that closes, one that comes: never settled.
    let mut next = moved;
    next.remove(0);
    next.push(sock(8080, 0, TcpState::Listen, Some(812), 5));
    let t4 = t3 + Duration::from_secs(1);
    app.ingest(snapshot(next), t4);
    assert!(!app.tracker.settled());
    assert_eq!(app.lines(), full(&app, t4).as_slice());
}
