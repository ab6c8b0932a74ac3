//! Fuzzes the filter language: any bytes, cut into words at NUL bytes (so a
//! word may hold blanks and several tokens, as a quoted shell argument can),
//! must parse or fail with an error whose column lies within the text, and a
//! parsed filter must judge sockets without panicking.
//!
//! The sockets judged come from the recorded listing the CLI tests use, read
//! through the JSON schema (a public interface), so new model fields cannot
//! break this target's build.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portscope::filter::Filter;
use portscope::model::Snapshot;

fn snapshot() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        portscope_cli::fuzzing::snapshot_file(include_str!(
            "../../crates/portscope-cli/tests/fixtures/listing.json"
        ))
        .expect("the recorded listing parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let words: Vec<String> = text.split('\0').map(String::from).collect();
    match Filter::parse(&words) {
        Ok(filter) => {
            let snap = snapshot();
            let _ = filter.query_hint();
            for s in &snap.sockets {
                let _ = filter.matches(s, snap);
            }
        }
        Err(e) => {
            assert!(e.column >= 1 && e.column <= e.text.chars().count() + 1);
            let _ = e.caret_lines();
        }
    }
});
