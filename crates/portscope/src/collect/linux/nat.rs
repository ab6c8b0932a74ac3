//! Ports published by NAT rules with no socket on the host (docker with
//! `userland-proxy=false`, netavark, CNI), from `iptables-save -t nat` /
//! `ip6tables-save -t nat` (rules made through iptables, also over
//! nf_tables, whose targets `nft -j` cannot show) and `nft -j list ruleset`
//! (native nftables `dnat` statements). The parsers are pure functions over
//! the tools' output; [`read`] runs the tools, which read the kernel's
//! tables (no daemon is asked).

use std::collections::HashMap;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::model::{PortMap, PortMaps, Proto};
use crate::text::Text;

/// The DNAT mappings of an `iptables-save` dump. A rule jumping to a
/// chain with a comment `id: <hex>` (netavark's) lends that id to the
/// DNAT rules of the chain.
pub fn parse_iptables_save(text: &str) -> Vec<PortMap> {
    let mut ids: HashMap<&str, &str> = HashMap::new();
    let mut rules = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("-A ") else {
            continue;
        };
        let words = split_words(rest);
        let Some(chain) = words.first().copied() else {
            continue;
        };
        let after = |flag: &str| {
            words
                .iter()
                .position(|w| *w == flag)
                .and_then(|i| words.get(i + 1))
                .copied()
        };
        if let (Some(target), Some(comment)) = (after("-j"), after("--comment"))
            && let Some(id) = comment.split("id: ").nth(1)
        {
            let id = id.trim_matches('"').split_whitespace().next().unwrap_or("");
            if !id.is_empty() {
                ids.insert(target, id);
            }
        }
        if after("-j") != Some("DNAT") {
            continue;
        }
        let proto = match after("-p") {
            Some("tcp") => Proto::Tcp,
            Some("udp") => Proto::Udp,
            _ => continue,
        };
        let Some(host_port) = after("--dport").and_then(|p| p.parse::<u16>().ok()) else {
            continue;
        };
        let host_addr = after("-d").and_then(|d| {
            let (a, len) = d.split_once('/').unwrap_or((d, ""));
            let a: IpAddr = a.parse().ok()?;
            let full = if a.is_ipv4() { "32" } else { "128" };
            (len.is_empty() || len == full).then_some(a)
        });
        let Some((to_addr, to_port)) =
            after("--to-destination").and_then(|t| to_dest(t, host_port))
        else {
            continue;
        };
        rules.push((
            chain,
            PortMap {
                proto,
                host_addr,
                host_port,
                to_addr,
                to_port,
                container_id: None,
            },
        ));
    }
    rules
        .into_iter()
        .map(|(chain, mut m)| {
            m.container_id = ids.get(chain).map(|id| Text::from(*id));
            m
        })
        .collect()
}

/// `ADDR[:PORT]`, `[V6]:PORT`; the port defaults to the matched one.
fn to_dest(t: &str, default_port: u16) -> Option<(IpAddr, u16)> {
    if let Some(rest) = t.strip_prefix('[') {
        let (a, p) = rest.split_once(']')?;
        let port = p
            .strip_prefix(':')
            .map_or(Some(default_port), |p| p.parse().ok())?;
        return Some((a.parse().ok()?, port));
    }
    if let Ok(a) = t.parse::<IpAddr>() {
        return Some((a, default_port));
    }
    let (a, p) = t.rsplit_once(':')?;
    Some((a.parse().ok()?, p.parse().ok()?))
}

/// Splits a rule line into words, keeping a double-quoted comment whole.
fn split_words(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let end = if let Some(q) = rest.strip_prefix('"') {
            q.find('"').map_or(rest.len(), |i| i + 2)
        } else {
            rest.find(' ').unwrap_or(rest.len())
        };
        let (w, r) = rest.split_at(end);
        out.push(w.trim_matches('"'));
        rest = r.trim_start();
    }
    out
}

