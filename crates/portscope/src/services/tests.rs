//! Tests of the registry against hand-checked ports, the CSV it is built from
//! (read independently here with the `csv` crate) and this machine's
//! `/etc/services`.

// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use super::*;

const CSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/iana-service-names-port-numbers.csv"
);

/// A named CSV row that has a port, one per transport it stands for.
#[derive(Debug)]
struct CsvRow {
    name: String,
    low: u16,
    high: u16,
    transport: Transport,
    description: String,
}

/// The registry rows as the CSV says them, in file order. A row with an empty
/// transport is an assignment for both TCP and UDP.
fn csv_rows() -> Vec<CsvRow> {
    let mut reader = csv::Reader::from_path(CSV).unwrap();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        let name = record.get(0).unwrap().trim();
        let port = record.get(1).unwrap().trim();
        if name.is_empty() || port.is_empty() {
            continue;
        }
        let (low, high) = match port.split_once('-') {
            Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
            None => (port.parse().unwrap(), port.parse().unwrap()),
        };
        let transports = match record.get(2).unwrap().trim() {
            "" => vec![Transport::Tcp, Transport::Udp],
            "tcp" => vec![Transport::Tcp],
            "udp" => vec![Transport::Udp],
            "sctp" => vec![Transport::Sctp],
            "dccp" => vec![Transport::Dccp],
            other => panic!("unexpected transport {other:?}"),
        };
        let description = record
            .get(3)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>();
        for transport in transports {
            rows.push(CsvRow {
                name: name.to_owned(),
                low,
                high,
                transport,
                description: description.join(" "),
            });
        }
    }
    rows
}

fn name(port: u16, proto: Proto) -> Option<&'static str> {
    lookup(port, proto).map(|s| s.name)
}

#[test]
fn well_known_ports() {
    assert_eq!(name(22, Proto::Tcp), Some("ssh"));
    assert_eq!(name(22, Proto::Udp), Some("ssh"));
    assert_eq!(name(443, Proto::Tcp), Some("https"));
    assert_eq!(name(53, Proto::Udp), Some("domain"));
    assert_eq!(name(53, Proto::Tcp), Some("domain"));
    assert_eq!(name(5432, Proto::Tcp), Some("postgresql"));
    // The registry lists redis for TCP only.
    assert_eq!(name(6379, Proto::Tcp), Some("redis"));
    assert_eq!(name(8080, Proto::Tcp), Some("http-alt"));
    let ssh = lookup(22, Proto::Tcp).unwrap();
    assert_eq!(
        (ssh.port, ssh.transport, ssh.description),
        (22, Transport::Tcp, "The Secure Shell (SSH) Protocol")
    );
    assert_eq!(ssh.ports(), 22..=22);
}

#[test]
fn primary_name_is_the_first_listed() {
    // 80 is http, www, www-http; 42 is name, nameserver.
    assert_eq!(name(80, Proto::Tcp), Some("http"));
    assert_eq!(name(80, Proto::Udp), Some("http"));
    assert_eq!(name(42, Proto::Tcp), Some("name"));
}

#[test]
fn other_transports() {
    assert_eq!(
        lookup_transport(22, Transport::Sctp).map(|s| s.name),
        Some("ssh")
    );
    let dccp: Vec<&Service> = entries()
        .iter()
        .filter(|s| s.transport == Transport::Dccp)
        .collect();
    assert!(!dccp.is_empty());
    for s in dccp {
        assert_eq!(
            lookup_transport(s.port, Transport::Dccp).unwrap().transport,
            Transport::Dccp
        );
    }
}

#[test]
fn raw_and_unix_have_no_service() {
    assert_eq!(lookup(22, Proto::Raw), None);
    assert_eq!(lookup(22, Proto::Unix), None);
    assert_eq!(Transport::from_proto(Proto::Tcp), Some(Transport::Tcp));
    assert_eq!(Transport::from_proto(Proto::Udp), Some(Transport::Udp));
}

