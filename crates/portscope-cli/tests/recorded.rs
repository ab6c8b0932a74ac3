//! Every command on a recorded snapshot (`--from-snapshot`): the listing,
//! `-s`, `who`, `explain`, `audit`, `close`, `watch` and `events` run on the same
//! saved listing, so what they say is exact.
//!
//! The fixture, tests/fixtures/machine.json, is a real `portscope -tuxap
//! --json` of a network namespace holding a loopback listener shared by two
//! processes (a fork), a connection to it, a TIME_WAIT, an IPv6 listener, a
//! UDP socket and a unix listener; two rows were added by hand: a listener
//! whose owner was hidden (another user's) and one held by a process with a
//! terminal escape in its name and a line break in its command line.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::portscope;
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/machine.json");

fn run(args: &[&str]) -> Output {
    portscope()
        .args(args)
        .args(["--from-snapshot", FIXTURE])
        .output()
        .expect("run portscope")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn fixture() -> Vec<Value> {
    let text = std::fs::read_to_string(FIXTURE).expect("fixture");
    serde_json::from_str(&text).expect("fixture is a listing")
}

fn pids(owners: &Value) -> Vec<u64> {
    owners
        .as_array()
        .expect("owners")
        .iter()
        .map(|o| o["pid"].as_u64().expect("pid"))
        .collect()
}

/// No terminal control byte (bar the line break) in what people read.
fn assert_no_controls(text: &str) {
    assert!(
        !text.bytes().any(|b| b < 0x20 && b != b'\n'),
        "raw control byte in output:\n{text:?}"
    );
}

#[test]
fn the_listing_gives_back_the_recording() {
    let out = run(&["-tuxap", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(got, fixture());

    // The query applies: TCP listeners only.
    let out = run(&["-tlp", "--json"]);
    let got: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    let want: Vec<Value> = fixture()
        .into_iter()
        .filter(|s| s["proto"] == "tcp" && s["state"] == "LISTEN")
        .collect();
    assert_eq!(got, want);

    // People see the hostile name escaped.
    let table = stdout(&run(&["-tuxap", "--color", "never"]));
    assert_no_controls(&table);
    assert!(table.contains("evil\\x1b[2J[9900]"), "{table}");
    assert!(table.contains("python3[9749] +1"), "{table}");
}

#[test]
fn summary_counts_the_recording() {
    let out = run(&["-s", "--json"]);
    assert_eq!(code(&out), 0);
    let got: Value = serde_json::from_slice(&out.stdout).expect("json");
    let all = fixture();
    let count = |proto: &str| all.iter().filter(|s| s["proto"] == proto).count() as u64;
    assert_eq!(got["total"].as_u64(), Some(all.len() as u64));
    assert_eq!(got["tcp"]["total"].as_u64(), Some(count("tcp")));
    assert_eq!(got["udp"]["total"].as_u64(), Some(count("udp")));
    assert_eq!(got["unix"]["total"].as_u64(), Some(count("unix")));
    assert_eq!(got["tcp"]["states"]["TIME_WAIT"].as_u64(), Some(1));
    assert_eq!(got["tcp"]["inet6"].as_u64(), Some(1));
    let text = stdout(&run(&["-s"]));
    assert_no_controls(&text);
    insta::assert_snapshot!("summary", text);
}

#[test]
fn who_names_both_holders_of_a_shared_listener() {
    let out = run(&["who", "8080", "--json"]);
    assert_eq!(code(&out), 0);
    let got: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    let holders: Vec<u64> = got
        .iter()
        .map(|p| p["pid"].as_u64().expect("pid"))
        .collect();
    let listener = fixture()
        .into_iter()
        .find(|s| s["local"]["port"] == 8080 && s["state"] == "LISTEN")
        .expect("listener in fixture");
    assert_eq!(holders, pids(&listener["owners"]));
    assert_eq!(holders, vec![9749, 9818]);

    let text = stdout(&run(&["who", "8080"]));
    insta::assert_snapshot!("who_8080", text);

    // The hostile holder is shown escaped; JSON keeps its exact bytes.
    let text = stdout(&run(&["who", "7000"]));
    assert_no_controls(&text);
    assert!(text.contains("evil\\x1b[2J[9900]"), "{text}");
    assert!(text.contains("evil --line\\nbreak"), "{text}");
    let got: Vec<Value> =
        serde_json::from_slice(&run(&["who", "7000", "--json"]).stdout).expect("json");
    assert_eq!(got[0]["name"], "evil\u{1b}[2J");

    // A port nothing holds in the recording.
    assert_eq!(code(&run(&["who", "1"])), 1);
    // The hidden owner: the socket is there, its holder unknown.
    let got: Vec<Value> =
        serde_json::from_slice(&run(&["who", "6379", "--json"]).stdout).expect("json");
    assert_eq!(got.len(), 1);
    assert!(got[0]["pid"].is_null(), "{got:?}");
}

#[test]
fn who_kill_signals_nothing_on_a_recording() {
    let out = run(&["who", "8080", "--kill", "--yes"]);
    assert_eq!(code(&out), 1, "nothing was signalled");
    let text = stdout(&out);
    assert!(
        text.contains("python3[9749]: recorded: nothing to signal"),
        "{text}"
    );
    assert!(
        text.contains("python3[9818]: recorded: nothing to signal"),
        "{text}"
    );
}

#[test]
fn explain_lists_the_recorded_sockets_on_the_port() {
    let out = run(&["explain", "8080", "--json"]);
    assert_eq!(code(&out), 0);
    let got: Value = serde_json::from_slice(&out.stdout).expect("json");
    let got = if got.is_array() { got[0].clone() } else { got };
    let in_use = got["in_use"].as_array().expect("in_use");
    let want = fixture()
        .into_iter()
        .filter(|s| s["local"]["port"] == 8080)
        .count();
    assert_eq!(in_use.len(), want);
    // Nothing recorded about the host's ephemeral range.
    assert!(got["ephemeral_range"].is_null(), "{got}");
    let text = stdout(&run(&["explain", "5432"]));
    insta::assert_snapshot!("explain_5432", text);
}

#[test]
fn audit_finds_what_the_recording_holds() {
    let out = run(&["audit", "--json"]);
    assert_eq!(code(&out), 0);
    let got: Value = serde_json::from_slice(&out.stdout).expect("json");
    let rules: BTreeSet<&str> = got["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().expect("rule"))
        .collect();
    for rule in ["exe-in-temp", "internal-service-exposed", "no-owner"] {
        assert!(rules.contains(rule), "{rule} missing from {rules:?}");
    }
    let listeners = fixture()
        .into_iter()
        .filter(|s| s["proto"] != "unix" && (s["state"] == "LISTEN" || s["state"] == "UNCONN"))
        .count();
    assert_eq!(got["summary"]["listeners"].as_u64(), Some(listeners as u64));
    let text = stdout(&run(&["audit", "--color", "never"]));
    assert_no_controls(&text);
    insta::assert_snapshot!("audit", text);
}

#[test]
fn close_dry_run_and_close_on_a_recording() {
    let out = run(&["close", "--dry-run", "dport = :8080"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(text.contains("127.0.0.1:49542"), "{text}");
    assert!(
        text.contains("1 connection(s) would be closed; nothing closed"),
        "{text}"
    );

    let out = run(&["close", "--yes", "dport = :8080"]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).contains("127.0.0.1:49542 -> 127.0.0.1:8080: recorded: nothing to close"),
        "{}",
        stdout(&out)
    );

    // The listener is not closed without --listening, recorded or not.
    assert_eq!(code(&run(&["close", "--dry-run", "sport = :8080"])), 2);
    // Nothing matches: exit 1.
    assert_eq!(code(&run(&["close", "--dry-run", "dport = :1"])), 1);
}

#[test]
fn events_are_what_a_first_dump_of_the_recording_makes() {
    let out = run(&["events", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("an event line is JSON"))
        .collect();
    // Every TCP and UDP socket but TIME_WAIT (the echo of a close), in the
    // recording's order: a listener (or bound UDP socket) listens, a
    // connection opens in its state, each with its recorded owners.
    let want: Vec<(String, Value, Value, Vec<u64>)> = fixture()
        .into_iter()
        .filter(|s| (s["proto"] == "tcp" || s["proto"] == "udp") && s["state"] != "TIME_WAIT")
        .map(|s| {
            let listening =
                s["state"] == "LISTEN" || (s["proto"] == "udp" && s["remote"]["port"] == 0);
            let kind = if listening { "listen" } else { "open" };
            (
                kind.to_string(),
                s["local"].clone(),
                s["remote"].clone(),
                pids(&s["owners"]),
            )
        })
        .collect();
    let got: Vec<(String, Value, Value, Vec<u64>)> = events
        .iter()
        .map(|e| {
            (
                e["event"].as_str().expect("event").to_string(),
                e["socket"]["local"].clone(),
                e["socket"]["remote"].clone(),
                pids(&e["socket"]["owners"]),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(events.len(), 7);
    let evil = events
        .iter()
        .find(|e| e["socket"]["local"]["port"] == 7000)
        .expect("the hostile listener");
    assert_eq!(evil["socket"]["owners"][0]["name"], "evil\u{1b}[2J");
    let hidden = events
        .iter()
        .find(|e| e["socket"]["local"]["port"] == 6379)
        .expect("the hidden listener");
    assert_eq!(hidden["socket"]["owners_hidden"], true);

    // Text: the same events, hostile names escaped.
    let out = run(&["events"]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert_no_controls(&text);
    assert_eq!(text.lines().count(), 7, "{text}");
    assert!(text.contains("evil\\x1b[2J"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains(" open ") || l.contains("open     tcp")),
        "{text}"
    );
    let hidden_line = text.lines().find(|l| l.contains(":6379")).expect("6379");
    assert!(hidden_line.contains("owner hidden"), "{hidden_line}");

    // Kinds and the filter language select, as on a live stream.
    let out = run(&["events", "--json", "--event", "open", "sport", "=", ":8080"]);
    assert_eq!(code(&out), 0);
    let only: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(only.len(), 1, "{only:?}");
    assert_eq!(only[0]["socket"]["remote"]["port"], 49542);
    // A recording's events are not history.
    let out = run(&["events", "--record=/nonexistent/x.db"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn a_bad_recording_is_a_usage_error() {
    for cmd in [
        &["who", "22"][..],
        &["explain", "22"],
        &["close", "--dry-run", "dport = :22"],
        &["watch"],
        &["events"],
        &[],
    ] {
        let out = portscope()
            .args(cmd)
            .args(["--from-snapshot", "/nonexistent/machine.json"])
            .output()
            .expect("run");
        assert_eq!(code(&out), 2, "{cmd:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{cmd:?}: {err}");
        assert!(err.contains("/nonexistent/machine.json"), "{cmd:?}: {err}");
    }
}

/// A tmux server of this test's own, killed when dropped.
struct Tmux(String);

impl Tmux {
    fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .output()
            .expect("tmux is needed for this test");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = self.cmd(&["capture-pane", "-p", "-t", "w"]);
            if cond(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "waiting for {what}:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .status();
    }
}

#[test]
fn watch_shows_the_recording_in_a_terminal() {
    let t = Tmux(format!("portscope-recorded-{}", std::process::id()));
    let cmd = format!(
        "{} watch --interval 0.2 --from-snapshot {FIXTURE}",
        env!("CARGO_BIN_EXE_portscope")
    );
    let status = Command::new("tmux")
        .args(["-u", "-L", &t.0, "-f", "/dev/null", "new-session", "-d"])
        .args([
            "-x",
            "160",
            "-y",
            "30",
            "-s",
            "w",
            "env",
            "LANG=C.UTF-8",
            "sh",
            "-c",
        ])
        .arg(&cmd)
        .status()
        .expect("tmux is needed for this test");
    assert!(status.success());
    t.cmd(&["set-option", "-t", "w", "status", "off"]);
    let screen = t.wait("the recorded sockets", |s| {
        s.contains("127.0.0.1:7000") && s.contains("[::1]:5432")
    });
    for local in [
        "127.0.0.1:8080",
        "127.0.0.1:35174",
        "127.0.0.1:49542",
        "127.0.0.1:5353",
        "0.0.0.0:6379",
    ] {
        assert!(screen.contains(local), "{local} missing:\n{screen}");
    }
    assert!(screen.contains("evil\\x1b[2J"), "{screen}");
    // Refreshes replay the same recording: still there a few rounds later.
    std::thread::sleep(Duration::from_millis(700));
    let again = t.wait("the same sockets", |s| s.contains("127.0.0.1:7000"));
    assert!(again.contains("127.0.0.1:35174"), "{again}");
    t.cmd(&["send-keys", "-t", "w", "q"]);
}

#[test]
fn watch_kill_on_a_recording_signals_nothing() {
    let t = Tmux(format!("portscope-recorded-kill-{}", std::process::id()));
    let cmd = format!(
        "{} watch --interval 0.2 --from-snapshot {FIXTURE} 'sport = :5432'",
        env!("CARGO_BIN_EXE_portscope")
    );
    let status = Command::new("tmux")
        .args(["-u", "-L", &t.0, "-f", "/dev/null", "new-session", "-d"])
        .args([
            "-x",
            "160",
            "-y",
            "30",
            "-s",
            "w",
            "env",
            "LANG=C.UTF-8",
            "sh",
            "-c",
        ])
        .arg(&cmd)
        .status()
        .expect("tmux is needed for this test");
    assert!(status.success());
    t.wait("the one recorded socket", |s| s.contains("[::1]:5432"));
    t.cmd(&["send-keys", "-t", "w", "K"]);
    t.wait("the prompt", |s| {
        s.contains("send SIGTERM to python3[9749]? y/n")
    });
    t.cmd(&["send-keys", "-t", "w", "y"]);
    let screen = t.wait("the outcome", |s| s.contains("recorded: nothing to signal"));
    // Still there: nothing was signalled and the recording does not change.
    assert!(screen.contains("[::1]:5432"), "{screen}");
    t.cmd(&["send-keys", "-t", "w", "q"]);
}
