//! ss and netstat habits, and the smaller fixes that keep portscope
//! consistent with itself: each checked end to end on real sockets in a
//! network namespace the test makes, against ss where ss has an answer.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn run(args: &[&str]) -> std::process::Output {
    portscope().args(args).output().expect("runs portscope")
}

fn stdout(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "portscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn sorted(mut v: Vec<Key>) -> Vec<Key> {
    v.sort();
    v
}

/// A TCP listener with one connection (both ends), a connection's client
/// end left in TIME-WAIT, a bound UDP socket and a connected one: every
/// kind of socket ss leaves out or keeps by default.
struct Population {
    _listener: TcpListener,
    _conn: (TcpStream, TcpStream),
    _udp: (UdpSocket, UdpSocket),
    port: u16,
}

fn population() -> Population {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (a, _) = listener.accept().expect("accept");
    // The client closes first: its end goes to TIME-WAIT.
    let c2 = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (a2, _) = listener.accept().expect("accept");
    drop(c2);
    let mut buf = [0u8; 1];
    let mut a2 = a2;
    let _ = a2.read(&mut buf);
    drop(a2);
    let u = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let u2 = UdpSocket::bind("127.0.0.1:0").expect("udp");
    u2.connect(u.local_addr().expect("addr"))
        .expect("udp connect");
    // Wait for the TIME-WAIT socket to be there.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !json(&["-ta"]).iter().any(|s| s["state"] == "TIME_WAIT") {
        assert!(Instant::now() < deadline, "no TIME_WAIT socket appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    Population {
        _listener: listener,
        _conn: (c, a),
        _udp: (u, u2),
        port,
    }
}

