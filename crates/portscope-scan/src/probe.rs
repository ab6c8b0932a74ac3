//! What answers on an open TCP port: read what the service says first, and
//! if that names nothing, send one safe request at a time (HTTP `HEAD /`, a
//! TLS ClientHello, Redis `INFO server`, an LDAP anonymous bind…; the list
//! is [`Probe`]) until one is understood. Asynchronous (tokio);
//! every step has a deadline. Naming the protocol from the bytes is
//! the match table's job (`matches`); this module only talks.

use std::net::SocketAddr;
use std::time::Duration;

use portscope::Text;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

use super::identify;
use super::matches::{self, Identity};
use super::tls::{self, TlsInfo};

/// Deadlines for probing one port.
#[derive(Clone, Copy, Debug)]
pub struct ProbeConfig {
    /// Connecting again to the open port.
    pub connect_timeout: Duration,
    /// How long to wait for a greeting before sending anything.
    pub banner_wait: Duration,
    /// How long to wait for the answer to a probe (TLS: the whole handshake).
    pub reply_timeout: Duration,
}

/// The probes: each a safe, read-only request (no login beyond anonymous),
/// sent on its own connection to a port that said nothing unasked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Probe {
    /// `HEAD / HTTP/1.0` with a Host header.
    HttpHead,
    /// A TLS handshake; then, inside it, the greeting or a probe of what
    /// speaks there (HTTP, IMAP, POP3, SMTP, LDAP).
    Tls,
    /// Redis inline `INFO server` (the version when no password is set).
    RedisInfo,
    /// memcached text `version`.
    MemcachedVersion,
    /// A DNS `version.bind` CHAOS TXT query over TCP (2-byte length first).
    DnsTcp,
    /// An LDAP anonymous bind, then a base search of the rootDSE for its
    /// vendor and object classes.
    Ldap,
    /// The PostgreSQL SSLRequest, then (answered `N`) a startup message
    /// for user `portscope`, whose error or authentication request names
    /// the server. No password is ever sent.
    Postgres,
    /// An empty request (`\r\n\r\n`) a SMUX master answers with a ClosePDU.
    Smux,
    /// An MQTT 3.1.1 CONNECT without credentials.
    Mqtt,
    /// The AMQP 0-9-1 protocol header.
    Amqp,
    /// An SMB negotiate request offering the SMB1 dialects and `SMB 2.002`.
    Smb,
    /// An RDP X.224 Connection Request asking for TLS or CredSSP.
    Rdp,
    /// A Kafka ApiVersions request (version 0).
    Kafka,
    /// A MongoDB `buildInfo` command (OP_MSG), which needs no login.
    Mongo,
    /// `GET /` (Elasticsearch and OpenSearch answer it in JSON with their
    /// version); only on their ports.
    HttpGet,
}

impl Probe {
    /// Every probe.
    pub const ALL: [Probe; 15] = [
        Probe::HttpHead,
        Probe::Tls,
        Probe::RedisInfo,
        Probe::MemcachedVersion,
        Probe::DnsTcp,
        Probe::Ldap,
        Probe::Postgres,
        Probe::Smux,
        Probe::Mqtt,
        Probe::Amqp,
        Probe::Smb,
        Probe::Rdp,
        Probe::Kafka,
        Probe::Mongo,
        Probe::HttpGet,
    ];

