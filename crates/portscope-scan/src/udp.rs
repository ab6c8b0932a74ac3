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

/// The UDP probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpProbe {
    /// A DNS query for the root's NS records, recursion not asked for.
    Dns,
    /// An NTP version 4 client-mode packet.
    Ntp,
    /// An SNMP v1 get of sysDescr.0 with community `public`.
    Snmp,
    /// An SSDP `M-SEARCH` for all devices.
    Ssdp,
    /// A memcached `version` request in the UDP frame.
    Memcached,
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
        }
    }

    /// The request bytes; `id` goes where the protocol has a request id.
    pub fn request(self, id: u16) -> Vec<u8> {
        let [hi, lo] = id.to_be_bytes();
        match self {
            UdpProbe::Dns => vec![
                hi, lo, // id
                0x00, 0x00, // standard query, no recursion
                0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 1 question
                0x00, // the root name
                0x00, 0x02, 0x00, 0x01, // NS, IN
            ],
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
        }
    }

    /// Whether `reply` answers `self.request(id)`, and the version it gives away.
    pub fn check(self, id: u16, reply: &[u8]) -> Option<Option<String>> {
        match self {
            UdpProbe::Dns => {
                let ok = reply.len() >= 12
                    && reply.get(..2) == Some(&id.to_be_bytes()[..])
                    && reply[2] & 0x80 != 0;
                ok.then_some(None)
            }
            UdpProbe::Ntp => {
                let ok = reply.len() >= 48 && matches!(reply[0] & 0x07, 4 | 5);
                ok.then(|| {
                    let vn = (reply[0] >> 3) & 0x07;
                    Some(format!("NTPv{vn} stratum {}", reply[1]))
                })
            }
            UdpProbe::Snmp => {
                let ok = reply.first() == Some(&0x30) && reply.len() > 10;
                ok.then(|| snmp_string(reply))
            }
            UdpProbe::Ssdp => reply
                .starts_with(b"HTTP/1.1")
                .then(|| super::identify::header(reply, "server")),
            UdpProbe::Memcached => {
                let body = reply.get(8..)?;
                body.strip_prefix(b"VERSION ")
                    .map(|v| Some(format!("memcached {}", printable(v, 40))))
            }
        }
    }
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
        _ => vec![UdpProbe::Dns, UdpProbe::Ntp, UdpProbe::Snmp],
    }
}

/// The ports a UDP scan covers when no list is given (`portscope scan
/// --udp` without `--ports`).
pub const DEFAULT_PORTS: &[u16] = &[53, 123, 161, 1900, 5353, 11211];

/// What a UDP port did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpFinding {
    /// Open (answered), closed (port unreachable) or filtered (no answer).
    pub state: PortState,
    /// The protocol of the probe that was answered.
    pub protocol: Option<&'static str>,
    /// Software and version the answer gave away.
    pub version: Option<portscope::Text>,
    /// The start of the answer, printable.
    pub response: Option<String>,
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
            state: PortState::Filtered,
            protocol: None,
            version: None,
            response: None,
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
    let mut f = UdpFinding {
        state: PortState::Filtered,
        protocol: None,
        version: None,
        response: None,
    };
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
                        if let Some(version) = probe.check(id, reply) {
                            f.state = PortState::Open;
                            f.protocol = Some(probe.protocol());
                            f.version = version.map(portscope::Text::from);
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
        assert_eq!(UdpProbe::Dns.check(9, &reply), Some(None));
        assert_eq!(UdpProbe::Dns.check(8, &reply), None);
        let mut ntp = vec![0u8; 48];
        ntp[0] = 0x24;
        ntp[1] = 2;
        assert_eq!(
            UdpProbe::Ntp.check(0, &ntp),
            Some(Some("NTPv4 stratum 2".into()))
        );
        let mut mc = vec![0, 1, 0, 0, 0, 1, 0, 0];
        mc.extend_from_slice(b"VERSION 1.6.21\r\n");
        assert_eq!(
            UdpProbe::Memcached.check(1, &mc),
            Some(Some("memcached 1.6.21".into()))
        );
        for n in 0..40u8 {
            let junk: Vec<u8> = (0..n).map(|i| i ^ 0x5a).collect();
            for p in [UdpProbe::Snmp, UdpProbe::Ntp, UdpProbe::Dns, UdpProbe::Ssdp] {
                let _ = p.check(1, &junk);
            }
        }
    }
}
