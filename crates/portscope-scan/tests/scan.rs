//! Whole scans through the library against real services on loopback:
//! states, identification, TLS certificates, UDP answers, the link to the
//! process holding a port, and what progress hears.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use portscope_scan::probe::ProbeConfig;
use portscope_scan::scanner::{self, HostResult, ScanConfig};
use portscope_scan::{Counter, NoProgress, PortState, targets};

/// Serves each connection on its own thread with `handle`.
fn serve(l: TcpListener, handle: impl Fn(TcpStream) + Send + Sync + 'static) {
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let h = Arc::clone(&handle);
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                h(conn)
            });
        }
    });
}

/// A listener on `ip`, port chosen by the kernel.
fn listen(ip: Ipv4Addr) -> (TcpListener, u16) {
    let l = TcpListener::bind((ip, 0)).expect("bind");
    let port = l.local_addr().expect("addr").port();
    (l, port)
}

/// A scan of `ports` on `ip` with short waits (the services here answer
/// at once; a slow machine only makes the scan longer).
fn config(ip: Ipv4Addr, ports: Vec<u16>) -> ScanConfig {
    let hosts = targets::resolve(&[ip.to_string()], 1).expect("target");
    let mut cfg = ScanConfig::tcp(hosts, ports);
    cfg.probe = Some(ProbeConfig {
        connect_timeout: Duration::from_secs(2),
        banner_wait: Duration::from_millis(300),
        reply_timeout: Duration::from_secs(2),
    });
    cfg
}

fn only_host(r: &scanner::ScanResult) -> HostResult {
    let hosts: Vec<HostResult> = r.hosts().collect();
    assert_eq!(hosts.len(), 1);
    hosts.into_iter().next().expect("one host")
}

/// This machine's TCP sockets with their processes.
fn listeners() -> portscope::model::Snapshot {
    use portscope::collect::{Native, Options, take};
    use portscope::model::{Query, StateSet};
    take(
        &Native::new(),
        &Options {
            query: Query {
                tcp: true,
                udp: false,
                raw: false,
                unix: false,
                packet: false,
                netlink: false,
                mptcp: false,
                ipv4: true,
                ipv6: true,
                states: StateSet::ALL,
            },
            owners: true,
            ..Options::default()
        },
    )
    .expect("snapshot")
}

/// A TLS server whose self-signed certificate names `names`.
fn tls_server(ip: Ipv4Addr, cn: &str, names: &[&str]) -> u16 {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    let pkey = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], pkey)
    .expect("server config");
    let cfg = Arc::new(cfg);
    let (l, port) = listen(ip);
    serve(l, move |c| {
        let Ok(conn) = rustls::ServerConnection::new(Arc::clone(&cfg)) else {
            return;
        };
        let mut s = rustls::StreamOwned::new(conn, c);
        let _ = s.read(&mut [0u8; 256]);
    });
    port
}

