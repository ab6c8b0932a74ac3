//! What a socket's ports mean: which of its two ports names the service, and
//! that port's registry entry and class.
//!
//! Pure: the ephemeral range is passed in, so callers read it once per run.

use crate::model::{Proto, Socket};
use crate::services::{self, EphemeralRange, PortClass, Service};

/// The service a socket belongs to, as far as its ports tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    /// The port that identifies the service (local for a server, remote for a client).
    pub port: u16,
    /// Whether that port is the socket's local port.
    pub local: bool,
    /// The registry entry for the port and protocol, if any.
    pub service: Option<&'static Service>,
    /// RFC 6335 class of the port.
    pub class: PortClass,
}

/// Decides which port of `s` identifies its service and looks it up.
///
/// Listening and unconnected sockets are known by their local port. For a
/// connection, a port inside this host's ephemeral range is the client's, so
/// the other one is the service; failing that, a port with a registry entry
/// wins, then the lower port. Unix sockets have no port: `None`.
pub fn service_of(s: &Socket, ephemeral: Option<EphemeralRange>) -> Option<ServiceInfo> {
    let lport = s.local.port()?;
    let rport = s.remote.port().unwrap_or(0);
    let lookup = |p: u16| match s.proto {
        Proto::Tcp | Proto::Udp => services::lookup(p, s.proto),
        // An MPTCP service is the TCP service on the same port.
        Proto::Mptcp => services::lookup(p, Proto::Tcp),
        Proto::Raw | Proto::Unix | Proto::Packet | Proto::Netlink => None,
    };
    let info = |port: u16, local: bool| ServiceInfo {
        port,
        local,
        service: lookup(port),
        class: PortClass::of(port),
    };
    if s.proto == Proto::Raw || rport == 0 || s.is_listening() {
        return Some(info(lport, true));
    }
    let in_eph = |p: u16| ephemeral.is_some_and(|r| r.contains(p));
    match (in_eph(lport), in_eph(rport)) {
        (true, false) => return Some(info(rport, false)),
        (false, true) => return Some(info(lport, true)),
        _ => {}
    }
    match (lookup(lport).is_some(), lookup(rport).is_some()) {
        (true, false) => Some(info(lport, true)),
        (false, true) => Some(info(rport, false)),
        _ if rport < lport => Some(info(rport, false)),
        _ => Some(info(lport, true)),
    }
}
