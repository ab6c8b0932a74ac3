//! IP protocol numbers by name, as `/etc/protocols` (netbase) spells them
//! and `ss -w` shows them: a raw socket's "port" is its protocol, so a raw
//! ICMP socket is `0.0.0.0:icmp` there. A fixed table, not the file: the
//! numbers are assigned by IANA and do not vary by machine, and a lookup
//! per raw socket should not read a file.

/// (number, name), sorted by number: the protocols raw sockets are opened
/// for in practice.
const PROTOCOLS: &[(u8, &str)] = &[
    (0, "ip"),
    (1, "icmp"),
    (2, "igmp"),
    (4, "ipencap"),
    (6, "tcp"),
    (8, "egp"),
    (17, "udp"),
    (41, "ipv6"),
    (43, "ipv6-route"),
    (44, "ipv6-frag"),
    (46, "rsvp"),
    (47, "gre"),
    (50, "esp"),
    (51, "ah"),
    (58, "ipv6-icmp"),
    (59, "ipv6-nonxt"),
    (60, "ipv6-opts"),
    (89, "ospf"),
    (94, "ipip"),
    (103, "pim"),
    (108, "ipcomp"),
    (112, "vrrp"),
    (115, "l2tp"),
    (132, "sctp"),
    (136, "udplite"),
    (137, "mpls-in-ip"),
    (143, "ethernet"),
    (255, "raw"),
];

/// The name of IP protocol `number` (`1` → `icmp`, `58` → `ipv6-icmp`), or
/// `None` for one without a common name.
///
/// ```
/// assert_eq!(portscope::services::ip_protocol_name(1), Some("icmp"));
/// assert_eq!(portscope::services::ip_protocol_name(58), Some("ipv6-icmp"));
/// assert_eq!(portscope::services::ip_protocol_name(200), None);
/// ```
pub fn ip_protocol_name(number: u16) -> Option<&'static str> {
    let n = u8::try_from(number).ok()?;
    PROTOCOLS
        .binary_search_by_key(&n, |(k, _)| *k)
        .ok()
        .map(|i| PROTOCOLS[i].1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_is_sorted_and_unique() {
        assert!(super::PROTOCOLS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn agrees_with_etc_protocols_where_the_machine_has_it() {
        let Ok(text) = std::fs::read_to_string("/etc/protocols") else {
            return;
        };
        // The first name listed for a number is the one ss shows (0 is
        // both `ip` and `hopopt`).
        let mut seen = std::collections::HashSet::new();
        for line in text.lines() {
            let mut words = line.split('#').next().unwrap_or("").split_whitespace();
            let (Some(name), Some(num)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(num) = num.parse::<u16>() else {
                continue;
            };
            if !seen.insert(num) {
                continue;
            }
            if let Some(ours) = super::ip_protocol_name(num) {
                assert_eq!(ours, name, "protocol {num}");
            }
        }
    }
}