#[test]
fn identifies_greeters_http_and_tls_and_links_the_owner() {
    let ip = Ipv4Addr::new(127, 71, 3, 9);
    let (ssh, ssh_port) = listen(ip);
    serve(ssh, |mut c| {
        let _ = c.write_all(b"SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n");
        let _ = c.read(&mut [0u8; 64]);
    });
    // Silent until asked: the HTTP probe names it.
    let (http, http_port) = listen(ip);
    serve(http, |mut c| {
        let mut buf = [0u8; 512];
        if c.read(&mut buf)
            .is_ok_and(|n| buf[..n].starts_with(b"HEAD "))
        {
            let _ = c.write_all(b"HTTP/1.0 200 OK\r\nServer: scan-test/2.5\r\n\r\n");
        }
    });
    let tls_port = tls_server(ip, "scan.test", &["a.scan.test", "b.scan.test"]);
    let closed = listen(ip).1; // dropped: nothing listens there now
    let ports = vec![ssh_port, http_port, tls_port, closed];
    let progress = Counter::default();
    let mut r = scanner::run(&config(ip, ports.clone()), &progress).expect("scan");
    assert!(r.wants_owners(), "open ports on this host");
    r.link_owners(&listeners());

    let h = only_host(&r);
    assert!(h.local, "127.71.3.9 is this host");
    let got: Vec<(u16, PortState)> = h.ports.iter().map(|p| (p.port, p.state)).collect();
    let closed_state = got[3].1;
    assert_eq!(
        got[..3],
        [
            (ssh_port, PortState::Open),
            (http_port, PortState::Open),
            (tls_port, PortState::Open)
        ]
    );
    // Free a moment ago; open only if someone else took it since.
    assert!(
        closed_state == PortState::Closed || TcpListener::bind((ip, closed)).is_err(),
        "{got:?}"
    );
    let port = |n: u16| h.ports.iter().find(|p| p.port == n).expect("port");

    let s = &port(ssh_port).finding;
    assert_eq!(s.protocol, Some("ssh"));
    let bytes = |t: &Option<portscope::Text>| t.as_ref().map(|v| v.as_bytes().to_vec());
    assert_eq!(bytes(&s.product), Some(b"OpenSSH".to_vec()));
    assert_eq!(bytes(&s.version), Some(b"9.6p1".to_vec()));
    assert_eq!(bytes(&s.info), Some(b"Debian-3".to_vec()));
    assert!(
        s.banner
            .as_deref()
            .is_some_and(|b| b.starts_with("SSH-2.0-"))
    );

    let w = &port(http_port).finding;
    assert_eq!((w.protocol, w.probe), (Some("http"), Some("http-head")));
    assert_eq!(bytes(&w.product), Some(b"scan-test".to_vec()));
    assert_eq!(bytes(&w.version), Some(b"2.5".to_vec()));

    let t = &port(tls_port).finding;
    let info = t.tls.as_ref().expect("TLS facts");
    let names: Vec<&[u8]> = info.names.iter().map(|n| n.as_bytes()).collect();
    assert_eq!(
        names,
        [&b"scan.test"[..], b"a.scan.test", b"b.scan.test"],
        "{info:?}"
    );
    assert!(info.self_signed);
    assert!(
        info.version
            .as_deref()
            .is_some_and(|v| v.starts_with("TLSv1."))
    );

    // The test process holds every open port; /proc agrees it is us.
    let me = std::process::id();
    for p in [ssh_port, http_port, tls_port] {
        let owners: Vec<u32> = port(p).owners.iter().map(|o| o.pid).collect();
        assert!(owners.contains(&me), "port {p}: {owners:?}, we are {me}");
    }

    assert_eq!(r.totals.open + r.totals.closed + r.totals.filtered, 4);
    assert_eq!((progress.total(), progress.done()), (4, 4));
}

#[test]
fn without_owners_or_probes_only_states_come_back() {
    let ip = Ipv4Addr::new(127, 71, 3, 10);
    let (l, port) = listen(ip);
    serve(l, |mut c| {
        let _ = c.write_all(b"SSH-2.0-x\r\n");
    });
    let mut cfg = config(ip, vec![port]);
    cfg.probe = None;
    let r = scanner::run(&cfg, &NoProgress).expect("scan");
    // Owners come only from a snapshot the caller links.
    assert!(r.wants_owners());
    let h = only_host(&r);
    assert_eq!(h.ports.len(), 1);
    assert_eq!(h.ports[0].state, PortState::Open);
    assert_eq!(h.ports[0].finding, Default::default());
    assert!(h.ports[0].owners.is_empty());
}

/// A DNS server that answers only DNS queries (a header with the response
/// bit clear and one question), echoing the query with the response bit set.
fn dns_server(ip: Ipv4Addr) -> u16 {
    let sock = UdpSocket::bind((ip, 0)).expect("bind");
    let port = sock.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if n > 12 && buf[2] & 0x80 == 0 && buf[4..6] == [0, 1] {
                let mut reply = buf[..n].to_vec();
                reply[2] |= 0x80;
                let _ = sock.send_to(&reply, from);
            }
        }
    });
    port
}