#[test]
fn a_selection_without_a_or_l_lists_what_ss_lists() {
    let _ns = netns();
    let _p = population();
    // ss's default: no LISTEN, UNCONN, TIME-WAIT or SYN-RECV.
    let ss = sorted(ss_keys(&["-tuHn"]));
    assert!(!ss.is_empty());
    for args in [&["-tu"][..], &["-tun"], &["-tu", "-p"], &["-4", "-tu"]] {
        let ours = sorted(json_keys(&json(args)));
        assert_eq!(ours, ss, "portscope {args:?} against ss -tun");
    }
    let states: BTreeSet<String> = json(&["-tu"])
        .iter()
        .map(|s| s["state"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(states, BTreeSet::from(["ESTABLISHED".to_string()]));
    // -a: everything, as ss -a.
    assert_eq!(
        sorted(json_keys(&json(&["-tua"]))),
        sorted(ss_keys(&["-tuaHn"]))
    );
    // -l: listeners, as ss -l.
    assert_eq!(
        sorted(json_keys(&json(&["-tul"]))),
        sorted(ss_keys(&["-tulHn"]))
    );
    // State words choose for themselves, as in ss.
    let tw = json(&["-t", "state", "time-wait"]);
    assert_eq!(tw.len(), 1, "{tw:#?}");
    assert_eq!(tw[0]["state"], "TIME_WAIT");
}

#[test]
fn no_option_at_all_lists_everything() {
    let _ns = netns();
    let p = population();
    let out = run(&["--json"]);
    assert!(out.status.success());
    let all = parse_json(&out);
    let states: BTreeSet<&str> = all.iter().filter_map(|s| s["state"].as_str()).collect();
    for want in ["LISTEN", "ESTABLISHED", "TIME_WAIT", "UNCONN"] {
        assert!(states.contains(want), "{want} missing: {states:?}");
    }
    assert_eq!(
        sorted(json_keys(&all)),
        sorted(ss_keys(&["-tuaHn"])),
        "the -ano habit: every TCP and UDP socket"
    );
    let _ = p.port;
}

#[test]
fn listener_tcp_info_is_what_ss_prints_and_unlimited_is_null() {
    let _ns = netns();
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let filter = format!("sport = :{port}");
    let text = stdout(&["-tl", "-i", &filter]);
    let detail = text.lines().nth(2).unwrap_or("").trim().to_string();
    let ss = Command::new("ss")
        .args(["-tlinH", &filter])
        .output()
        .expect("ss");
    let ss_text = String::from_utf8_lossy(&ss.stdout);
    let ss_words: BTreeSet<String> = ss_text
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .map(|w| w.split(':').next().unwrap_or(w).to_string())
        .collect();
    let our_words: BTreeSet<String> = detail
        .split_whitespace()
        .map(|w| w.split(':').next().unwrap_or(w).to_string())
        .collect();
    assert!(!our_words.is_empty(), "no detail line: {text}");
    for w in ["pacing_rate", "sacked", "unacked"] {
        assert!(!our_words.contains(w), "{w} in {detail:?}");
    }
    // Every word we print for a listener, ss prints too (ss may add its
    // congestion module's own block, which we do not read).
    for w in &our_words {
        assert!(
            ss_words.contains(w),
            "{w} is ours, not ss's: {detail:?} / {ss_text:?}"
        );
    }
    let s = &json(&["-tl", "-i", &filter])[0];
    assert!(s["tcp_info"].is_object(), "{s}");
    assert!(s["tcp_info"]["pacing_rate"].is_null(), "{s}");
    assert!(s["tcp_info"]["max_pacing_rate"].is_null(), "{s}");
    assert!(
        !serde_json::to_string(s)
            .expect("json")
            .contains("18446744073709551615"),
        "{s}"
    );
    // A connection's pacing rate is a number, and a saved listing reads
    // the nulls back as "unlimited" (shown as nothing again).
    let _c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let list = json(&["-ta", "-i", &filter]);
    let saved = std::env::temp_dir().join(format!("portscope-habits-{}.json", std::process::id()));
    std::fs::write(&saved, serde_json::to_string(&list).expect("json")).expect("write");
    let again = stdout(&[
        "-tl",
        "-i",
        "--from-snapshot",
        saved.to_str().expect("path"),
    ]);
    assert!(!again.contains("pacing_rate"), "{again}");
    let _ = std::fs::remove_file(&saved);
}

#[test]
fn user_means_one_thing_for_names_and_numbers() {
    let _ns = netns();
    let _p = population();
    let by_name = json(&["-tua", "user", "root"]);
    let by_uid = json(&["-tua", "user", "0"]);
    assert!(!by_name.is_empty());
    assert_eq!(sorted(json_keys(&by_name)), sorted(json_keys(&by_uid)));
    // A uid nobody here holds, by name and number alike.
    let nobody = Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .expect("id");
    let nobody_uid = String::from_utf8_lossy(&nobody.stdout).trim().to_string();
    assert!(json(&["-tua", "user", "nobody"]).is_empty());
    assert!(json(&["-tua", "user", &nobody_uid]).is_empty());
    // An unknown name is an error pointing at it.
    let out = run(&[
        "-tua",
        "sport",
        "=",
        ":1",
        "or",
        "user",
        "no-such-user-here",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown user 'no-such-user-here' at column 20"),
        "{err}"
    );
    assert!(err.contains("\n                   ^"), "{err}");
}

#[test]
fn sort_by_pid_or_process_looks_owners_up_without_p() {
    let _ns = netns();
    // Three processes, each holding a listener of its own.
    let held: Vec<Holder> = (0..3).map(|_| Holder::listening()).collect();
    let with_p = json(&["-tl", "-p"]);
    let pid_of_inode = |inode: u64| {
        by_inode(&with_p, inode)
            .map(owner_pids)
            .and_then(|p| p.first().copied())
            .unwrap_or(0)
    };
    for reverse in [false, true] {
        let mut args = vec!["-tl", "--sort", "pid"];
        if reverse {
            args.push("--reverse");
        }
        let list = json(&args);
        assert_eq!(list.len(), held.len());
        assert!(list.iter().all(|s| s.get("owners").is_none()), "not shown");
        let pids: Vec<u64> = list
            .iter()
            .map(|s| pid_of_inode(s["inode"].as_u64().unwrap_or(0)))
            .collect();
        let mut want: Vec<u64> = held.iter().map(|h| u64::from(h.child.id())).collect();
        want.sort_unstable();
        if reverse {
            want.reverse();
        }
        assert_eq!(pids, want, "--sort pid, reverse={reverse}");
    }
    // By process name: every row still there (all are python3, so the
    // order among them is the collector's).
    let names = stdout(&["-tl", "--sort", "process", "-H"]);
    assert_eq!(names.lines().count(), held.len(), "{names}");
}

/// A python3 child holding a TCP listener on loopback, killed on drop.
struct Holder {
    child: std::process::Child,
}

impl Holder {
    fn listening() -> Holder {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)",
            ])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 (Debian package python3)");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("ready");
        Holder { child }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_listener_whose_holder_cannot_be_seen_is_not_called_kernel_held() {
    let _ns = netns();
    // A listener held by no process: sent over a unix socket pair and
    // closed here before the other end received it, it lives only in the
    // message in flight.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let (a, b) = UnixStream::pair().expect("pair");
    send_fd(&a, &l);
    drop(l);
    let out = run(&["who", &port.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("LISTEN"), "{text}");
    assert!(!text.contains("kernel-held"), "{text}");
    assert!(text.contains("no process found"), "{text}");
    drop((a, b));
}

fn send_fd(via: &UnixStream, fd: &impl std::os::fd::AsFd) {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    let fds = [fd.as_fd()];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut ancillary = SendAncillaryBuffer::new(&mut space);
    assert!(ancillary.push(SendAncillaryMessage::ScmRights(&fds)));
    sendmsg(
        via,
        &[std::io::IoSlice::new(b"x")],
        &mut ancillary,
        SendFlags::empty(),
    )
    .expect("sendmsg");
}

#[test]
fn hidden_owner_counts_are_about_the_selected_sockets() {
    if !is_root() {
        return;
    }
    let _ns = netns();
    // Root's listener, which nobody cannot see the owner of…
    let _root_l = TcpListener::bind("127.0.0.1:0").expect("bind");
    // …and nobody's own, selected by the filter.
    let mut child = Command::new("setpriv")
        // Debian's python3 by its path: one on root's PATH may live where
        // nobody cannot read.
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c"])
        .arg("import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)")
        .stdout(Stdio::piped())
        .spawn()
        .expect("setpriv (util-linux) and python3");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    let theirs = line.trim().to_string();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_portscope"))
            .args(args)
            .output()
            .expect("runs portscope as nobody")
    };
    let out = as_nobody(&["-tlp", "sport", "=", &format!(":{theirs}")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("hidden"),
        "nothing selected is hidden, yet: {err}"
    );
    let out = as_nobody(&["-tlp"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("owners of 1 socket(s) hidden"), "{err}");
    let out = as_nobody(&[
        "-s",
        "-t",
        "-p",
        "--json",
        "sport",
        "=",
        &format!(":{theirs}"),
    ]);
    let sum: Value = serde_json::from_slice(&out.stdout).expect("summary json");
    assert_eq!(sum["owners_hidden"], 0, "{sum}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn summary_sorts_listeners_by_number_shows_the_tables_first_owner_and_counts_without_owners() {
    let _ns = netns();
    let mut held = Vec::new();
    for port in [11211u16, 143, 110, 1100] {
        held.push(TcpListener::bind(("127.0.0.1", port)).expect("bind"));
    }
    let sum: Value = serde_json::from_str(&stdout(&["-s", "--json"])).expect("json");
    let ports: Vec<u16> = sum["listening"]
        .as_array()
        .expect("listening")
        .iter()
        .filter_map(|l| l["local"].as_str()?.rsplit_once(':')?.1.parse().ok())
        .collect();
    assert_eq!(ports, [110, 143, 1100, 11211]);
    assert_eq!(sum["owners_looked_up"], true);
    // The first process named for a listener is the table's.
    let table = json(&["-tlp"]);
    for l in sum["listening"].as_array().expect("listening") {
        let local = l["local"].as_str().unwrap_or("");
        let row = table
            .iter()
            .find(|s| {
                format!(
                    "{}:{}",
                    s["local"]["addr"].as_str().unwrap_or(""),
                    s["local"]["port"]
                ) == local
            })
            .expect("in the table");
        let first = owner_pids(row)[0];
        let named = l["processes"][0].as_str().unwrap_or("");
        assert!(named.ends_with(&format!("[{first}]")), "{named} vs {first}");
    }
    // -sn: the counts and listeners, no owner walk.
    let fast: Value = serde_json::from_str(&stdout(&["-sn", "--json"])).expect("json");
    assert_eq!(fast["owners_looked_up"], false);
    assert_eq!(fast["tcp"]["total"], sum["tcp"]["total"]);
    assert!(
        fast["listening"]
            .as_array()
            .expect("listening")
            .iter()
            .all(|l| l["processes"].as_array().is_some_and(|p| p.is_empty()))
    );
    // The text lists them in the same order.
    let text = stdout(&["-s"]);
    let at = |p: &str| text.find(&format!("127.0.0.1:{p} ")).expect(p);
    assert!(at("110") < at("143") && at("143") < at("1100") && at("1100") < at("11211"));
}

#[test]
fn continuous_json_is_ndjson_with_times_and_csv_has_one_header() {
    let _ns = netns();
    let _l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let lines = |args: &[&str], want: usize| -> Vec<String> {
        let mut child = portscope()
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut out = Vec::new();
        let reader = BufReader::new(child.stdout.take().expect("stdout"));
        for line in reader.lines() {
            out.push(line.expect("line"));
            if out.len() >= want {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        out
    };
    let ndjson = lines(&["-tl", "-c", "0.2", "--json"], 3);
    let mut times = Vec::new();
    for l in &ndjson {
        let v: Value = serde_json::from_str(l).expect("one object a line");
        assert_eq!(v["state"], "LISTEN", "{l}");
        assert!(l.starts_with("{\"time\":\""), "{l}");
        times.push(v["time"].as_str().expect("time").to_string());
    }
    for t in &times {
        assert!(
            t.len() == 20 && t.ends_with('Z') && &t[10..11] == "T",
            "{t}"
        );
    }
    let csv = lines(&["-tl", "-c", "0.2", "--csv"], 4);
    assert!(csv[0].starts_with("time,proto,"), "{csv:?}");
    assert_eq!(
        csv.iter().filter(|l| l.starts_with("time,")).count(),
        1,
        "one header: {csv:?}"
    );
    for row in &csv[1..] {
        assert!(row.starts_with("20") && row.contains("Z,tcp,"), "{row}");
    }
    let changes = lines(&["-tl", "-c", "0.2", "--changes", "--json"], 1);
    let v: Value = serde_json::from_str(&changes[0]).expect("object");
    assert!(v["time"].is_string() && v["change"] == "=", "{v}");
}

#[test]
fn explain_lists_ranges_and_reserved_ports() {
    let many: Vec<Value> = serde_json::from_str(&stdout(&[
        "explain",
        "22",
        "80,443",
        "8000-8002/tcp",
        "--json",
    ]))
    .expect("json");
    let ports: Vec<u64> = many.iter().filter_map(|e| e["port"].as_u64()).collect();
    assert_eq!(ports, [22, 80, 443, 8000, 8001, 8002]);
    let zero: Vec<Value> =
        serde_json::from_str(&stdout(&["explain", "0", "--json"])).expect("json");
    assert_eq!(zero[0]["reserved"], serde_json::json!(["tcp", "udp"]));
    assert!(
        zero[0]["note"]
            .as_str()
            .is_some_and(|n| n.contains("any free port"))
    );
    let text = stdout(&["explain", "0"]);
    assert!(!text.contains("no IANA assignment"), "{text}");
    assert!(text.contains("reserved by IANA"), "{text}");
    // 1011-1020 is an unnamed Reserved row in the registry; 1010 is named.
    let text = stdout(&["explain", "1015"]);
    assert!(text.contains("reserved by IANA"), "{text}");
    // Too many, and a range upside down: usage errors.
    for args in [&["explain", "1-5000"][..], &["explain", "90-80"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    }
}

#[test]
fn raw_sockets_are_named_as_ss_names_them() {
    if !is_root() {
        return;
    }
    let _ns = netns();
    let mut child = Command::new("python3")
        .args(["-c", "import socket,time; a=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP); b=socket.socket(socket.AF_INET6,socket.SOCK_RAW,socket.IPPROTO_ICMPV6); print('ok',flush=True); time.sleep(60)"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("ready");
    let ss = Command::new("ss").args(["-waH"]).output().expect("ss");
    let ss_names: BTreeSet<String> = String::from_utf8_lossy(&ss.stdout)
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .nth(3)?
                .rsplit_once(':')
                .map(|(_, p)| p.to_string())
        })
        .collect();
    let ours = stdout(&["-wa", "-H"]);
    let our_names: BTreeSet<String> = ours
        .lines()
        .filter_map(|l| l.split_whitespace().nth(6).map(str::to_string))
        .collect();
    assert_eq!(our_names, ss_names, "{ours}");
    assert!(our_names.contains("icmp") && our_names.contains("ipv6-icmp"));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn netstat_layout_has_unix_sockets_and_no_pid_zero() {
    let _ns = netns();
    let dir = std::env::temp_dir().join(format!("portscope-netstat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("n.sock");
    let _u = UnixListener::bind(&path).expect("bind unix");
    let _p = population();
    let with_pid = stdout(&["-tuxa", "-o", "--format", "netstat"]);
    assert!(
        with_pid.contains("Active UNIX domain sockets"),
        "{with_pid}"
    );
    let unix_row = with_pid
        .lines()
        .find(|l| l.contains(path.to_str().expect("path")))
        .expect("our unix listener");
    assert!(
        unix_row.contains("LISTENING") && unix_row.contains(&std::process::id().to_string()),
        "{unix_row}"
    );
    let tw = with_pid
        .lines()
        .find(|l| l.contains("TIME_WAIT"))
        .expect("the TIME_WAIT socket");
    assert!(tw.trim_end().ends_with(" -"), "{tw}");
    assert!(
        !with_pid.lines().any(|l| l.trim_end().ends_with(" 0")),
        "{with_pid}"
    );
    let without = stdout(&["-tuxa", "--format", "netstat"]);
    assert!(!without.contains("PID"), "{without}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_unix_socket_is_found_by_its_path() {
    let dir = std::env::temp_dir().join(format!("portscope-unixpath-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("x.sock");
    let l = UnixListener::bind(&path).expect("bind unix");
    let _c = UnixStream::connect(&path).expect("connect");
    let (_a, _) = l.accept().expect("accept");
    let p = path.to_str().expect("path");
    let found = json(&["-xa", "src", p]);
    let ino = inode(&l);
    assert!(by_inode(&found, ino).is_some(), "{found:#?}");
    assert!(found.iter().all(|s| s["local"]["path"] == p), "{found:#?}");
    // The same as with unix:, and as a glob.
    assert_eq!(
        found.len(),
        json(&["-xa", "src", &format!("unix:{p}")]).len()
    );
    let glob = format!("{}/*.sock", dir.display());
    assert!(by_inode(&json(&["-xa", "src", &glob]), ino).is_some());
    // The client's end names the path as its peer.
    assert!(!json(&["-xa", "dst", p]).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
