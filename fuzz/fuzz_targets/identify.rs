//! Fuzzes what `scan` does with a remote service's bytes: banner and
//! protocol identification, HTTP header lookup, the printable form shown to
//! people, and certificate reading. A remote server chooses every byte.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portscope_scan::identify as f;
use portscope_scan::tls;

fuzz_target!(|data: &[u8]| {
    if let Some(id) = f::from_tcp(data) {
        assert!(!id.protocol.is_empty());
    }
    // Every row of the match table, as the reply to every probe.
    for probe in portscope_scan::probe::Probe::ALL {
        if let Some(id) = portscope_scan::matches::identify(data, Some(probe)) {
            assert!(!id.protocol.is_empty());
        }
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
    let mut info = tls::TlsInfo::default();
    tls::read_certificate(data, &mut info);
});
