//! What ships in contrib/ for `serve`: the Prometheus alert rules (checked
//! and unit-tested by promtool), the Grafana dashboard (parses, names only
//! metrics the server exports), the systemd unit.
#![allow(clippy::unwrap_used)]

mod common;
mod serve_support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serve_support::{Server, need};

fn contrib(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../contrib")
        .join(path)
}

/// Every `portscope_…` name in `text`.
fn names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("portscope_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// The metric names a running server exports (as samples are named).
fn exported() -> BTreeSet<String> {
    let _ns = common::netns();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let srv = Server::start(&["--interval", "0.3"]);
    // A connection open, and one closed: every family then has samples.
    let _open = serve_support::exchange(&l, 10);
    let (c, a) = serve_support::exchange(&l, 10);
    serve_support::wait_for("two connections seen", || {
        serve_support::value(
            &srv.get("/metrics").text(),
            "portscope_listener_connections{",
            &[],
        )
        .filter(|n| *n >= 2.0)
    });
    drop((c, a));
    let text = serve_support::wait_for("a closed connection counted", || {
        let t = srv.get("/metrics").text();
        t.contains("portscope_connections_closed_total{")
            .then_some(t)
    });
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_dashboard_and_the_rules_name_only_exported_metrics() {
    let have = exported();
    assert!(have.contains("portscope_listener_info"), "{have:?}");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(contrib("grafana/portscope.json")).unwrap())
            .expect("the dashboard is JSON");
    let panels = dash["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8);
    let mut exprs = String::new();
    for p in panels {
        assert!(p["title"].is_string());
        for t in p["targets"].as_array().expect("targets") {
            exprs.push_str(t["expr"].as_str().expect("an expr"));
            exprs.push('\n');
        }
    }
    exprs.push_str(
        dash["templating"]["list"][1]["definition"]
            .as_str()
            .unwrap(),
    );
    let used = names(&exprs);
    let unknown: Vec<&String> = used.difference(&have).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard names {unknown:?}, not exported"
    );
    // Every metric the server exports is shown somewhere.
    let unshown: Vec<&String> = have.difference(&used).collect();
    assert!(unshown.is_empty(), "not on the dashboard: {unshown:?}");

    let rules = std::fs::read_to_string(contrib("prometheus/alerts.yml")).unwrap();
    let unknown: Vec<String> = names(&rules)
        .into_iter()
        .filter(|n| !have.contains(n))
        .collect();
    assert!(
        unknown.is_empty(),
        "the alert rules name {unknown:?}, not exported"
    );
}

#[test]
#[ignore = "slow: promtool (Debian prometheus)"]
fn the_alert_rules_pass_promtool_tests() {
    let promtool = need("promtool", "prometheus");
    for args in [
        vec!["check", "rules", "alerts.yml"],
        vec!["test", "rules", "alerts_test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(&args)
            .current_dir(contrib("prometheus"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_systemd_unit_runs_serve_with_flags_it_takes() {
    let unit = std::fs::read_to_string(contrib("systemd/portscope.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/bin/portscope"));
    let args: Vec<&str> = words.collect();
    assert_eq!(args.first(), Some(&"serve"));
    // The same flags, with a bad --top so it stops at validation: clap
    // accepted every flag if the complaint is about --top.
    let out = common::portscope()
        .args(&args)
        .args(["--top", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--top"), "{err}");
    assert!(unit.contains("KillSignal=SIGTERM"));
}
