//! Options anywhere on the command line, as ss takes them: before or after
//! the filter words, for the listing and every command; `--` ends them; `-c`
//! takes SECONDS only when the next word is a number; clap's suggestions and
//! valid values still reach the one error line.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{TcpListener, TcpStream};
use std::process::Stdio;

use common::*;
use serde_json::Value;

/// The inodes a JSON listing holds.
fn inodes(list: &[Value]) -> Vec<u64> {
    let mut v: Vec<u64> = list.iter().filter_map(|s| s["inode"].as_u64()).collect();
    v.sort_unstable();
    v
}

fn run(args: &[&str]) -> std::process::Output {
    portscope().args(args).output().unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn listing_options_after_the_filter() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let filter = format!(":{port}");
    // `portscope -tlnp sport = :P --json`, as ss would take it.
    let after = run(&["-tlnp", "sport", "=", &filter, "--json"]);
    assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
    let after = parse_json(&after);
    assert!(by_inode(&after, inode(&l)).is_some(), "{after:?}");
    assert!(
        after
            .iter()
            .all(|s| s["local"]["port"] == port && s["state"] == "LISTEN"),
        "{after:?}"
    );
    // The same as with the options first, and with them between the words.
    let before = json(&["-tlnp", "sport", "=", &filter]);
    let between = run(&["sport", "-tl", "=", "--json", &filter, "-np"]);
    assert_eq!(between.status.code(), Some(0), "{}", stderr(&between));
    assert_eq!(inodes(&after), inodes(&before));
    assert_eq!(inodes(&parse_json(&between)), inodes(&before));
}

#[test]
fn double_dash_ends_options() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let filter = format!(":{port}");
    // Before `--`, options; after it, only filter words.
    let out = run(&["--json", "-tl", "--", "sport", "=", &filter]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(by_inode(&parse_json(&out), inode(&l)).is_some());
    // `--json` after `--` is a filter word, and not one the language knows.
    let out = run(&["-tl", "--", "sport", "=", &filter, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("portscope: filter:") && err.contains("--json"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    // A filter word that looks like an option reaches the filter after `--`
    // (and is judged there: `-1` is no port).
    let out = run(&["-tl", "--", "sport", "=", "-1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("filter") && err.contains("-1"), "{err}");
    // Without `--`, it is an unknown option, said in one line.
    let out = run(&["-tl", "sport", "=", "-1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("'-1'"), "{}", stderr(&out));
}

#[test]
fn suggestions_and_valid_values_reach_the_error_line() {
    let _ns = common::netns();
    let out = run(&["sport", "=", ":22", "--jsno"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("'--jsno'") && err.contains("'--json'"),
        "{err}"
    );

    let out = run(&["sport", "=", ":22", "--format", "tabel"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("possible values: table, netstat, json, csv") && err.contains("'table'"),
        "{err}"
    );

    let out = run(&["who", "22", "--kil"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("'--kill'"), "{}", stderr(&out));
}

/// Reads the first JSON array a `-c --json` run prints, then stops it.
fn first_round(args: &[&str]) -> Vec<Value> {
    let mut child = portscope()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first = serde_json::Deserializer::from_reader(stdout)
        .into_iter::<Value>()
        .next();
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let first = first.unwrap_or_else(|| panic!("no listing; stderr: {}", stderr(&out)));
    first.unwrap().as_array().unwrap().clone()
}

#[test]
fn continuous_takes_seconds_only_when_they_are_a_number() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let filter = format!(":{port}");
    for args in [
        // Default seconds, the filter keeps `sport`.
        &["-c", "sport", "=", &filter, "--json"][..],
        &["-tlc", "sport", "=", &filter, "--json"],
        &["--continuous", "sport", "=", &filter, "--json"],
        // SECONDS when the next word is a number, glued on or not.
        &["-c", "0.2", "sport", "=", &filter, "--json"],
        &["-c0.2", "sport", "=", &filter, "--json"],
        &["-tlc", "0.2", "sport", "=", &filter, "--json"],
        &["--continuous=0.2", "sport", "=", &filter, "--json"],
        &["sport", "=", &filter, "--json", "-c"],
    ] {
        let list = first_round(args);
        assert!(by_inode(&list, inode(&l)).is_some(), "{args:?}: {list:?}");
        assert!(
            list.iter().all(|s| s["local"]["port"] == port),
            "{args:?}: {list:?}"
        );
    }
    // A bad interval is still an error about the interval.
    let out = run(&["-c", "0", "sport", "=", &filter]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("continuous"), "{}", stderr(&out));
}

#[test]
fn every_command_takes_options_after_its_words() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();

    let out = run(&["who", &port, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        parse_json(&out)
            .iter()
            .any(|b| b["pid"] == std::process::id()),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = run(&["explain", "22", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice::<Value>(&out.stdout).unwrap();

    let out = run(&["scan", "127.0.0.1", "--json", "-p", &port, "--no-probe"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice::<Value>(&out.stdout).unwrap();

    // watch: `--interval 0` after the filter is read as the option (and
    // refused as an interval), not as filter words.
    let out = run(&["watch", "sport", "=", ":1", "--interval", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("interval") && !err.contains("filter"), "{err}");

    // close: `--yes` after the filter is the option. No connection has
    // remote port 0: exit 1, "selects no TCP connection", not a filter error.
    let out = run(&["close", "state", "established", "dport = :0", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no TCP connection"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn close_with_yes_after_the_filter_closes() {
    let _ns = common::netns();
    if !is_root() {
        eprintln!("skipped: closing sockets needs CAP_NET_ADMIN");
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let _server = l.accept().unwrap();
    let cport = client.local_addr().unwrap().port();
    let out = run(&["close", "sport", "=", &format!(":{cport}"), "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains(": closed"), "{text}");
    let list = json(&["-ta"]);
    assert!(
        by_inode(&list, inode(&client)).is_none_or(|s| s["state"] != "ESTABLISHED"),
        "still established"
    );
}
