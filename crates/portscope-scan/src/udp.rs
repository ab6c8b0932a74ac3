//! UDP probes: a valid request for a well-known UDP protocol (DNS query,
//! NTP client packet, SNMP get, SSDP search, memcached version) and whether
//! and how the port answers. UDP has no handshake, so a port that answers
//! nothing may be open or filtered; one that sends back ICMP port
//! unreachable is closed. Asynchronous (tokio). Not here: TCP.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

use super::PortState;
use super::identify::printable;
use super::matches::Found;

/// The UDP probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpProbe {
    /// A DNS `version.bind` CHAOS TXT query (any DNS server answers it,
    /// if only to refuse; many name their software).
    Dns,
    /// An NTP version 4 client-mode packet.
    Ntp,
    /// An SNMP v1 get of sysDescr.0 with community `public`.
    Snmp,
    /// An SSDP `M-SEARCH` for all devices.
    Ssdp,
    /// A memcached `version` request in the UDP frame.
    Memcached,
    /// A SIP `OPTIONS` request.
    Sip,
}

impl UdpProbe {
    /// Protocol name reported when the probe is answered.
    pub const fn protocol(self) -> &'static str {
        match self {
            UdpProbe::Dns => "dns",
            UdpProbe::Ntp => "ntp",
            UdpProbe::Snmp => "snmp",
            UdpProbe::Ssdp => "ssdp",
            UdpProbe::Memcached => "memcached",
            UdpProbe::Sip => "sip",
        }
    }

    /// The probe's name in the output.
    pub const fn name(self) -> &'static str {
        match self {
            UdpProbe::Dns => "dns-query",
            UdpProbe::Ntp => "ntp-client",
            UdpProbe::Snmp => "snmp-get",
            UdpProbe::Ssdp => "ssdp-search",
            UdpProbe::Memcached => "memcached-version",
            UdpProbe::Sip => "sip-options",
        }
    }

    /// The request bytes; `id` goes where the protocol has a request id.
    pub fn request(self, id: u16) -> Vec<u8> {
        let [hi, lo] = id.to_be_bytes();
        match self {
            UdpProbe::Dns => crate::matches::dns_version_query(id),
            UdpProbe::Ntp => {
                let mut p = vec![0u8; 48];
                p[0] = 0x23; // leap 0, version 4, mode 3 (client)
                p
            }
            UdpProbe::Snmp => {
                let mut p = vec![
                    0x30, 0x29, // message
                    0x02, 0x01, 0x00, // version 1
                    0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', // community
                    0xa0, 0x1c, // GetRequest
                    0x02, 0x04, 0x00, 0x00, hi, lo, // request id
                    0x02, 0x01, 0x00, 0x02, 0x01, 0x00, // error status, index
                    0x30, 0x0e, 0x30, 0x0c, // variable bindings
                    0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, // sysDescr.0
                    0x05, 0x00, // NULL
                ];
                p.shrink_to_fit();
                p
            }
            UdpProbe::Ssdp => b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\
MAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n"
                .to_vec(),
            UdpProbe::Memcached => {
                let mut p = vec![hi, lo, 0, 0, 0, 1, 0, 0];
                p.extend_from_slice(b"version\r\n");
                p
            }
            UdpProbe::Sip => format!(
                "OPTIONS sip:portscope@localhost SIP/2.0\r\n\
Via: SIP/2.0/UDP localhost;branch=z9hG4bK{id:04x};rport\r\n\
From: <sip:portscope@localhost>;tag={id:04x}\r\n\
To: <sip:portscope@localhost>\r\nCall-ID: portscope-{id:04x}\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 0\r\nContent-Length: 0\r\n\r\n"
            )
            .into_bytes(),
        }
    }

    /// Whether `reply` answers `self.request(id)`, and what it gives away.
    pub fn check(self, id: u16, reply: &[u8]) -> Option<Found> {
        match self {
            UdpProbe::Dns => crate::matches::dns_response(reply, id),
            UdpProbe::Ntp => ntp(reply),
            UdpProbe::Snmp => snmp(reply).map(|descr| Found {
                info: descr,
                ..Found::default()
            }),
            UdpProbe::Ssdp => (reply.starts_with(b"HTTP/1.1 200")
                && crate::matches::header(reply, "st").is_some())
            .then(|| Found {
                info: crate::matches::header(reply, "server"),
                ..Found::default()
            }),
            UdpProbe::Memcached => {
                // The UDP frame: request id echoed, sequence 0, count >= 1.
                let h = reply.get(..8)?;
                if h[..2] != id.to_be_bytes() || h[2..4] != [0, 0] || h[4..6] == [0, 0] {
                    return None;
                }
                let body = reply.get(8..)?;
                let v = body.strip_prefix(b"VERSION ")?;
                let v = std::str::from_utf8(v).ok()?.trim_end();
                (!v.is_empty()
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-_+".contains(&b)))
                .then(|| Found {
                    product: Some("memcached".into()),
                    version: Some(v.to_string()),
                    ..Found::default()
                })
            }
            UdpProbe::Sip => sip(reply, id),
        }
    }
}

