//! Port lists as people write them (`portscope scan --ports`): `22,80,443`,
//! `1-1024`, `top100`, `top1000`, `all`, service names (`ssh`, `https`),
//! and mixes of them. Parsing only.
//!
//! ```
//! use portscope::services::Transport;
//! use portscope_scan::ports;
//!
//! assert_eq!(ports::parse("ssh,80-82,443", Transport::Tcp)?, [22, 80, 81, 82, 443]);
//! assert!(ports::parse("10-5", Transport::Tcp).is_err());
//! # Ok::<(), portscope_scan::PortsError>(())
//! ```

use portscope::services::{self, Transport};

use super::top;
use crate::error::PortsError;

/// How many of the most common ports a scan covers when no list is given
/// (`portscope scan` without `--ports`).
pub const DEFAULT_TOP: usize = 1000;

/// Parses a port list; the result keeps the order given (so `top100` stays
/// in frequency order) with repeats removed. Service names are looked up for
/// `transport`.
pub fn parse(spec: &str, transport: Transport) -> Result<Vec<u16>, PortsError> {
    let mut seen = vec![false; 65536];
    let mut out = Vec::new();
    // Every `topN` is a prefix of one ordering: worked out once, however
    // many `top` items the spec holds (a long spec costs its length, not its
    // length times the ordering).
    let mut ranking: Option<Vec<u16>> = None;
    for item in spec.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(PortsError::EmptyItem {
                spec: spec.to_string(),
            });
        }
        // Once every port is in, later items are only checked, not expanded.
        let full = out.len() == 65535;
        let mut add = |p: u16| {
            if !seen[usize::from(p)] {
                seen[usize::from(p)] = true;
                out.push(p);
            }
        };
        parse_item(item, transport, &mut ranking, full, &mut add)?;
    }
    Ok(out)
}

fn parse_item(
    item: &str,
    transport: Transport,
    ranking: &mut Option<Vec<u16>>,
    full: bool,
    add: &mut dyn FnMut(u16),
) -> Result<(), PortsError> {
    let it = || item.to_string();
    let lower = item.to_ascii_lowercase();
    if lower == "all" || lower == "-" {
        if !full {
            (1..=65535).for_each(add);
        }
        return Ok(());
    }
    if let Some(n) = lower.strip_prefix("top") {
        let n = n.trim_start_matches('-');
        let count: usize = n.parse().map_err(|_| PortsError::BadTop { item: it() })?;
        if count == 0 || count > 65535 {
            return Err(PortsError::TopOutOfRange { item: it() });
        }
        if !full {
            let order = ranking.get_or_insert_with(|| top::top(65535));
            order.iter().take(count).copied().for_each(add);
        }
        return Ok(());
    }
    let port = |t: &str| -> Result<u16, PortsError> {
        match t.parse::<u16>() {
            Ok(0) => Err(PortsError::PortZero { item: it() }),
            Ok(p) => Ok(p),
            Err(_) => Err(PortsError::NotAPort {
                item: it(),
                token: t.to_string(),
            }),
        }
    };
    if item.starts_with(|c: char| c.is_ascii_digit()) {
        match item.split_once('-') {
            Some((a, b)) => {
                let low = port(a)?;
                let high = if b.is_empty() { 65535 } else { port(b)? };
                if low > high {
                    return Err(PortsError::Backwards { item: it() });
                }
                if !full {
                    (low..=high).for_each(add);
                }
            }
            None => add(port(item)?),
        }
        return Ok(());
    }
    let mut ports: Vec<u16> = services::by_name(item)
        .iter()
        .filter(|s| s.transport == transport && s.port != 0)
        .map(|s| s.port)
        .collect();
    ports.dedup();
    if ports.is_empty() {
        return Err(PortsError::Unknown {
            item: it(),
            transport: transport.to_string(),
        });
    }
    ports.into_iter().for_each(add);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("22,80,443", Transport::Tcp).unwrap(), [22, 80, 443]);
        assert_eq!(parse("1-5", Transport::Tcp).unwrap(), [1, 2, 3, 4, 5]);
        assert_eq!(parse("65530-", Transport::Tcp).unwrap().len(), 6);
        assert_eq!(parse("all", Transport::Tcp).unwrap().len(), 65535);
        let t = parse("top100", Transport::Tcp).unwrap();
        assert_eq!(t.len(), 100);
        assert_eq!(&t[..3], &[80, 23, 443]);
        assert_eq!(parse("top1000", Transport::Tcp).unwrap().len(), 1000);
        // Repeats go, the first position stays.
        assert_eq!(
            parse("443,80,443,ssh", Transport::Tcp).unwrap(),
            [443, 80, 22]
        );
        assert_eq!(parse("domain", Transport::Udp).unwrap(), [53]);
    }

    #[test]
    fn top_items_are_prefixes_of_one_ranking() {
        for n in [1, 100, 1000, 4321, 65535] {
            let spec = format!("top{n}");
            assert_eq!(parse(&spec, Transport::Tcp).unwrap(), top::top(n));
        }
        // A long spec of big items costs its length, and repeats add nothing.
        let long = ["top65535", "all", "top-65534", "1-"].repeat(500).join(",");
        assert_eq!(parse(&long, Transport::Tcp).unwrap(), top::top(65535));
    }

    #[test]
    fn bad_specs() {
        for bad in [
            "",
            "0",
            "70000",
            "10-5",
            "80,,81",
            "top0",
            "topx",
            "top70000",
            "x-y",
            "1-99999",
            "nosuchservicexyz",
        ] {
            let e = parse(bad, Transport::Tcp).unwrap_err().to_string();
            assert!(e.starts_with('\''), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
    }
}