#[test]
fn range_assignments() {
    for port in [6000, 6005, 6063] {
        let s = lookup(port, Proto::Tcp).unwrap();
        assert_eq!((s.name, s.port, s.ports()), ("x11", 6000, 6000..=6063));
        assert_eq!(name(port, Proto::Udp), Some("x11"));
    }
    assert_ne!(name(6064, Proto::Tcp), Some("x11"));
    // A range listed without a transport covers TCP and UDP.
    assert_eq!(name(4250, Proto::Tcp), Some("vrml-multi-use"));
    assert_eq!(name(4250, Proto::Udp), Some("vrml-multi-use"));
    // ircu 6665-6669 is TCP only.
    assert_eq!(name(6667, Proto::Tcp), Some("ircu"));
    assert_ne!(name(6667, Proto::Udp), Some("ircu"));
    // all_for_port inside a range finds the range entries.
    let names: Vec<(&str, Transport)> = all_for_port(6005)
        .iter()
        .map(|s| (s.name, s.transport))
        .collect();
    assert_eq!(
        &names[..2],
        [("x11", Transport::Tcp), ("x11", Transport::Udp)]
    );
    // by_name gives one entry per transport, not one per port.
    let x11: Vec<&Service> = by_name("x11")
        .into_iter()
        .filter(|s| s.name == "x11")
        .collect();
    assert_eq!(x11.len(), 2);
}

#[test]
fn port_without_entry() {
    // 40001 is unassigned in the registry and absent from common
    // /etc/services files; make sure this machine's agrees before asserting.
    let local = std::fs::read_to_string("/etc/services").unwrap_or_default();
    assert!(!parse_etc_services(&local).iter().any(|e| e.1 == 40001));
    assert_eq!(lookup(40001, Proto::Tcp), None);
    assert_eq!(lookup(40001, Proto::Udp), None);
    assert!(all_for_port(40001).is_empty());
    assert!(by_name("no-such-service-anywhere").is_empty());
    assert!(by_name("").is_empty());
}

#[test]
fn by_name_ignores_case() {
    let ssh = by_name("SSH");
    let mut found: Vec<(u16, Transport)> = ssh.iter().map(|s| (s.port, s.transport)).collect();
    found.sort();
    found.dedup();
    assert!(found.contains(&(22, Transport::Tcp)));
    assert!(found.contains(&(22, Transport::Udp)));
    assert!(ssh.iter().all(|s| s.name.eq_ignore_ascii_case("ssh")));
    // Mixed-case registry names are found in any case.
    assert_eq!(by_name("cailic").first().map(|s| s.name), Some("CAIlic"));
    assert_eq!(by_name("CAILIC").len(), by_name("CAIlic").len());
    // A prefix is not a match.
    assert!(
        by_name("ss")
            .iter()
            .all(|s| s.name.eq_ignore_ascii_case("ss"))
    );
}

#[test]
fn table_holds_every_named_csv_row() {
    let rows = csv_rows();
    assert_eq!(RECORDS.len(), rows.len());
    // Entry for entry, in (port, registry) order, strings intact.
    let mut sorted: Vec<&CsvRow> = rows.iter().collect();
    sorted.sort_by_key(|r| r.low);
    for (s, r) in entries().iter().zip(&sorted) {
        assert_eq!(
            (s.name, s.port, s.transport, s.description),
            (r.name.as_str(), r.low, r.transport, r.description.as_str())
        );
    }
    assert_eq!(NAME_INDEX.len(), rows.len());
    assert_eq!(RANGES.len(), rows.iter().filter(|r| r.high > r.low).count());
    for r in &rows {
        for port in [r.low, r.high] {
            let got = registry_entries(port)
                .find(|s| s.transport == r.transport)
                .unwrap_or_else(|| panic!("nothing for {r:?}"));
            assert!(got.port <= port && got.ports().contains(&port), "{r:?}");
            assert!(
                by_name(&r.name)
                    .iter()
                    .any(|s| s.transport == r.transport && s.port == r.low),
                "{r:?}"
            );
        }
    }
}

#[test]
fn port_entries_come_in_registry_order() {
    // For every port, the registry part of all_for_port is exactly the CSV
    // rows covering that port, in file order.
    let rows = csv_rows();
    let mut want: Vec<Vec<(&str, Transport)>> = vec![Vec::new(); 65536];
    for r in &rows {
        for port in r.low..=r.high {
            want[usize::from(port)].push((&r.name, r.transport));
        }
    }
    for port in 0..=u16::MAX {
        let got: Vec<(&str, Transport)> = registry_entries(port)
            .map(|s| (s.name, s.transport))
            .collect();
        assert_eq!(got, want[usize::from(port)], "port {port}");
        let all = all_for_port(port);
        assert!(all.len() >= got.len());
        for (s, (n, t)) in all.iter().zip(&got) {
            assert_eq!((s.name, s.transport), (*n, *t));
        }
    }
}

