//! Fuzzes the one escaping path for untrusted text (`portscope::text`):
//! for any bytes, the escaped form holds no control character (C0, DEL, C1)
//! and no bidi override, reads back to the exact bytes through `unescape`,
//! and so does the hex form; a bounded form is a prefix of the escaped one
//! plus a count. `unescape` itself must take any string without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portscope::text::{Text, escape, unescape};

fn shows_nothing_raw(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
}

fuzz_target!(|data: &[u8]| {
    let t = Text::from(data);
    let shown = t.escaped().to_string();
    assert!(shows_nothing_raw(&shown), "raw control in {shown:?}");
    assert_eq!(
        unescape(&shown).as_deref(),
        Some(data),
        "round trip of {shown:?}"
    );
    assert_eq!(escape(data).to_string(), shown);
    let also = escape(data).also(b";,").to_string();
    assert!(!also.contains([';', ',']), "{also:?}");
    assert_eq!(unescape(&also).as_deref(), Some(data));
    assert_eq!(Text::from_hex(&t.hex()).as_ref(), Some(&t));

    let max = usize::from(data.first().copied().unwrap_or(0) % 64);
    let bounded = t.bounded(max).to_string();
    assert!(shows_nothing_raw(&bounded));
    if bounded != shown {
        let cut = bounded.find('…').expect("a cut value says so");
        assert!(
            shown.starts_with(&bounded[..cut]),
            "{bounded:?} / {shown:?}"
        );
    }

    // Any string given to unescape (a CSV field, a filter word).
    if let Ok(s) = std::str::from_utf8(data)
        && let Some(bytes) = unescape(s)
    {
        // What it accepted, escaping writes back (the forms are canonical
        // only up to spelling, so compare the bytes).
        let again = Text::from(bytes.clone()).escaped().to_string();
        assert_eq!(unescape(&again), Some(bytes));
    }
});