/// An NTP reply to a client packet: a plausible header, not just 48 bytes.
/// Leap indicator and stratum agree (3 = unsynchronised only with stratum
/// 0 or 16), version 1-4, mode 4 (server) or 5 (broadcast), stratum 0-16,
/// poll 0-17, precision between 2^-32 and 1 s, and the originate timestamp
/// echoes ours (zero: we send no transmit time) unless the server is
/// unsynchronised.
fn ntp(r: &[u8]) -> Option<Found> {
    if r.len() < 48 || r.len() > 1024 {
        return None;
    }
    let leap = r[0] >> 6;
    let vn = (r[0] >> 3) & 0x07;
    let mode = r[0] & 0x07;
    let stratum = r[1];
    let poll = r[2];
    let precision = r[3] as i8;
    let origin = r.get(24..32)?;
    let transmit = r.get(40..48)?;
    let ok = (1..=4).contains(&vn)
        && matches!(mode, 4 | 5)
        && stratum <= 16
        && poll <= 17
        && (-32..=0).contains(&precision)
        && (leap != 3 || stratum == 0 || stratum == 16)
        && origin.iter().all(|&b| b == 0)
        && (transmit.iter().any(|&b| b != 0) || stratum == 0 || stratum == 16);
    ok.then(|| Found {
        info: Some(format!("NTPv{vn} stratum {stratum}")),
        ..Found::default()
    })
}

/// An SNMP response: a SEQUENCE holding version, community and a
/// GetResponse PDU; sysDescr's value when there is one.
fn snmp(r: &[u8]) -> Option<Option<String>> {
    if r.first() != Some(&0x30) || r.len() < 12 {
        return None;
    }
    let (len, i) = match r.get(1)? {
        &l if l < 0x80 => (usize::from(l), 2),
        0x81 => (usize::from(*r.get(2)?), 3),
        0x82 => (usize::from(u16::from_be_bytes([*r.get(2)?, *r.get(3)?])), 4),
        _ => return None,
    };
    if i + len != r.len() || r.get(i..i + 2)? != [0x02, 0x01] || *r.get(i + 2)? > 3 {
        return None;
    }
    let c = i + 3;
    if *r.get(c)? != 0x04 {
        return None;
    }
    let clen = usize::from(*r.get(c + 1)?);
    // GetResponse [2]
    if *r.get(c + 2 + clen)? != 0xa2 {
        return None;
    }
    Some(snmp_string(r))
}

/// A SIP response to our OPTIONS: status line SIP/2.0 and our Call-ID.
fn sip(r: &[u8], id: u16) -> Option<Found> {
    if !r.starts_with(b"SIP/2.0 ") {
        return None;
    }
    let call = crate::matches::header(r, "call-id")?;
    if call != format!("portscope-{id:04x}") {
        return None;
    }
    let ua =
        crate::matches::header(r, "server").or_else(|| crate::matches::header(r, "user-agent"));
    Some(Found {
        info: ua,
        ..Found::default()
    })
}