#[test]
fn fast_lookup_agrees_with_the_plain_walk() {
    // lookup_transport() takes shortcuts (bitmaps, a hand-written loop);
    // the first matching entry of registry_entries() is what it must find.
    let all = [
        Transport::Tcp,
        Transport::Udp,
        Transport::Sctp,
        Transport::Dccp,
    ];
    for port in 0..=u16::MAX {
        for t in all {
            let want = registry_entries(port)
                .find(|s| s.transport == t)
                .or_else(|| {
                    etc_services::extras()
                        .for_port(port)
                        .iter()
                        .find(|s| s.transport == t)
                });
            let got = lookup_transport(port, t);
            assert!(
                match (got, want) {
                    (Some(a), Some(b)) => std::ptr::eq(a, b),
                    (None, None) => true,
                    _ => false,
                },
                "{port}/{t}: {got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn named_bitmaps_match_the_table() {
    for port in 0..=u16::MAX {
        for (bits, t) in [(&TCP_NAMED, Transport::Tcp), (&UDP_NAMED, Transport::Udp)] {
            let has = registry_entries(port).any(|s| s.transport == t);
            assert_eq!(bit(bits, port), has, "{port}/{t}");
        }
    }
}

#[test]
fn generated_indexes_are_sorted() {
    assert!(entries().windows(2).all(|w| w[0].port <= w[1].port));
    assert!(PORTS.iter().eq(entries().iter().map(|s| &s.port)));
    assert!(RANGES.windows(2).all(|w| w[0].low <= w[1].low));
    let names: Vec<&str> = NAME_INDEX
        .iter()
        .map(|&i| entries()[usize::from(i)].name)
        .collect();
    assert!(
        names
            .windows(2)
            .all(|w| cmp_ignore_ascii_case(w[0], w[1]).is_le())
    );
    let mut seen = vec![false; RECORDS.len()];
    for &i in &NAME_INDEX {
        assert!(!std::mem::replace(&mut seen[usize::from(i)], true));
    }
}

#[test]
fn descriptions_are_single_lines() {
    // nexgen-aux's description spans two lines in the CSV.
    let s = lookup(6629, Proto::Tcp).unwrap();
    assert_eq!(s.name, "nexgen-aux");
    assert!(
        s.description.contains("interface to the Allied"),
        "{}",
        s.description
    );
    assert!(
        entries()
            .iter()
            .all(|s| !s.description.contains(['\n', '\r', '\t'])
                && !s.description.contains("  ")
                && s.description.trim() == s.description)
    );
    assert!(entries().iter().all(|s| !s.name.is_empty()));
}

#[test]
fn every_etc_services_entry_resolves() {
    // Oracle: whatever this machine's /etc/services names, lookup names too.
    let Ok(bytes) = std::fs::read("/etc/services") else {
        return;
    };
    let text = String::from_utf8_lossy(&bytes);
    let parsed = parse_etc_services(&text);
    assert!(
        !parsed.is_empty(),
        "/etc/services present but nothing parsed"
    );
    for (n, port, t, aliases) in &parsed {
        assert!(lookup_transport(*port, *t).is_some(), "{n} {port}/{t}");
        let proto = match t {
            Transport::Tcp => Some(Proto::Tcp),
            Transport::Udp => Some(Proto::Udp),
            _ => None,
        };
        if let Some(proto) = proto {
            assert_eq!(lookup(*port, proto), lookup_transport(*port, *t));
        }
        for name in std::iter::once(n).chain(aliases) {
            assert!(
                by_name(name)
                    .iter()
                    .any(|s| s.port <= *port && s.ports().contains(port) && s.transport == *t),
                "{name} {port}/{t}"
            );
        }
        assert!(all_for_port(*port).iter().any(|s| s.transport == *t));
    }
}

#[test]
fn transport_names() {
    let all = [
        Transport::Tcp,
        Transport::Udp,
        Transport::Sctp,
        Transport::Dccp,
    ];
    let names: Vec<&str> = all.iter().map(|t| t.as_str()).collect();
    assert_eq!(names, ["tcp", "udp", "sctp", "dccp"]);
    for t in all {
        assert_eq!(
            Transport::from_name(&t.as_str().to_ascii_uppercase()),
            Some(t)
        );
        assert_eq!(t.to_string(), t.as_str());
    }
    assert_eq!(Transport::from_name("ddp"), None);
}
