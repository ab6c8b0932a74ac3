//! The human layouts, pinned: a saved listing (`--from-snapshot`) rendered as
//! the table, the Windows netstat layout, CSV and JSON. Live sockets can't
//! give stable text; the renderers are what these pin.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/listing.json");

fn render(args: &[&str]) -> String {
    let out = portscope()
        .args(args)
        .args(["--from-snapshot", FIXTURE, "--color", "never"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn table_default() {
    insta::assert_snapshot!(render(&[]));
}

#[test]
fn table_extended_all_protocols() {
    insta::assert_snapshot!(render(&["-tuxae"]));
}

#[test]
fn table_listening_sorted_by_port() {
    insta::assert_snapshot!(render(&["-tul", "-p", "--sort", "port"]));
}

#[test]
fn netstat_layout() {
    insta::assert_snapshot!(render(&["-ano", "--format", "netstat"]));
    // Unix sockets get their own section, Linux netstat's; without -o there
    // is no PID column (no PID 0 for sockets nobody was asked about).
    insta::assert_snapshot!(
        "netstat_layout_unix_no_pid",
        render(&["-tuxa", "--format", "netstat"])
    );
}

#[test]
fn csv_layout() {
    insta::assert_snapshot!(render(&["-tuxa", "-p", "--csv"]));
}

#[test]
fn json_round_trips() {
    // What --json writes, --from-snapshot reads back to the same listing.
    let first = render(&["-tuxa", "-p", "--json"]);
    let dir = std::env::temp_dir().join(format!("portscope-layouts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("again.json");
    std::fs::write(&path, &first).unwrap();
    let out = portscope()
        .args(["-tuxa", "-p", "--json", "--from-snapshot"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), first);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_snapshot_file_is_usage_error() {
    let out = portscope()
        .args(["--from-snapshot", "/nonexistent/listing.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn help_texts() {
    // --help comes from the same definitions as the parser; pin what users read.
    for (name, args) in [
        ("main", &["--help"][..]),
        ("who", &["who", "--help"]),
        ("explain", &["explain", "--help"]),
        ("close", &["close", "--help"]),
        ("audit", &["audit", "--help"]),
        ("scan", &["scan", "--help"]),
        ("watch", &["watch", "--help"]),
        ("events", &["events", "--help"]),
        ("history", &["history", "--help"]),
        ("wait", &["wait", "--help"]),
        ("map", &["map", "--help"]),
        ("pid", &["pid", "--help"]),
        ("serve", &["serve", "--help"]),
        ("completions", &["completions", "--help"]),
        ("man", &["man", "--help"]),
    ] {
        let out = portscope()
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}");
        insta::assert_snapshot!(
            format!("help_{name}"),
            String::from_utf8(out.stdout).unwrap()
        );
    }
}
