//! portscope's scanner: what answers on a host's ports, from the outside.
//! A TCP connect sweep on its own epoll engine, identification of what
//! answers on the open ports (greetings, safe probes, TLS certificates),
//! UDP probes of well-known services, `--ports`-style port lists and
//! targets (names, addresses, CIDR blocks). Linux only; connect scans only,
//! no raw packets.
//!
//! The library returns data and never prints. How far a scan got goes to a
//! [`Progress`] the caller passes in; failures are an [`Error`], telling
//! bad input ([`PortsError`], [`TargetError`]) from a system that would
//! not let the scan run.
//!
//! - [`targets`]: host names, addresses and CIDR blocks to addresses, made
//!   as the scan asks for them;
//! - [`ports`] and [`top`]: port lists and the common-port ordering;
//! - [`engine`]: the connect sweep (open, closed, filtered);
//! - [`probe`], [`tls`], [`identify`], [`matches`]: what answers on an
//!   open port. [`matches`] is the match table (protocol, port hints,
//!   probe, recogniser, product and version), pure over bytes;
//!   [`probe::tcp`] and [`udp::probe`] ask one port;
//! - [`udp`]: UDP requests and their checks;
//! - [`scanner`]: one scan end to end, as data.
//!
//! Whatever a service sends (banners, versions, certificate names) is the
//! server's choice and is kept as [`portscope::Text`] or made printable
//! ([`identify::printable`]): show it to people only escaped.
//!
//! # Example
//!
//! Scan one port of a listener on loopback:
//!
//! ```
//! use std::net::TcpListener;
//!
//! use portscope_scan::scanner::{self, ScanConfig};
//! use portscope_scan::{NoProgress, PortState, targets};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let port = listener.local_addr()?.port();
//! let hosts = targets::resolve(&["127.0.0.1".to_string()], 1)?;
//! let mut cfg = ScanConfig::tcp(hosts, vec![port]);
//! cfg.probe = None; // the listener never answers: don't wait for a greeting
//! let result = scanner::run(&cfg, &NoProgress)?;
//!
//! let host = result.hosts().next().expect("one host");
//! assert_eq!(host.ports[0].port, port);
//! assert_eq!(host.ports[0].state, PortState::Open);
//! assert_eq!(result.totals.open, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Name a protocol from what a service said:
//!
//! ```
//! let id = portscope_scan::identify::from_tcp(b"SSH-2.0-OpenSSH_9.6p1\r\n").expect("ssh");
//! assert_eq!(id.protocol, "ssh");
//! assert_eq!(id.product.expect("product").escaped().to_string(), "OpenSSH");
//! assert_eq!(id.version.expect("version").escaped().to_string(), "9.6p1");
//! ```

#![warn(missing_docs)]

pub mod engine;
mod error;
pub mod identify;
pub mod matches;
pub mod ports;
pub mod probe;
mod progress;
pub mod scanner;
pub mod targets;
pub mod tls;
pub mod top;
pub mod udp;

pub use error::{Error, PortsError, Result, TargetError};
pub use progress::{Counter, NoProgress, Progress};

/// What a port did when asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortState {
    /// It accepted (TCP) or answered (UDP).
    Open,
    /// It refused: TCP reset, or ICMP port unreachable for UDP.
    Closed,
    /// No answer within the timeout (UDP: may also be open and silent), or
    /// an unreachable/forbidden error.
    Filtered,
    /// UDP on this machine: no answer, but a local process holds the port,
    /// so something is there that chose not to answer (a DHCP server, a
    /// client's socket).
    OpenFiltered,
}

impl PortState {
    /// `open`, `closed`, `filtered` or `open|filtered`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
            PortState::OpenFiltered => "open|filtered",
        }
    }
}
