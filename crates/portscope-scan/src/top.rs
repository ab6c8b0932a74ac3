//! The "most commonly open" TCP port ordering behind `top100` and the
//! default top 1000. Data only.
//!
//! Where the order comes from:
//! - The first 100 are nmap's published top-100 TCP ports in nmap's
//!   frequency order (the order `nmap --top-ports 100` uses, from the
//!   open-frequency column of nmap-services), as widely reproduced. That file
//!   itself is not shipped here.
//! - Ports 101 onwards are not frequency data. They are a hand-kept list of
//!   ports that common server software listens on by default (databases,
//!   caches, message brokers, web and admin consoles, remote access,
//!   directory and file services), followed by the remaining TCP system
//!   ports (1–1023) that have an IANA registry entry, in numeric order, and
//!   then registered user ports in numeric order until 1000 are reached.
//!   So the top 1000 is "the likely ones first", not a measured ranking.

use portscope::services::{self, Transport};

/// nmap's top 100 TCP ports, most frequently open first.
pub const TOP_100: [u16; 100] = [
    80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995, 993,
    5900, 1025, 587, 8888, 199, 1720, 465, 548, 113, 81, 6001, 10000, 514, 5060, 179, 1026, 2000,
    8443, 8000, 32768, 554, 26, 1433, 49152, 2001, 515, 8008, 49154, 1027, 5666, 646, 5000, 5631,
    631, 49153, 8081, 2049, 88, 79, 5800, 106, 2121, 1110, 49155, 6000, 513, 990, 5357, 427, 49156,
    543, 544, 5101, 144, 7, 389, 8009, 3128, 444, 9999, 5009, 7070, 5190, 3000, 5432, 1900, 3986,
    13, 1029, 9, 5051, 6646, 49157, 1028, 873, 1755, 2717, 4899, 9100, 119, 37,
];

/// Default ports of common server software, beyond the top 100 (hand-kept).
const COMMON: &[u16] = &[
    // databases and caches
    6379, 27017, 27018, 11211, 5984, 9042, 7000, 7001, 8086, 9200, 9300, 1521, 1522, 50000, 5433,
    26257, 28015, 7474, 7687, 8529, 6380, 9160, 5000, 2379, 2380, 8091, 8092, 3050, 33060,
    // message brokers and streaming
    5672, 5671, 15672, 1883, 8883, 61613, 61614, 61616, 9092, 4222, 6222, 8222, 4369, 25672,
    // web, proxies, admin consoles, development servers
    8001, 8002, 8010, 8082, 8083, 8084, 8085, 8088, 8089, 8090, 8180, 8181, 8280, 8443, 8500, 8530,
    8531, 8600, 8686, 8880, 8888, 8983, 9000, 9001, 9080, 9090, 9091, 9443, 9444, 9800, 9981,
    10443, 3001, 4000, 4200, 4443, 4567, 5001, 5173, 5601, 7443, 7547, 8042, 8069, 8071, 8161,
    8761, 9870, 50070, 16010, 18080, 3128, 1080, 8118, 9050, 9051, 6443, 10250, 10255, 2375, 2376,
    5985, 5986, 9093, 9100, 9115, 9187, 3100, 16686, 4040,
    // remote access and management
    5901, 5902, 5903, 2222, 2200, 22222, 8022, 3390, 5938, 623, 664, 161, 162, 10050, 10051, 4949,
    // mail, directory, file and name services
    636, 993, 995, 465, 2525, 3268, 3269, 464, 749, 2049, 20048, 445, 137, 138, 873, 3260, 69, 989,
    990, 2121, 853, 5353, 5355, 1812, 1813, 3478, 5349, 5222, 5223, 5269, 6667, 6697, 194,
    // voice, media, printing, misc
    5061, 1935, 8554, 9100, 515, 631, 1900, 5357, 3702, 1701, 500, 4500, 1194, 51820, 1433, 1434,
    // application servers
    8005, 8009, 8443, 9043, 9060, 7002, 4848, 1099, 1098, 11099, 8880, 9990, 8787, 5555, 5556,
];

/// Builds the first `n` ports of the ordering (at most 65535, no repeats).
pub fn top(n: usize) -> Vec<u16> {
    let mut seen = vec![false; 65536];
    let mut out = Vec::with_capacity(n.min(65535));
    let mut push = |p: u16, out: &mut Vec<u16>| {
        if p != 0 && out.len() < n && !seen[usize::from(p)] {
            seen[usize::from(p)] = true;
            out.push(p);
        }
    };
    for &p in TOP_100.iter().chain(COMMON) {
        push(p, &mut out);
    }
    let registered =
        |p: u16| services::lookup_transport(p, Transport::Tcp).is_some_and(|s| s.port == p);
    for p in 1..=1023u16 {
        if registered(p) {
            push(p, &mut out);
        }
    }
    for p in 1024..=49151u16 {
        if out.len() >= n {
            break;
        }
        if registered(p) {
            push(p, &mut out);
        }
    }
    // Past the registry: every other port, in numeric order.
    for p in 1..=65535u16 {
        if out.len() >= n {
            break;
        }
        push(p, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_lists_have_no_repeats_and_start_with_the_top_100() {
        let t = top(1000);
        assert_eq!(t.len(), 1000);
        assert_eq!(&t[..100], &TOP_100[..]);
        let mut s = t.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), 1000);
        assert_eq!(top(65535).len(), 65535);
        // The common service ports are in the top 1000.
        for p in [6379, 27017, 11211, 9200, 5672, 636] {
            assert!(t.contains(&p), "{p}");
        }
    }
}
