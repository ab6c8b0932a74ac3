//! Helpers for the `serve` tests: a `portscope serve` child stopped by pid
//! on drop, a minimal HTTP/1.1 client (one request per connection), and
//! waiting with a generous deadline.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `portscope serve`, sent SIGTERM (then SIGKILL) on drop.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: Option<BufReader<ChildStderr>>,
    /// The token it requires, if any.
    pub token: Option<String>,
}

impl Server {
    /// Starts `portscope serve ARGS` (with `--listen 127.0.0.1:0` unless
    /// ARGS has a --listen) and waits for the address it announces.
    pub fn start(args: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portscope"));
        cmd.arg("serve");
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
        let token = args
            .iter()
            .position(|a| *a == "--token-file")
            .and_then(|i| args.get(i + 1))
            .map(|f| std::fs::read_to_string(f).unwrap().trim().to_string());
        Server::spawn(cmd, token)
    }

    /// Starts the command (a `portscope serve`) and waits for its address.
    pub fn spawn(mut cmd: Command, token: Option<String>) -> Server {
        let mut child = cmd.spawn().expect("start portscope serve");
        let mut err = BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        err.read_line(&mut line).expect("read the start line");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in the start line: {line:?}"));
        let s = Server {
            child,
            addr,
            stderr: Some(err),
            token,
        };
        s.wait_refreshed();
        s
    }

    /// Waits until the server has published a refresh.
    pub fn wait_refreshed(&self) {
        wait_for("a first refresh", || {
            let r = self.get("/metrics");
            (r.status == 200
                && r.text().lines().any(|l| {
                    l.starts_with("portscope_last_refresh_timestamp_seconds ")
                        && !l.ends_with(" 0.0")
                }))
            .then_some(())
        });
    }

    /// GET `path`, with the token if the server wants one.
    pub fn get(&self, path: &str) -> Response {
        match &self.token {
            Some(t) => get(
                self.addr,
                path,
                &[("Authorization", &format!("Bearer {t}"))],
            ),
            None => get(self.addr, path, &[]),
        }
    }

    /// Sends SIGTERM and returns the exit status and the rest of stderr.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let status = self.child.wait().expect("wait for serve");
        let mut rest = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut rest);
        }
        (status, rest)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = rustix::process::Pid::from_child(&self.child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP answer.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// GET `path` with extra header lines.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    raw(addr, req.as_bytes())
}

/// Sends `bytes` as they are and reads the answer to the end.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect to serve");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(bytes).expect("send the request");
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    parse(&all)
}

fn parse(all: &[u8]) -> Response {
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(all)));
    let head = String::from_utf8_lossy(&all[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = all[end + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = unchunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < nl + 2 + size {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[(nl + 4 + size).min(b.len())..];
    }
}

/// One connection kept open for many requests: asking through it closes
/// no connection (what a test counting closed connections needs).
pub struct KeepAlive {
    stream: TcpStream,
    addr: SocketAddr,
}

impl KeepAlive {
    pub fn open(addr: SocketAddr) -> KeepAlive {
        let stream = TcpStream::connect(addr).expect("connect to serve");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        KeepAlive { stream, addr }
    }

    /// GET `path` on the open connection (the body by its length).
    pub fn get(&mut self, path: &str) -> Response {
        write!(
            self.stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.addr
        )
        .expect("send the request");
        let mut all = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            if let Some(end) = all.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&all[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("a content-length on a kept-alive answer");
                if all.len() >= end + 4 + len {
                    return parse(&all[..end + 4 + len]);
                }
            }
            let n = self.stream.read(&mut chunk).expect("read the answer");
            assert!(n > 0, "the server closed a kept-alive connection");
            all.extend_from_slice(&chunk[..n]);
        }
    }
}

/// An open events stream: the raw bytes as they come.
pub struct Events {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Events {
    pub fn open(addr: SocketAddr, path: &str) -> Events {
        let mut s = TcpStream::connect(addr).expect("connect to serve");
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        Events {
            stream: s,
            buf: Vec::new(),
        }
    }

    /// Waits for an event of `kind` whose data satisfies `want`; returns its data.
    pub fn wait(
        &mut self,
        kind: &str,
        want: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = 0;
        loop {
            let text = String::from_utf8_lossy(&self.buf).into_owned();
            let lines: Vec<&str> = text.lines().collect();
            for i in seen..lines.len() {
                if lines[i].trim() == format!("event: {kind}")
                    && let Some(data) = lines.get(i + 1).and_then(|l| l.strip_prefix("data: "))
                    && let Ok(v) = serde_json::from_str::<serde_json::Value>(data)
                    && want(&v)
                {
                    return v;
                }
            }
            seen = lines.len().saturating_sub(1);
            assert!(
                Instant::now() < deadline,
                "no '{kind}' event in time; got:\n{text}"
            );
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("the events stream ended:\n{text}"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => {}
            }
        }
    }
}

/// Polls `f` until it gives a value, failing after a generous deadline.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The series (name and labels, no value) of an exposition.
pub fn series(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.rsplit_once(' ').map_or(l, |(k, _)| k).to_string())
        .collect()
}

/// This process's name as the kernel records it (what `process` labels show).
pub fn own_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .expect("read comm")
        .trim_end()
        .to_string()
}

/// The path of a program a test needs, or a failure naming its package.
pub fn need(program: &str, package: &str) -> std::path::PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/usr/local/bin"] {
        let p = std::path::Path::new(dir).join(program);
        if p.exists() {
            return p;
        }
    }
    panic!("{program} is missing: install the Debian package {package}");
}

/// Opens a connection to the listener `l`, moves `bytes` each way, and
/// returns both ends (close them to make a closed connection).
pub fn exchange(l: &std::net::TcpListener, bytes: usize) -> (TcpStream, TcpStream) {
    let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut a, _) = l.accept().unwrap();
    let data = vec![7u8; bytes];
    let mut back = vec![0u8; bytes];
    c.write_all(&data).unwrap();
    a.read_exact(&mut back).unwrap();
    a.write_all(&data).unwrap();
    c.read_exact(&mut back).unwrap();
    (c, a)
}

/// The value of the first sample line starting with `prefix`.
pub fn value(text: &str, prefix: &str, must: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .find(|l| must.iter().all(|m| l.contains(m)))
        .and_then(|l| l.rsplit_once(' '))
        .and_then(|(_, v)| v.parse().ok())
}