/// The last OCTET STRING of an SNMP reply: sysDescr's value.
fn snmp_string(reply: &[u8]) -> Option<String> {
    let mut i = reply.len().saturating_sub(2);
    // Search backwards for a short OCTET STRING that runs to the end.
    while i > 0 {
        let len = reply.get(i + 1).map(|&l| usize::from(l));
        if reply.get(i) == Some(&0x04) && len == Some(reply.len() - i - 2) {
            return Some(printable(reply.get(i + 2..)?, 120));
        }
        i -= 1;
    }
    None
}

/// The probes for a UDP port: the one its well-known service speaks, or
/// all of the request-response ones when the port has no known service.
pub fn probes_for(port: u16) -> Vec<UdpProbe> {
    match port {
        53 | 5353 | 5355 => vec![UdpProbe::Dns],
        123 => vec![UdpProbe::Ntp],
        161 | 162 => vec![UdpProbe::Snmp],
        1900 => vec![UdpProbe::Ssdp],
        11211 => vec![UdpProbe::Memcached],
        5060 | 5061 => vec![UdpProbe::Sip],
        _ => vec![UdpProbe::Dns, UdpProbe::Ntp, UdpProbe::Snmp],
    }
}

/// The ports a UDP scan covers when no list is given (`portscope scan
/// --udp` without `--ports`).
pub const DEFAULT_PORTS: &[u16] = &[53, 123, 161, 1900, 5060, 5353, 11211];

/// What a UDP port did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpFinding {
    /// Open (answered), closed (port unreachable) or filtered (no answer).
    pub state: PortState,
    /// The protocol of the probe that was answered.
    pub protocol: Option<&'static str>,
    /// The probe that was answered.
    pub probe: Option<&'static str>,
    /// The software the answer named.
    pub product: Option<portscope::Text>,
    /// Its version.
    pub version: Option<portscope::Text>,
    /// What else the answer told (NTP stratum, SNMP sysDescr).
    pub info: Option<portscope::Text>,
    /// The start of the answer, printable.
    pub response: Option<String>,
}

impl UdpFinding {
    fn filtered() -> UdpFinding {
        UdpFinding {
            state: PortState::Filtered,
            protocol: None,
            probe: None,
            product: None,
            version: None,
            info: None,
            response: None,
        }
    }
}