    /// Name shown in the output.
    pub const fn name(self) -> &'static str {
        match self {
            Probe::HttpHead => "http-head",
            Probe::Tls => "tls-hello",
            Probe::RedisInfo => "redis-info",
            Probe::MemcachedVersion => "memcached-version",
            Probe::DnsTcp => "dns-tcp-query",
            Probe::Ldap => "ldap-rootdse",
            Probe::Postgres => "postgres-startup",
            Probe::Smux => "smux-empty",
            Probe::Mqtt => "mqtt-connect",
            Probe::Amqp => "amqp-header",
            Probe::Smb => "smb-negotiate",
            Probe::Rdp => "rdp-x224",
            Probe::Kafka => "kafka-apiversions",
            Probe::Mongo => "mongodb-buildinfo",
            Probe::HttpGet => "http-get",
        }
    }

    /// The request bytes (HTTP's are made per host: [`head_request`]).
    pub fn request(self) -> Vec<u8> {
        match self {
            Probe::HttpHead | Probe::Tls => Vec::new(),
            Probe::RedisInfo => b"INFO server\r\n".to_vec(),
            Probe::MemcachedVersion => b"version\r\n".to_vec(),
            Probe::DnsTcp => {
                let q = crate::matches::dns_version_query(crate::matches::DNS_ID);
                let mut m = u16::try_from(q.len()).unwrap_or(0).to_be_bytes().to_vec();
                m.extend_from_slice(&q);
                m
            }
            Probe::Ldap => ldap_request(),
            Probe::Postgres => vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f],
            Probe::Smux => b"\r\n\r\n".to_vec(),
            Probe::Mqtt => {
                let mut m = vec![0x10, 0, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 30, 0, 9];
                m.extend_from_slice(b"portscope");
                m[1] = u8::try_from(m.len() - 2).unwrap_or(0);
                m
            }
            Probe::Amqp => b"AMQP\x00\x00\x09\x01".to_vec(),
            Probe::Smb => smb_negotiate(),
            Probe::Rdp => {
                b"\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03\x00\x00\x00"
                    .to_vec()
            }
            Probe::Kafka => {
                let mut body = vec![0, 18, 0, 0]; // ApiVersions, version 0
                body.extend_from_slice(&crate::matches::KAFKA_CORRELATION.to_be_bytes());
                body.extend_from_slice(&[0, 9]);
                body.extend_from_slice(b"portscope");
                let mut m = u32::try_from(body.len())
                    .unwrap_or(0)
                    .to_be_bytes()
                    .to_vec();
                m.extend_from_slice(&body);
                m
            }
            Probe::Mongo => mongo_build_info(),
            Probe::HttpGet => {
                b"GET / HTTP/1.0\r\nUser-Agent: portscope\r\nAccept: application/json\r\n\r\n"
                    .to_vec()
            }
        }
    }
}

/// An anonymous simple bind (message 1), then a base-scope search of the
/// rootDSE (message 2) for objectClass, vendorName and vendorVersion.
fn ldap_request() -> Vec<u8> {
    let mut m = vec![
        0x30, 0x0c, 0x02, 0x01, 0x01, // message 1
        0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00, // bind v3, "", simple ""
    ];
    let mut attrs = Vec::new();
    for a in [&b"objectClass"[..], b"vendorName", b"vendorVersion"] {
        attrs.push(0x04);
        attrs.push(u8::try_from(a.len()).unwrap_or(0));
        attrs.extend_from_slice(a);
    }
    let mut search = vec![
        0x04, 0x00, // base ""
        0x0a, 0x01, 0x00, // scope base
        0x0a, 0x01, 0x00, // never deref
        0x02, 0x01, 0x00, // no size limit
        0x02, 0x01, 0x05, // 5 s time limit
        0x01, 0x01, 0x00, // types only: false
        0x87, 0x0b, // present filter
    ];
    search.extend_from_slice(b"objectClass");
    search.push(0x30);
    search.push(u8::try_from(attrs.len()).unwrap_or(0));
    search.extend_from_slice(&attrs);
    let mut body = vec![
        0x02,
        0x01,
        0x02,
        0x63,
        u8::try_from(search.len()).unwrap_or(0),
    ];
    body.extend_from_slice(&search);
    m.push(0x30);
    m.push(u8::try_from(body.len()).unwrap_or(0));
    m.extend_from_slice(&body);
    m
}

