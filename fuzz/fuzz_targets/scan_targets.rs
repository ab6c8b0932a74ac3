//! Fuzzes `scan` targets (addresses, CIDR blocks, host names), cut at NUL
//! bytes into several. Names are "resolved" to 127.0.0.1 without asking any
//! resolver: a fuzzer must send no DNS queries. The host cap must hold.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;

const CAP: usize = 300;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let targets: Vec<String> = text.split('\0').map(String::from).collect();
    let local = |_: &str| Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if let Ok(hosts) = portscope_cli::fuzzing::targets(&targets, CAP, local) {
        assert!(hosts.len() <= CAP, "{} hosts over the cap", hosts.len());
    }
});
