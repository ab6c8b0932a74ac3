//! What answers on an open TCP port: read what the service says first, and
//! if it stays silent, send one safe request at a time (HTTP `HEAD /`, a TLS
//! ClientHello, Redis `PING`) until one is understood. Asynchronous (tokio);
//! every step has a deadline. Naming the protocol from the bytes is
//! `identify`'s job; this module only talks.

use std::net::SocketAddr;
use std::time::Duration;

use portscope::Text;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

use super::identify::{self, Identity};
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

/// The probes, in the order tried for a port with no better guess.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// `HEAD / HTTP/1.0` with a Host header.
    HttpHead,
    /// A TLS handshake; then `HEAD /` inside it, to tell HTTPS from other TLS.
    Tls,
    /// Redis inline `PING`.
    RedisPing,
}

impl Probe {
    /// Name shown in the output.
    pub const fn name(self) -> &'static str {
        match self {
            Probe::HttpHead => "http-head",
            Probe::Tls => "tls-hello",
            Probe::RedisPing => "redis-ping",
        }
    }
}

/// Ports where TLS is spoken from the first byte, so the TLS probe goes first.
const TLS_PORTS: &[u16] = &[
    443, 465, 563, 585, 636, 853, 989, 990, 992, 993, 994, 995, 1443, 2376, 3269, 4443, 5061, 5223,
    5671, 5986, 6443, 6697, 7443, 8443, 8883, 9443, 10443,
];

/// The probes for a port, likeliest first.
pub fn order_for(port: u16) -> [Probe; 3] {
    if TLS_PORTS.contains(&port) {
        [Probe::Tls, Probe::HttpHead, Probe::RedisPing]
    } else if matches!(port, 6379 | 6380 | 16379 | 26379) {
        [Probe::RedisPing, Probe::HttpHead, Probe::Tls]
    } else {
        [Probe::HttpHead, Probe::Tls, Probe::RedisPing]
    }
}

/// What was learnt about one open port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Finding {
    /// The protocol the service speaks, when recognised.
    pub protocol: Option<&'static str>,
    /// Software and version the service gave away.
    pub version: Option<Text>,
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
        if id.version.is_some() {
            self.version = id.version;
        }
    }
}

/// Bytes read at most from a greeting or an answer.
const READ_MAX: usize = 4096;

/// Probes one open TCP port. `server_name` is the host name the user gave,
/// sent as TLS SNI and HTTP Host. Runs on a tokio runtime with I/O and time
/// enabled ([`scanner::run`](crate::scanner::run) makes its own).
pub async fn tcp(addr: SocketAddr, server_name: Option<&str>, cfg: &ProbeConfig) -> Finding {
    let mut f = Finding::default();
    let Some(mut stream) = connect(addr, cfg).await else {
        return f;
    };
    let greeting = read_reply(&mut stream, cfg.banner_wait, false).await;
    drop_reset(stream);
    if !greeting.is_empty() {
        f.banner = Some(identify::printable(&greeting, 256));
        if let Some(id) = identify::from_tcp(&greeting) {
            f.identified(id);
        }
        return f;
    }
    for probe in order_for(addr.port()) {
        let step = match probe {
            Probe::HttpHead => http_head(addr, server_name, cfg).await,
            Probe::RedisPing => redis_ping(addr, cfg).await,
            Probe::Tls => tls_probe(addr, server_name, cfg).await,
        };
        let Some(step) = step else { continue };
        if f.response.is_none() || step.protocol.is_some() {
            f.response = step.response;
        }
        if let Some(t) = step.tls {
            f.tls = Some(t);
        }
        // A TLS alert in answer to plain text: the TLS probe will say more.
        if let Some(p) = step.protocol
            && !(p == "tls" && probe != Probe::Tls)
        {
            f.protocol = Some(p);
            f.version = step.version;
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

/// Reads until the peer pauses, closes, the buffer fills or the deadline
/// passes. `whole_head` keeps reading until an HTTP header block ends.
async fn read_reply<R: AsyncRead + Unpin>(r: &mut R, wait: Duration, whole_head: bool) -> Vec<u8> {
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; READ_MAX];
    let mut len = 0;
    while len < READ_MAX {
        let Some(rest) = buf.get_mut(len..) else {
            break;
        };
        // After the first bytes, a short pause ends the reply.
        let until = if len == 0 {
            deadline
        } else {
            deadline.min(Instant::now() + Duration::from_millis(100))
        };
        match timeout_at(until, r.read(rest)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => len += n,
        }
        let got = buf.get(..len).unwrap_or(&[]);
        let complete = if whole_head {
            got.windows(4).any(|w| w == b"\r\n\r\n")
        } else {
            got.contains(&b'\n')
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
    protocol: Option<&'static str>,
    version: Option<Text>,
    response: Option<String>,
    tls: Option<TlsInfo>,
}

impl Step {
    fn from_reply(reply: &[u8]) -> Option<Step> {
        if reply.is_empty() {
            return None;
        }
        let id = identify::from_tcp(reply);
        let first = reply
            .iter()
            .position(|&b| b == b'\n')
            .map_or(reply, |i| reply.get(..i).unwrap_or(reply));
        Some(Step {
            protocol: id.as_ref().map(|i| i.protocol),
            version: id.and_then(|i| i.version),
            response: Some(identify::printable(first, 200)),
            tls: None,
        })
    }
}

fn head_request(addr: SocketAddr, server_name: Option<&str>) -> String {
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
    Step::from_reply(&reply)
}

async fn redis_ping(addr: SocketAddr, cfg: &ProbeConfig) -> Option<Step> {
    let mut s = connect(addr, cfg).await?;
    timeout(cfg.reply_timeout, s.write_all(b"PING\r\n"))
        .await
        .ok()?
        .ok()?;
    let reply = read_reply(&mut s, cfg.reply_timeout, false).await;
    drop_reset(s);
    let mut step = Step::from_reply(&reply)?;
    // Only a Redis-shaped answer to PING counts as Redis here.
    if step.protocol != Some("redis") {
        step.protocol = None;
    }
    Some(step)
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
                protocol: Some("tls"),
                version: None,
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
    // Inside the tunnel, HEAD / tells HTTPS from other TLS services.
    let req = head_request(addr, server_name);
    let mut step = Step {
        protocol: Some("tls"),
        version: None,
        response: None,
        tls: Some(info),
    };
    if let Ok(Ok(())) = timeout(cfg.reply_timeout, stream.write_all(req.as_bytes())).await {
        let _ = timeout(cfg.reply_timeout, stream.flush()).await;
        let reply = read_reply(&mut stream, cfg.reply_timeout, true).await;
        if let Some(inner) = Step::from_reply(&reply) {
            step.response = inner.response;
            if inner.protocol == Some("http") {
                step.protocol = Some("https");
                step.version = inner.version;
            }
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
        assert_eq!(order_for(6379)[0], Probe::RedisPing);
        assert_eq!(order_for(8080)[0], Probe::HttpHead);
        assert!(head_request("[::1]:80".parse().unwrap(), None).contains("Host: [::1]\r\n"));
    }
}