/// An SMB1 negotiate request in a NetBIOS session message, offering the
/// old dialects and SMB 2.002 (a server that speaks only SMB2+ answers in
/// SMB2).
fn smb_negotiate() -> Vec<u8> {
    let mut dialects = Vec::new();
    for d in ["NT LM 0.12", "SMB 2.002", "SMB 2.???"] {
        dialects.push(0x02);
        dialects.extend_from_slice(d.as_bytes());
        dialects.push(0);
    }
    let mut smb = b"\xffSMB\x72".to_vec();
    smb.extend_from_slice(&[0, 0, 0, 0]); // status
    smb.push(0x18); // flags: canonical paths, case-insensitive
    smb.extend_from_slice(&[0x01, 0x28]); // flags2: unicode, NT status, long names
    smb.extend_from_slice(&[0u8; 12]); // pid high, signature, reserved
    smb.extend_from_slice(&[0, 0, 0x2f, 0x4b, 0, 0, 0xc5, 0x5e]); // tid, pid, uid, mid
    smb.push(0); // word count
    smb.extend_from_slice(&u16::try_from(dialects.len()).unwrap_or(0).to_le_bytes());
    smb.extend_from_slice(&dialects);
    let len = u32::try_from(smb.len()).unwrap_or(0).to_be_bytes();
    let mut m = vec![0, len[1], len[2], len[3]];
    m.extend_from_slice(&smb);
    m
}

/// A MongoDB OP_MSG holding `{buildInfo: 1, $db: "admin"}`.
fn mongo_build_info() -> Vec<u8> {
    let mut doc = Vec::new();
    doc.push(0x10);
    doc.extend_from_slice(b"buildInfo\0");
    doc.extend_from_slice(&1i32.to_le_bytes());
    doc.push(0x02);
    doc.extend_from_slice(b"$db\0");
    doc.extend_from_slice(&6i32.to_le_bytes());
    doc.extend_from_slice(b"admin\0");
    doc.push(0);
    let doc_len = i32::try_from(doc.len() + 4).unwrap_or(0);
    let mut body = Vec::new();
    body.extend_from_slice(&crate::matches::MONGO_REQUEST_ID.to_le_bytes());
    body.extend_from_slice(&0i32.to_le_bytes()); // responseTo
    body.extend_from_slice(&2013i32.to_le_bytes()); // OP_MSG
    body.extend_from_slice(&0u32.to_le_bytes()); // flags
    body.push(0); // section kind 0: the body
    body.extend_from_slice(&doc_len.to_le_bytes());
    body.extend_from_slice(&doc);
    let len = i32::try_from(body.len() + 4).unwrap_or(0);
    let mut m = len.to_le_bytes().to_vec();
    m.extend_from_slice(&body);
    m
}

/// The PostgreSQL startup message (protocol 3.0) for user and database
/// `portscope`.
fn postgres_startup() -> Vec<u8> {
    let mut body = vec![0, 3, 0, 0];
    for kv in [
        &b"user"[..],
        b"portscope",
        b"database",
        b"portscope",
        b"application_name",
        b"portscope",
    ] {
        body.extend_from_slice(kv);
        body.push(0);
    }
    body.push(0);
    let len = u32::try_from(body.len() + 4).unwrap_or(0);
    let mut m = len.to_be_bytes().to_vec();
    m.extend_from_slice(&body);
    m
}

/// Ports where TLS is spoken from the first byte, so the TLS probe goes first.
const TLS_PORTS: &[u16] = &[
    443, 465, 563, 585, 636, 853, 989, 990, 992, 993, 994, 995, 1443, 2376, 3269, 4443, 5061, 5223,
    5671, 5986, 6443, 6697, 7443, 8443, 8883, 9443, 10443,
];

/// Ports where, inside TLS, LDAP is spoken.
const LDAPS_PORTS: &[u16] = &[636, 3269];

/// Every probe, in the order tried where the port hints at none.
const FALLBACK: &[Probe] = &[
    Probe::HttpHead,
    Probe::Tls,
    Probe::RedisInfo,
    Probe::MemcachedVersion,
    Probe::Postgres,
    Probe::Ldap,
    Probe::DnsTcp,
    Probe::Mqtt,
    Probe::Amqp,
    Probe::Smux,
    Probe::Mongo,
    Probe::Kafka,
    Probe::Smb,
    Probe::Rdp,
];