#[test]
fn udp_tells_an_answering_port_from_a_closed_one() {
    let ip = Ipv4Addr::new(127, 71, 3, 11);
    let dns = dns_server(ip);
    let closed = UdpSocket::bind((ip, 0))
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut cfg = config(ip, vec![dns, closed]);
    cfg.udp = true;
    cfg.sweep.timeout = Duration::from_millis(500);
    cfg.sweep.retries = 2;
    let progress = Counter::default();
    let r = scanner::run(&cfg, &progress).expect("scan");
    let h = only_host(&r);
    let open = &h.ports[0];
    assert_eq!((open.port, open.state), (dns, PortState::Open));
    assert_eq!(open.finding.protocol, Some("dns"));
    assert_eq!(open.finding.probe, Some("dns-query"));
    let shut = &h.ports[1];
    assert!(
        shut.state == PortState::Closed || UdpSocket::bind((ip, closed)).is_err(),
        "{:?}",
        shut.state
    );
    assert_eq!((progress.total(), progress.done()), (2, 2));
}

#[test]
fn bad_input_is_typed_and_one_line() {
    use portscope::services::Transport;
    use portscope_scan::{Error, PortsError, TargetError, ports};

    assert_eq!(
        ports::parse("22,,80", Transport::Tcp),
        Err(PortsError::EmptyItem {
            spec: "22,,80".into()
        })
    );
    assert!(matches!(
        ports::parse("10-5", Transport::Tcp),
        Err(PortsError::Backwards { .. })
    ));
    assert!(matches!(
        ports::parse("0", Transport::Tcp),
        Err(PortsError::PortZero { .. })
    ));
    let e = ports::parse("ssh\n\x1b[2J", Transport::Tcp).expect_err("not a port");
    assert!(matches!(e, PortsError::Unknown { .. }), "{e:?}");
    let shown = e.to_string();
    assert!(!shown.contains('\n') && !shown.contains('\x1b'), "{shown}");

    let e = targets::resolve(&["10.0.0.0/8".into()], 256).expect_err("over the cap");
    assert!(
        matches!(e, TargetError::BlockTooLarge { cap: 256, .. }),
        "{e:?}"
    );
    assert!(matches!(
        targets::resolve(&["no-such-host.invalid".into()], 256),
        Err(TargetError::Unresolved { .. })
    ));
    assert_eq!(
        targets::resolve(&[" ".into()], 256).expect_err("empty"),
        TargetError::Empty
    );
    let e: Error = TargetError::Empty.into();
    assert!(e.is_input());
}

/// The hosts of a block are made by position and scanned in order.
#[test]
fn a_block_is_scanned_host_by_host() {
    let ips = [Ipv4Addr::new(127, 71, 4, 1), Ipv4Addr::new(127, 71, 4, 2)];
    // One port number free on both addresses: listen on it on .2 only.
    let port = loop {
        let (l, port) = listen(ips[1]);
        if TcpListener::bind((ips[0], port)).is_ok() {
            serve(l, |_| {});
            break port;
        }
    };
    let hosts = targets::resolve(&["127.71.4.0/30".into()], 4).expect("block");
    let mut cfg = ScanConfig::tcp(hosts, vec![port]);
    cfg.probe = None;
    let r = scanner::run(&cfg, &NoProgress).expect("scan");
    let got: Vec<(SocketAddr, PortState)> = r
        .hosts()
        .map(|h| (SocketAddr::new(h.host.addr, port), h.ports[0].state))
        .collect();
    assert_eq!(got.len(), 2, "a /30 holds two hosts: {got:?}");
    assert_eq!(got[0].0.ip(), ips[0]);
    assert_eq!(
        got[1],
        (SocketAddr::new(ips[1].into(), port), PortState::Open)
    );
    assert!(
        got[0].1 == PortState::Closed || TcpListener::bind(got[0].0).is_err(),
        "{got:?}"
    );
    assert_eq!(r.host_count(), 2);
}
