//! Fuzzes `scan --ports`: any spec must give ports (each 1-65535, no
//! repeats) or an error, for TCP and UDP service names alike.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portscope::services::Transport;

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = std::str::from_utf8(data) else {
        return;
    };
    for transport in [Transport::Tcp, Transport::Udp] {
        if let Ok(ports) = portscope_cli::fuzzing::port_spec(spec, transport) {
            assert!(ports.len() <= 65535);
            assert!(!ports.contains(&0));
            let mut seen = vec![false; 65536];
            for p in ports {
                assert!(!seen[usize::from(p)], "port {p} repeated");
                seen[usize::from(p)] = true;
            }
        }
    }
});