/// The probes for a port, likeliest first: what the match table hints at
/// for the port, TLS on TLS ports, then the rest.
pub fn order_for(port: u16) -> Vec<Probe> {
    let mut order: Vec<Probe> = Vec::with_capacity(FALLBACK.len());
    if TLS_PORTS.contains(&port) {
        order.push(Probe::Tls);
    }
    for p in crate::matches::probes_for_port(port).chain(FALLBACK.iter().copied()) {
        if !order.contains(&p) {
            order.push(p);
        }
    }
    order
}

/// What was learnt about one open port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Finding {
    /// The protocol the service speaks, when recognised.
    pub protocol: Option<&'static str>,
    /// The software, cleaned of greeting text (`vsftpd`, `OpenSSH`).
    pub product: Option<Text>,
    /// The software's version (`3.0.3`).
    pub version: Option<Text>,
    /// What else the reply told: a protocol version, a distribution tag.
    pub info: Option<Text>,
    /// What the service said first, unasked, as printable text.
    pub banner: Option<String>,
    /// The probe whose answer identified the service.
    pub probe: Option<&'static str>,
    /// The first line of that answer, as printable text.
    pub response: Option<String>,
    /// What the TLS handshake showed.
    pub tls: Option<TlsInfo>,
}

impl Finding {
    fn identified(&mut self, id: Identity) {
        self.protocol = Some(id.protocol);
        self.product = id.product;
        self.version = id.version;
        self.info = id.info;
    }
}

/// How long a port where the client speaks first (its match-table rows
/// read a probe's reply, or TLS is spoken from the first byte) is given to
/// greet anyway: a server that greets does so at once, and the probe that
/// names the service should not wait the whole greeting time.
const CLIENT_FIRST_WAIT: Duration = Duration::from_millis(250);

/// Web ports: HTTP's client speaks first too.
const HTTP_PORTS: &[u16] = &[80, 8000, 8008, 8080, 8888];

/// TLS ports where the service inside greets first (mail, news, FTP, IRC, XMPP).
const GREETING_TLS_PORTS: &[u16] = &[465, 563, 585, 990, 992, 993, 994, 995, 5223, 6697];

fn greeting_wait(port: u16, cfg: &ProbeConfig) -> Duration {
    let client_first = TLS_PORTS.contains(&port)
        || HTTP_PORTS.contains(&port)
        || crate::matches::probes_for_port(port).next().is_some();
    if client_first {
        cfg.banner_wait.min(CLIENT_FIRST_WAIT)
    } else {
        cfg.banner_wait
    }
}

/// Probes in a row that may time out unanswered before the port is left
/// alone.
const MAX_SILENT: u32 = 2;

/// Bytes read at most from a greeting or an answer.
const READ_MAX: usize = 4096;

