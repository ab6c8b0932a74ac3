//! `portscope scan`'s machinery: a TCP connect scanner with service
//! identification, and UDP probes of well-known services. Network I/O for
//! the command; the library stays free of it.
//!
//! - `targets`: host names, addresses and CIDR blocks to addresses;
//! - `ports` and `top`: `--ports` parsing and the common-port ordering;
//! - `engine`: the connect sweep (open, closed, filtered);
//! - `probe`, `tls`, `identify`: what answers on an open port. `identify`
//!   is pure and usable by any command that wants to name a protocol from
//!   bytes; `probe::tcp` and `udp::probe` by any that wants to ask a port;
//! - `udp`: UDP requests and their checks;
//! - `scanner`: one scan end to end, as data.
//!
//! Not here: output (the command renders), raw packets (connect only).

pub mod engine;
pub mod identify;
pub mod ports;
pub mod probe;
pub mod scanner;
pub mod targets;
pub mod tls;
pub mod top;
pub mod udp;

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
}

impl PortState {
    /// `open`, `closed` or `filtered`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
        }
    }
}