/// The DNAT mappings of `nft -j list ruleset` output: rules with a `dnat`
/// statement (an address, and a port or the matched one) after a match on
/// the TCP or UDP destination port.
pub fn parse_nft_json(json: &[u8]) -> Vec<PortMap> {
    let Ok(doc) = serde_json::from_slice::<Value>(json) else {
        return Vec::new();
    };
    let Some(items) = doc.get("nftables").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for rule in items.iter().filter_map(|i| i.get("rule")) {
        let Some(exprs) = rule.get("expr").and_then(Value::as_array) else {
            continue;
        };
        let mut proto = None;
        let mut port = None;
        let mut daddr = None;
        let mut dnat = None;
        for e in exprs {
            if let Some(m) = e.get("match") {
                let payload = m.get("left").and_then(|l| l.get("payload"));
                let field = payload.and_then(|p| p.get("field")).and_then(Value::as_str);
                let protocol = payload
                    .and_then(|p| p.get("protocol"))
                    .and_then(Value::as_str);
                let right = m.get("right");
                match (protocol, field) {
                    (Some(p @ ("tcp" | "udp")), Some("dport")) => {
                        proto = Some(if p == "tcp" { Proto::Tcp } else { Proto::Udp });
                        port = right
                            .and_then(Value::as_u64)
                            .and_then(|v| u16::try_from(v).ok());
                    }
                    (Some("ip" | "ip6"), Some("daddr")) => {
                        daddr = right.and_then(Value::as_str).and_then(|a| a.parse().ok());
                    }
                    _ => {}
                }
            }
            if let Some(d) = e.get("dnat") {
                let addr = d
                    .get("addr")
                    .and_then(Value::as_str)
                    .and_then(|a| a.parse::<IpAddr>().ok());
                let to_port = d
                    .get("port")
                    .and_then(Value::as_u64)
                    .and_then(|v| u16::try_from(v).ok());
                dnat = addr.map(|a| (a, to_port));
            }
        }
        if let (Some(proto), Some(host_port), Some((to_addr, to_port))) = (proto, port, dnat) {
            out.push(PortMap {
                proto,
                host_addr: daddr,
                host_port,
                to_addr,
                to_port: to_port.unwrap_or(host_port),
                container_id: None,
            });
        }
    }
    out
}

/// Runs a tool and gives its stdout, or why not.
fn run(prog: &str, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("failed").trim();
        return Err(format!(
            "{prog}: {}",
            first.chars().take(120).collect::<String>()
        ));
    }
    // A ruleset is a few MB at most; more is not a ruleset.
    if out.stdout.len() > 64 << 20 {
        return Err(format!("{prog}: output too large"));
    }
    Ok(out.stdout)
}

/// This host's published ports: iptables-save's and nft's rules, one copy
/// of each mapping. The tools need CAP_NET_ADMIN; when none can be read the
/// reason is said.
pub fn read() -> PortMaps {
    let mut maps = Vec::new();
    let mut failed = Vec::new();
    let mut any = false;
    for prog in ["iptables-save", "ip6tables-save"] {
        match run(prog, &["-t", "nat"]) {
            Ok(out) => {
                any = true;
                maps.extend(parse_iptables_save(&String::from_utf8_lossy(&out)));
            }
            Err(e) => failed.push(e),
        }
    }
    match run("nft", &["-j", "list", "ruleset"]) {
        Ok(out) => {
            any = true;
            for m in parse_nft_json(&out) {
                if !maps.iter().any(|k| {
                    (k.proto, k.host_port, k.to_addr, k.to_port)
                        == (m.proto, m.host_port, m.to_addr, m.to_port)
                }) {
                    maps.push(m);
                }
            }
        }
        Err(e) => failed.push(e),
    }
    PortMaps {
        maps,
        unreadable: (!any).then(|| {
            format!(
                "NAT rules could not be read ({}); ports published by them are not shown",
                failed.join("; ")
            )
        }),
    }
}

#[cfg(test)]
mod tests;
