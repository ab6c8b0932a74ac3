//! Reads the operands of `src`/`dst` and `sport`/`dport` the way ss does
//! (iproute2 `parse_hostcond`, `get_prefix_1`, `get_integer`).
//!
//! Forms: `:PORT`, `:SERVICE`, `HOST`, `HOST:PORT`, `CIDR`, `CIDR:PORT`,
//! `[V6]`, `[V6]:PORT`, `*`, `*:PORT`, `localhost`, the iproute2 words
//! `any`/`all`/`default`, and the family prefixes `inet:`, `inet6:`,
//! `unix:`. Numbers follow C's base-0 rules as in ss (`0x50` is 80, `0120`
//! is 80). Host names other than `localhost` are not resolved. What the
//! operands mean is `eval`'s business.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use super::Fail;
use super::ast::Prefix;
use super::lexer::Token;
use crate::model::Family;
use crate::services::{self, Transport};

/// A parsed `src`/`dst` operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostOperand {
    /// An IP condition.
    Inet {
        /// Wanted port, `None` for any.
        port: Option<u16>,
        /// Wanted addresses, empty for any.
        addrs: Vec<Prefix>,
        /// Family named by an `inet:`/`inet6:` prefix; ss then shows only that family.
        family: Option<Family>,
    },
    /// `unix:PATTERN`.
    Unix {
        /// The pattern.
        pattern: String,
    },
}

/// Parses the operand of `sport`/`dport`: `:PORT`, `PORT`, `:SERVICE`, `*`, `:*`.
/// `None` means any port.
pub(crate) fn port_operand(tok: &Token) -> Result<Option<u16>, Fail> {
    let text = tok.text.as_str();
    let (rest, offset) = match text.strip_prefix(':') {
        Some(rest) => (rest, 1),
        None => (text, 0),
    };
    if rest.contains([':', '[', ']', '.', '/']) {
        return Err(Fail::new(
            format!("'{text}' is not a port: sport and dport take :PORT or :SERVICE"),
            tok.col,
        ));
    }
    port_text(rest, tok.col + offset)
}

/// Parses a port written after its `:`; `col` is the column of its first
/// character (or where it should have been).
fn port_text(text: &str, col: usize) -> Result<Option<u16>, Fail> {
    if text.is_empty() {
        return Err(Fail::new("expected a port after ':'", col));
    }
    if text == "*" {
        return Ok(None);
    }
    if let Some(n) = c_number(text) {
        return u16::try_from(n)
            .map(Some)
            .map_err(|_| Fail::new(format!("port {text} is out of range (0-65535)"), col));
    }
    service_port(text, col).map(Some)
}

/// The port of service `name` for TCP or UDP, resolved as ss resolves it
/// (getservbyname: /etc/services, then the registry); an error if unknown,
/// or if TCP and UDP disagree (ss's "ambiguous port").
fn service_port(name: &str, col: usize) -> Result<u16, Fail> {
    let tcp = services::port_by_name(name, Transport::Tcp);
    let udp = services::port_by_name(name, Transport::Udp);
    match (tcp, udp) {
        (Some(t), Some(u)) if t != u => Err(Fail::new(
            format!("service name '{name}' is ambiguous (tcp {t}, udp {u}): use a number"),
            col,
        )),
        (Some(p), _) | (None, Some(p)) => Ok(p),
        (None, None) if name.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') => {
            Err(Fail::new(
                format!("'{name}' is not a valid port number"),
                col,
            ))
        }
        (None, None) => Err(Fail::new(
            format!("'{name}' is neither a port number nor a known service name"),
            col,
        )),
    }
}

