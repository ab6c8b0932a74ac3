//! The live page of `portscope serve` in headless Chromium, driven over
//! WebDriver (chromedriver, plain HTTP): it shows a listener the test makes,
//! greys a connection the test closes, applies a typed filter (and shows a
//! bad one's error inline), and shows a hostile process name escaped, as
//! text. A screenshot is left in the target directory.
#![allow(clippy::unwrap_used)]

mod common;
mod serve_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use serve_support::{Server, need, wait_for};

/// A process stopped by pid on drop.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.0);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let _ = self.0.wait();
    }
}

/// One WebDriver command.
fn wd(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // Read the head, then as many bytes as it announces: chromedriver
    // may keep the connection open.
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        if let Some(at) = all.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&all[..at]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if all.len() >= at + 4 + len {
                let v: Value =
                    serde_json::from_slice(&all[at + 4..at + 4 + len]).unwrap_or(Value::Null);
                return v["value"].clone();
            }
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "chromedriver closed the connection");
        all.extend_from_slice(&buf[..n]);
    }
}

/// A WebDriver session, deleted on drop.
struct Browser {
    driver: SocketAddr,
    session: String,
}

impl Browser {
    fn js(&self, script: &str) -> Value {
        wd(
            self.driver,
            "POST",
            &format!("/session/{}/execute/sync", self.session),
            Some(&json!({ "script": script, "args": [] })),
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = wd(
            self.driver,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// The rows of the table: key, class and cell texts.
const ROWS: &str = "return [...document.querySelectorAll('#rows tr[data-key]')].map(tr => \
    ({ cls: tr.className, cells: [...tr.children].map(td => td.textContent) }));";

fn rows(b: &Browser) -> Vec<Value> {
    b.js(ROWS).as_array().cloned().unwrap_or_default()
}

#[test]
#[ignore = "slow: headless Chromium (Debian chromium, chromium-driver)"]
fn the_page_follows_sockets_filters_and_escapes() {
    let chromium = need("chromium", "chromium");
    let chromedriver = need("chromedriver", "chromium-driver");
    let python = need("python3", "python3");
    let _ns = common::netns();
    let srv = Server::start(&["--interval", "0.5"]);
    let profile = std::env::temp_dir().join(format!("portscope-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let driver_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _driver = Kill(
        Command::new(chromedriver)
            .args([
                format!("--port={driver_port}"),
                "--allowed-ips=127.0.0.1".into(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let driver: SocketAddr = format!("127.0.0.1:{driver_port}").parse().unwrap();
    wait_for("chromedriver", || {
        TcpStream::connect(driver)
            .is_ok()
            .then(|| wd(driver, "GET", "/status", None))
            .filter(|v| v["ready"] == true)
    });
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium.to_str().unwrap(),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,1400", format!("--user-data-dir={}", profile.display())]
        }
    }}});
    let created = wd(driver, "POST", "/session", Some(&caps));
    let session = created["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {created}"))
        .to_string();
    let b = Browser { driver, session };
    wd(
        driver,
        "POST",
        &format!("/session/{}/url", b.session),
        Some(&json!({ "url": format!("http://{}/", srv.addr) })),
    );
    wait_for("the page live", || {
        (b.js("return document.getElementById('status').textContent") == "live").then_some(())
    });

    // A listener appears.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let local = format!("127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let row = wait_for("the listener's row", || {
        rows(&b)
            .into_iter()
            .find(|r| r["cells"][1] == local.as_str() && r["cells"][5] != "")
    });
    eprintln!("listener shown after {:?}", started.elapsed());
    assert_eq!(row["cells"][0], "tcp");
    assert_eq!(row["cells"][3], "LISTEN");
    assert_eq!(row["cells"][5], std::process::id().to_string());

    // A connection appears, then is greyed when closed.
    let (c, a) = serve_support::exchange(&l, 10);
    let client = c.local_addr().unwrap().to_string();
    wait_for("the connection's row", || {
        rows(&b)
            .into_iter()
            .find(|r| r["cells"][1] == client.as_str() && r["cls"] != "gone")
    });
    drop((c, a));
    wait_for("the closed connection greyed", || {
        rows(&b).into_iter().find(|r| {
            r["cls"] == "gone"
                && (r["cells"][1] == client.as_str() || r["cells"][2] == client.as_str())
        })
    });

    // A hostile process name is shown escaped, as text.
    let hostile_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = format!(
        "import ctypes, socket, time\n\
         ctypes.CDLL(None).prctl(15, b'<i>x</i>\\x1b[2J', 0, 0, 0)\n\
         s = socket.socket(); s.bind(('127.0.0.1', {hostile_port})); s.listen()\n\
         time.sleep(120)\n"
    );
    let _hostile = Kill(
        Command::new(python)
            .args(["-c", &script])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let hostile_local = format!("127.0.0.1:{hostile_port}");
    let row = wait_for("the hostile process's row", || {
        rows(&b)
            .into_iter()
            .find(|r| r["cells"][1] == hostile_local.as_str() && r["cells"][4] != "")
    });
    assert_eq!(row["cells"][4], "<i>x</i>\\x1b[2J");
    assert_eq!(
        b.js("return document.querySelectorAll('#rows i, #map i').length"),
        0
    );

    // A typed filter applies; a bad one is explained inline.
    let type_filter = |text: &str| {
        b.js(&format!(
            "document.getElementById('filter').value = {}; \
             document.getElementById('filter-form').requestSubmit(); return true;",
            json!(text)
        ));
    };
    type_filter(&format!("sport = :{port}"));
    wait_for("only the filtered rows", || {
        let r = rows(&b);
        (!r.is_empty()
            && r.iter().all(|r| {
                r["cells"][1]
                    .as_str()
                    .is_some_and(|c| c.ends_with(&format!(":{port}")))
            }))
        .then_some(())
    });
    type_filter("sport = :99999");
    let err = wait_for("the filter's error", || {
        let v = b.js("const e = document.getElementById('filter-error'); return e.hidden ? null : e.textContent;");
        v.as_str().map(str::to_string)
    });
    assert!(err.contains("99999") && err.contains('^'), "{err}");
    type_filter("");
    wait_for("all rows back", || {
        rows(&b)
            .iter()
            .any(|r| r["cells"][1] == hostile_local.as_str())
            .then_some(())
    });

    let shot = wd(
        driver,
        "GET",
        &format!("/session/{}/screenshot", b.session),
        None,
    );
    let png = decode_base64(shot.as_str().unwrap());
    assert!(png.starts_with(b"\x89PNG"));
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-page.png");
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
    drop(b);
    let _ = std::fs::remove_dir_all(&profile);
}
