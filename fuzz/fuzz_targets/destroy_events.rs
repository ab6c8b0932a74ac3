//! Fuzzes the reader of sock_diag destroy broadcasts (what `events`
//! subscribes to): any bytes give sockets or nothing, never a panic, and
//! never more sockets than the bytes could hold (a header and an
//! inet_diag_msg each).

#![no_main]

use libfuzzer_sys::fuzz_target;
use portscope::collect::linux::netlink::parse_destroyed;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    parse_destroyed(data, &mut out);
    assert!(out.len() <= data.len() / (16 + 72));
});
