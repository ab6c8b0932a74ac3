//! Every command on a recorded snapshot (`--from-snapshot`): the listing,
//! `-s`, `who`, `explain`, `audit`, `close`, `watch`, `wait`, `pid`, `map`
//! and `serve` run on the same saved listing, so what they say is exact.
//! (`scan`, `history`, `completions` and `man` do not read the machine
//! through `System`; `events` follows the live kernel.)
//!
//! The fixture, tests/fixtures/machine.json, is a real `portscope -tuxap
//! --json` of a network namespace holding a loopback listener shared by two
//! processes (a fork), a connection to it, a TIME_WAIT, an IPv6 listener, a
//! UDP socket and a unix listener; two rows were added by hand: a listener
//! whose owner was hidden (another user's) and one held by a process with a
//! terminal escape in its name and a line break in its command line.

mod common;
mod serve_support;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
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

    // With --json: one document, the outcome inside it.
    let out = run(&["who", "8080", "--kill", "--yes", "--json"]);
    assert_eq!(code(&out), 1);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("only JSON on stdout");
    assert_eq!(pids(&doc["holders"]), [9749, 9818]);
    let results = doc["kill"]["results"].as_array().expect("results");
    assert_eq!(pids(&doc["kill"]["results"]), [9749, 9818]);
    for r in results {
        assert_eq!(r["outcome"], "recorded: nothing to signal", "{doc}");
        assert_eq!(r["sent"], false);
    }
    assert!(doc["kill"]["ports_free"].is_null(), "{doc}");
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
fn a_bad_recording_is_a_usage_error() {
    for cmd in [
        &["who", "22"][..],
        &["explain", "22"],
        &["close", "--dry-run", "dport = :22"],
        &["watch"],
        &["wait", "22"],
        &["pid", "1"],
        &["map"],
        &["serve", "--listen", "127.0.0.1:0"],
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
    /// Runs `cmd` in a detached 160x30 session `w` of this server.
    fn start(&self, cmd: &str) {
        let status = Command::new("tmux")
            .args(["-u", "-L", &self.0, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", "160", "-y", "30", "-s", "w"])
            .args(["env", "LANG=C.UTF-8", "sh", "-c", cmd])
            .status()
            .expect("tmux is needed for this test (Debian package tmux)");
        assert!(status.success());
    }

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
    t.start(&cmd);
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
    t.start(&cmd);
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

/// Runs `portscope ARGS --from-snapshot FIXTURE`, failing the test if it has
/// not ended within a generous deadline (a recording must never be waited on).
fn run_bounded(args: &[&str]) -> Output {
    let mut child = portscope()
        .args(args)
        .args(["--from-snapshot", FIXTURE])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run portscope");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("poll portscope").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("portscope {args:?} still waiting on a recording");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("portscope output")
}

#[test]
fn wait_answers_from_the_recording_at_once() {
    // Present in the recording: ready at once, whatever the timeout.
    for ports in [&["8080"][..], &["5353/udp"], &["8080", "postgresql"]] {
        let mut args = vec!["wait", "--timeout", "24h"];
        args.extend_from_slice(ports);
        let out = run_bounded(&args);
        assert_eq!(
            code(&out),
            0,
            "{ports:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{ports:?}");
    }
    // Absent: the recording will never change, so the timeout's exit (1)
    // comes at once, with the timeout's message naming the recording.
    let out = run_bounded(&["wait", "--timeout", "24h", "8080", "9999"]);
    assert_eq!(code(&out), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end(),
        "portscope: in the recording: not listening: 9999",
        "{err}"
    );
    // A TIME_WAIT is no listener: port 35174 has only one.
    assert_eq!(
        code(&run_bounded(&["wait", "-q", "--timeout", "24h", "35174"])),
        1
    );
    let out = run_bounded(&["wait", "-q", "--timeout", "24h", "9999"]);
    assert_eq!(code(&out), 1);
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "-q prints nothing"
    );

    // --state free: a port nothing holds is free; a held one is not, and
    // its holders are named (the hostile one escaped).
    assert_eq!(code(&run_bounded(&["wait", "--state", "free", "9999"])), 0);
    let out = run_bounded(&["wait", "--state", "free", "--timeout", "24h", "7000"]);
    assert_eq!(code(&out), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in the recording: still held: 7000"), "{err}");
    let text = stdout(&out);
    assert_no_controls(&text);
    assert!(text.contains("evil\\x1b[2J[9900]"), "{text}");
    // TIME_WAIT does not hold a port.
    assert_eq!(code(&run_bounded(&["wait", "--state", "free", "35174"])), 0);
    // Bad input stays a usage error.
    assert_eq!(
        code(&run_bounded(&["wait", "--timeout", "soon", "8080"])),
        2
    );
}

#[test]
fn pid_describes_the_recorded_owner() {
    let out = run(&["pid", "9749", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(got.len(), 1);
    let p = &got[0];
    let mine: Vec<Value> = fixture()
        .into_iter()
        .filter(|s| pids(&s["owners"]).contains(&9749))
        .collect();
    let owner = mine[0]["owners"]
        .as_array()
        .expect("owners")
        .iter()
        .find(|o| o["pid"] == 9749)
        .expect("the owner")
        .clone();
    for key in ["name", "cmdline", "uid", "user", "euid", "euser", "exe"] {
        assert_eq!(p[key], owner[key], "{key}");
    }
    // Every recorded socket of the process, by inode, with its fds.
    let want: BTreeSet<(u64, Vec<u64>)> = mine
        .iter()
        .map(|s| {
            let fds = s["owners"]
                .as_array()
                .expect("owners")
                .iter()
                .filter(|o| o["pid"] == 9749)
                .map(|o| o["fd"].as_u64().expect("fd"))
                .collect();
            (s["inode"].as_u64().expect("inode"), fds)
        })
        .collect();
    let sockets = p["sockets"].as_array().expect("sockets");
    let have: BTreeSet<(u64, Vec<u64>)> = sockets
        .iter()
        .map(|s| {
            let fds = s["fds"]
                .as_array()
                .expect("fds")
                .iter()
                .map(|f| f.as_u64().expect("fd"))
                .collect();
            (s["inode"].as_u64().expect("inode"), fds)
        })
        .collect();
    assert_eq!(have, want);
    // States as the listing spells them (an unconnected UDP socket is UNCONN).
    for s in sockets {
        let rec = mine
            .iter()
            .find(|m| m["inode"] == s["inode"])
            .expect("recorded");
        assert_eq!(s["state"], rec["state"], "{s}");
    }
    // Listening first; nothing measured on a recording (its counters never move).
    let listening: Vec<bool> = sockets.iter().map(|s| s["listening"] == true).collect();
    assert!(listening.windows(2).all(|w| w[0] >= w[1]), "{listening:?}");
    assert!(
        sockets.iter().all(|s| s["tx_rate"].is_null()),
        "{sockets:?}"
    );
    // The audit's findings about it, as audit gives them on the recording.
    let rules: Vec<&str> = p["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().expect("rule"))
        .collect();
    assert!(rules.contains(&"root-high-port"), "{rules:?}");

    // By name: both processes called python3 in the recording.
    let got: Vec<Value> =
        serde_json::from_slice(&run(&["pid", "python3", "--json"]).stdout).expect("json");
    let by_name: Vec<u64> = got
        .iter()
        .map(|p| p["pid"].as_u64().expect("pid"))
        .collect();
    assert_eq!(by_name, [9749, 9818]);

    // The hostile process: escaped for people, exact in JSON.
    let text = stdout(&run(&["pid", "9900"]));
    assert_no_controls(&text);
    assert!(text.starts_with("evil\\x1b[2J[9900]\n"), "{text}");
    assert!(text.contains("evil --line\\nbreak"), "{text}");
    let got: Vec<Value> =
        serde_json::from_slice(&run(&["pid", "9900", "--json"]).stdout).expect("json");
    assert_eq!(got[0]["name"], "evil\u{1b}[2J");
    assert_eq!(got[0]["cmdline"], "evil --line\nbreak");

    // A pid the recording does not have: one clear line, exit 1.
    let out = run(&["pid", "4242"]);
    assert_eq!(code(&out), 1);
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "portscope: no process 4242 in the recording\n"
    );
}

/// A file removed when dropped (also when the test fails).
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn map_joins_the_recorded_conversations() {
    // The recording's one connection has both ends in pid 9749: counted as
    // internal, not drawn.
    let out = run(&["map", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(got["internal"], 1, "{got}");
    assert_eq!(got["edges"], Value::Array(vec![]), "{got}");

    // Give the client end to the evil process: a conversation 9900 → 9749.
    let mut all = fixture();
    let evil = all
        .iter()
        .find(|s| s["local"]["port"] == 7000)
        .and_then(|s| s["owners"].get(0))
        .expect("the evil owner")
        .clone();
    let client = all
        .iter_mut()
        .find(|s| s["local"]["port"] == 49542)
        .expect("the client end");
    let mut owner = evil;
    owner["fd"] = 6.into();
    client["owners"] = Value::Array(vec![owner]);
    let file = TempFile(std::env::temp_dir().join(format!(
        "portscope-recorded-map-{}.json",
        std::process::id()
    )));
    std::fs::write(&file.0, serde_json::to_vec(&all).expect("json")).expect("write");
    let file = file.0.to_str().expect("utf-8 path");
    let map = |args: &[&str]| {
        let out = portscope()
            .arg("map")
            .args(args)
            .args(["--from-snapshot", file])
            .output()
            .expect("run portscope");
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        stdout(&out)
    };
    let got: Value = serde_json::from_str(&map(&["--json"])).expect("json");
    assert_eq!(got["internal"], 0, "{got}");
    let edges = got["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1, "{got}");
    assert_eq!(edges[0]["from"], 9900);
    assert_eq!(edges[0]["to"], 9749);
    assert_eq!(edges[0]["proto"], "tcp");
    assert_eq!(edges[0]["port"], 8080);
    assert_eq!(edges[0]["conns"], 1);
    let nodes: BTreeSet<u64> = got["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["pid"].as_u64().expect("pid"))
        .collect();
    assert_eq!(nodes, BTreeSet::from([9749, 9900]));
    // People (tree, DOT, Mermaid) see the hostile name escaped.
    for args in [&[][..], &["--dot"], &["--mermaid"]] {
        let text = map(args);
        assert_no_controls(&text);
        assert!(text.contains("9900"), "{args:?}: {text}");
        assert!(!text.contains('\u{1b}'), "{args:?}: {text}");
    }
}

#[test]
fn serve_serves_the_recording() {
    let server = serve_support::Server::start(&["--from-snapshot", FIXTURE]);
    // The API's snapshot is the recording (serve selects TCP and UDP).
    let r = server.get("/api/v1/snapshot");
    assert_eq!(r.status, 200);
    let got = r.json();
    let want: Vec<Value> = fixture()
        .into_iter()
        .filter(|s| s["proto"] == "tcp" || s["proto"] == "udp")
        .collect();
    assert_eq!(got, Value::Array(want.clone()));
    let r = server.get("/api/v1/snapshot?filter=sport%20%3D%20%3A8080");
    let got = r.json();
    let n = want.iter().filter(|s| s["local"]["port"] == 8080).count();
    assert_eq!(got.as_array().map(Vec::len), Some(n), "{got}");

    // The metrics count what the recording holds.
    let text = server.get("/metrics").text();
    for (proto, state) in [
        ("tcp", "LISTEN"),
        ("tcp", "ESTABLISHED"),
        ("tcp", "TIME_WAIT"),
        ("udp", "UNCONN"),
    ] {
        let n = want
            .iter()
            .filter(|s| s["proto"] == proto && s["state"] == state)
            .count();
        let got = serve_support::value(
            &text,
            "portscope_sockets{",
            &[&format!("proto=\"{proto}\""), &format!("state=\"{state}\"")],
        );
        assert_eq!(got, Some(n as f64), "{proto} {state}:\n{text}");
    }
    // One listener_info series per recorded listener, by port.
    let mut ports: Vec<u64> = want
        .iter()
        .filter(|s| s["state"] == "LISTEN" || s["state"] == "UNCONN")
        .map(|s| s["local"]["port"].as_u64().expect("port"))
        .collect();
    ports.sort_unstable();
    let mut series: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("portscope_listener_info{"))
        .filter_map(|l| l.split("port=\"").nth(1)?.split('"').next()?.parse().ok())
        .collect();
    series.sort_unstable();
    assert_eq!(series, ports, "{text}");
    // The hostile name is escaped in labels.
    assert_no_controls(&text);
    assert!(text.contains(r#"process="evil\\x1b[2J""#), "{text}");
    drop(server);
}
