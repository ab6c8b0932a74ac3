//! `portscope serve` end to end: the real binary in a network namespace the
//! test makes, real sockets, answers parsed. The suites needing Prometheus
//! (`promtool`, the server) are slow and marked so; the browser's are in
//! tests/serve_page.rs.
#![allow(clippy::unwrap_used)]

mod common;
mod serve_support;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};

use serve_support::{Events, Server, get, need, own_comm, raw, series, wait_for};

fn metrics_line<'a>(text: &'a str, name: &str, must: &[&str]) -> Option<&'a str> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| must.iter().all(|m| l.contains(m)))
}

#[test]
fn metrics_name_a_listener_with_its_process_in_both_formats() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let srv = Server::start(&["--interval", "0.3"]);
    let want_port = format!("port=\"{port}\"");
    let want_proc = format!("process=\"{}\"", own_comm());
    let text = wait_for("the listener in /metrics", || {
        let r = srv.get("/metrics");
        metrics_line(&r.text(), "portscope_listener_info", &[&want_port])
            .is_some()
            .then_some(r)
    });
    assert!(
        text.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let body = text.text();
    let info = metrics_line(&body, "portscope_listener_info", &[&want_port]).unwrap();
    assert!(info.contains(&want_proc), "{info}");
    assert!(info.contains("exposure=\"loopback\""), "{info}");
    assert!(info.contains("proto=\"tcp\""), "{info}");
    assert!(!body.contains("# EOF"));
    assert!(body.contains("# TYPE portscope_refresh_errors_total counter"));
    // The backlog of a listener is its accept queue's limit (std listens with 128).
    let max = metrics_line(&body, "portscope_listener_accept_queue_max", &[&want_port]).unwrap();
    assert!(max.ends_with(" 128"), "{max}");

    let om = get(
        srv.addr,
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
    );
    assert!(
        om.header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(om.text().ends_with("# EOF\n"));
    assert!(
        om.text()
            .contains("# TYPE portscope_refresh_errors counter")
    );
    drop(l);
    let (status, log) = srv.stop();
    assert!(status.success(), "{status:?} {log}");
    assert!(log.contains("serve: stopped (SIGTERM)"), "{log}");
}

#[test]
fn accept_queue_counts_connections_not_accepted() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let _waiting: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let srv = Server::start(&["--interval", "0.3"]);
    let port = format!("port=\"{}\"", addr.port());
    wait_for("an accept queue of 3", || {
        let body = srv.get("/metrics").text();
        metrics_line(&body, "portscope_listener_accept_queue", &[&port])
            .is_some_and(|l| l.ends_with(" 3"))
            .then_some(())
    });
    let body = srv.get("/metrics").text();
    let conns = metrics_line(
        &body,
        "portscope_listener_connections",
        &[&port, "state=\"ESTABLISHED\""],
    )
    .unwrap();
    assert!(conns.ends_with(" 3"), "{conns}");
}

#[test]
fn five_thousand_connections_add_no_series_but_per_state_counts() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let port = format!("port=\"{}\"", addr.port());
    // One connection first, so every per-listener series exists.
    let c0 = TcpStream::connect(addr).unwrap();
    let a0 = l.accept().unwrap();
    let srv = Server::start(&["--interval", "0.3"]);
    let before = wait_for("the listener's connection counted", || {
        let body = srv.get("/metrics").text();
        metrics_line(&body, "portscope_listener_connections", &[&port])
            .is_some()
            .then_some(body)
    });
    // The listener comes back from the thread: dropping it would close it.
    let accept = std::thread::spawn(move || {
        let accepted: Vec<TcpStream> = (0..5000).map(|_| l.accept().unwrap().0).collect();
        (l, accepted)
    });
    let clients: Vec<TcpStream> = (0..5000)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let servers = accept.join().unwrap();
    let after = wait_for("5001 connections counted", || {
        let body = srv.get("/metrics").text();
        metrics_line(
            &body,
            "portscope_listener_connections",
            &[&port, "state=\"ESTABLISHED\""],
        )
        .is_some_and(|l| l.ends_with(" 5001"))
        .then_some(body)
    });
    // Connections on a listener's port are its accepted ones; the clients'
    // have an ephemeral local port and count only by state.
    // The test's own HTTP requests to the server are connections of this
    // process that close: whenever the first of them is counted, the closed
    // counters gain this process's series. That is one series per process,
    // not per connection, and none of the 5,000 made below.
    let me = format!("process=\"{}\"", own_comm());
    let per_state = |s: &String| {
        s.starts_with("portscope_sockets{")
            || s.starts_with("portscope_listener_connections{")
            || (s.starts_with("portscope_connections_closed") && s.contains(&me))
    };
    let (b, a) = (series(&before), series(&after));
    let mut fixed_b: Vec<&String> = b.iter().filter(|s| !per_state(s)).collect();
    let mut fixed_a: Vec<&String> = a.iter().filter(|s| !per_state(s)).collect();
    fixed_b.sort();
    fixed_a.sort();
    assert_eq!(fixed_b, fixed_a);
    assert!(
        a.len() <= b.len() + 12,
        "{} series before, {} after",
        b.len(),
        a.len()
    );
    drop((clients, servers, c0, a0));
}

