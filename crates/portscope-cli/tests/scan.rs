//! End-to-end tests of `portscope scan` against real services this test
//! brings up on loopback: an SSH-like greeter, an HTTP server, a TLS server
//! with a certificate made here, a DNS responder over UDP. Traffic never
//! leaves 127.0.0.0/8 and ::1.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

use common::portscope;

/// TCP ports this test binary listens on at some point: tests run in
/// parallel, so one test's scan may see another's short-lived listener.
static CREATED: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());

fn created(port: u16) -> u16 {
    CREATED.lock().unwrap().push(port);
    port
}

/// Serves every connection on its own thread until the test process ends.
fn serve(listener: TcpListener, handle: impl Fn(TcpStream) + Send + Sync + 'static) {
    created(listener.local_addr().unwrap().port());
    let handle = Arc::new(handle);
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let h = Arc::clone(&handle);
            thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                h(conn)
            });
        }
    });
}

fn ssh_like(host: &str) -> u16 {
    let l = TcpListener::bind((host, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    serve(l, |mut c| {
        let _ = c.write_all(b"SSH-2.0-OpenSSH_9.9p1 scantest\r\n");
        let mut buf = [0u8; 64];
        let _ = c.read(&mut buf);
    });
    port
}

/// Reads a request head, up to the blank line.
fn read_head(r: &mut impl BufRead) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        head.push_str(&line);
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    head
}

const HTTP_REPLY: &[u8] =
    b"HTTP/1.0 200 OK\r\nServer: scantest-http/1.2\r\nContent-Length: 0\r\n\r\n";

fn http() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    serve(l, |c| {
        let mut r = BufReader::new(c);
        let head = read_head(&mut r);
        if head.starts_with("HEAD ") || head.starts_with("GET ") {
            let _ = r.get_mut().write_all(HTTP_REPLY);
        }
    });
    port
}

/// A TLS server (rustls, certificate from rcgen) that answers HTTP inside.
fn tls(names: &[&str]) -> u16 {
    let key =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    let der = key.cert.der().clone();
    let pkey = rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![der], pkey)
    .unwrap();
    let cfg = Arc::new(cfg);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    serve(l, move |c| {
        let Ok(conn) = rustls::ServerConnection::new(Arc::clone(&cfg)) else {
            return;
        };
        let mut s = rustls::StreamOwned::new(conn, c);
        let mut r = BufReader::new(&mut s);
        let head = read_head(&mut r);
        if head.starts_with("HEAD ") {
            let _ = s.write_all(HTTP_REPLY);
            let _ = s.flush();
        }
    });
    port
}

/// Answers every DNS query with an empty answer (QR and RA set).
fn dns_responder() -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if n < 12 {
                continue;
            }
            let mut reply = buf[..n].to_vec();
            reply[2] |= 0x80; // a response
            reply[3] |= 0x80; // recursion available
            let _ = sock.send_to(&reply, from);
        }
    });
    port
}

