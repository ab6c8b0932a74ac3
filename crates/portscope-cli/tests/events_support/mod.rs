//! What the `events` suites share: a running `portscope events --json`,
//! a server that answers known byte counts, and readers of event JSON.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::portscope;
use serde_json::Value;

/// A running `portscope events --json`, its lines gathered by a thread.
pub struct Events {
    pub child: Child,
    pub lines: Arc<Mutex<Vec<Value>>>,
    pub stderr: Arc<Mutex<String>>,
}

impl Events {
    pub fn start(args: &[&str]) -> Events {
        Events::start_with(portscope(), args)
    }

    pub fn start_with(mut cmd: Command, args: &[&str]) -> Events {
        let mut child = cmd
            .arg("events")
            .arg("--json")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start portscope events");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().expect("stdout");
        let l = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line).expect("an event line is JSON");
                l.lock().expect("lock").push(v);
            }
        });
        let err = child.stderr.take().expect("stderr");
        let e = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let mut s = e.lock().expect("lock");
                s.push_str(&line);
                s.push('\n');
            }
        });
        let ev = Events {
            child,
            lines,
            stderr,
        };
        ev.wait_for(
            |_| true,
            "the ready line",
            |ev| ev.stderr.lock().expect("lock").contains("watching events"),
        );
        ev
    }

    /// Waits (generously) until `done` holds; panics with what was seen.
    pub fn wait_for(
        &self,
        _f: impl Fn(&Value) -> bool,
        what: &str,
        done: impl Fn(&Events) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; stderr: {}; {} events",
                self.stderr.lock().expect("lock"),
                self.lines.lock().expect("lock").len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn count(&self, f: impl Fn(&Value) -> bool) -> usize {
        self.lines
            .lock()
            .expect("lock")
            .iter()
            .filter(|v| f(v))
            .count()
    }

    pub fn until(&self, what: &str, f: impl Fn(&Value) -> bool + Copy, n: usize) {
        self.wait_for(f, what, |ev| ev.count(f) >= n);
    }

    pub fn events(&self) -> Vec<Value> {
        self.lines.lock().expect("lock").clone()
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> (Vec<Value>, String) {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"))
            .expect("pid");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let status = self.child.wait().expect("wait");
        // The reader threads end with the pipes.
        std::thread::sleep(Duration::from_millis(200));
        assert!(status.success(), "events exited with {status}");
        (self.events(), self.stderr.lock().expect("lock").clone())
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn port(v: &Value, end: &str) -> u64 {
    v["socket"][end]["port"].as_u64().unwrap_or(0)
}

pub fn kind(v: &Value) -> &str {
    v["event"].as_str().unwrap_or("")
}

pub fn pids(v: &Value) -> Vec<u64> {
    v["socket"]["owners"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["pid"].as_u64()).collect())
        .unwrap_or_default()
}

/// Bytes connection `i` sends each way: client to server, server to client.
pub fn sizes(i: u32) -> (usize, usize) {
    (4 + (i as usize * 7) % 3000, 1 + (i as usize * 13) % 5000)
}

/// A server that, for each connection, reads the 4-byte index, the rest of
/// the client's bytes, answers with the server's share and closes after the
/// client does.
pub fn serve(listener: TcpListener) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { break };
            std::thread::spawn(move || {
                let mut idx = [0u8; 4];
                if c.read_exact(&mut idx).is_err() {
                    return;
                }
                let i = u32::from_le_bytes(idx);
                if i == u32::MAX {
                    return;
                }
                let (up, down) = sizes(i);
                let mut rest = vec![0u8; up - 4];
                if c.read_exact(&mut rest).is_err() {
                    return;
                }
                let _ = c.write_all(&vec![b'd'; down]);
                let mut sink = [0u8; 16];
                let _ = c.read(&mut sink); // the client's FIN
            });
        }
    });
}

pub fn connect_once(addr: SocketAddr, i: u32, hold: Duration) -> u16 {
    let mut c = TcpStream::connect(addr).expect("connect");
    let local = c.local_addr().expect("addr").port();
    let (up, down) = sizes(i);
    let mut msg = vec![b'u'; up];
    msg[..4].copy_from_slice(&i.to_le_bytes());
    c.write_all(&msg).expect("write");
    let mut got = vec![0u8; down];
    c.read_exact(&mut got).expect("read the answer");
    std::thread::sleep(hold);
    c.shutdown(Shutdown::Both).ok();
    local
}