/// Parses the operand of `src`/`dst`.
pub(crate) fn host_operand(tok: &Token) -> Result<HostOperand, Fail> {
    let text = tok.text.as_str();
    let col = tok.col;
    let (family, text, col) = if let Some(rest) = text.strip_prefix("unix:") {
        return Ok(HostOperand::Unix {
            pattern: rest.to_string(),
        });
    } else if let Some(rest) = text.strip_prefix("inet:") {
        (Some(Family::Inet), rest, col + 5)
    } else if let Some(rest) = text.strip_prefix("inet6:") {
        (Some(Family::Inet6), rest, col + 6)
    } else {
        for prefix in ["link:", "netlink:", "vsock:", "tipc:", "xdp:"] {
            if text.starts_with(prefix) {
                let name = prefix.trim_end_matches(':');
                return Err(Fail::new(format!("{name} sockets are not supported"), col));
            }
        }
        (None, text, col)
    };

    // Split address and port exactly where ss does.
    let (addr, addr_col, port) = if let Some(inner) = text.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Err(Fail::new("missing ']' after an IPv6 address", col));
        };
        let addr = &inner[..close];
        let after = &inner[close + 1..];
        let after_col = col + 1 + char_len(addr) + 1;
        let port = if after.is_empty() {
            None
        } else if let Some(p) = after.strip_prefix(':') {
            Some((p, after_col + 1))
        } else {
            return Err(Fail::new("expected ':' and a port after ']'", after_col));
        };
        (addr, col + 1, port)
    } else if let Some(rest) = text.strip_prefix('*') {
        if rest.is_empty() {
            ("*", col, None)
        } else if let Some(p) = rest.strip_prefix(':') {
            ("*", col, Some((p, col + 2)))
        } else {
            return Err(Fail::new("expected ':' and a port after '*'", col + 1));
        }
    } else {
        if needs_brackets(text) {
            let bare = text.split('/').next().unwrap_or(text);
            return Err(Fail::new(
                format!("write IPv6 addresses in brackets: [{bare}]"),
                col,
            ));
        }
        // The port follows the last ':' after any '/', so `10.0.0.0/8:22` works.
        let from = text.find('/').unwrap_or(0);
        match text[from..].rfind(':') {
            Some(i) => {
                let at = from + i;
                let port_col = col + char_len(&text[..at]) + 1;
                (&text[..at], col, Some((&text[at + 1..], port_col)))
            }
            None => (text, col, None),
        }
    };

    let addrs = if addr.is_empty() || addr == "*" {
        Vec::new()
    } else {
        address(addr, family, addr_col)?
    };
    let port = match port {
        Some((p, pcol)) => port_text(p, pcol)?,
        None => None,
    };
    Ok(HostOperand::Inet {
        port,
        addrs,
        family,
    })
}

/// True when `text` is a bare IPv6 address (maybe with a prefix length)
/// that ss's split at the last ':' would cut into a bad address: `::1`,
/// `fe80::1`. Forms ss reads differently, like `::1:22` (`[::1]:22`), are
/// left alone.
fn needs_brackets(text: &str) -> bool {
    let bare = text.split('/').next().unwrap_or(text);
    if bare.parse::<Ipv6Addr>().is_err() {
        return false;
    }
    let from = text.find('/').unwrap_or(0);
    match text[from..].rfind(':') {
        Some(i) => {
            let (head, tail) = (&text[..from + i], &text[from + i + 1..]);
            let head_addr = head.split('/').next().unwrap_or(head);
            (!head_addr.is_empty() && head_addr.parse::<Ipv6Addr>().is_err()) || tail.contains('.')
        }
        None => false,
    }
}

/// Turns a host name into its addresses (all of them, every family), or
/// says why it cannot.
pub type HostLookup = Box<dyn Fn(&str) -> Result<Vec<IpAddr>, String> + Send + Sync>;

static HOST_LOOKUP: OnceLock<HostLookup> = OnceLock::new();

/// Lets filters name hosts: `dst db1` then means every address `lookup`
/// gives `db1`, and `localhost` what it gives `localhost` (else 127.0.0.1
/// and ::1). The library does no lookups of its own; the binary installs
/// the system's (hosts file, then DNS). Set once per process; later calls
/// are ignored.
pub fn set_host_lookup(lookup: HostLookup) {
    let _ = HOST_LOOKUP.set(lookup);
}

/// Prefixes for the addresses a lookup gave, of the family asked for.
fn prefixes_of(addrs: &[IpAddr], family: Option<Family>) -> Vec<Prefix> {
    addrs
        .iter()
        .filter(|a| match family {
            Some(Family::Inet) => a.is_ipv4(),
            Some(Family::Inet6) => a.is_ipv6(),
            _ => true,
        })
        .map(|&addr| Prefix {
            addr,
            len: if addr.is_ipv4() { 32 } else { 128 },
        })
        .collect()
}