/// Probes one open TCP port. `server_name` is the host name the user gave,
/// sent as TLS SNI and HTTP Host. Runs on a tokio runtime with I/O and time
/// enabled ([`scanner::run`](crate::scanner::run) makes its own).
///
/// The greeting decides when it names the service; otherwise the probes of
/// [`order_for`] are sent one at a time until a reply is recognised, or
/// until two in a row time out without a byte or a close (a service that
/// swallows requests is not asked a dozen times).
pub async fn tcp(addr: SocketAddr, server_name: Option<&str>, cfg: &ProbeConfig) -> Finding {
    let mut f = Finding::default();
    let Some(mut stream) = connect(addr, cfg).await else {
        return f;
    };
    let greeting = read_reply(&mut stream, greeting_wait(addr.port(), cfg), false).await;
    drop_reset(stream);
    if !greeting.is_empty() {
        f.banner = Some(identify::printable(&greeting, 256));
        if let Some(id) = matches::identify(&greeting, None) {
            f.identified(id);
            return f;
        }
        // A greeting nothing recognises (memcached, smux and PostgreSQL
        // say nothing; others say something odd): the probes may still tell.
    }
    // Probes that got nothing back, not even a close, until their deadline.
    let mut silent = 0;
    for probe in order_for(addr.port()) {
        let started = Instant::now();
        let step = match probe {
            Probe::HttpHead => http_head(addr, server_name, cfg).await,
            Probe::Tls => tls_probe(addr, server_name, cfg).await,
            Probe::Postgres => postgres(addr, cfg).await,
            other => ask(addr, other, cfg).await,
        };
        let Some(step) = step else {
            // A service that swallows two requests without a word (or whose
            // accept queue is full) will not answer the rest: stop asking,
            // rather than leave a dozen connections in its queue.
            if started.elapsed() >= cfg.reply_timeout.min(cfg.connect_timeout) {
                silent += 1;
                if silent >= MAX_SILENT {
                    break;
                }
            } else {
                silent = 0;
            }
            continue;
        };
        silent = 0;
        if f.response.is_none() || step.id.is_some() {
            f.response = step.response;
        }
        if let Some(t) = step.tls {
            f.tls = Some(t);
        }
        // A TLS alert in answer to plain text: the TLS probe will say more.
        if let Some(id) = step.id
            && !(id.protocol == "tls" && probe != Probe::Tls)
        {
            f.identified(id);
            f.probe = Some(probe.name());
            return f;
        }
    }
    f
}

async fn connect(addr: SocketAddr, cfg: &ProbeConfig) -> Option<TcpStream> {
    let s = timeout(cfg.connect_timeout, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let _ = s.set_nodelay(true);
    Some(s)
}

/// Closes with a reset: a scan leaves no TIME_WAIT behind.
fn drop_reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// How a reply is known to be whole.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    /// A line break.
    Line,
    /// The end of an HTTP header block.
    Head,
    /// A pause (binary replies: read what comes in one go).
    Pause,
}

/// Reads until the peer pauses, closes, the buffer fills, the reply is
/// whole (`until`) or the deadline passes.
async fn read_reply<R: AsyncRead + Unpin>(r: &mut R, wait: Duration, whole_head: bool) -> Vec<u8> {
    read_until(r, wait, if whole_head { Until::Head } else { Until::Line }).await
}

async fn read_until<R: AsyncRead + Unpin>(r: &mut R, wait: Duration, until: Until) -> Vec<u8> {
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; READ_MAX];
    let mut len = 0;
    while len < READ_MAX {
        let Some(rest) = buf.get_mut(len..) else {
            break;
        };
        // After the first bytes, a short pause ends the reply.
        let at = if len == 0 {
            deadline
        } else {
            deadline.min(Instant::now() + Duration::from_millis(100))
        };
        match timeout_at(at, r.read(rest)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => len += n,
        }
        let got = buf.get(..len).unwrap_or(&[]);
        let complete = match until {
            Until::Head => got.windows(4).any(|w| w == b"\r\n\r\n"),
            Until::Line => got.contains(&b'\n'),
            Until::Pause => false,
        };
        if complete {
            break;
        }
    }
    buf.truncate(len);
    buf
}

/// One probe's outcome.
struct Step {
    id: Option<Identity>,
    response: Option<String>,
    tls: Option<TlsInfo>,
}

impl Step {
    fn from_reply(reply: &[u8], probe: Option<Probe>) -> Option<Step> {
        if reply.is_empty() {
            return None;
        }
        let first = reply
            .iter()
            .position(|&b| b == b'\n')
            .map_or(reply, |i| reply.get(..i).unwrap_or(reply));
        Some(Step {
            id: matches::identify(reply, probe),
            response: Some(identify::printable(first, 200)),
            tls: None,
        })
    }
}

/// The HTTP `HEAD /` request for `addr`, with `server_name` as Host.
pub fn head_request(addr: SocketAddr, server_name: Option<&str>) -> String {
    let host = match (server_name, addr) {
        (Some(n), _) => n.to_string(),
        (None, SocketAddr::V4(a)) => a.ip().to_string(),
        (None, SocketAddr::V6(a)) => format!("[{}]", a.ip()),
    };
    format!("HEAD / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: portscope\r\nAccept: */*\r\n\r\n")
}

