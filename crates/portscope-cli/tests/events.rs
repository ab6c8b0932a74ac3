//! `portscope events` and `history` on real sockets, each test in a network
//! namespace of its own: a listener replaced by another program, the namespace label, a loss
//! reported and recovered from, a recorder killed mid-burst, and an
//! unprivileged run.

mod common;
mod events_support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{current_netns_inode, netns, portscope};
use events_support::{Events, connect_once, kind, pids, port, serve};
use serde_json::Value;

fn listener_cmd(program: &str, port: u16) -> Command {
    let mut c = Command::new(program);
    match program {
        "python3" => c.args([
            "-c",
            &format!(
                "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('127.0.0.1',{port}))\ns.listen()\ntime.sleep(60)"
            ),
        ]),
        _ => c.args([
            "-MIO::Socket::INET",
            "-e",
            &format!(
                "my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => {port}, Listen => 5, ReuseAddr => 1) or die $!; sleep 60"
            ),
        ]),
    };
    c
}

/// Kills a child by its pid when dropped.
struct Reap(Child);
impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_listener_replaced_by_another_program_then_gone() {
    let _ns = netns();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let ev = Events::start(&["--refresh", "100", "sport", "=", &format!(":{port}")]);
    let mut a = Reap(
        listener_cmd("python3", port)
            .spawn()
            .expect("python3 (package python3)"),
    );
    let a_pid = u64::from(a.0.id());
    ev.until("python's listen", |v| kind(v) == "listen", 1);
    let _ = a.0.kill();
    let _ = a.0.wait();
    let b = Reap(
        listener_cmd("perl", port)
            .spawn()
            .expect("perl (package perl)"),
    );
    let b_pid = u64::from(b.0.id());
    ev.until("the replacement", |v| kind(v) == "replaced", 1);
    drop(b);
    ev.until("the unlisten", |v| kind(v) == "unlisten", 1);
    let (events, _) = ev.stop();
    let ours: Vec<&Value> = events
        .iter()
        .filter(|v| port_of(v) == u64::from(port))
        .collect();
    let kinds: Vec<&str> = ours.iter().map(|v| kind(v)).collect();
    assert_eq!(kinds, ["listen", "replaced", "unlisten"], "{ours:?}");
    assert_eq!(pids(ours[0]), [a_pid]);
    assert_eq!(pids(ours[1]), [b_pid]);
    let prev: Vec<u64> = ours[1]["previous"]["owners"]
        .as_array()
        .expect("previous owners")
        .iter()
        .filter_map(|o| o["pid"].as_u64())
        .collect();
    assert_eq!(prev, [a_pid]);
    let exe = |v: &Value| {
        v["socket"]["owners"][0]["exe"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(exe(ours[0]).contains("python"), "{}", exe(ours[0]));
    assert!(exe(ours[1]).contains("perl"), "{}", exe(ours[1]));
    assert_eq!(pids(ours[2]), [b_pid]);
}

fn port_of(v: &Value) -> u64 {
    port(v, "local")
}

#[test]
fn events_are_labelled_with_the_namespace_they_happen_in() {
    let home = current_netns_inode();
    let home_ns = std::fs::File::open("/proc/thread-self/ns/net").expect("this thread's netns");
    // A listener at home, opened and closed while the events run: not ours.
    let ns = netns();
    let inside = current_netns_inode();
    assert_ne!(home, inside);
    let ev = Events::start(&["--refresh", "100"]);
    // Port numbers are per namespace: the home connection is told apart by
    // both of its ports.
    let (outside_port, outside_client) = std::thread::spawn(move || {
        // A new thread starts in its creator's namespace: go home first.
        rustix::thread::move_into_link_name_space(
            std::os::fd::AsFd::as_fd(&home_ns),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .expect("setns home");
        assert_eq!(current_netns_inode(), home);
        let l = TcpListener::bind("127.0.0.1:0").expect("bind at home");
        let p = l.local_addr().expect("addr").port();
        let c = TcpStream::connect(l.local_addr().expect("addr")).expect("connect at home");
        (p, c.local_addr().expect("addr").port())
    })
    .join()
    .expect("home thread");
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = l.local_addr().expect("addr").port();
    let c = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    let a = l.accept().expect("accept");
    drop((c, a));
    ev.until("the closes", |v| kind(v) == "close", 2);
    let (events, _) = ev.stop();
    for v in &events {
        assert_eq!(v["netns"].as_u64(), Some(inside), "{v}");
        let ends = [port_of(v), port(v, "remote")];
        assert!(
            ends != [u64::from(outside_port), u64::from(outside_client)]
                && ends != [u64::from(outside_client), u64::from(outside_port)],
            "an event from another namespace: {v}"
        );
    }
    assert!(events.iter().any(|v| port(v, "remote") == u64::from(p)));
    drop(ns);
}

/// A second network namespace (`ip netns add`, `lo` up), entered by
/// threads that run work in it; deleted on drop.
struct Second {
    name: String,
}

impl Second {
    fn new() -> Second {
        let name = format!("portscope-test-{}-second", std::process::id());
        let ip = |args: &[&str]| {
            let st = Command::new("ip")
                .args(args)
                .status()
                .expect("ip (package iproute2)");
            assert!(st.success(), "ip {args:?}");
        };
        ip(&["netns", "add", &name]);
        let ns = Second { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// Runs `f` on a thread inside the namespace.
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let file = std::fs::File::open(format!("/run/netns/{}", self.name)).expect("the netns");
        std::thread::spawn(move || {
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&file),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("setns");
            f()
        })
        .join()
        .expect("a thread in the second namespace")
    }

    fn inode(&self) -> u64 {
        self.run(current_netns_inode)
    }
}

impl Drop for Second {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Connection `i` of a namespace: the client sends `up` bytes, the server
/// answers `down` and both close after the other's FIN (so each end has
/// received the peer's FIN when it is freed).
fn exchange(addr: SocketAddr, up: usize, down: usize, l: &TcpListener) -> (u16, u16) {
    let mut c = TcpStream::connect(addr).expect("connect");
    let (mut a, _) = l.accept().expect("accept");
    let client_port = c.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let mut got = Vec::new();
        a.read_to_end(&mut got).expect("server read");
        assert_eq!(got.len(), up);
        a.write_all(&vec![b'd'; down]).expect("server write");
        a.shutdown(Shutdown::Write).ok();
        // Wait for the client's close to be sure both FINs crossed.
        let _ = a.read(&mut [0u8; 1]);
    });
    c.write_all(&vec![b'u'; up]).expect("client write");
    c.shutdown(Shutdown::Write).expect("client FIN");
    let mut got = Vec::new();
    c.read_to_end(&mut got).expect("client read");
    assert_eq!(got.len(), down);
    drop(c);
    server.join().expect("server");
    (client_port, addr.port())
}

#[test]
fn events_of_a_second_namespace_beside_the_own_one_each_labelled() {
    let own = netns();
    let own_inode = current_netns_inode();
    let second = Second::new();
    let second_inode = second.inode();
    assert_ne!(own_inode, second_inode);
    // Every namespace (the machine's too); the filter keeps the test's two.
    let ev = Events::start(&[
        "--refresh",
        "100",
        "-N",
        "all",
        "netns",
        own.name(),
        "or",
        "netns",
        &second.name,
    ]);
    // The same port in both namespaces: only the namespace tells them apart.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (port_tx, port_rx) = std::sync::mpsc::channel::<u16>();
    let sizes = [
        (0usize, 0usize),
        (1, 0),
        (0, 1),
        (1000, 7),
        (70_000, 123_457),
    ];
    let inside = std::thread::spawn({
        let file = std::fs::File::open(format!("/run/netns/{}", second.name)).expect("the netns");
        move || {
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&file),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("setns");
            let l = TcpListener::bind("127.0.0.1:0").expect("bind inside");
            let addr = l.local_addr().expect("addr");
            port_tx.send(addr.port()).expect("send the port");
            // Connections only once the listen event was seen.
            rx.recv().expect("go");
            sizes
                .iter()
                .map(|&(up, down)| (exchange(addr, up, down, &l), up, down))
                .collect::<Vec<_>>()
        }
    });
    let inner_port = port_rx.recv().expect("the second namespace's port");
    ev.until(
        "the listen in the second namespace",
        |v| kind(v) == "listen" && v["netns"].as_u64() == Some(second_inode),
        1,
    );
    tx.send(()).expect("go");
    let done = inside.join().expect("the second namespace's connections");
    // And one connection at home, on the same port number when it is free.
    let l = TcpListener::bind(("127.0.0.1", inner_port))
        .or_else(|_| TcpListener::bind("127.0.0.1:0"))
        .expect("bind at home");
    let home_addr = l.local_addr().expect("addr");
    ev.until(
        "the listen at home",
        |v| kind(v) == "listen" && v["netns"].as_u64() == Some(own_inode),
        1,
    );
    let home = exchange(home_addr, 5, 9, &l);
    let want = 2 * done.len() + 2;
    ev.until("every close", |v| kind(v) == "close", want);
    let (events, _) = ev.stop();
    for v in &events {
        let ns = v["netns"].as_u64();
        assert!(ns == Some(own_inode) || ns == Some(second_inode), "{v}");
        // The socket's namespace, as in the listing.
        assert_eq!(v["socket"]["netns"]["inode"].as_u64(), ns, "{v}");
    }
    let close_of = |ns: u64, local: u16, remote: u16| -> &Value {
        let found: Vec<&Value> = events
            .iter()
            .filter(|v| {
                kind(v) == "close"
                    && v["netns"].as_u64() == Some(ns)
                    && port(v, "local") == u64::from(local)
                    && port(v, "remote") == u64::from(remote)
            })
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one close of {local}->{remote} in {ns}: {events:?}"
        );
        found[0]
    };
    let me = u64::from(std::process::id());
    for ((client, server), up, down) in &done {
        let c = close_of(second_inode, *client, *server);
        let s = close_of(second_inode, *server, *client);
        assert_eq!(c["socket"]["netns"]["name"], second.name.as_str(), "{c}");
        // Payload sent exactly; received counts the peer's FIN as one.
        assert_eq!(c["bytes_sent"].as_u64(), Some(*up as u64), "{c}");
        assert_eq!(c["bytes_received"].as_u64(), Some(*down as u64 + 1), "{c}");
        assert_eq!(s["bytes_sent"].as_u64(), Some(*down as u64), "{s}");
        assert_eq!(s["bytes_received"].as_u64(), Some(*up as u64 + 1), "{s}");
        for v in [c, s] {
            let o = pids(v);
            assert!(o.is_empty() || o == [me], "never another process: {v}");
        }
    }
    let c = close_of(own_inode, home.0, home.1);
    assert_eq!(c["bytes_sent"].as_u64(), Some(5), "{c}");
    assert_eq!(c["bytes_received"].as_u64(), Some(10), "{c}");
    let listens: Vec<&Value> = events.iter().filter(|v| kind(v) == "listen").collect();
    assert!(
        listens
            .iter()
            .any(|v| v["netns"].as_u64() == Some(second_inode)
                && port_of(v) == u64::from(inner_port)
                && pids(v) == [me]),
        "the second namespace's listener with its owner: {listens:?}"
    );
    drop(second);
    drop(own);
}

