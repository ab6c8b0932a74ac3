//! End to end: `portscope wait` on real listeners appearing and going away
//! in a network namespace of the test's own, the timeout's exit status and
//! its report of who holds a port, and bad durations.

mod common;

use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::portscope;

/// A `portscope wait` running in the background, killed by pid on drop.
struct Waiting(Child);

impl Waiting {
    fn start(args: &[&str]) -> Waiting {
        Waiting(
            portscope()
                .arg("wait")
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run portscope wait"),
        )
    }

    /// Its exit code, waiting at most `limit` (a generous deadline, not a measurement).
    fn code_within(&mut self, limit: Duration) -> Option<i32> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(st) = self.0.try_wait().expect("try_wait") {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Whether it is still waiting after a few of its checks.
    fn still_waiting(&mut self) -> bool {
        std::thread::sleep(Duration::from_millis(400));
        self.0.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing in this namespace holds.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn wait_returns_once_every_port_listens() {
    let _ns = common::netns();
    let (a, b) = (free_port(), free_port());
    let mut w = Waiting::start(&[&a.to_string(), &format!("{b}/udp"), "--timeout", "60s"]);
    assert!(w.still_waiting(), "wait ended with nothing listening");
    let _la = TcpListener::bind(("127.0.0.1", a)).expect("listen a");
    // One of two is not enough.
    assert!(w.still_waiting(), "wait ended before the second port");
    // A TCP listener does not answer for a /udp port.
    let _lb_tcp = TcpListener::bind(("127.0.0.1", b)).expect("listen b tcp");
    assert!(w.still_waiting(), "a TCP listener satisfied a /udp port");
    let _lb = UdpSocket::bind(("127.0.0.1", b)).expect("bind b udp");
    assert_eq!(w.code_within(Duration::from_secs(30)), Some(0));
}

#[test]
fn wait_free_returns_once_the_port_is_released() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let mut w = Waiting::start(&[&port.to_string(), "--state", "free", "--timeout", "60s"]);
    assert!(
        w.still_waiting(),
        "wait --state free ended while the port was held"
    );
    drop(l);
    assert_eq!(w.code_within(Duration::from_secs(30)), Some(0));
}

#[test]
fn wait_times_out_with_1_and_names_the_holder() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let out = portscope()
        .args([
            "wait",
            &port.to_string(),
            "--state",
            "free",
            "--timeout",
            "300ms",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("still held: {port}")), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("[{}]", std::process::id())),
        "the holder (this test) is not named: {stdout}"
    );
    assert!(stdout.contains(&format!("127.0.0.1:{port}")), "{stdout}");

    // Listening already: done at once. A port nothing holds: not listening at the timeout.
    let ok = portscope()
        .args(["wait", &port.to_string()])
        .output()
        .expect("run");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let none = free_port();
    let out = portscope()
        .args(["wait", &none.to_string(), "--timeout", "200ms", "-q"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "-q printed");
    let out = portscope()
        .args(["wait", &none.to_string(), "--timeout", "200ms"])
        .output()
        .expect("run");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("not listening: {none}")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn wait_takes_service_names_and_refuses_bad_durations() {
    let _ns = common::netns();
    // http is 80/tcp (and 80/udp): a listener on 80 satisfies it.
    let _l = TcpListener::bind("127.0.0.1:80").expect("bind 80 (the suite runs as root)");
    let out = portscope()
        .args(["wait", "http", "--timeout", "5s"])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for bad in ["3 parsecs", "-1s", "1000h", ""] {
        let out = portscope()
            .args(["wait", "80", &format!("--timeout={bad}")])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "--timeout {bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("--timeout"), "{err}");
    }
    let out = portscope()
        .args(["wait", "nosuchservice"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}
