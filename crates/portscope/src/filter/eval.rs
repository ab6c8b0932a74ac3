//! Judges one socket against a parsed expression, with ss's meaning.
//!
//! ss judges an IP socket twice: the kernel runs the expression compiled to
//! inet_diag bytecode, then ss runs it again in user space, and a socket is
//! shown only if both say yes. The two differ on addresses of the other
//! family: the kernel matches an IPv4 address against IPv4 sockets and
//! v4-mapped IPv6 ones only, while user space compares the leading bits of
//! the raw addresses whatever their family. So `! src 0.0.0.0` hides `[::]`
//! and `[::1]` sockets (user space sees 0.0.0.0 in their first 32 bits),
//! and `src 0.0.0.0/0` keeps IPv4 and v4-mapped sockets only. [`Mode`] names
//! the two judges; the caller asks both when ss would.

use std::net::{IpAddr, Ipv6Addr};

use super::ast::{Atom, BoolOp, Expr, Order, Prefix, Side};
use crate::model::{Endpoint, Snapshot, Socket};
use crate::services::{self, PortClass};

/// Which of ss's two judges to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The kernel's bytecode interpreter (`inet_diag_bc_run`).
    Kernel,
    /// ss's own `run_ssfilter`.
    User,
}

/// Whether `s` satisfies `e`, judged as `mode` does.
pub(crate) fn eval(e: &Expr, s: &Socket, snap: &Snapshot, mode: Mode) -> bool {
    match e {
        Expr::Atom { atom, negate } => applies(atom, s) && test(atom, s, snap, mode) != *negate,
        Expr::Not(inner) => !eval(inner, s, snap, mode),
        Expr::Seq { first, rest } => {
            let mut acc = eval(first, s, snap, mode);
            for (op, term) in rest {
                acc = match op {
                    BoolOp::And => acc && eval(term, s, snap, mode),
                    BoolOp::Or => acc || eval(term, s, snap, mode),
                };
            }
            acc
        }
    }
}

fn end(s: &Socket, side: Side) -> &Endpoint {
    match side {
        Side::Local => &s.local,
        Side::Remote => &s.remote,
    }
}

/// Whether the predicate says anything about this socket: port and address
/// tests need an IP end, `unix:` patterns a unix one. A predicate that does
/// not apply is false, even in its `!=` form (only `not` turns it true).
fn applies(atom: &Atom, s: &Socket) -> bool {
    let inet = |side| matches!(end(s, side), Endpoint::Inet { .. });
    match atom {
        Atom::Host { side, port, addrs } => (port.is_none() && addrs.is_empty()) || inet(*side),
        Atom::PortCmp { side, .. } => inet(*side),
        Atom::Unix { side, .. } => matches!(end(s, *side), Endpoint::Unix { .. }),
        Atom::Service { .. } | Atom::Class { .. } => inet(Side::Local),
        Atom::Dev { .. }
        | Atom::Process { .. }
        | Atom::Pid { .. }
        | Atom::User { .. }
        | Atom::Netns { .. }
        | Atom::Container { .. } => true,
    }
}

fn test(atom: &Atom, s: &Socket, snap: &Snapshot, mode: Mode) -> bool {
    match atom {
        Atom::Host { side, port, addrs } => {
            let Endpoint::Inet {
                addr,
                port: have_port,
            } = end(s, *side)
            else {
                // Only the match-anything form applies to unix sockets.
                return true;
            };
            port.is_none_or(|want| want == *have_port)
                && (addrs.is_empty() || addrs.iter().any(|p| addr_match(*addr, p, mode)))
        }
        Atom::PortCmp { side, order, port } => {
            let have = end(s, *side).port().unwrap_or(0);
            match order {
                Order::Lt => have < *port,
                Order::Le => have <= *port,
                Order::Gt => have > *port,
                Order::Ge => have >= *port,
            }
        }
        Atom::Unix { side, glob } => match end(s, *side) {
            Endpoint::Unix { path, .. } => {
                glob.matches(&path.as_ref().map(|p| p.to_str_lossy()).unwrap_or_default())
            }
            _ => false,
        },
        Atom::Dev { ifindex } => s.bound_if == *ifindex,
        Atom::Process { glob } => owners(s, snap).any(|p| glob.matches(&p.name.to_str_lossy())),
        Atom::Pid { pid } => s.owners.iter().any(|o| o.pid == *pid),
        Atom::User { uid, name } => {
            // A socket whose uid the source does not know (unix from procfs)
            // matches by its owners' user only.
            uid.is_some_and(|u| Some(u) == s.uid)
                || name.as_deref().is_some_and(|n| {
                    owners(s, snap).any(|p| {
                        [&p.user, &p.euser]
                            .into_iter()
                            .any(|u| u.as_ref().is_some_and(|u| u.as_bytes() == n.as_bytes()))
                    })
                })
        }
        Atom::Service { name } => {
            let named = |port: Option<u16>| {
                port.filter(|p| *p != 0)
                    .and_then(|p| services::lookup(p, s.proto))
                    .is_some_and(|svc| svc.name.eq_ignore_ascii_case(name))
            };
            named(s.local.port()) || named(s.remote.port())
        }
        Atom::Class { class } => s.local.port().is_some_and(|p| PortClass::of(p) == *class),
        Atom::Netns { glob } => s.netns.as_deref().is_some_and(|n| {
            (n.host && glob.matches("host"))
                || glob.matches(&n.inode.to_string())
                || n.name
                    .as_ref()
                    .is_some_and(|x| glob.matches(&x.to_str_lossy()))
        }),
        Atom::Container { glob, text } => {
            let is = |c: &crate::model::Container| {
                c.name
                    .as_ref()
                    .is_some_and(|x| glob.matches(&x.to_str_lossy()))
                    || (text.len() >= 4 && c.id.as_bytes().starts_with(text.as_bytes()))
            };
            s.netns
                .as_deref()
                .and_then(|n| n.container.as_ref())
                .is_some_and(is)
                || owners(s, snap).any(|p| p.container.as_ref().is_some_and(is))
        }
    }
}