async fn http_head(addr: SocketAddr, server_name: Option<&str>, cfg: &ProbeConfig) -> Option<Step> {
    let mut s = connect(addr, cfg).await?;
    let req = head_request(addr, server_name);
    timeout(cfg.reply_timeout, s.write_all(req.as_bytes()))
        .await
        .ok()?
        .ok()?;
    let reply = read_reply(&mut s, cfg.reply_timeout, true).await;
    drop_reset(s);
    Step::from_reply(&reply, Some(Probe::HttpHead))
}

/// How the reply to a probe is known to be whole.
fn until_for(probe: Probe) -> Until {
    match probe {
        Probe::RedisInfo | Probe::HttpGet => Until::Head,
        Probe::MemcachedVersion => Until::Line,
        _ => Until::Pause,
    }
}

/// Sends `probe`'s request on a new connection and reads the reply.
async fn ask(addr: SocketAddr, probe: Probe, cfg: &ProbeConfig) -> Option<Step> {
    let mut s = connect(addr, cfg).await?;
    let reply = exchange(&mut s, probe, cfg).await?;
    drop_reset(s);
    Step::from_reply(&reply, Some(probe))
}

async fn exchange<S: AsyncRead + AsyncWriteExt + Unpin>(
    s: &mut S,
    probe: Probe,
    cfg: &ProbeConfig,
) -> Option<Vec<u8>> {
    timeout(cfg.reply_timeout, s.write_all(&probe.request()))
        .await
        .ok()?
        .ok()?;
    let _ = timeout(cfg.reply_timeout, s.flush()).await;
    Some(read_until(s, cfg.reply_timeout, until_for(probe)).await)
}

/// The SSLRequest; after `N`, the startup message on the same connection.
/// The reply handed to the match table is the two answers in a row.
async fn postgres(addr: SocketAddr, cfg: &ProbeConfig) -> Option<Step> {
    let mut s = connect(addr, cfg).await?;
    let mut reply = exchange(&mut s, Probe::Postgres, cfg).await?;
    let startup = postgres_startup();
    if reply == b"N" {
        if let Ok(Ok(())) = timeout(cfg.reply_timeout, s.write_all(&startup)).await {
            reply.extend(read_until(&mut s, cfg.reply_timeout, Until::Pause).await);
        }
    } else if reply == b"S" {
        // The server wants TLS: the startup message goes inside it.
        let config = tls::client_config()?;
        let name = ServerName::IpAddress(addr.ip().into());
        let connector = tokio_rustls::TlsConnector::from(config);
        if let Ok(Ok(mut t)) = timeout(cfg.reply_timeout, connector.connect(name, s)).await {
            if let Ok(Ok(())) = timeout(cfg.reply_timeout, t.write_all(&startup)).await {
                let _ = timeout(cfg.reply_timeout, t.flush()).await;
                reply.extend(read_until(&mut t, cfg.reply_timeout, Until::Pause).await);
            }
            let (tcp, _) = t.into_inner();
            drop_reset(tcp);
        }
        return Step::from_reply(&reply, Some(Probe::Postgres));
    }
    drop_reset(s);
    Step::from_reply(&reply, Some(Probe::Postgres))
}

