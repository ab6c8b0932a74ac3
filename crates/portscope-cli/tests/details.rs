//! End to end: `-i`, `-m`, `-O` against ss on the same loopback sockets;
//! throughput read from `-i --json` byte counters around a transfer of known
//! size; `-c --changes` printing what appears and goes.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// portscope's JSON listing: `args` (options, then the filter words last).
fn json(args: &[&str]) -> Vec<Value> {
    let (filter, opts): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.contains(' '));
    let out = portscope()
        .args(&opts)
        .arg("--json")
        .args(&filter)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "portscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_json(&out)
}

/// A connected pair on loopback, `size` bytes sent client -> server and read.
fn pair_with_transfer(size: usize) -> (TcpListener, TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut a, _) = l.accept().unwrap();
    transfer(&mut c, &mut a, size);
    (l, c, a)
}

fn transfer(from: &mut TcpStream, to: &mut TcpStream, size: usize) {
    let mut to = to.try_clone().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0;
        while got < size {
            got += to.read(&mut buf).unwrap();
        }
    });
    from.write_all(&vec![7u8; size]).unwrap();
    reader.join().unwrap();
}

/// portscope's JSON object for the TCP socket with local port `port`, once
/// its tcp_info says every byte sent is acknowledged.
fn settled(port: u16, extra: &[&str]) -> Value {
    let filter = format!("src 127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut args = vec!["-t"];
        args.extend_from_slice(extra);
        args.push(&filter);
        let list = json(&args);
        assert_eq!(list.len(), 1, "{list:?}");
        let s = list.into_iter().next().unwrap();
        let i = &s["tcp_info"];
        let done = i["unacked"] == 0
            && i["bytes_acked"].as_u64() > Some(i["bytes_sent"].as_u64().unwrap_or(0));
        if done || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// ss's detail words for the TCP socket with local port `port` (`-H` lines
/// joined): `cwnd:10` -> ("cwnd", "10"), bare words -> (word, "").
fn ss_words(flags: &str, port: u16) -> Vec<(String, String)> {
    let out = Command::new("ss")
        .args([flags, "-H", &format!("src 127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split_whitespace()
        .map(|w| match w.split_once(':') {
            Some((k, v)) if !k.contains('.') && !k.contains('[') => (k.to_string(), v.to_string()),
            _ => (w.to_string(), String::new()),
        })
        .collect()
}

fn word<'a>(words: &'a [(String, String)], key: &str) -> &'a str {
    words
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("ss printed no {key}: {words:?}"))
}

#[test]
fn info_matches_ss() {
    // Alone in a namespace: no other socket on the machine can share a port with ours.
    let _ns = netns();
    let (_l, c, _a) = pair_with_transfer(300_000);
    let port = c.local_addr().unwrap().port();
    let s = settled(port, &["-i"]);
    let i = &s["tcp_info"];
    let ss = ss_words("-tin", port);
    assert_eq!(i["snd_cwnd"].to_string(), word(&ss, "cwnd"), "{i}\n{ss:?}");
    assert_eq!(i["bytes_acked"].to_string(), word(&ss, "bytes_acked"));
    assert_eq!(i["bytes_sent"].to_string(), word(&ss, "bytes_sent"));
    assert_eq!(i["bytes_acked"], 300_001, "300000 bytes and the SYN");
    assert_eq!(i["snd_mss"].to_string(), word(&ss, "mss"));
    // The congestion algorithm is the bare word right before wscale/rto.
    let cong = i["congestion"].as_str().unwrap();
    assert!(!cong.is_empty());
    assert!(
        ss.iter().any(|(k, v)| k == cong && v.is_empty()),
        "{cong} in {ss:?}"
    );
    // rtt: ss prints milliseconds; an idle connection's estimate stays put,
    // but allow for a sample landing between the two reads.
    let (rtt, _) = word(&ss, "rtt").split_once('/').unwrap();
    let ss_rtt_us = rtt.parse::<f64>().unwrap() * 1000.0;
    let ours = i["rtt_us"].as_f64().unwrap();
    assert!(
        (ours - ss_rtt_us).abs() <= ss_rtt_us.max(ours) * 0.5 + 50.0,
        "rtt {ours}us vs ss {ss_rtt_us}us"
    );
    // The table puts the same words on the line under the socket.
    let out = portscope()
        .args(["-t", "-i", &format!("src 127.0.0.1:{port}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let detail = text.lines().find(|l| l.starts_with('\t')).unwrap();
    for key in ["cwnd", "bytes_acked", "mss", "rto"] {
        let ours = detail
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}:")))
            .unwrap();
        assert_eq!(ours, word(&ss, key), "{key}: {detail}");
    }
}

#[test]
fn memory_and_timers_match_ss() {
    // Alone in a namespace: no other socket on the machine can share a port with ours.
    let _ns = netns();
    let (_l, c, _a) = pair_with_transfer(1000);
    rustix::net::sockopt::set_socket_keepalive(&c, true).unwrap();
    let port = c.local_addr().unwrap().port();
    let s = &json(&["-t", "-m", "-O", &format!("src 127.0.0.1:{port}")])[0];
    assert!(s.get("tcp_info").is_none(), "not asked for");
    let ss = ss_words("-tmo", port);
    let skmem = word(&ss, "skmem");
    let m = &s["memory"];
    // skmem:(r0,rb131072,t0,tb2626560,...): the buffer sizes are fixed by now.
    let field = |p: &str| {
        skmem
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .find_map(|f| {
                f.strip_prefix(p)
                    .filter(|v| v.chars().all(|c| c.is_ascii_digit()))
            })
            .unwrap()
            .to_string()
    };
    assert_eq!(m["rcvbuf"].to_string(), field("rb"), "{m} vs {skmem}");
    assert_eq!(m["sndbuf"].to_string(), field("tb"), "{m} vs {skmem}");
    assert_eq!(m["drops"].to_string(), field("d"));
    // timer:(keepalive,119min,0)
    let timer = word(&ss, "timer");
    let t = &s["timer"];
    assert!(
        timer.starts_with(&format!("({},", t["kind"].as_str().unwrap())),
        "{t} vs {timer}"
    );
    assert_eq!(t["kind"], "keepalive");
    let two_hours = 7_200_000u64;
    let ms = t["expires_ms"].as_u64().unwrap();
    assert!(ms <= two_hours && ms > two_hours - 60_000, "{t}");
    // A socket without a timer says null; the listener has none.
    let l = &json(&[
        "-tl",
        "-O",
        &format!("src 127.0.0.1:{}", _l.local_addr().unwrap().port()),
    ])[0];
    assert!(l["timer"].is_null(), "{l}");
}

#[test]
fn throughput_from_json_counters_matches_a_known_transfer() {
    let _ns = common::netns();
    const SIZE: usize = 4 << 20;
    let (_l, mut c, mut a) = pair_with_transfer(1);
    let cport = c.local_addr().unwrap().port();
    let aport = a.local_addr().unwrap().port();
    let before_tx = settled(cport, &["-i"]);
    let before_rx = &json(&[
        "-t",
        "-i",
        &format!("sport = :{aport} and dport = :{cport}"),
    ])[0];
    transfer(&mut c, &mut a, SIZE);
    let after_tx = settled(cport, &["-i"]);
    let after_rx = &json(&[
        "-t",
        "-i",
        &format!("sport = :{aport} and dport = :{cport}"),
    ])[0];
    let delta = |a: &Value, b: &Value, k: &str| {
        b["tcp_info"][k].as_u64().unwrap() - a["tcp_info"][k].as_u64().unwrap()
    };
    let sent = delta(&before_tx, &after_tx, "bytes_acked");
    let got = delta(before_rx, after_rx, "bytes_received");
    let near = |n: u64| (n as f64 - SIZE as f64).abs() <= SIZE as f64 * 0.10;
    assert!(near(sent), "acked {sent} of {SIZE}");
    assert!(near(got), "received {got} of {SIZE}");
    // In fact exact once settled.
    assert_eq!(sent, SIZE as u64);
    assert_eq!(got, SIZE as u64);
}

/// The lines `child` writes on its stdout, read on a thread of their own
/// (so a test can wait for one with a deadline).
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn continuous_changes_mark_new_and_gone_sockets() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut child = portscope()
        .args([
            "-c",
            "0.2",
            "--changes",
            "-ta",
            &format!("src 127.0.0.1:{port}"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let next_until = |pred: &dyn Fn(&str) -> bool| -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).expect("a line in time");
            if pred(&line) {
                return line;
            }
        }
    };
    let here = format!("127.0.0.1:{port}");
    // The baseline: header and the listener, unmarked.
    // Each round is stamped with its time, on a line of its own first.
    let stamp = next_until(&|_| true);
    assert!(
        stamp.len() == 20 && stamp.starts_with("20") && stamp.ends_with('Z'),
        "{stamp}"
    );
    let header = next_until(&|l| l.contains("Local Address"));
    assert!(header.starts_with("  Proto"), "{header}");
    let base = next_until(&|l| l.contains(&here));
    assert!(
        base.starts_with("  tcp") && base.contains("LISTEN"),
        "{base}"
    );
    // A connection appears: both ends are new.
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (a, _) = l.accept().unwrap();
    let added = next_until(&|l| l.contains("ESTABLISHED"));
    assert!(added.starts_with("+ tcp"), "{added}");
    // The listener goes: marked '-'.
    drop(l);
    let gone = next_until(&|l| l.contains("LISTEN"));
    assert!(gone.starts_with("- tcp"), "{gone}");
    let _ = child.kill();
    let _ = child.wait();
    drop((c, a));
}

#[test]
fn continuous_rejects_bad_intervals_and_layouts() {
    let _ns = common::netns();
    for args in [
        &["-c", "0"][..],
        &["-c", "-1"],
        &["-c", "inf"],
        &["-c", "1", "--changes", "--format", "netstat"],
    ] {
        let out = portscope().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    // --changes needs -c.
    let out = portscope().arg("--changes").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The netstat layout has no column for the mark, and says so.
    let out = portscope()
        .args(["-c", "1", "--changes", "--format", "netstat"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no column for a change mark"), "{err}");
}

/// `-c --changes --csv`: one header with `time` and `change` first; the
/// baseline's rows marked `=`, then `+` for what appears and `-` for what
/// goes, each row a parseable CSV record.
#[test]
fn continuous_changes_in_csv_have_a_change_column() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut child = portscope()
        .args(["-c", "0.2", "--changes", "--csv", "-ta"])
        .arg(format!("src 127.0.0.1:{port} or dst 127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let record = |line: &str| -> Vec<String> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes());
        let rec = r.records().next().expect("a record").expect("valid CSV");
        rec.iter().map(String::from).collect()
    };
    let header = record(&rx.recv_timeout(Duration::from_secs(10)).expect("a header"));
    assert_eq!(&header[..3], ["time", "change", "proto"], "{header:?}");
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (change, state, lport) = (col("change"), col("state"), col("local_port"));
    let next_until = |pred: &dyn Fn(&[String]) -> bool| -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let rec = record(&rx.recv_timeout(left).expect("a row in time"));
            assert_eq!(rec.len(), header.len(), "{rec:?}");
            assert!(rec[0].starts_with("20") && rec[0].ends_with('Z'), "{rec:?}");
            if pred(&rec) {
                return rec;
            }
        }
    };
    let base = next_until(&|r| r[state] == "LISTEN");
    assert_eq!(base[change], "=", "{base:?}");
    assert_eq!(base[lport], port.to_string());
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (a, _) = l.accept().unwrap();
    let added = next_until(&|r| r[state] == "ESTABLISHED");
    assert_eq!(added[change], "+", "{added:?}");
    drop(l);
    let gone = next_until(&|r| r[state] == "LISTEN");
    assert_eq!(gone[change], "-", "{gone:?}");
    let _ = child.kill();
    let _ = child.wait();
    drop((c, a));
}

#[test]
fn details_are_absent_unless_asked() {
    let _ns = common::netns();
    let (l, _c, _a) = pair_with_transfer(10);
    let port = l.local_addr().unwrap().port();
    let s = &json(&["-t", &format!("src 127.0.0.1:{port}")])[0];
    for k in ["tcp_info", "memory", "timer"] {
        assert!(s.get(k).is_none(), "{k} in {s}");
    }
    // With -i, UDP sockets say null: they have no TCP internals.
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let uport = u.local_addr().unwrap().port();
    let s = &json(&["-ua", "-i", &format!("src 127.0.0.1:{uport}")])[0];
    assert!(s["tcp_info"].is_null(), "{s}");
}
