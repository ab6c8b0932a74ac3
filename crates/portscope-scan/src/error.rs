//! What the scanner can fail at, as types: a caller tells a bad port list
//! or target (the user's input) from a system that would not let the scan
//! run. Every message is one line, and whatever the user wrote appears in
//! it escaped.

use portscope::text::escape;

/// A scan that could not be set up or could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The port list does not parse ([`ports::parse`](crate::ports::parse)).
    #[error(transparent)]
    Ports(#[from] PortsError),
    /// A target is not a host, address or block, does not resolve, or the
    /// targets hold more hosts than allowed ([`targets::resolve`](crate::targets::resolve)).
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The system would not let the scan run or go on: no runtime, no epoll
    /// set, no socket to be had. Says what was being done.
    #[error("{what}: {source}")]
    System {
        /// What the scanner was doing, as `cannot create an epoll set`.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A system error while doing `what`.
    pub fn system(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::System {
            what: what.into(),
            source,
        }
    }

    /// Whether the caller's input was at fault (a port list or target), as
    /// opposed to the system.
    pub fn is_input(&self) -> bool {
        matches!(self, Error::Ports(_) | Error::Target(_))
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a port list does not parse. `item` is the comma-separated piece at
/// fault, as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortsError {
    /// Two commas in a row, a trailing comma, or nothing at all.
    #[error("'{}': empty item", escape(spec.as_bytes()))]
    EmptyItem {
        /// The whole list.
        spec: String,
    },
    /// `top` followed by something other than a number.
    #[error("'{}': expected topN, as top100 or top1000", escape(item.as_bytes()))]
    BadTop {
        /// The item.
        item: String,
    },
    /// `topN` with N of 0 or over 65535.
    #[error("'{}': N must be 1 to 65535", escape(item.as_bytes()))]
    TopOutOfRange {
        /// The item.
        item: String,
    },
    /// Port 0.
    #[error("'{}': port 0 cannot be scanned", escape(item.as_bytes()))]
    PortZero {
        /// The item.
        item: String,
    },
    /// Not a number from 1 to 65535.
    #[error("'{}': '{}' is not a port (1-65535)", escape(item.as_bytes()), escape(token.as_bytes()))]
    NotAPort {
        /// The item.
        item: String,
        /// The part of it that is not a port.
        token: String,
    },
    /// A range whose start is above its end.
    #[error("'{}': the range runs backwards", escape(item.as_bytes()))]
    Backwards {
        /// The item.
        item: String,
    },
    /// Neither a port, a range, `topN`, `all` nor a service name known for
    /// the transport.
    #[error("'{}': not a port, range, topN, 'all' or known {transport} service name", escape(item.as_bytes()))]
    Unknown {
        /// The item.
        item: String,
        /// `tcp` or `udp`.
        transport: String,
    },
}

/// Why the targets cannot be scanned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// An empty string among the targets.
    #[error("empty target")]
    Empty,
    /// Has a `/` but is not a CIDR block.
    #[error("'{}' is not a CIDR block (as 10.0.0.0/24 or fd00::/120)", escape(target.as_bytes()))]
    NotABlock {
        /// The target.
        target: String,
    },
    /// A block with more hosts than the cap leaves room for.
    #[error("'{}' holds {count} hosts, over the cap of {cap}", escape(target.as_bytes()))]
    BlockTooLarge {
        /// The block.
        target: String,
        /// Its host count, in decimal (`2^128` for all of IPv6).
        count: String,
        /// The cap in force.
        cap: u64,
    },
    /// More hosts than the cap, counting one target after another.
    #[error("more than {cap} hosts (the cap)")]
    TooManyHosts {
        /// The cap in force.
        cap: u64,
    },
    /// Not a host name, address or block.
    #[error("'{}' is not a host name, address or CIDR block", escape(target.as_bytes()))]
    NotAHost {
        /// The target.
        target: String,
    },
    /// A host name the resolver does not know, or that has no address.
    #[error("cannot resolve '{}': {reason}", escape(name.as_bytes()))]
    Unresolved {
        /// The name.
        name: String,
        /// What the resolver said.
        reason: String,
    },
}

impl TargetError {
    /// The cap, for errors about the number of hosts.
    pub fn cap(&self) -> Option<u64> {
        match self {
            TargetError::BlockTooLarge { cap, .. } | TargetError::TooManyHosts { cap } => {
                Some(*cap)
            }
            _ => None,
        }
    }
}
