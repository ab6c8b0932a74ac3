//! Fuzzes `audit --baseline FILE`: a saved `audit --json` or a saved
//! listing. Any text must give findings or the error the user sees.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = portscope_cli::fuzzing::baseline_findings(text);
});