#[test]
fn closed_connections_count_with_their_bytes_and_process() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let srv = Server::start(&["--interval", "0.3"]);
    let me = format!("process=\"{}\"", own_comm());
    let (c, a) = serve_support::exchange(&l, 100_000);
    let port = format!("port=\"{}\"", l.local_addr().unwrap().port());
    wait_for("the connection seen", || {
        serve_support::value(
            &srv.get("/metrics").text(),
            "portscope_listener_connections{",
            &[&port],
        )
    });
    drop((c, a));
    // Both ends close: the accepting end goes at once, the client's after
    // TIME_WAIT (and is not waited for). Each moved 100,000 bytes each way.
    // The test's own HTTP requests to the server are connections of this
    // process too, and close as well (a few dozen bytes each): wait for the
    // exchange's bytes, not for the first close.
    let counted = |t: &str, metric: &str| serve_support::value(t, metric, &[&me]).unwrap_or(0.0);
    let body = wait_for("the exchange's closed end counted", || {
        let t = srv.get("/metrics").text();
        (counted(&t, "portscope_connections_closed_bytes_sent_total{") >= 100_000.0
            && counted(&t, "portscope_connections_closed_bytes_received_total{") >= 100_000.0)
            .then_some(t)
    });
    assert!(
        counted(&body, "portscope_connections_closed_total{") >= 1.0,
        "{body}"
    );
}

/// A process named `psclose` that makes loopback connections on command,
/// moves known bytes over them, and reports what the kernel counted for
/// each end (`TCP_INFO`, read once both FINs have passed, so nothing more
/// moves) before closing them: the oracle for the closed counters.
const CLOSER: &str = r#"
import ctypes, json, socket, struct, sys
ctypes.CDLL(None).prctl(15, b'psclose', 0, 0, 0)
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(128)
def read(s, n):
    got = 0
    while got < n:
        b = s.recv(min(65536, n - got)); assert b; got += len(b)
def connect(n):
    pairs = []
    for i in range(n):
        c = socket.create_connection(l.getsockname()); a, _ = l.accept()
        c.sendall(b'q' * (1000 + i)); read(a, 1000 + i)
        a.sendall(b'r' * (3000 + 7 * i)); read(c, 3000 + 7 * i)
        pairs.append((c, a))
    return pairs
def close(pairs):
    sent = received = 0
    for c, a in pairs:
        c.shutdown(socket.SHUT_WR); assert a.recv(1) == b''
        a.shutdown(socket.SHUT_WR); assert c.recv(1) == b''
        for s in (c, a):
            b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
            received += struct.unpack_from('Q', b, 128)[0]
            sent += struct.unpack_from('Q', b, 200)[0]
        c.close(); a.close()
    return {"closed": 2 * len(pairs), "sent": sent, "received": received}