#[test]
fn a_connection_made_right_after_an_exec_has_its_owner_from_the_proc_connector() {
    let _ns = netns();
    let dir = tempdir();
    // A copy of python under a name of its own: the owner must be this
    // binary, which no dump saw before the exec.
    let copied = dir.join("copied-client");
    std::fs::copy("/usr/bin/python3", &copied).expect("copy /usr/bin/python3 (package python3)");
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let lp = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { break };
            std::thread::spawn(move || {
                let _ = c.read_to_end(&mut Vec::new());
            });
        }
    });
    // Dumps 10 s apart: a connection of half a second is seen, with its
    // owner, only when the exec brings a dump forward.
    let ev = Events::start(&["--refresh", "10000", "dport", "=", &format!(":{lp}")]);
    let notes = ev.stderr.lock().expect("lock").clone();
    assert!(
        !notes.contains("may be unknown"),
        "the proc connector is there for root: {notes}"
    );
    let mut pids_ports = Vec::new();
    for _ in 0..3 {
        let mut cmd = Command::new(&copied);
        cmd.args([
                "-c",
                &format!(
                    "import socket,time,sys\ns=socket.create_connection(('127.0.0.1',{lp}))\nprint(s.getsockname()[1],flush=True)\ns.sendall(b'x'*10)\ntime.sleep(0.5)\ns.close()"
                ),
            ])
            .stdout(Stdio::piped());
        // ETXTBSY while another test thread forks is retried.
        let child = common::spawn_copied(&mut cmd);
        let pid = u64::from(child.id());
        let out = child.wait_with_output().expect("the client");
        assert!(out.status.success());
        let port: u64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("the client's port");
        pids_ports.push((pid, port));
    }
    ev.until("the closes", |v| kind(v) == "close", pids_ports.len());
    let (events, _) = ev.stop();
    for (pid, port) in pids_ports {
        let close = events
            .iter()
            .find(|v| kind(v) == "close" && port_of(v) == port)
            .unwrap_or_else(|| panic!("no close of :{port}: {events:?}"));
        assert_eq!(pids(close), [pid], "{close}");
        let exe = close["socket"]["owners"][0]["exe"].as_str().unwrap_or("");
        assert!(exe.ends_with("copied-client"), "{close}");
        assert_eq!(close["bytes_sent"].as_u64(), Some(10), "{close}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "slow: a burst of 2,000 connections"]
fn a_burst_that_overflows_a_small_buffer_is_a_lost_event_and_the_stream_goes_on() {
    let _ns = netns();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    serve(listener);
    // The smallest buffer the kernel grants holds a few messages.
    let ev = Events::start(&["--refresh", "100", "--rcvbuf", "1"]);
    std::thread::scope(|s| {
        for t in 0..4u32 {
            s.spawn(move || {
                for i in 0..500u32 {
                    connect_once(addr, t * 500 + i, Duration::ZERO);
                }
            });
        }
    });
    ev.until("a lost event", |v| kind(v) == "lost", 1);
    // After the loss and its resync, new events still come.
    let after = TcpListener::bind("127.0.0.1:0").expect("bind after");
    let after_port = u64::from(after.local_addr().expect("addr").port());
    ev.until(
        "a listen after the loss",
        |v| kind(v) == "listen" && port_of(v) == after_port,
        1,
    );
    let (events, stderr) = ev.stop();
    let lost: Vec<&Value> = events.iter().filter(|v| kind(v) == "lost").collect();
    let total: u64 = lost.iter().map(|v| v["lost"].as_u64().unwrap_or(1)).sum();
    assert!(total >= 1);
    for v in &lost {
        // The kernel's drop counter is read: a count, not null.
        assert!(v["lost"].as_u64().is_some_and(|n| n > 0), "{v}");
    }
    assert!(stderr.contains("dropped"), "{stderr}");
}

fn history(db: &std::path::Path, args: &[&str]) -> (Vec<Value>, std::process::ExitStatus) {
    let out = portscope()
        .args(["history", "--json", "--db"])
        .arg(db)
        .args(args)
        .output()
        .expect("history");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("history line is JSON"))
        .collect();
    (lines, out.status)
}

fn key(v: &Value) -> (String, u64, u64) {
    (
        kind(v).to_string(),
        v["time_ms"].as_u64().unwrap_or(0),
        v["socket"]["cookie"].as_u64().unwrap_or(0),
    )
}

#[test]
#[ignore = "slow: a recorder killed mid-burst, restarted, retention (sqlite3)"]
fn a_recorder_killed_mid_burst_loses_nothing_it_printed_and_continues_the_file() {
    let _ns = netns();
    let dir = tempdir();
    let db = dir.join("events.db");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    serve(listener);
    let record = format!("--record={}", db.display());
    let ev = Events::start(&["--refresh", "100", &record]);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = Arc::clone(&stop);
    let burst = std::thread::spawn(move || {
        let mut i = 0;
        while !s2.load(std::sync::atomic::Ordering::Relaxed) && i < 20_000 {
            connect_once(addr, i, Duration::ZERO);
            i += 1;
        }
    });
    ev.until("some events", |v| kind(v) == "close", 300);
    // kill -9 in the middle of the burst.
    let mut ev = ev;
    ev.child.kill().expect("SIGKILL");
    let _ = ev.child.wait();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    burst.join().expect("burst");
    let printed = ev.events();
    drop(ev);
    assert!(printed.len() >= 300);

    // The file is whole (sqlite3's own check) and holds everything printed.
    let check = Command::new("sqlite3")
        .arg(&db)
        .arg("PRAGMA integrity_check;")
        .output()
        .expect("sqlite3 (package sqlite3)");
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok");
    let (stored, status) = history(&db, &[]);
    assert!(status.success());
    let stored_keys: std::collections::HashSet<_> = stored.iter().map(key).collect();
    for v in &printed {
        assert!(stored_keys.contains(&key(v)), "printed but not stored: {v}");
    }

    // A restart appends to the same file.
    let ev = Events::start(&["--refresh", "100", &record]);
    connect_once(addr, u32::MAX - 1, Duration::ZERO);
    ev.until("the new closes", |v| kind(v) == "close", 2);
    let (again, _) = ev.stop();
    let (stored2, _) = history(&db, &[]);
    assert!(stored2.len() >= stored.len() + again.len());
    let keys2: std::collections::HashSet<_> = stored2.iter().map(key).collect();
    for v in printed.iter().chain(&again) {
        assert!(keys2.contains(&key(v)), "missing after the restart: {v}");
    }
    // The same filter language and the summary work on it.
    let (only, _) = history(
        &db,
        &[
            "--event",
            "close",
            "dport",
            "=",
            &format!(":{}", addr.port()),
        ],
    );
    assert!(!only.is_empty());
    assert!(
        only.iter()
            .all(|v| kind(v) == "close" && port(v, "remote") == u64::from(addr.port()))
    );
    let sum = portscope()
        .args(["history", "--summary", "--json", "--db"])
        .arg(&db)
        .output()
        .expect("summary");
    let sum: Value = serde_json::from_slice(&sum.stdout).expect("summary JSON");
    assert_eq!(sum["events"].as_u64(), Some(stored2.len() as u64));

    // Retention: with --keep 1s, a new recorder deletes what is older.
    std::thread::sleep(Duration::from_millis(1500));
    let ev = Events::start(&["--refresh", "100", &record, "--keep", "1s"]);
    let (_, _) = ev.stop();
    let (left, _) = history(&db, &[]);
    let newest_old = stored2
        .iter()
        .filter_map(|v| v["time_ms"].as_u64())
        .max()
        .unwrap_or(0);
    assert!(
        left.iter()
            .all(|v| v["time_ms"].as_u64().unwrap_or(0) > newest_old),
        "rows older than --keep are left"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "portscope-events-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn unprivileged_sees_its_own_owners_and_others_hidden_with_one_note() {
    let _ns = netns();
    // root's listener and connection (this test's).
    let root_l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let root_port = root_l.local_addr().expect("addr").port();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_portscope"));
    let ev = Events::start_with(cmd, &["--refresh", "100"]);
    // nobody's own listener.
    let mut own = Command::new("setpriv");
    own.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", "/usr/bin/python3", "-c",
        "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\ntime.sleep(60)"]);
    let own = Reap(
        own.spawn()
            .expect("setpriv (package util-linux) and /usr/bin/python3 (package python3)"),
    );
    let own_pid = u64::from(own.0.id());
    ev.until("nobody's listen", |v| kind(v) == "listen", 1);
    // A root connection opened and held past a refresh, then closed.
    let c = TcpStream::connect(("127.0.0.1", root_port)).expect("connect");
    let a = root_l.accept().expect("accept");
    ev.until("root's opens", |v| kind(v) == "open", 2);
    drop((c, a));
    ev.until("root's closes", |v| kind(v) == "close", 2);
    drop(own);
    let (events, stderr) = ev.stop();
    let listen = events.iter().find(|v| kind(v) == "listen").expect("listen");
    assert_eq!(pids(listen), [own_pid], "nobody sees its own process");
    for v in events
        .iter()
        .filter(|v| kind(v) == "open" || kind(v) == "close")
    {
        assert!(pids(v).is_empty(), "root's owner shown to nobody: {v}");
    }
    for v in events.iter().filter(|v| kind(v) == "open") {
        assert_eq!(v["socket"]["owners_hidden"], true, "{v}");
    }
    assert_eq!(stderr.matches("hidden").count(), 1, "one note: {stderr}");
}

