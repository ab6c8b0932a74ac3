//! Fuzzes `--from-snapshot` files: any bytes must parse into a snapshot or
//! give the one-line error the user sees, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match portscope_cli::fuzzing::snapshot_file(text) {
        Ok(snap) => assert!(snap.sockets.len() <= text.len()),
        Err(e) => assert!(!e.contains('\n'), "error is one line: {e:?}"),
    }
});