fn owners<'a>(
    s: &'a Socket,
    snap: &'a Snapshot,
) -> impl Iterator<Item = &'a crate::model::Process> {
    s.owners.iter().filter_map(|o| snap.processes.get(&o.pid))
}

/// The IPv4 address inside a v4-mapped IPv6 address (`::ffff:a.b.c.d`).
fn mapped(a: &Ipv6Addr) -> Option<[u8; 4]> {
    let o = a.octets();
    (o[..10].iter().all(|b| *b == 0) && o[10] == 0xff && o[11] == 0xff)
        .then(|| [o[12], o[13], o[14], o[15]])
}

/// An address as ss's user space holds it: 16 bytes, IPv4 in the first four.
fn widened(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => {
            let mut out = [0u8; 16];
            out[..4].copy_from_slice(&a.octets());
            out
        }
    }
}

fn addr_match(sock: IpAddr, p: &Prefix, mode: Mode) -> bool {
    match mode {
        Mode::Kernel => match (sock, p.addr) {
            (IpAddr::V4(a), IpAddr::V4(w)) => bits_equal(&a.octets(), &w.octets(), p.len),
            (IpAddr::V6(a), IpAddr::V6(w)) => bits_equal(&a.octets(), &w.octets(), p.len),
            (IpAddr::V6(a), IpAddr::V4(w)) => {
                mapped(&a).is_some_and(|m| bits_equal(&m, &w.octets(), p.len))
            }
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        },
        Mode::User => {
            // run_ssfilter skips the address test for a zero-length prefix.
            if p.len == 0 || bits_equal(&widened(sock), &widened(p.addr), p.len) {
                return true;
            }
            match (sock, p.addr) {
                (IpAddr::V6(a), IpAddr::V4(w)) => {
                    mapped(&a).is_some_and(|m| bits_equal(&m, &w.octets(), p.len))
                }
                _ => false,
            }
        }
    }
}

/// Whether the first `bits` bits of `a` and `b` are equal.
fn bits_equal(a: &[u8], b: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    let (whole, rest) = (bits / 8, bits % 8);
    let (Some(a_head), Some(b_head)) = (a.get(..whole), b.get(..whole)) else {
        return false;
    };
    if a_head != b_head {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.get(whole), b.get(whole)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bit_prefixes() {
        assert!(bits_equal(&[10, 1, 2, 3], &[10, 0, 0, 0], 8));
        assert!(!bits_equal(&[10, 1, 2, 3], &[10, 0, 0, 0], 16));
        assert!(bits_equal(&[192, 168, 0x81, 0], &[192, 168, 0x80, 0], 17));
        assert!(!bits_equal(&[192, 168, 0x81, 0], &[192, 168, 0x80, 0], 24));
        assert!(bits_equal(&[1], &[2], 0));
        assert!(!bits_equal(&[1, 2, 3, 4], &[1, 2, 3, 4], 40));
    }

    #[test]
    fn mapped_addresses() {
        let m: Ipv6Addr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(mapped(&m), Some([127, 0, 0, 1]));
        let not: Ipv6Addr = "::1".parse().unwrap();
        assert_eq!(mapped(&not), None);
    }
}
