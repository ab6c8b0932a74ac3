//! Works out which address families an expression can possibly match, so
//! the collector need not dump the others.
//!
//! Conservative by construction: a family is dropped only when no socket of
//! it can satisfy the expression (`not` always keeps every family).

use super::ast::{Atom, BoolOp, Expr};
use crate::model::Family;

/// A set of families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Families {
    /// IPv4.
    pub inet: bool,
    /// IPv6.
    pub inet6: bool,
    /// Unix.
    pub unix: bool,
}

impl Families {
    /// Every family.
    pub(crate) const ALL: Families = Families {
        inet: true,
        inet6: true,
        unix: true,
    };
    const IP: Families = Families {
        inet: true,
        inet6: true,
        unix: false,
    };

    /// Just `f`.
    pub(crate) const fn only(f: Family) -> Families {
        Families {
            inet: matches!(f, Family::Inet),
            inet6: matches!(f, Family::Inet6),
            unix: matches!(f, Family::Unix),
        }
    }

    /// Families in both.
    pub(crate) const fn and(self, o: Families) -> Families {
        Families {
            inet: self.inet && o.inet,
            inet6: self.inet6 && o.inet6,
            unix: self.unix && o.unix,
        }
    }

    const fn or(self, o: Families) -> Families {
        Families {
            inet: self.inet || o.inet,
            inet6: self.inet6 || o.inet6,
            unix: self.unix || o.unix,
        }
    }
}

/// Families of sockets `e` can be true for. `kernel` says the kernel's
/// judgement applies (see `eval`), under which an IPv6 address never matches
/// an IPv4 socket.
pub(crate) fn possible(e: &Expr, kernel: bool) -> Families {
    match e {
        Expr::Atom { atom, negate } => atom_families(atom, *negate, kernel),
        Expr::Not(_) => Families::ALL,
        Expr::Seq { first, rest } => {
            rest.iter()
                .fold(possible(first, kernel), |acc, (op, term)| match op {
                    BoolOp::And => acc.and(possible(term, kernel)),
                    BoolOp::Or => acc.or(possible(term, kernel)),
                })
        }
    }
}

fn atom_families(atom: &Atom, negate: bool, kernel: bool) -> Families {
    match atom {
        Atom::Host { port, addrs, .. } => {
            if port.is_none() && addrs.is_empty() {
                Families::ALL
            } else if kernel
                && !negate
                && !addrs.is_empty()
                && addrs.iter().all(|p| p.addr.is_ipv6())
            {
                Families::only(Family::Inet6)
            } else {
                Families::IP
            }
        }
        Atom::PortCmp { .. } | Atom::Service { .. } | Atom::Class { .. } => Families::IP,
        Atom::Unix { .. } => Families::only(Family::Unix),
        Atom::Dev { .. }
        | Atom::Process { .. }
        | Atom::Pid { .. }
        | Atom::User { .. }
        | Atom::Netns { .. }
        | Atom::Container { .. } => Families::ALL,
    }
}

/// Whether evaluating `e` needs the processes that own sockets.
pub(crate) fn needs_owners(e: &Expr) -> bool {
    match e {
        Expr::Atom { atom, .. } => matches!(
            atom,
            Atom::Process { .. }
                | Atom::Pid { .. }
                | Atom::User { name: Some(_), .. }
                | Atom::Container { .. }
        ),
        Expr::Not(inner) => needs_owners(inner),
        Expr::Seq { first, rest } => {
            needs_owners(first) || rest.iter().any(|(_, t)| needs_owners(t))
        }
    }
}

/// Whether `e` tests any address (only then can the two judges of `eval` differ).
pub(crate) fn has_addresses(e: &Expr) -> bool {
    match e {
        Expr::Atom { atom, .. } => matches!(atom, Atom::Host { addrs, .. } if !addrs.is_empty()),
        Expr::Not(inner) => has_addresses(inner),
        Expr::Seq { first, rest } => {
            has_addresses(first) || rest.iter().any(|(_, t)| has_addresses(t))
        }
    }
}