/// A port nothing listens on (bound, read, released).
fn free_tcp_port() -> u16 {
    created(
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
    )
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scan_json(args: &[&str]) -> Value {
    let out = portscope()
        .arg("scan")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "scan {args:?}: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn port_entry(doc: &Value, port: u16) -> &Value {
    doc["hosts"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["port"].as_u64() == Some(u64::from(port)))
        .unwrap_or_else(|| panic!("port {port} missing: {doc:#}"))
}

fn owner_pids(p: &Value) -> Vec<u64> {
    p["owners"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["pid"].as_u64())
        .collect()
}

#[test]
fn finds_and_identifies_local_services() {
    let ssh = ssh_like("127.0.0.1");
    let web = http();
    let tls = tls(&["scan.test", "localhost"]);
    let closed = free_tcp_port();
    let spec = format!("{ssh},{web},{tls},{closed}");
    let doc = scan_json(&[
        "127.0.0.1",
        "--ports",
        &spec,
        "--timeout",
        "2000",
        "--banner-timeout",
        "700",
    ]);
    let me = u64::from(std::process::id());
    let host = &doc["hosts"][0];
    assert_eq!(host["addr"], "127.0.0.1");
    assert_eq!(host["local"], true);
    assert_eq!(host["ports"].as_array().unwrap().len(), 4);

    let s = port_entry(&doc, ssh);
    assert_eq!(s["state"], "open");
    assert_eq!(s["proto"], "tcp");
    assert_eq!(s["protocol"], "ssh");
    assert_eq!(s["banner"], "SSH-2.0-OpenSSH_9.9p1 scantest");
    assert_eq!(s["product"], "OpenSSH");
    assert_eq!(s["version"], "9.9p1");
    assert_eq!(s["info"], "scantest");
    assert_eq!(owner_pids(s), [me]);

    let h = port_entry(&doc, web);
    assert_eq!(h["state"], "open");
    assert_eq!(h["protocol"], "http");
    assert_eq!(h["probe"], "http-head");
    assert_eq!(h["product"], "scantest-http");
    assert_eq!(h["version"], "1.2");
    assert_eq!(h["response"], "HTTP/1.0 200 OK");
    assert_eq!(owner_pids(h), [me]);

    let t = port_entry(&doc, tls);
    assert_eq!(t["state"], "open");
    assert_eq!(t["protocol"], "https", "{t:#}");
    assert_eq!(t["probe"], "tls-hello");
    assert_eq!(t["tls"]["version"], "TLSv1.3");
    let names: Vec<&str> = t["tls"]["names"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        names.contains(&"scan.test") && names.contains(&"localhost"),
        "{names:?}"
    );
    assert_eq!(t["tls"]["self_signed"], true);
    assert_eq!(owner_pids(t), [me]);

    let c = port_entry(&doc, closed);
    assert_eq!(c["state"], "closed");
    assert!(c["protocol"].is_null());
    assert!(owner_pids(c).is_empty());

    let sum = &doc["summary"];
    assert_eq!(sum["proto"], "tcp");
    assert_eq!(sum["hosts"], 1);
    assert_eq!(sum["ports"], 4);
    assert_eq!(sum["open"], 3);
    assert_eq!(sum["closed"], 1);
    assert_eq!(sum["filtered"], 0);
    assert!(sum["elapsed_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn sweep_agrees_with_ss_on_a_port_range() {
    // Alone in a namespace: the range holds our listeners and nothing else.
    let _ns = common::netns();
    // Several listeners inside one range scanned without probes: every one
    // found, everything else in the range closed, as `ss` and bind agree.
    let listeners: Vec<TcpListener> = (0..5)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .inspect(|l| {
            created(l.local_addr().unwrap().port());
        })
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let lo = *ports.iter().min().unwrap();
    let hi = *ports.iter().max().unwrap();
    let (lo, hi) = (lo, hi.min(lo.saturating_add(3000)).max(lo));
    let spec = format!("{lo}-{hi}");
    // The oracle: what ss lists as listening on 127.0.0.1 or the wildcard in
    // the range, before and after (other tests open listeners meanwhile).
    let listening = || -> Vec<u64> {
        // Both -t and -u, so ss prints its Netid column, which ss_keys reads.
        let mut v: Vec<u64> = common::ss_keys(&["-H", "-n", "-t", "-u", "-l"])
            .iter()
            .filter(|(proto, _, _, _)| proto == "tcp")
            .filter_map(|(_, local, _, _)| {
                let (addr, port) = local.rsplit_once(':')?;
                let port: u64 = port.parse().ok()?;
                let reachable = addr == "127.0.0.1" || addr == "*";
                (reachable && (u64::from(lo)..=u64::from(hi)).contains(&port)).then_some(port)
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let before = listening();
    assert!(
        ports
            .iter()
            .filter(|p| (lo..=hi).contains(p))
            .all(|p| before.contains(&u64::from(*p))),
        "the oracle does not see this test's own listeners: {before:?}"
    );
    let doc = scan_json(&["127.0.0.1", "-p", &spec, "--no-probe"]);
    let after = listening();
    let open: Vec<u64> = doc["hosts"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == "open")
        .map(|p| p["port"].as_u64().unwrap())
        .collect();
    let mut ours: Vec<u64> = ports.iter().map(|p| u64::from(*p)).collect();
    ours.sort_unstable();
    ours.retain(|p| (u64::from(lo)..=u64::from(hi)).contains(p));
    assert_eq!(before, ours, "ss sees exactly our listeners");
    assert_eq!(after, ours, "ss sees exactly our listeners");
    let mut open_sorted = open.clone();
    open_sorted.sort_unstable();
    assert_eq!(
        open_sorted, ours,
        "the scan finds exactly our listeners open"
    );
    for p in before.iter().filter(|p| after.contains(p)) {
        assert!(
            open.contains(p),
            "{p} listens throughout but was not found open"
        );
    }
    for p in &open {
        let ours = CREATED.lock().unwrap().contains(&(*p as u16));
        assert!(
            before.contains(p) || after.contains(p) || ours,
            "{p} reported open but ss never saw a listener"
        );
    }
    let closed = doc["hosts"][0]["counts"]["closed"].as_u64().unwrap();
    assert_eq!(closed + open.len() as u64, u64::from(hi - lo) + 1);
    for p in ports.iter().filter(|p| (lo..=hi).contains(p)) {
        assert!(open.contains(&u64::from(*p)), "{p} not found open");
    }
    drop(listeners);
}

#[test]
fn ipv6_loopback_and_host_names() {
    let l = TcpListener::bind("[::1]:0").unwrap();
    let port = l.local_addr().unwrap().port();
    serve(l, |mut c| {
        let _ = c.write_all(b"SSH-2.0-v6test\r\n");
    });
    let doc = scan_json(&["::1", "-p", &port.to_string(), "--banner-timeout", "700"]);
    let p = port_entry(&doc, port);
    assert_eq!(p["state"], "open");
    assert_eq!(p["protocol"], "ssh");
    assert_eq!(owner_pids(p), [u64::from(std::process::id())]);

    let ssh = ssh_like("127.0.0.1");
    let doc = scan_json(&["localhost", "-p", &ssh.to_string()]);
    assert_eq!(doc["hosts"][0]["name"], "localhost");
    if doc["hosts"][0]["addr"] == "127.0.0.1" {
        assert_eq!(port_entry(&doc, ssh)["protocol"], "ssh");
    }
}

#[test]
fn udp_finds_the_dns_responder() {
    let dns = dns_responder();
    let closed = free_udp_port();
    let spec = format!("{dns},{closed}");
    let doc = scan_json(&["127.0.0.1", "--udp", "-p", &spec, "--timeout", "1500"]);
    let d = port_entry(&doc, dns);
    assert_eq!(d["proto"], "udp");
    assert_eq!(d["state"], "open");
    assert_eq!(d["protocol"], "dns");
    assert_eq!(d["probe"], "dns-query");
    assert_eq!(owner_pids(d), [u64::from(std::process::id())]);
    let c = port_entry(&doc, closed);
    assert_eq!(c["state"], "closed");
    assert_eq!(doc["summary"]["proto"], "udp");
}

#[test]
fn text_output_and_exit_codes() {
    let ssh = ssh_like("127.0.0.1");
    let out = portscope()
        .args(["scan", "127.0.0.1", "-p", &ssh.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("{ssh}/tcp")))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.contains("open") && row.contains("ssh") && row.contains("OpenSSH_9.9p1"),
        "{row}"
    );
    assert!(row.contains(&format!("[{}]", std::process::id())), "{row}");
    assert!(
        text.contains("1 host, 1 tcp ports: 1 open, 0 closed, 0 filtered"),
        "{text}"
    );

    // Nothing open: exit 1, still a report.
    let closed = free_tcp_port();
    let out = portscope()
        .args(["scan", "127.0.0.1", "-p", &closed.to_string(), "--no-probe"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 open, 1 closed"));
}

#[test]
fn open_only_json() {
    let ssh = ssh_like("127.0.0.1");
    let closed = free_tcp_port();
    let doc = scan_json(&["127.0.0.1", "-p", &format!("{ssh},{closed}"), "--open"]);
    let ports = doc["hosts"][0]["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["port"], ssh);
    assert_eq!(doc["hosts"][0]["counts"]["closed"], 1);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for args in [
        vec!["no-such-host.invalid"],
        vec!["bad..host"],
        vec!["127.0.0.1", "-p", "80,,81"],
        vec!["127.0.0.1", "-p", "70000"],
        vec!["127.0.0.1", "-p", "90-80"],
        vec!["127.0.0.1", "-p", "topfew"],
        vec!["127.0.0.0/8"],
        vec!["127.0.0.0/23", "--max-hosts", "100"],
        vec!["127.0.0.1/40"],
        vec!["127.0.0.1", "--timeout", "0"],
        vec!["127.0.0.1", "--rate", "0"],
    ] {
        let out = portscope().arg("scan").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("portscope: "), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // The cap can be raised.
    let out = portscope()
        .args([
            "scan",
            "127.0.0.0/23",
            "--max-hosts",
            "600",
            "-p",
            "1",
            "--no-probe",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["hosts"], 510);
}

#[test]
fn timeouts_are_filtered() {
    // A listener whose accept queue is full drops new SYNs: the connection
    // times out, which a scan reports as filtered.
    let l = socket_with_backlog_zero();
    let addr = l.local_addr().unwrap();
    // Fill the queue (Linux keeps backlog + 1 pending connections).
    let mut held = Vec::new();
    for _ in 0..4 {
        if let Ok(c) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            held.push(c);
        }
    }
    let doc = scan_json(&[
        "127.0.0.1",
        "-p",
        &addr.port().to_string(),
        "--timeout",
        "300",
        "--retries",
        "0",
        "--no-probe",
    ]);
    assert_eq!(
        port_entry(&doc, addr.port())["state"],
        "filtered",
        "{doc:#}"
    );
    drop(held);
}

fn socket_with_backlog_zero() -> std::net::TcpListener {
    use rustix::net::{AddressFamily, SocketType, bind, listen, socket};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    bind(&fd, &any).unwrap();
    listen(&fd, 0).unwrap();
    let l = std::net::TcpListener::from(fd);
    created(l.local_addr().unwrap().port());
    l
}
