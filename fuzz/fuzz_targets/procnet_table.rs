//! Fuzzes the /proc/net table parser: the first byte picks the table (tcp,
//! tcp6, udp, udp6, raw, raw6, unix) and whether timers are parsed; the rest
//! is the file's text. Any bytes must give sockets or a parse error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portscope::collect::linux::procnet::{self, Table};
use portscope::model::Detail;

fuzz_target!(|data: &[u8]| {
    let Some((&head, text)) = data.split_first() else {
        return;
    };
    let table = Table::ALL[usize::from(head & 7) % Table::ALL.len()];
    let detail = Detail {
        timers: head & 8 != 0,
        ..Detail::default()
    };
    let mut out = Vec::new();
    let _ = procnet::parse_with(table, text, "fuzz", detail, &mut out);
    // At most one socket per line.
    assert!(out.len() <= text.iter().filter(|&&b| b == b'\n').count() + 1);
    let mut plain = Vec::new();
    let _ = procnet::parse(table, text, "fuzz", &mut plain);
});