pairs = []
print(json.dumps({"port": l.getsockname()[1]}), flush=True)
for line in sys.stdin:
    cmd, *n = line.split()
    if cmd == 'open':
        pairs = connect(int(n[0])); print('{}', flush=True)
    elif cmd == 'close':
        print(json.dumps(close(pairs)), flush=True)
    elif cmd == 'burst':
        print(json.dumps(close(connect(int(n[0])))), flush=True)
"#;

/// The closed counters of one label set: connections, bytes sent, received.
/// The CLOSER script, run by `cmd` (python3, perhaps under `ip netns exec`),
/// answering one JSON line per command; killed on drop.
struct Closer {
    child: std::process::Child,
    to: std::process::ChildStdin,
    from: std::io::BufReader<std::process::ChildStdout>,
}

impl Closer {
    fn start(mut cmd: Command) -> Closer {
        use std::io::BufRead;
        let mut child = cmd
            .args(["-c", CLOSER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let to = child.stdin.take().unwrap();
        let mut from = std::io::BufReader::new(child.stdout.take().unwrap());
        // Its first line says it is ready.
        let mut line = String::new();
        from.read_line(&mut line).unwrap();
        Closer { child, to, from }
    }

    fn ask(&mut self, cmd: &str) -> serde_json::Value {
        use std::io::BufRead;
        writeln!(self.to, "{cmd}").unwrap();
        let mut line = String::new();
        self.from.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }
}

impl Drop for Closer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn closed_of(text: &str, process: &str) -> [f64; 3] {
    let who = format!("process=\"{process}\"");
    [
        "portscope_connections_closed_total{",
        "portscope_connections_closed_bytes_sent_total{",
        "portscope_connections_closed_bytes_received_total{",
    ]
    .map(|m| serve_support::value(text, m, &[&who]).unwrap_or(0.0))
}

fn refreshed_at(text: &str) -> f64 {
    serve_support::value(text, "portscope_last_refresh_timestamp_seconds", &[]).unwrap_or(0.0)
}

#[test]
fn closed_counters_rise_by_exactly_the_connections_and_bytes_the_kernel_counted() {
    let python = need("python3", "python3");
    let _ns = common::netns();
    // Refreshes far apart: most of what follows happens between two.
    let srv = Server::start(&["--interval", "3"]);
    // Every request below goes over this one connection: the test closes
    // no connection of its own while it counts.
    let mut http = serve_support::KeepAlive::open(srv.addr);
    let mut closer = Closer::start(Command::new(python));
    let mut ask = |cmd: &str| closer.ask(cmd);
    // Two refreshes after the start, so the closes of the requests made
    // while starting are counted before the baseline.
    let mut last = refreshed_at(&http.get("/metrics").text());
    for _ in 0..2 {
        last = wait_for("a refresh", || {
            let t = refreshed_at(&http.get("/metrics").text());
            (t > last).then_some(t)
        });
    }

    // 1. Connections a refresh saw, with their owner, then closed.
    ask("open 5");
    let seen = wait_for("psclose's 11 sockets seen", || {
        let t = http.get("/metrics").text();
        let n = serve_support::value(&t, "portscope_process_sockets{", &["process=\"psclose\""]);
        (n == Some(11.0)).then_some(t)
    });
    let (before, unknown) = (closed_of(&seen, "psclose"), closed_of(&seen, "-"));
    let oracle = ask("close");
    let want = [
        oracle["closed"].as_f64().unwrap(),
        oracle["sent"].as_f64().unwrap(),
        oracle["received"].as_f64().unwrap(),
    ];
    assert_eq!(want[0], 10.0);
    let after = wait_for("psclose's closes counted", || {
        let t = http.get("/metrics").text();
        (closed_of(&t, "psclose")[0] >= before[0] + want[0]).then_some(t)
    });
    let rise = |a: [f64; 3], b: [f64; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    assert_eq!(rise(closed_of(&after, "psclose"), before), want, "{after}");
    assert_eq!(closed_of(&after, "-"), unknown, "{after}");

    // 2. Connections that open and close between two refreshes: no dump
    // sees them, their destroy notifications still count them and their
    // bytes (with no owner known: process="-").
    // Just after a refresh, so that the next is most likely after the burst.
    let at = refreshed_at(&http.get("/metrics").text());
    let base = wait_for("a refresh", || {
        let t = http.get("/metrics").text();
        (refreshed_at(&t) > at).then_some(t)
    });
    let (mine, dash) = (closed_of(&base, "psclose"), closed_of(&base, "-"));
    let unix = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let oracle = ask("burst 20");
    let (during, ended) = (refreshed_at(&http.get("/metrics").text()), unix());
    let want = [
        oracle["closed"].as_f64().unwrap(),
        oracle["sent"].as_f64().unwrap(),
        oracle["received"].as_f64().unwrap(),
    ];
    assert_eq!(want[0], 40.0);
    let total = |t: &str| {
        let (a, b) = (closed_of(t, "psclose"), closed_of(t, "-"));
        [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
    };
    let after = wait_for("the burst counted", || {
        let t = http.get("/metrics").text();
        (total(&t)[0] >= mine[0] + dash[0] + want[0]).then_some(t)
    });
    let sum = [mine[0] + dash[0], mine[1] + dash[1], mine[2] + dash[2]];
    assert_eq!(rise(total(&after), sum), want, "{after}");
    // The refresh after the burst, and whether its snapshot began after
    // the burst ended (its published time less its duration, with room
    // for the rendering): then no snapshot saw any of the burst's
    // connections, so none had an owner seen.
    let next = wait_for("the refresh after the burst", || {
        let t = http.get("/metrics").text();
        (refreshed_at(&t) > during).then_some(t)
    });
    let took = serve_support::value(&next, "portscope_scrape_duration_seconds", &[]).unwrap();
    if refreshed_at(&base) == during && refreshed_at(&next) - took - 0.5 > ended {
        assert_eq!(rise(closed_of(&after, "-"), dash), want, "{after}");
    }
    // And nothing is counted twice later (a refresh no longer listing them).
    let at = refreshed_at(&next).max(refreshed_at(&after));
    let later = wait_for("another refresh", || {
        let t = http.get("/metrics").text();
        (refreshed_at(&t) > at).then_some(t)
    });
    assert_eq!(total(&later), total(&after), "{later}");
}

/// The counters of closes in a namespace other than serve's own: its
/// destroy notifications come from a subscription made in it once a
/// refresh found it (without one, those closes would come from the
/// refreshes alone, with no bytes).
#[test]
fn closes_in_another_namespace_are_counted_with_their_bytes() {
    let python = need("python3", "python3");
    let _ns = common::netns();
    // The second namespace, where the closer runs; serve stays in the first.
    let other = common::Named::new(format!("{}-closer", _ns.name()));
    // Every namespace (a single one named with -N would be entered whole):
    // the other one is found by a refresh, then heard from.
    let srv = Server::start(&["--interval", "1", "-N", "all"]);
    let mut http = serve_support::KeepAlive::open(srv.addr);
    let mut inside = Command::new("ip");
    inside.args(["netns", "exec", other.name()]).arg(python);
    let mut closer = Closer::start(inside);
    let mut ask = |cmd: &str| closer.ask(cmd);
    ask("open 5");
    let seen = wait_for("psclose's 11 sockets seen in the other namespace", || {
        let t = http.get("/metrics").text();
        let n = serve_support::value(&t, "portscope_process_sockets{", &["process=\"psclose\""]);
        (n == Some(11.0)).then_some(t)
    });
    let before = closed_of(&seen, "psclose");
    let oracle = ask("close");
    let want = [
        oracle["closed"].as_f64().unwrap(),
        oracle["sent"].as_f64().unwrap(),
        oracle["received"].as_f64().unwrap(),
    ];
    assert_eq!(want[0], 10.0);
    assert!(want[1] > 0.0 && want[2] > 0.0, "{oracle}");
    let after = wait_for("psclose's closes counted", || {
        let t = http.get("/metrics").text();
        (closed_of(&t, "psclose")[0] >= before[0] + want[0]).then_some(t)
    });
    let got = closed_of(&after, "psclose");
    assert_eq!(
        [got[0] - before[0], got[1] - before[1], got[2] - before[2]],
        want,
        "{after}"
    );
}

#[test]
fn a_token_is_needed_off_loopback_and_checked() {
    let out = common::portscope()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--token-file"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let _ns = common::netns();
    let dir = std::env::temp_dir().join(format!("portscope-serve-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let srv = Server::start(&["--token-file", token.to_str().unwrap(), "--interval", "0.5"]);
    for path in [
        "/metrics",
        "/api/v1/snapshot",
        "/api/v1/audit",
        "/api/v1/explain/22",
        "/api/v1/events",
    ] {
        let r = get(srv.addr, path, &[]);
        assert_eq!(r.status, 401, "{path}");
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
        let r = get(srv.addr, path, &[("Authorization", "Bearer wrong")]);
        assert_eq!(r.status, 401, "{path}");
    }
    let ok = get(
        srv.addr,
        "/metrics",
        &[("Authorization", "Bearer s3cret-token")],
    );
    assert_eq!(ok.status, 200);
    assert!(ok.text().contains("portscope_sockets"));
    // The page itself holds no data and loads without the token.
    assert_eq!(srv.get("/").status, 200);
    let _ = std::fs::remove_dir_all(&dir);

    let empty = dir.with_extension("empty");
    std::fs::write(&empty, "  \n").unwrap();
    let out = common::portscope()
        .args(["serve", "--token-file", empty.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_file(&empty);
}

#[test]
fn malformed_requests_are_refused_with_400() {
    let _ns = common::netns();
    let srv = Server::start(&["--interval", "0.5"]);
    let r = srv.get("/api/v1/snapshot?filter=sport%20%3D%20%3A99999");
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["column"], 10);
    assert!(v["caret"].as_str().unwrap().ends_with('^'));
    assert_eq!(srv.get("/api/v1/snapshot?nonsense=1").status, 400);
    assert_eq!(srv.get("/api/v1/events?filter=%28%28").status, 400);
    assert_eq!(srv.get("/api/v1/explain/notaport99999").status, 400);
    assert_eq!(srv.get("/api/v1/explain/70000").status, 400);
    assert_eq!(srv.get("/api/v1/nothing").status, 404);
    let r = raw(srv.addr, b"GARBAGE\r\n\r\n");
    assert_eq!(r.status, 400);
    let long = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Long: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let r = raw(srv.addr, long.as_bytes());
    assert!((400..500).contains(&r.status), "{}", r.status);
    // Read-only: nothing but GET.
    let r = raw(
        srv.addr,
        b"DELETE /api/v1/snapshot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    // Still serving after all that.
    assert_eq!(srv.get("/api/v1/audit").status, 200);
}

#[test]
fn snapshot_filters_and_events_stream_new_and_gone() {
    let _ns = common::netns();
    let srv = Server::start(&["--interval", "0.3"]);
    let mut events = Events::open(srv.addr, "/api/v1/events?filter=state%20listening");
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let is_ours = |v: &serde_json::Value| v["local"]["port"] == port;
    let new = events.wait("new", is_ours);
    assert_eq!(new["state"], "LISTEN");
    assert_eq!(new["owners"][0]["pid"], std::process::id());
    let list = srv
        .get(&format!("/api/v1/snapshot?filter=sport%20%3D%20%3A{port}"))
        .json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["cookie"], new["cookie"]);
    drop(l);
    let gone = events.wait("gone", is_ours);
    assert_eq!(gone["cookie"], new["cookie"]);
}

#[test]
fn explain_and_audit_answer_as_the_commands_do() {
    let _ns = common::netns();
    let srv = Server::start(&["--interval", "0.5"]);
    let v = srv.get("/api/v1/explain/22").json();
    assert_eq!(v[0]["port"], 22);
    assert_eq!(v[0]["class"], "system");
    let cli = common::portscope()
        .args(["explain", "22", "--json"])
        .output()
        .unwrap();
    let cli: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(v[0]["registry"], cli[0]["registry"]);
    let a = srv.get("/api/v1/audit").json();
    assert!(a["findings"].is_array(), "{a}");
    assert!(a["summary"].is_object(), "{a}");
}

#[test]
fn the_openapi_document_matches_the_server() {
    let _ns = common::netns();
    let srv = Server::start(&["--interval", "0.5"]);
    let doc = srv.get("/api/v1/openapi.json").json();
    assert_eq!(
        doc,
        serde_json::from_str::<serde_json::Value>(include_str!("../src/serve/openapi.json"))
            .unwrap()
    );
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 6);
    for (path, item) in paths {
        let url = path.replace("{port}", "22");
        let r = if url.ends_with("/events") {
            // A stream does not end: read its head only.
            let mut s = TcpStream::connect(srv.addr).unwrap();
            write!(s, "GET {url} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut head = [0u8; 512];
            let n = std::io::Read::read(&mut s, &mut head).unwrap();
            let text = String::from_utf8_lossy(&head[..n]).into_owned();
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
            assert!(
                text.to_ascii_lowercase()
                    .contains("content-type: text/event-stream"),
                "{text}"
            );
            continue;
        } else {
            srv.get(&url)
        };
        let answers = &item["get"]["responses"][r.status.to_string()];
        assert!(
            answers.is_object(),
            "{path}: status {} is not documented",
            r.status
        );
        let ctype = r.header("content-type").unwrap();
        let documented: Vec<&String> = answers["content"]
            .as_object()
            .map(|c| c.keys().collect())
            .unwrap_or_default();
        assert!(
            documented.iter().any(|d| ctype.starts_with(d.as_str())),
            "{path}: {ctype} not in {documented:?}"
        );
        if ctype.starts_with("application/json") {
            let _ = r.json();
        }
    }
    // Every route the server answers under /api/v1/ is documented.
    for p in [
        "/api/v1/snapshot",
        "/api/v1/audit",
        "/api/v1/events",
        "/api/v1/explain/{port}",
    ] {
        assert!(paths.contains_key(p), "{p}");
    }
}

#[test]
#[ignore = "slow: promtool (Debian prometheus)"]
fn promtool_accepts_the_metrics() {
    let promtool = need("promtool", "prometheus");
    let python = need("python3", "python3");
    let _ns = common::netns();
    let _l = TcpListener::bind("127.0.0.1:0").unwrap();
    // A listener whose process name holds a quote, a backslash, a line
    // break and an escape: the exposition must stay valid.
    let script = "import ctypes, socket, time\n\
                  ctypes.CDLL(None).prctl(15, b'a\"b\\\\c\\nd\\x1b', 0, 0, 0)\n\
                  s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
                  time.sleep(120)\n";
    let mut hostile = Command::new(python).args(["-c", script]).spawn().unwrap();
    let srv = Server::start(&["--interval", "0.3"]);
    let want = r#"process="a\"b\\\\c\\nd\\x1b""#;
    let body = wait_for("the hostile listener in /metrics", || {
        let r = srv.get("/metrics");
        r.text().contains(want).then_some(r.body)
    });
    let pid = rustix::process::Pid::from_child(&hostile);
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let _ = hostile.wait();
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `program args` in the network namespace of this process's main
/// thread (the machine's), whichever namespace the calling thread is in.
fn on_host(program: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(need("nsenter", "util-linux"));
    c.args(["-t", &std::process::id().to_string(), "-n", "--"])
        .arg(program)
        .args(args);
    c
}

fn ip_on_host(args: &[&str]) {
    let st = on_host(&need("ip", "iproute2"), args).status().unwrap();
    assert!(st.success(), "ip {args:?}");
}

/// A free port on the host's loopback (bound and released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Prometheus, stopped by pid on drop.
struct Prometheus(std::process::Child, std::path::PathBuf);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.0);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// The veth pair from the host to the test's namespace, removed on drop.
struct Veth(String);

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = on_host(
            std::path::Path::new("/usr/sbin/ip"),
            &["link", "del", &self.0],
        )
        .status();
    }
}

#[test]
#[ignore = "slow: a Prometheus server (Debian prometheus)"]
fn prometheus_scrapes_two_servers_one_in_a_namespace() {
    let prometheus = need("prometheus", "prometheus");
    let me = own_comm();
    let dir = std::env::temp_dir().join(format!("portscope-prom-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();

    // One server on the machine's loopback, beside a listener of ours.
    let host_l = TcpListener::bind("127.0.0.1:0").unwrap();
    let host_port = host_l.local_addr().unwrap().port();
    let host_srv = Server::start(&["--interval", "0.5"]);

    // One in a namespace, reached over a veth pair: off loopback, so with a token.
    let ns = common::netns();
    let n = std::process::id() % 200 + 20;
    let (host_if, ns_if) = (format!("psh{n}"), format!("psn{n}"));
    let (host_ip, ns_ip) = (format!("10.213.{n}.1"), format!("10.213.{n}.2"));
    let ip = need("ip", "iproute2");
    let run = |args: &[&str]| {
        let st = Command::new(&ip).args(args).status().unwrap();
        assert!(st.success(), "ip {args:?}");
    };
    run(&[
        "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
    ]);
    run(&[
        "link",
        "set",
        &host_if,
        "netns",
        &std::process::id().to_string(),
    ]);
    let _veth = Veth(host_if.clone());
    run(&["addr", "add", &format!("{ns_ip}/30"), "dev", &ns_if]);
    run(&["link", "set", &ns_if, "up"]);
    ip_on_host(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_if]);
    ip_on_host(&["link", "set", &host_if, "up"]);
    let ns_l = TcpListener::bind("127.0.0.1:0").unwrap();
    let ns_port = ns_l.local_addr().unwrap().port();
    let token = dir.join("token");
    std::fs::write(&token, "fleet-token\n").unwrap();
    let ns_srv = Server::start(&[
        "--listen",
        &format!("{ns_ip}:0"),
        "--token-file",
        token.to_str().unwrap(),
        "--interval",
        "0.5",
    ]);
    let _ = ns.name();

    let prom_port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  \
         - job_name: portscope-host\n    static_configs:\n      - targets: ['{}']\n  \
         - job_name: portscope-ns\n    authorization:\n      type: Bearer\n      credentials_file: {}\n    \
         static_configs:\n      - targets: ['{}']\n",
        host_srv.addr,
        token.display(),
        ns_srv.addr
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let child = on_host(
        &prometheus,
        &[
            &format!("--config.file={}", dir.join("prometheus.yml").display()),
            &format!("--storage.tsdb.path={}", dir.join("data").display()),
            &format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ],
    )
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
    .spawn()
    .unwrap();
    let _prom = Prometheus(child, dir.clone());

    // Query Prometheus (on the host's loopback) from a thread there.
    let prom: std::net::SocketAddr = format!("127.0.0.1:{prom_port}").parse().unwrap();
    let query = |q: &str| -> serde_json::Value {
        let q = q.to_string();
        std::thread::spawn(move || {
            let home = std::fs::File::open(format!("/proc/{}/ns/net", std::process::id())).unwrap();
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&home),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .unwrap();
            let enc: String = q
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            if TcpStream::connect(prom).is_err() {
                return serde_json::Value::Null; // not up yet
            }
            let r = serve_support::get(prom, &format!("/api/v1/query?query={enc}"), &[]);
            if r.status == 200 {
                r.json()
            } else {
                serde_json::Value::Null
            }
        })
        .join()
        .unwrap()
    };
    for (job, port) in [("portscope-host", host_port), ("portscope-ns", ns_port)] {
        let q = format!("portscope_listener_info{{job=\"{job}\",port=\"{port}\"}}");
        let found = wait_for(&format!("{job} in Prometheus"), || {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            assert!(!log.contains("level=error"), "prometheus failed:\n{log}");
            let v = query(&q);
            v["data"]["result"]
                .as_array()
                .filter(|r| !r.is_empty())
                .cloned()
        });
        let m = &found[0]["metric"];
        assert_eq!(m["process"], me.as_str(), "{found:?}");
        assert_eq!(m["proto"], "tcp");
        assert_eq!(m["exposure"], "loopback");
    }
    let up = query("up{job=~\"portscope.*\"} == 1");
    assert_eq!(
        up["data"]["result"].as_array().map(Vec::len),
        Some(2),
        "{up}"
    );
    drop((host_l, ns_l, ns_srv, host_srv));
}