/// The protocol name of a service spoken inside TLS.
fn over_tls(inner: &'static str) -> &'static str {
    match inner {
        "http" => "https",
        "imap" => "imaps",
        "pop3" => "pop3s",
        "smtp" => "smtps",
        "ldap" => "ldaps",
        "ftp" => "ftps",
        "nntp" => "nntps",
        "mqtt" => "mqtts",
        "amqp" => "amqps",
        "redis" => "rediss",
        "postgresql" => "postgresql",
        _ => "tls",
    }
}

async fn tls_probe(addr: SocketAddr, server_name: Option<&str>, cfg: &ProbeConfig) -> Option<Step> {
    let config = tls::client_config()?;
    let name = server_name
        .and_then(|n| ServerName::try_from(n.to_string()).ok())
        .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()));
    let tcp = connect(addr, cfg).await?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let mut stream = match timeout(cfg.reply_timeout, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => s,
        // The server answered in TLS but we could not agree (an old version,
        // a client certificate demanded): still a TLS service.
        Ok(Err(e)) if is_tls_alert(&e) => {
            return Some(Step {
                id: Some(Identity::bare("tls")),
                response: Some(identify::printable(
                    format!("handshake failed: {e}").as_bytes(),
                    200,
                )),
                tls: None,
            });
        }
        _ => return None,
    };
    let mut info = TlsInfo::default();
    {
        let (_, conn) = stream.get_ref();
        info.version = conn.protocol_version().map(tls::version_name);
        info.cipher = conn
            .negotiated_cipher_suite()
            .and_then(|c| c.suite().as_str().map(str::to_string));
        if let Some(der) = conn.peer_certificates().and_then(|c| c.first()) {
            tls::read_certificate(der, &mut info);
        }
    }
    let mut step = Step {
        id: Some(Identity::bare("tls")),
        response: None,
        tls: Some(info),
    };
    // Inside the tunnel: a greeting (IMAP, POP3, SMTP, FTP say hello
    // first), else LDAP on its ports, else HEAD / for HTTPS.
    let wait = if GREETING_TLS_PORTS.contains(&addr.port()) {
        cfg.banner_wait.min(Duration::from_millis(600))
    } else {
        cfg.banner_wait.min(CLIENT_FIRST_WAIT)
    };
    let mut reply = read_reply(&mut stream, wait, false).await;
    let mut asked = None;
    if reply.is_empty() {
        let probe = if LDAPS_PORTS.contains(&addr.port()) {
            Probe::Ldap
        } else {
            Probe::HttpHead
        };
        asked = Some(probe);
        let req = match probe {
            Probe::HttpHead => head_request(addr, server_name).into_bytes(),
            other => other.request(),
        };
        if let Ok(Ok(())) = timeout(cfg.reply_timeout, stream.write_all(&req)).await {
            let _ = timeout(cfg.reply_timeout, stream.flush()).await;
            let until = if probe == Probe::HttpHead {
                Until::Head
            } else {
                Until::Pause
            };
            reply = read_until(&mut stream, cfg.reply_timeout, until).await;
        }
    }
    if let Some(inner) = Step::from_reply(&reply, asked) {
        step.response = inner.response;
        if let Some(mut id) = inner.id
            && id.protocol != "tls"
        {
            id.protocol = over_tls(id.protocol);
            step.id = Some(id);
        }
    }
    let (tcp, _) = stream.into_inner();
    drop_reset(tcp);
    Some(step)
}

fn is_tls_alert(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|r| {
            matches!(
                r,
                rustls::Error::AlertReceived(_) | rustls::Error::PeerIncompatible(_)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_order_follows_the_port() {
        assert_eq!(order_for(443)[0], Probe::Tls);
        assert_eq!(order_for(636)[..2], [Probe::Tls, Probe::Ldap]);
        assert_eq!(order_for(6379)[0], Probe::RedisInfo);
        assert_eq!(order_for(5432)[0], Probe::Postgres);
        assert_eq!(order_for(8080).len(), FALLBACK.len());
        let cfg = ProbeConfig {
            connect_timeout: Duration::from_secs(1),
            banner_wait: Duration::from_millis(1500),
            reply_timeout: Duration::from_secs(1),
        };
        assert_eq!(greeting_wait(5432, &cfg), CLIENT_FIRST_WAIT);
        assert_eq!(greeting_wait(443, &cfg), CLIENT_FIRST_WAIT);
        assert_eq!(greeting_wait(21, &cfg), cfg.banner_wait);
        assert_eq!(greeting_wait(40000, &cfg), cfg.banner_wait);
        assert_eq!(order_for(8080)[0], Probe::HttpHead);
        assert!(head_request("[::1]:80".parse().unwrap(), None).contains("Host: [::1]\r\n"));
    }
}
