//! Fuzzes what `scan` does with a remote service's bytes: banner and
//! protocol identification, HTTP header lookup, the printable form shown to
//! people, and certificate reading. A remote server chooses every byte.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portscope_cli::fuzzing as f;

fuzz_target!(|data: &[u8]| {
    if let Some(id) = f::from_tcp(data) {
        assert!(!id.protocol.is_empty());
    }
    let _ = f::is_tls_record(data);
    for name in ["server", "Server", "location", ""] {
        let _ = f::header(data, name);
    }
    let shown = f::printable(data, 200);
    assert!(
        !shown.chars().any(|c| c.is_control()),
        "printable() let a control character through: {shown:?}"
    );
    let mut info = f::TlsInfo::default();
    f::read_certificate(data, &mut info);
});
