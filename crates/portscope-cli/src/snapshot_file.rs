//! Reads a saved `--json` listing back into a [`Snapshot`], for the hidden
//! `--from-snapshot FILE` flag: deterministic output tests, and rendering a
//! listing taken on another machine. The schema is `portscope::json`'s.

use portscope::model::Snapshot;

/// Parses a saved JSON listing. The error says what and where.
pub fn parse(text: &str) -> Result<Snapshot, String> {
    parse_listing(text).map(|(snap, _)| snap)
}

/// [`parse`], also saying whether the listing carries owner data (some
/// socket has an `owners` list).
pub fn parse_listing(text: &str) -> Result<(Snapshot, bool), String> {
    portscope::json::read_listing(text).map(|r| (r.snapshot, r.owners_known))
}
