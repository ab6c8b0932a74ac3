//! Reading `ss -n` output as model values, for the tests that use ss as
//! their oracle: a state name (`ESTAB`, `UNCONN`…) and an end
//! (`127.0.0.1:80`, `[::1]:80`, `*:22`, `0.0.0.0%lo:53`).
//!
//! Shared by the library's unit tests (included by path) and its live
//! tests.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv6Addr};

// The including module names the model (`portscope::model` in the
// integration tests, `crate::model` in unit tests).
use super::{Endpoint, TcpState};

/// An `ss` state name as a state; `None` for one it does not print.
pub fn state(name: &str) -> Option<TcpState> {
    Some(match name {
        "ESTAB" => TcpState::Established,
        "SYN-SENT" => TcpState::SynSent,
        "SYN-RECV" => TcpState::SynRecv,
        "FIN-WAIT-1" => TcpState::FinWait1,
        "FIN-WAIT-2" => TcpState::FinWait2,
        "TIME-WAIT" => TcpState::TimeWait,
        "UNCONN" => TcpState::Close,
        "CLOSE-WAIT" => TcpState::CloseWait,
        "LAST-ACK" => TcpState::LastAck,
        "LISTEN" => TcpState::Listen,
        "CLOSING" => TcpState::Closing,
        _ => return None,
    })
}

/// An end as `ss -n` prints it. ss writes `*` only for the IPv6 wildcard
/// (0.0.0.0 stays as is); a bound device (`%lo`) is dropped.
pub fn endpoint(text: &str) -> Option<Endpoint> {
    let (addr, port) = text.rsplit_once(':')?;
    let port = if port == "*" { 0 } else { port.parse().ok()? };
    let addr = addr.split('%').next()?;
    let addr: IpAddr = match addr {
        "*" => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        a => a
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?,
    };
    Some(Endpoint::Inet { addr, port })
}
