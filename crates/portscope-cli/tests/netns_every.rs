//! `-N/--netns` on every command that lists sockets, with the listing's
//! meaning: two listeners on the same port, one in the test's namespace
//! and one in an `ip netns` namespace of the test's (which also holds a
//! connection to it); each command, given `-N NAME` or `-N PID`, answers
//! about that namespace's socket alone.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{Named, netns, portscope};

const HELPER: &str = r#"
import os, socket, sys
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1]))); l.listen()
keep = []
if sys.argv[2] == "connect":
    c = socket.create_connection(("127.0.0.1", l.getsockname()[1])); a, _ = l.accept(); keep = [c, a]
print(l.getsockname()[1], os.fstat(l.fileno()).st_ino, flush=True)
sys.stdin.read()
"#;

/// A helper process, killed (by its pid) and reaped on drop.
struct Helper {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    inode: u64,
}

impl Helper {
    fn start(cmd: &mut Command) -> Helper {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed (Debian package python3)");
        let stdin = child.stdin.take().expect("stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("helper output");
        let n: Vec<u64> = line
            .split_whitespace()
            .map(|x| x.parse().expect("number"))
            .collect();
        assert_eq!(n.len(), 2, "the helper failed: {line:?}");
        Helper {
            child,
            _stdin: stdin,
            port: u16::try_from(n[0]).expect("port"),
            inode: n[1],
        }
    }

    fn pid(&self) -> u64 {
        u64::from(self.child.id())
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_json(args: &[&str]) -> Value {
    let out = portscope().args(args).output().expect("run portscope");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "portscope {args:?}: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The inodes of every socket object anywhere in `v`.
fn inodes(v: &Value, out: &mut Vec<u64>) {
    match v {
        Value::Object(o) => {
            if let (Some(i), Some(_)) = (o.get("inode").and_then(Value::as_u64), o.get("proto")) {
                out.push(i);
            }
            o.values().for_each(|x| inodes(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| inodes(x, out)),
        _ => {}
    }
}

fn has(v: &Value, inode: u64) -> bool {
    let mut all = Vec::new();
    inodes(v, &mut all);
    all.contains(&inode)
}

/// GET `path` from a serve on `port`, retried until it answers 200 with
/// JSON that `done` accepts (the first refresh may not have ended), or the
/// last answer when the deadline passes.
fn get(port: u16, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            let text = String::from_utf8_lossy(&buf);
            if text.starts_with("HTTP/1.1 200")
                && let Some((_, body)) = text.split_once("\r\n\r\n")
                && let Ok(v) = serde_json::from_str::<Value>(body)
                && (done(&v) || Instant::now() > deadline)
            {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline + Duration::from_secs(5),
            "serve did not answer {path}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn every_command_takes_netns() {
    let _ns = netns();
    let name = format!("ps-every-{}", std::process::id());
    let _named = Named::new(name.clone());
    let inner = Helper::start(Command::new("ip").args([
        "netns", "exec", &name, "python3", "-c", HELPER, "0", "connect",
    ]));
    let port = inner.port.to_string();
    let outer = Helper::start(Command::new("python3").args(["-c", HELPER, &port, "-"]));
    let pid = inner.pid().to_string();
    let outer_pid = outer.pid().to_string();

    for sel in [name.as_str(), pid.as_str()] {
        // who
        let v = run_json(&["who", &port, "-N", sel, "--json"]);
        assert!(
            has(&v, inner.inode) && !has(&v, outer.inode),
            "who -N {sel}: {v:#}"
        );
        // explain
        let v = run_json(&["explain", &port, "-N", sel, "--json"]);
        assert!(
            has(&v, inner.inode) && !has(&v, outer.inode),
            "explain -N {sel}: {v:#}"
        );
        // audit: the findings are about the inner listener only.
        let v = run_json(&["audit", "-N", sel, "--json"]);
        let about: Vec<u64> = v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| f["inode"].as_u64())
            .collect();
        assert!(about.contains(&inner.inode), "audit -N {sel}: {v:#}");
        assert!(!about.contains(&outer.inode), "audit -N {sel}: {v:#}");
    }
    // And the other way round.
    let v = run_json(&["who", &port, "-N", &outer_pid, "--json"]);
    assert!(has(&v, outer.inode) && !has(&v, inner.inode), "{v:#}");

    // map: the inner namespace has one conversation, the outer none.
    let v = run_json(&["map", "-t", "-N", &name, "--json"]);
    assert_eq!(v["internal"], 1, "{v:#}");
    let v = run_json(&["map", "-t", "-N", &outer_pid, "--json"]);
    assert_eq!(v["internal"], 0, "{v:#}");

    // close --dry-run: the inner connection is selected, in no other.
    let dport = format!(":{port}");
    let out = portscope()
        .args(["close", "-N", &name, "--dry-run", "dport", "=", &dport])
        .output()
        .expect("run close");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 connection(s)"));
    let out = portscope()
        .args(["close", "-N", &outer_pid, "--dry-run", "dport", "=", &dport])
        .output()
        .expect("run close");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // wait: listening in the inner namespace now; a port only the inner
    // one has is not listening in the outer.
    let out = portscope()
        .args(["wait", &port, "-N", &name, "--timeout", "5s", "-q"])
        .output()
        .expect("run wait");
    assert_eq!(out.status.code(), Some(0));
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let free = probe.local_addr().expect("addr").port().to_string();
    drop(probe);
    let out = portscope()
        .args(["wait", &free, "-N", &name, "--timeout", "300ms", "-q"])
        .output()
        .expect("run wait");
    assert_ne!(out.status.code(), Some(0));

    // serve: the snapshot it serves is the inner namespace's.
    let listen = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let sport = listen.local_addr().expect("addr").port();
    drop(listen);
    let mut serve = portscope()
        .args(["serve", "-N", &name, "--interval", "0.2", "--listen"])
        .arg(format!("127.0.0.1:{sport}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start serve");
    let snap = get(sport, "/api/v1/snapshot", |v| has(v, inner.inode));
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(
        has(&snap, inner.inode) && !has(&snap, outer.inode),
        "{snap:#}"
    );

    // watch and events resolve -N before they start.
    for cmd in ["watch", "events"] {
        let out = portscope()
            .args([cmd, "-N", "no-such-namespace-here"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no network namespace named"),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // events follows another namespace by name (its events: tests/events.rs).
    let out = portscope()
        .args(["events", "-N", &name, "--count", "0"])
        .output()
        .expect("run events");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(outer);
    drop(inner);
}
