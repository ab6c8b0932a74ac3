//! Nothing the machine or the user can hand portscope makes it use unbounded
//! memory, spin forever, panic, or report a half-done job as success: huge
//! scan targets, endless input files, too few file descriptors, a reader
//! that goes away. Every scan here stays on loopback.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::portscope;

const BIN: &str = env!("CARGO_BIN_EXE_portscope");

/// Waits for `child`, killing it (and failing the test) if it has not
/// ended after `limit`: a hang is a failure, not a slow test.
fn wait_bounded(mut child: Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    loop {
        if let Some(_status) = child.try_wait().expect("wait") {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?} (killed)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `portscope ARGS` under `ulimit -n N` (soft and hard), bounded.
fn with_nofile(n: u32, args: &str) -> Output {
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {n} && exec {BIN} {args}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh");
    wait_bounded(
        child,
        Duration::from_secs(120),
        &format!("ulimit -n {n}: {args}"),
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exactly one `portscope: ` line on stderr, and no panic.
fn one_line(out: &Output, what: &str) -> String {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: {err:?}");
    assert!(err.starts_with("portscope: "), "{what}: {err:?}");
    err
}

/// Resident and peak resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

const SLASH_8: [&str; 10] = [
    "scan",
    "127.0.0.0/8",
    "--max-hosts",
    "20000000",
    "-p",
    "1",
    "--timeout",
    "50",
    "--no-probe",
    "--json",
];

/// Starts `cmd` (a scan of a /8), samples its peak RSS while it runs, kills
/// it, and checks the peak is bounded and stopped growing.
fn sample_scan(mut cmd: Command, what: &str) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 15 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(200));
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if let Some(s) = rss_kib(pid) {
            samples.push(s);
        }
    }
    let still_running = child.try_wait().expect("try_wait").is_none();
    let _ = child.kill();
    let out = child.wait_with_output().expect("wait");
    assert!(
        still_running,
        "{what}: the scan ended early: {:?} {}",
        out.status,
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("panicked"),
        "{what}: {}",
        stderr(&out)
    );
    assert!(samples.len() >= 10, "{what}: too few samples: {samples:?}");
    let peak = samples.iter().map(|&(_, hwm)| hwm).max().unwrap_or(0);
    assert!(
        peak < 256 * 1024,
        "{what}: peak RSS {peak} KiB while scanning a /8: {samples:?}"
    );
    // Once running, it does not keep growing with the ports it has done.
    let settled = samples.get(3).map_or(0, |&(_, hwm)| hwm);
    assert!(
        peak - settled < 8 * 1024,
        "{what}: RSS grew from {settled} to {peak} KiB while scanning: {samples:?}"
    );
}

#[test]
fn a_scan_of_a_slash_8_does_not_grow_with_its_size() {
    let _ns = common::netns();
    // 16.7 million loopback hosts, one port, nearly all closed: the job
    // list alone, built up front, took gigabytes.
    let mut cmd = portscope();
    cmd.args(SLASH_8);
    sample_scan(cmd, "closed /8");
}

#[test]
fn a_scan_of_an_unreachable_slash_8_does_not_grow_either() {
    let _ns = common::netns();
    // In a network namespace of its own, loopback is down: every attempt
    // fails at once as unreachable, so every port of the /8 is filtered,
    // and those results are kept (as runs), not dropped like closed ones.
    if !common::is_root() {
        return;
    }
    let mut cmd = Command::new("unshare");
    cmd.arg("-n").arg(BIN).args(SLASH_8);
    sample_scan(cmd, "filtered /8");
}

#[test]
fn targets_past_any_cap_are_one_line_and_exit_2() {
    let _ns = common::netns();
    for args in [
        &["::/65", "--max-hosts", "18446744073709551615"][..],
        &["::/65", "--max-hosts", "4294967296"],
        &["::/0", "--max-hosts", "4294967296"],
        &["::/0"],
        &["fd00::/64", "--max-hosts", "4294967296"],
        &["127.0.0.1", "--max-hosts", "0"],
        &["127.0.0.1", "--max-hosts", "4294967297"],
        &["127.0.0.1", "--max-hosts", "99999999999999999999999"],
        &["127.0.0.0/8", "::/65"],
        &["127.0.0.0/8", "127.0.0.0/8", "--max-hosts", "20000000"],
        &["127.0.0.1", "::1", "127.0.0.2", "--max-hosts", "2"],
    ] {
        let out = portscope().arg("scan").args(args).output().expect("run");
        let what = format!("scan {args:?}");
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        let err = one_line(&out, &what);
        assert!(
            err.contains("max-hosts") || err.contains("cap"),
            "{what}: {err}"
        );
        assert!(out.stdout.is_empty(), "{what}");
    }
}

#[test]
fn dev_zero_as_an_input_file_is_refused_at_once() {
    let _ns = common::netns();
    for args in [
        &["--from-snapshot", "/dev/zero"][..],
        &["-s", "--from-snapshot", "/dev/zero"],
        &["audit", "--from-snapshot", "/dev/zero"],
        &["audit", "--baseline", "/dev/zero"],
    ] {
        let child = portscope()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let out = wait_bounded(child, Duration::from_secs(60), &format!("{args:?}"));
        let what = format!("{args:?}");
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        let err = one_line(&out, &what);
        assert!(
            err.contains("/dev/zero") && err.contains("NUL"),
            "{what}: {err}"
        );
    }
}

/// A FIFO in a fresh temporary directory.
fn fifo(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("portscope-bounds-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");
    path
}

#[test]
fn endless_and_oversized_input_files_hit_the_limit() {
    let _ns = common::netns();
    // A FIFO that never ends, full of what could be the start of JSON.
    let path = fifo("endless");
    let writer_path = path.clone();
    let writer = std::thread::spawn(move || {
        let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&writer_path) else {
            return;
        };
        let chunk = [b' '; 1 << 16];
        // Stops when portscope closes its end (EPIPE) or after 1 GiB.
        for _ in 0..(1 << 14) {
            if f.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let child = portscope()
        .args(["--from-snapshot"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = wait_bounded(child, Duration::from_secs(120), "endless FIFO");
    writer.join().expect("writer");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = one_line(&out, "endless FIFO");
    assert!(err.contains("256 MiB"), "{err}");

    // A (sparse) regular file over the limit is refused by its size.
    let big = path.with_file_name("big.json");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len((256 << 20) + 1).expect("set_len");
    for args in [&["--from-snapshot"][..], &["audit", "--baseline"]] {
        let out = portscope().args(args).arg(&big).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = one_line(&out, "big file");
        assert!(err.contains("256 MiB"), "{err}");
    }
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[test]
fn a_scan_short_of_fds_ends_with_an_error_not_a_loop() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = l.local_addr().expect("addr").port();
    let ports = format!("1-40,{open}");
    // With 6 fds there is no room for a connection attempt next to the
    // runtime and the sweep's epoll sets: an error, exit 3.
    let out = with_nofile(
        6,
        &format!("scan 127.0.0.1 -p {ports} --timeout 50 --no-probe"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = one_line(&out, "ulimit -n 6");
    assert!(err.contains("open files"), "{err}");
    // Around the edge, every limit either fails that way or scans right:
    // the open port found, the rest closed.
    for n in 4..=16 {
        for udp in [false, true] {
            let args = format!(
                "scan 127.0.0.1 -p {ports} --timeout 50 --no-probe --json{}",
                if udp { " --udp" } else { "" }
            );
            let out = with_nofile(n, &args);
            let what = format!("ulimit -n {n}: {args}");
            match out.status.code() {
                Some(3) => {
                    let err = one_line(&out, &what);
                    assert!(err.contains("open files"), "{what}: {err}");
                }
                Some(0 | 1) => {
                    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
                    let s = &doc["summary"];
                    assert_eq!(s["ports"], 41, "{what}");
                    let sum = ["open", "closed", "filtered"]
                        .iter()
                        .map(|k| s[k].as_u64().expect("count"))
                        .sum::<u64>();
                    assert_eq!(sum, 41, "{what}: {doc}");
                    let ports = doc["hosts"][0]["ports"].as_array().expect("ports");
                    assert_eq!(ports.len(), 41, "{what}");
                    if !udp {
                        // Our listener answers; a closed port is never
                        // reported filtered for want of a socket.
                        let ours = ports.iter().find(|p| p["port"] == open).expect("ours");
                        assert_eq!(ours["state"], "open", "{what}: {doc}");
                        assert_eq!(s["filtered"], 0, "{what}: {doc}");
                    }
                }
                other => panic!("{what}: exit {other:?}: {}", stderr(&out)),
            }
        }
    }
    drop(l);
}

#[test]
fn a_listing_short_of_fds_never_drops_owners_silently() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let me = u64::from(std::process::id());
    let mut failures = 0;
    for n in 4..=12 {
        let out = with_nofile(n, "-tlnp --json");
        let what = format!("ulimit -n {n}");
        match out.status.code() {
            Some(3) => {
                failures += 1;
                let err = one_line(&out, &what);
                assert!(
                    err.contains("open files")
                        && (err.contains("/proc") || err.contains("netlink")),
                    "{what}: {err}"
                );
                assert!(
                    out.stdout.is_empty(),
                    "{what}: a partial listing was written"
                );
            }
            Some(0) => {
                // A listing that succeeded has the owners: ours included.
                let list = common::parse_json(&out);
                let ours = list
                    .iter()
                    .find(|s| s["local"]["port"] == port && s["local"]["addr"] == "127.0.0.1")
                    .unwrap_or_else(|| panic!("{what}: our listener is missing"));
                assert!(
                    common::owner_pids(ours).contains(&me),
                    "{what}: owner missing: {ours}"
                );
                let name = ours["owners"]
                    .as_array()
                    .and_then(|o| o.iter().find(|o| o["pid"] == me))
                    .and_then(|o| o["name"].as_str())
                    .unwrap_or_default();
                assert!(!name.is_empty(), "{what}: owner has no name: {ours}");
            }
            other => panic!("{what}: exit {other:?}: {}", stderr(&out)),
        }
    }
    // With 4 fds the walk cannot hold /proc and one fd table at once.
    assert!(failures >= 1, "no limit made the listing fail");
    // With 4 fds it always fails.
    let out = with_nofile(4, "-tlnp");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    drop(l);
}

/// How the reader goes away.
#[derive(Clone, Copy, Debug)]
enum Reader {
    /// Reads one line, then closes its end (as `| head -1`).
    AfterOneLine,
    /// Closes its end before portscope writes anything: the first write
    /// fails, whatever the output's size.
    BeforeAnything,
}

fn closed_pipe(args: &[&str], reader: Reader) -> ExitStatus {
    let (read_end, write_end) = std::io::pipe().expect("pipe");
    let mut cmd = portscope();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped());
    let what = format!("{args:?} {reader:?}");
    let child = match reader {
        Reader::BeforeAnything => {
            drop(read_end);
            cmd.spawn().expect("spawn")
        }
        Reader::AfterOneLine => {
            let child = cmd.spawn().expect("spawn");
            // Our copy of the write end went into `cmd`; drop it so the
            // reader sees end of file when portscope is done.
            drop(cmd);
            let file = read_end;
            let mut line = String::new();
            BufReader::new(file).read_line(&mut line).expect("read");
            child
        }
    };
    let out = wait_bounded(child, Duration::from_secs(120), &what);
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(!err.to_lowercase().contains("broken pipe"), "{what}: {err}");
    out.status
}

#[test]
fn a_closed_stdout_ends_quietly_with_exit_0() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port().to_string();
    // Each with our listener among the ports, so that a scan the reader
    // saw out to the end also exits 0.
    let few = format!("1-300,{port}");
    let many = format!("1-3000,{port}");
    let scan_text = [
        "scan",
        "127.0.0.1",
        "-p",
        &few,
        "--timeout",
        "50",
        "--no-probe",
    ];
    let scan_json = [
        "scan",
        "127.0.0.1",
        "-p",
        &many,
        "--timeout",
        "50",
        "--no-probe",
        "--json",
    ];
    let mut runs: Vec<Vec<&str>> = vec![
        vec!["-tan"],
        vec!["-tan", "--json"],
        vec!["-s"],
        vec!["-s", "--json"],
        vec!["audit"],
        vec!["audit", "--json"],
        vec!["explain", "22"],
        vec!["explain", "https", "--json"],
        vec!["who", &port],
        vec!["--help"],
        scan_text.to_vec(),
        scan_json.to_vec(),
    ];
    runs.push(vec!["scan", "127.0.0.1", "-p", &port, "--no-probe"]);
    for args in &runs {
        for reader in [Reader::AfterOneLine, Reader::BeforeAnything] {
            let status = closed_pipe(args, reader);
            assert_eq!(status.code(), Some(0), "{args:?} {reader:?}");
        }
    }
    drop(l);
}

#[test]
fn a_closed_stderr_is_no_reason_to_panic() {
    let _ns = common::netns();
    // The error line has nowhere to go; the exit code still tells.
    for (args, code) in [
        (&["--from-snapshot", "/dev/zero"][..], 2),
        (&["scan", "::/65"], 2),
        (&["no-such-command"], 2),
    ] {
        let (read_end, write_end) = std::io::pipe().expect("pipe");
        drop(read_end);
        let out = portscope()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::from(write_end))
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}

#[test]
fn output_that_cannot_be_written_is_exit_3_not_success() {
    let _ns = common::netns();
    // /dev/full takes nothing: every write fails with ENOSPC.
    for args in [
        &["-tan"][..],
        &["-tan", "--json"],
        &["explain", "22"],
        &[
            "scan",
            "127.0.0.1",
            "-p",
            "1-50",
            "--timeout",
            "50",
            "--json",
        ],
        &["--help"],
        &["--version"],
        &["scan", "--help"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = portscope()
            .args(args)
            .stdout(Stdio::from(full))
            .output()
            .expect("run");
        let what = format!("{args:?} > /dev/full");
        assert_eq!(out.status.code(), Some(3), "{what}: {}", stderr(&out));
        let err = one_line(&out, &what);
        assert!(err.contains("writing output"), "{what}: {err}");
    }
}

#[test]
fn sparse_results_land_on_the_right_host_and_port() {
    let _ns = common::netns();
    // Listeners on two loopback addresses; every other (host, port) pair of
    // the block is closed and not kept, yet reported in place.
    let a = TcpListener::bind("127.0.0.1:0").expect("bind");
    let b = TcpListener::bind("127.0.0.2:0").expect("bind");
    let pa = a.local_addr().expect("addr").port();
    let pb = b.local_addr().expect("addr").port();
    let ports = format!("{pa},1,{pb}");
    let out = portscope()
        .args(["scan", "127.0.0.0/29", "-p", &ports, "--no-probe", "--json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let hosts = doc["hosts"].as_array().expect("hosts");
    let addrs: Vec<&str> = hosts.iter().filter_map(|h| h["addr"].as_str()).collect();
    assert_eq!(
        addrs,
        (1..=6).map(|i| format!("127.0.0.{i}")).collect::<Vec<_>>()
    );
    for h in hosts {
        let addr = h["addr"].as_str().expect("addr");
        let got: Vec<(u64, &str)> = h["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .map(|p| {
                (
                    p["port"].as_u64().expect("port"),
                    p["state"].as_str().expect("state"),
                )
            })
            .collect();
        let want = |port: u16, open: bool| (u64::from(port), if open { "open" } else { "closed" });
        assert_eq!(
            got,
            vec![
                want(pa, addr == "127.0.0.1"),
                want(1, false),
                want(pb, addr == "127.0.0.2"),
            ],
            "{addr}"
        );
    }
    let s = &doc["summary"];
    assert_eq!(
        (
            s["hosts"].as_u64(),
            s["open"].as_u64(),
            s["closed"].as_u64()
        ),
        (Some(6), Some(2), Some(16))
    );
    drop((a, b));
}

#[test]
fn a_saved_listing_costs_about_its_size_to_read() {
    let _ns = common::netns();
    // One socket held by the same process through millions of fds, then
    // thousands of plain sockets so that the rendering fills the pipe.
    let dir = std::env::temp_dir().join(format!("portscope-bounds-{}-big", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("listing.json");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let sock = |port: u32| {
        format!(
            r#"{{"proto":"tcp","family":"inet","local":{{"addr":"127.0.0.1","port":{port}}},"remote":{{"addr":"0.0.0.0","port":0}},"state":"LISTEN""#
        )
    };
    write!(f, "[{},\"owners\":[", sock(1)).expect("write");
    let holders = 6_000_000u32;
    for fd in 0..holders {
        let sep = if fd + 1 == holders { "" } else { "," };
        write!(f, r#"{{"pid":4242,"fd":{fd}}}{sep}"#).expect("write");
    }
    write!(f, "]}}").expect("write");
    for port in 2..6000 {
        write!(f, ",{}}}", sock(port)).expect("write");
    }
    write!(f, "]").expect("write");
    f.flush().expect("flush");
    drop(f);
    let size_kib = std::fs::metadata(&path).expect("size").len() / 1024;

    let mut child = portscope()
        .args(["-tlnp", "--from-snapshot"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    // The first byte comes once the file is parsed; the output is larger
    // than a pipe holds, so the process is still there to be measured.
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("first byte");
    let (_, peak) = rss_kib(child.id()).expect("status");
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut stdout, &mut rest).expect("rest");
    let out = wait_bounded(child, Duration::from_secs(120), "big listing");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&rest);
    assert_eq!(text.lines().filter(|l| l.contains("LISTEN")).count(), 5999);
    // The text itself is read whole (up to the limit); the parse may add a
    // small multiple of it, not the eight times a generic tree took.
    assert!(
        peak < 4 * size_kib,
        "reading a {size_kib} KiB listing peaked at {peak} KiB"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_continuous_listing_ends_when_its_reader_does() {
    let _ns = common::netns();
    // `-c --changes` may write nothing for long after the first listing;
    // it still notices the reader has gone, within a round or two.
    for args in [
        &["-tan", "-c", "0.2", "--changes"][..],
        &["-tan", "-c", "30"],
        &["-tan", "-c", "30", "--changes", "--json"],
    ] {
        let mut child = portscope()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        reader.read_line(&mut line).expect("read");
        assert!(!line.is_empty(), "{args:?}");
        drop(reader);
        let out = wait_bounded(child, Duration::from_secs(20), &format!("{args:?}"));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{args:?}");
    }
}