/// `schema/events.schema.json` with the listing's definitions added.
fn events_schema() -> jsonschema::Validator {
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema");
    let read = |n: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(repo.join(n)).expect("schema")).expect("JSON")
    };
    let mut doc = read("events.schema.json");
    doc["$defs"] = read("listing.schema.json")["$defs"].clone();
    jsonschema::draft202012::new(&doc).expect("a valid JSON Schema")
}

#[test]
fn every_kind_of_event_matches_the_schema() {
    let _ns = netns();
    let v = events_schema();
    let ev = Events::start(&["--refresh", "100", "--rcvbuf", "1"]);
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let lp = u64::from(l.local_addr().expect("addr").port());
    ev.until("the listen", |e| kind(e) == "listen" && port_of(e) == lp, 1);
    let c = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    let a = l.accept().expect("accept");
    ev.until("the opens", |e| kind(e) == "open", 2);
    drop((c, a));
    // A burst for a lost event too.
    let addr = l.local_addr().expect("addr");
    drop(l);
    let burst = TcpListener::bind("127.0.0.1:0").expect("bind");
    let baddr = burst.local_addr().expect("addr");
    serve(burst);
    std::thread::scope(|s| {
        for t in 0..4u32 {
            s.spawn(move || {
                for i in 0..300u32 {
                    connect_once(baddr, t * 300 + i, Duration::ZERO);
                }
            });
        }
    });
    ev.until(
        "unlisten",
        |e| kind(e) == "unlisten" && port_of(e) == u64::from(addr.port()),
        1,
    );
    let (events, _) = ev.stop();
    let kinds: std::collections::BTreeSet<&str> = events.iter().map(kind).collect();
    for k in ["listen", "open", "close", "unlisten"] {
        assert!(kinds.contains(k), "no {k} among {kinds:?}");
    }
    for e in &events {
        let errors: Vec<String> = v
            .iter_errors(e)
            .map(|x| format!("{x} at {}", x.instance_path()))
            .take(5)
            .collect();
        assert!(errors.is_empty(), "{e}\n{errors:#?}");
    }
}