/// An address, CIDR, `localhost` or `any`.
fn address(text: &str, family: Option<Family>, col: usize) -> Result<Vec<Prefix>, Fail> {
    let (ip_text, plen_text) = match text.split_once('/') {
        Some((ip, plen)) => (ip, Some(plen)),
        None => (text, None),
    };

    if matches!(ip_text, "any" | "all" | "default") {
        if plen_text.is_some() {
            return Err(Fail::new(
                format!("'{ip_text}' takes no prefix length"),
                col,
            ));
        }
        // iproute2 gives these the family asked for and length 0: with
        // `inet:` that still selects the family; without, it is any address.
        return Ok(match family {
            Some(Family::Inet) => vec![Prefix {
                addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                len: 0,
            }],
            Some(Family::Inet6) => vec![Prefix {
                addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                len: 0,
            }],
            _ => Vec::new(),
        });
    }
    if ip_text == "localhost" {
        if plen_text.is_some() {
            return Err(Fail::new("'localhost' takes no prefix length", col));
        }
        if let Some(found) = HOST_LOOKUP.get().and_then(|l| l("localhost").ok()) {
            let p = prefixes_of(&found, family);
            if !p.is_empty() {
                return Ok(p);
            }
        }
        let v4 = Prefix {
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            len: 32,
        };
        let v6 = Prefix {
            addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
            len: 128,
        };
        return Ok(match family {
            Some(Family::Inet) => vec![v4],
            Some(Family::Inet6) => vec![v6],
            _ => vec![v4, v6],
        });
    }

    let addr = if ip_text.contains(':') {
        match ip_text.parse::<Ipv6Addr>() {
            Ok(a) => IpAddr::V6(a),
            Err(_) => {
                return Err(Fail::new(
                    format!("'{ip_text}' is not a valid IPv6 address"),
                    col,
                ));
            }
        }
    } else {
        match loose_ipv4(ip_text) {
            Some(a) => IpAddr::V4(a),
            None if ip_text.chars().all(|c| c.is_ascii_digit() || c == '.') => {
                return Err(Fail::new(
                    format!("'{ip_text}' is not a valid IPv4 address"),
                    col,
                ));
            }
            None => {
                let Some(lookup) = HOST_LOOKUP.get() else {
                    return Err(Fail::new(
                        format!(
                            "host names are not resolved: use an address instead of '{ip_text}'"
                        ),
                        col,
                    ));
                };
                if plen_text.is_some() {
                    return Err(Fail::new("a host name takes no prefix length", col));
                }
                let found = lookup(ip_text).map_err(|e| Fail::new(e, col))?;
                let p = prefixes_of(&found, family);
                if p.is_empty() {
                    return Err(Fail::new(
                        format!("host name '{ip_text}' has no address of that family"),
                        col,
                    ));
                }
                return Ok(p);
            }
        }
    };
    match (family, addr) {
        (Some(Family::Inet), IpAddr::V6(_)) | (Some(Family::Inet6), IpAddr::V4(_)) => {
            return Err(Fail::new(
                "the address is not of the family its prefix names",
                col,
            ));
        }
        _ => {}
    }
    let (max, version) = if addr.is_ipv4() { (32, 4) } else { (128, 6) };
    let len = match plen_text {
        None => max,
        Some(p) => {
            let pcol = col + char_len(ip_text) + 1;
            let Some(len) = prefix_len(p) else {
                return Err(Fail::new(
                    format!("'{p}' is not a valid prefix length"),
                    pcol,
                ));
            };
            match u8::try_from(len) {
                Ok(len) if len <= max => len,
                _ => {
                    return Err(Fail::new(
                        format!(
                            "prefix length {len} is too long for an IPv{version} address (at most {max})"
                        ),
                        pcol,
                    ));
                }
            }
        }
    };
    Ok(vec![Prefix { addr, len }])
}

/// iproute2's `get_netmask`: a number, or a contiguous dotted-quad mask.
fn prefix_len(text: &str) -> Option<u32> {
    if let Some(n) = c_number(text) {
        return u32::try_from(n).ok();
    }
    let mask = u32::from(loose_ipv4(text)?);
    let ones = mask.leading_ones();
    // Contiguous: all ones first, then only zeros.
    (mask.checked_shl(ones).unwrap_or(0) == 0).then_some(ones)
}

/// iproute2's `get_addr_ipv4`: one to four dot-separated numbers, each in C
/// base-0 notation and at most 255; missing trailing bytes are zero
/// (`10` is 10.0.0.0, `127.1` is 127.1.0.0).
pub(crate) fn loose_ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut bytes = [0u8; 4];
    for (i, part) in text.split('.').enumerate() {
        *bytes.get_mut(i)? = u8::try_from(c_number(part)?).ok()?;
    }
    Some(Ipv4Addr::from(bytes))
}

/// An unsigned number the way C's `strtoul(s, _, 0)` reads a whole string:
/// `0x` hex, leading-`0` octal, else decimal; an optional `+`. Values past
/// `u64` saturate (they are out of range for every caller).
pub(crate) fn c_number(text: &str) -> Option<u64> {
    let text = text.strip_prefix('+').unwrap_or(text);
    let (digits, radix) =
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (hex, 16)
        } else if text.len() > 1 && text.starts_with('0') {
            (&text[1..], 8)
        } else {
            (text, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mut value: u64 = 0;
    for c in digits.chars() {
        let d = u64::from(c.to_digit(radix)?);
        value = value.saturating_mul(u64::from(radix)).saturating_add(d);
    }
    Some(value)
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}
