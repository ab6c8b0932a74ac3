//! Fuzzes `scan` targets (addresses, CIDR blocks, host names), cut at NUL
//! bytes into several. Names are "resolved" to 127.0.0.1 without asking any
//! resolver: a fuzzer must send no DNS queries. The host cap must hold, and
//! every position below the count must give an address (hosts are worked
//! out by position, never listed).

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;

const CAP: u64 = 1 << 32;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let targets: Vec<String> = text.split('\0').map(String::from).collect();
    let local = |_: &str| Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if let Ok(hosts) = portscope_cli::fuzzing::targets(&targets, CAP, local) {
        let n = hosts.len();
        assert!(n <= CAP, "{n} hosts over the cap");
        for i in [0, n / 2, n.saturating_sub(1)] {
            if i < n {
                assert!(hosts.addr(i).is_some(), "host {i} of {n} has no address");
                assert!(hosts.get(i).is_some(), "host {i} of {n} missing");
                let _ = hosts.name(i);
            }
        }
        assert!(hosts.addr(n).is_none());
    }
});
