//! The parsed form of a filter expression.
//!
//! Plain data: built by `parser`, read by `eval` and `hint`. No parsing or
//! evaluation lives here.

use std::net::IpAddr;

use super::glob::Glob;
use crate::services::PortClass;

/// Which end of a socket a predicate looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// `src`, `sport`: the local end.
    Local,
    /// `dst`, `dport`: the remote end.
    Remote,
}

/// An address with a prefix length (`10.0.0.0/8`; a plain address has the full length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Prefix {
    /// The address.
    pub addr: IpAddr,
    /// Leading bits that must match.
    pub len: u8,
}

/// Ordering comparisons of a port (`sport < :1024`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

/// One predicate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Atom {
    /// `src`/`dst HOST[:PORT]`, and `sport`/`dport = PORT` (ss treats both alike):
    /// the end's port equals `port` (any if `None`) and its address lies in
    /// one of `addrs` (any if empty).
    Host {
        /// Which end.
        side: Side,
        /// Wanted port.
        port: Option<u16>,
        /// Wanted addresses (`localhost` gives two).
        addrs: Vec<Prefix>,
    },
    /// `sport`/`dport` with `<`, `<=`, `>`, `>=`.
    PortCmp {
        /// Which end.
        side: Side,
        /// How to compare.
        order: Order,
        /// The port compared with.
        port: u16,
    },
    /// `src`/`dst unix:GLOB`: a unix socket's name (or its peer's).
    Unix {
        /// Which end.
        side: Side,
        /// fnmatch-style pattern, matched without regard to case.
        glob: Glob,
    },
    /// `dev NAME|INDEX`: the interface the socket is bound to.
    Dev {
        /// Interface index.
        ifindex: u32,
    },
    /// `process GLOB`: the name of any owning process.
    Process {
        /// `*`/`?` pattern.
        glob: Glob,
    },
    /// `pid N`: any owning process.
    Pid {
        /// Process id.
        pid: u32,
    },
    /// `user NAME|UID`.
    User {
        /// The uid to compare with the socket's uid (given, or the name's uid).
        uid: Option<u32>,
        /// The user name to compare with owners' user names.
        name: Option<String>,
    },
    /// `service NAME`: the registry name of the local or remote port.
    Service {
        /// Lower-case service name.
        name: String,
    },
    /// `netns NAME`: the socket's network namespace, by its name (a bind
    /// mount's, or its container's), `host`, or its inode.
    Netns {
        /// `*`/`?` pattern.
        glob: Glob,
    },
    /// `container NAME`: the container of the socket's namespace or of any
    /// owner, by name or by id (a prefix of it).
    Container {
        /// `*`/`?` pattern.
        glob: Glob,
        /// The text as given, for an id prefix.
        text: String,
    },
    /// `class system|user|dynamic`: the range of the local port.
    Class {
        /// The class.
        class: PortClass,
    },
}

/// How two expressions in a sequence combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BoolOp {
    /// `and` (also written as nothing between two terms).
    And,
    /// `or`.
    Or,
}

/// An expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    /// A predicate; `negate` for the `!=` forms, which (unlike `not`) stay
    /// false on sockets the predicate does not apply to.
    Atom {
        /// The predicate.
        atom: Atom,
        /// Written with `!=`.
        negate: bool,
    },
    /// `not`/`!` before a term.
    Not(Box<Expr>),
    /// Terms combined strictly left to right, `and` and `or` with equal
    /// precedence, as ss's grammar does: `a or b and c` is `(a or b) and c`.
    /// Kept flat so that long expressions do not make deep trees.
    Seq {
        /// The first term.
        first: Box<Expr>,
        /// Each following term and how it joins what came before.
        rest: Vec<(BoolOp, Expr)>,
    },
}