/// Sends each probe for the port (again after `wait`, `retries` times) and
/// reports the first answer. Runs on a tokio runtime with I/O and time
/// enabled ([`scanner::run`](crate::scanner::run) makes its own).
///
/// An error only when no socket can be had for want of fds or memory: the
/// port's state is then unknown, not filtered.
pub async fn probe(addr: SocketAddr, wait: Duration, retries: u32) -> crate::Result<UdpFinding> {
    let bind: SocketAddr = match addr {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    match UdpSocket::bind(bind).await {
        Ok(sock) => Ok(ask(sock, addr, wait, retries).await),
        Err(e) if is_resource(&e) => Err(crate::Error::system("no socket for a UDP probe", e)),
        Err(_) => Ok(UdpFinding {
            ..UdpFinding::filtered()
        }),
    }
}

/// Out of fds (per process or system-wide) or kernel memory.
fn is_resource(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    e.raw_os_error().is_some_and(|n| {
        let e = Errno::from_raw_os_error(n);
        matches!(
            e,
            Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM
        )
    })
}

async fn ask(sock: UdpSocket, addr: SocketAddr, wait: Duration, retries: u32) -> UdpFinding {
    let mut f = UdpFinding::filtered();
    // Connected, so the kernel hands us the ICMP port-unreachable as an error.
    if sock.connect(addr).await.is_err() {
        return f;
    }
    let mut buf = vec![0u8; 2048];
    for (n, probe) in probes_for(addr.port()).into_iter().enumerate() {
        let id = 0x5053u16.wrapping_add(n as u16);
        let req = probe.request(id);
        for _ in 0..=retries {
            match sock.send(&req).await {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    f.state = PortState::Closed;
                    return f;
                }
                Err(_) => return f,
                Ok(_) => {}
            }
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                    Ok(Ok(len)) => {
                        let reply = buf.get(..len).unwrap_or(&[]);
                        if let Some(found) = probe.check(id, reply) {
                            let text = |s: Option<String>| {
                                s.filter(|s| !s.is_empty()).map(portscope::Text::from)
                            };
                            f.state = PortState::Open;
                            f.protocol = Some(probe.protocol());
                            f.probe = Some(probe.name());
                            f.product = text(found.product);
                            f.version = text(found.version);
                            f.info = text(found.info);
                            f.response = Some(printable(reply, 64));
                            return f;
                        }
                        // Something else answered: the port is open even if we
                        // cannot name what speaks there.
                        f.state = PortState::Open;
                        f.response = Some(printable(reply, 64));
                    }
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        f.state = PortState::Closed;
                        return f;
                    }
                    Ok(Err(_)) | Err(_) => break,
                }
            }
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_well_formed() {
        let snmp = UdpProbe::Snmp.request(7);
        assert_eq!(usize::from(snmp[1]), snmp.len() - 2);
        assert_eq!(usize::from(snmp[14]), snmp.len() - 15);
        assert_eq!(UdpProbe::Ntp.request(0).len(), 48);
        let dns = UdpProbe::Dns.request(0x1234);
        assert_eq!(&dns[..2], &[0x12, 0x34]);
    }

    #[test]
    fn replies_are_checked() {
        let mut reply = UdpProbe::Dns.request(9);
        assert_eq!(
            UdpProbe::Dns.check(9, &reply),
            None,
            "a query is not a reply"
        );
        reply[2] |= 0x80;
        assert_eq!(UdpProbe::Dns.check(9, &reply), Some(Found::default()));
        assert_eq!(UdpProbe::Dns.check(8, &reply), None);
        // chronyd 4.3's answer to our client packet (times made up).
        let mut ntp = vec![0u8; 48];
        ntp[0] = 0x24;
        ntp[1] = 2;
        ntp[2] = 6;
        ntp[3] = 0xe9;
        ntp[40] = 0xea;
        assert_eq!(
            UdpProbe::Ntp.check(0, &ntp).and_then(|f| f.info),
            Some("NTPv4 stratum 2".into())
        );
        let mut mc = vec![0, 1, 0, 0, 0, 1, 0, 0];
        mc.extend_from_slice(b"VERSION 1.6.18\r\n");
        let f = UdpProbe::Memcached.check(1, &mc).expect("memcached");
        assert_eq!(
            (f.product.as_deref(), f.version.as_deref()),
            (Some("memcached"), Some("1.6.18"))
        );
        assert_eq!(
            UdpProbe::Memcached.check(2, &mc),
            None,
            "another request's id"
        );
        let sip = b"SIP/2.0 200 OK\r\nVia: x\r\nCall-ID: portscope-0007\r\nServer: Asterisk PBX 20.0\r\n\r\n";
        assert_eq!(
            UdpProbe::Sip.check(7, sip).and_then(|f| f.info),
            Some("Asterisk PBX 20.0".into())
        );
        assert_eq!(UdpProbe::Sip.check(8, sip), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5_000))]

        /// Random replies (1,400 random bytes too) are never taken for an
        /// answer to any probe.
        #[test]
        fn random_replies_are_never_named(
            reply in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1500),
            id in proptest::prelude::any::<u16>(),
        ) {
            for p in [UdpProbe::Dns, UdpProbe::Ntp, UdpProbe::Snmp, UdpProbe::Ssdp, UdpProbe::Memcached, UdpProbe::Sip] {
                proptest::prop_assert!(p.check(id, &reply).is_none(), "{:?}", p);
            }
        }
    }
}
