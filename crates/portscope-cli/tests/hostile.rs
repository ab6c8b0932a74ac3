//! End to end: processes with hostile names can't make portscope lie.
//!
//! Real python3 processes rename themselves (`prctl(PR_SET_NAME)`) to bytes
//! an attacker would pick — terminal escapes, line breaks, CSV separators,
//! invalid UTF-8, names past the kernel's 15 bytes — and hold loopback TCP
//! sockets, unix sockets whose paths carry the same bytes and abstract names
//! with embedded NULs. One more runs as nobody from a world-writable
//! directory, under a non-UTF-8 file name, setuid root. Every output must
//! show them escaped (no raw control byte, one line per row), JSON and CSV
//! must give back exactly the bytes made, and audit must flag the setuid one.
//!
//! The test's own sockets are picked out by pid, port or path, so whatever
//! else runs on the machine does not matter (its names are escaped too).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::portscope;
use portscope::text::unescape;
use serde_json::Value;

/// The helper each hostile process runs: rename, listen, connect to itself,
/// bind the unix names, print the TCP port, then wait for stdin to close.
const HELPER: &str = r#"
import ctypes, socket, sys
name, path, abstract = (bytes.fromhex(a) for a in sys.argv[1:4])
if ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0) != 0:
    sys.exit("prctl failed")
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8)
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
keep = [l, c, a]
for raw in (path, b"\0" + abstract if abstract else b""):
    if raw:
        u = socket.socket(socket.AF_UNIX); u.bind(raw); u.listen(1); keep.append(u)
print(l.getsockname()[1], flush=True)
sys.stdin.read()
"#;

/// Names a local user can give a process. The last is cut by the kernel.
const NAMES: [&[u8]; 5] = [
    b"\x1b[2J\x1b[Hclr",
    b"a\nb\tc\rd\x07e",
    b"x;1:2:forge\\n",
    b"\xff\xfe\x1b[6nbad",
    b"0123456789abcdefXYZ",
];

/// The kernel keeps 15 bytes of a name (TASK_COMM_LEN - 1).
fn comm_of(name: &[u8]) -> Vec<u8> {
    name[..name.len().min(15)].to_vec()
}

/// A system python3 (not a version-manager shim: it must run as nobody and
/// be copied).
fn python() -> PathBuf {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("python3 is needed for this test")
}

/// A scratch directory under /run (not a usual temp dir), removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = PathBuf::from(format!(
            "/run/portscope-hostile-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = dir.join("helper.py");
        std::fs::write(&script, HELPER).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
        Scratch(dir)
    }

    fn script(&self) -> PathBuf {
        self.0.join("helper.py")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One hostile process, killed (by its pid) when dropped.
struct Hostile {
    child: Child,
    pid: u32,
    port: u16,
    /// The name as the kernel keeps it.
    comm: Vec<u8>,
    /// Its unix socket's path.
    path: Vec<u8>,
    /// Its abstract socket's name as portscope shows it: `@` then the bytes.
    abstract_name: Vec<u8>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Hostile {
    fn spawn(program: &Path, script: &Path, name: &[u8], path: &[u8], abs: &[u8]) -> Hostile {
        Hostile::spawn_as(Command::new(program), script, name, path, abs)
    }

    fn spawn_as(mut cmd: Command, script: &Path, name: &[u8], path: &[u8], abs: &[u8]) -> Hostile {
        let mut child = cmd
            .arg(script)
            .args([hex(name), hex(path), hex(abs)])
            // A hostile argument too, for the command line.
            .arg(std::ffi::OsStr::from_bytes(name))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the hostile helper");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("helper said {line:?}"));
        let pid = child.id();
        let mut abstract_name = b"@".to_vec();
        abstract_name.extend_from_slice(abs);
        Hostile {
            child,
            pid,
            port,
            comm: comm_of(name),
            path: path.to_vec(),
            abstract_name,
        }
    }

    /// The name as people must see it.
    fn shown(&self) -> String {
        portscope::Text::from(self.comm.as_slice())
            .escaped()
            .to_string()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The five hostile processes, each with a unix path and an abstract name
/// carrying hostile bytes of their own.
fn crowd(scratch: &Scratch) -> Vec<Hostile> {
    let py = python();
    NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut path = scratch.0.as_os_str().as_bytes().to_vec();
            path.extend_from_slice(format!("/s{i}\x1b[2J;:\n\t\x7f").as_bytes());
            path.push(0xff);
            let tag = scratch.0.file_name().unwrap().to_string_lossy();
            let abs = format!("ps\0{tag}\x1b]0;{i}\n\0end");
            Hostile::spawn(&py, &scratch.script(), name, &path, abs.as_bytes())
        })
        .collect()
}

/// A listener run by nobody from a world-writable directory (not one of the
/// usual temp dirs) under a non-UTF-8 file name, setuid root: it has root's
/// rights while its real user is nobody.
fn setuid_listener(scratch: &Scratch) -> Hostile {
    let ww = scratch.0.join("drop");
    std::fs::create_dir_all(&ww).unwrap();
    std::fs::set_permissions(&ww, std::fs::Permissions::from_mode(0o777)).unwrap();
    let exe = ww.join(std::ffi::OsStr::from_bytes(b"py\xff\x1b[31mevil"));
    std::fs::copy(python(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o4755)).unwrap();
    // Just copied: exec can briefly fail with ETXTBSY while another test
    // thread forks holding the write fd.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe);
        let probe = Command::new(&exe).arg("-c").arg("pass").status();
        if probe.is_ok_and(|s| s.success()) || Instant::now() > deadline {
            return Hostile::spawn_as(cmd, &scratch.script(), b"suid\xfe\x1b[K", b"", b"");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Panics unless `out` is UTF-8 with no control character but newline (no
/// escape, no carriage return, no C1 control, no bidi override).
fn assert_clean(what: &str, out: &[u8]) -> String {
    let s = std::str::from_utf8(out)
        .unwrap_or_else(|e| panic!("{what}: output is not UTF-8 ({e}): {out:?}"));
    for c in s.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        assert!(
            c == '\n' || (!c.is_control() && !bidi),
            "{what}: raw {c:?} in output:\n{s}"
        );
    }
    s.to_string()
}

fn run(args: &[&str]) -> Output {
    portscope().args(args).output().expect("run portscope")
}

/// Runs portscope, asserts exit `code` and clean stdout and stderr.
fn clean(args: &[&str], code: i32) -> String {
    let out = run(args);
    let err = assert_clean(&format!("{args:?} stderr"), &out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert_clean(&format!("{args:?}"), &out.stdout)
}

/// The exact bytes of a JSON text value (a string, or `{"lossy", "hex"}`).
fn bytes_of(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Object(o) => {
            let h = o["hex"].as_str().expect("hex");
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex digit"))
                .collect()
        }
        other => panic!("not a text value: {other}"),
    }
}

fn json_of(args: &[&str]) -> Vec<Value> {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {:?}", out.status);
    common::parse_json(&out)
}

fn pid_filter(h: &Hostile) -> [String; 2] {
    ["pid".to_string(), h.pid.to_string()]
}

/// The sockets of the listing that belong to `h`.
fn mine<'a>(list: &'a [Value], h: &Hostile) -> Vec<&'a Value> {
    list.iter()
        .filter(|s| common::owner_pids(s).contains(&u64::from(h.pid)))
        .collect()
}

#[test]
fn json_and_snapshot_give_back_the_exact_bytes() {
    let _ns = common::netns();
    let scratch = Scratch::new("json");
    let crowd = crowd(&scratch);
    let file = scratch.0.join("saved.json");
    let saved = run(&["-txa", "-e", "--json"]);
    assert!(saved.status.success());
    std::fs::write(&file, &saved.stdout).unwrap();
    let live = common::parse_json(&saved);
    let back = json_of(&[
        "--from-snapshot",
        file.to_str().unwrap(),
        "-txa",
        "-e",
        "--json",
    ]);
    for list in [&live, &back] {
        for h in &crowd {
            // Oracle: what the kernel says the name is.
            let comm = std::fs::read(format!("/proc/{}/comm", h.pid)).unwrap();
            assert_eq!(comm.strip_suffix(b"\n").unwrap(), h.comm.as_slice());
            let socks = mine(list, h);
            assert_eq!(socks.len(), 5, "3 TCP and 2 unix sockets of {}", h.pid);
            for s in &socks {
                let o = s["owners"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|o| o["pid"] == h.pid)
                    .unwrap();
                assert_eq!(bytes_of(&o["name"]), h.comm, "{o}");
                let cmdline = bytes_of(&o["cmdline"]);
                let tail = [
                    b" ",
                    NAMES[crowd.iter().position(|x| x.pid == h.pid).unwrap()],
                ]
                .concat();
                assert!(cmdline.ends_with(&tail), "{o}");
                assert_eq!(o["uid"], 0);
                assert_eq!(o["euid"], 0);
            }
            let paths: Vec<Vec<u8>> = socks
                .iter()
                .filter(|s| s["proto"] == "unix")
                .map(|s| bytes_of(&s["local"]["path"]))
                .collect();
            assert!(paths.contains(&h.path), "{paths:?}");
            assert!(paths.contains(&h.abstract_name), "{paths:?}");
        }
    }
}

#[test]
fn csv_parses_back_to_the_exact_bytes() {
    let _ns = common::netns();
    let scratch = Scratch::new("csv");
    let crowd = crowd(&scratch);
    let out = run(&["-txa", "-p", "--csv"]);
    assert!(out.status.success());
    let text = assert_clean("--csv", &out.stdout);
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let head = rd.headers().unwrap().clone();
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let (owners, local, proto) = (col("owners"), col("local_addr"), col("proto"));
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    for h in &crowd {
        let mut n = 0;
        let mut paths = Vec::new();
        for r in &rows {
            for owner in r[owners].split(';').filter(|o| !o.is_empty()) {
                let mut f = owner.splitn(3, ':');
                let (pid, fd, name) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
                fd.parse::<u32>().expect("fd is a number");
                if pid == h.pid.to_string() {
                    assert_eq!(
                        unescape(name).as_deref(),
                        Some(h.comm.as_slice()),
                        "{owner}"
                    );
                    n += 1;
                    if &r[proto] == "unix" {
                        paths.push(unescape(&r[local]).unwrap());
                    }
                }
            }
        }
        assert_eq!(n, 5, "owner entries of {}", h.pid);
        assert!(
            paths.contains(&h.path) && paths.contains(&h.abstract_name),
            "{paths:?}"
        );
    }
    // Every line is a row: one per socket plus the header.
    assert_eq!(text.lines().count(), rows.len() + 1);
}

#[test]
fn table_summary_netstat_and_details_are_escaped() {
    let _ns = common::netns();
    let scratch = Scratch::new("table");
    let crowd = crowd(&scratch);
    for h in &crowd {
        let f = pid_filter(h);
        let n = mine(&json_of(&["-txa", "-p", "--json", &f[0], &f[1]]), h).len();
        assert_eq!(n, 5);
        for opts in [
            &["-txa", "-p"][..],
            &["-txa", "-e"],
            &["-txa", "-p", "--color", "always"],
        ] {
            let mut args = opts.to_vec();
            args.extend(["-H", f[0].as_str(), f[1].as_str()]);
            let text = if opts.contains(&"always") {
                // Colour is portscope's own escapes only: strip those and
                // what is left must be clean.
                let out = run(&args);
                let s = String::from_utf8(out.stdout).unwrap();
                let plain = strip_sgr(&s);
                assert_clean(&format!("{args:?}"), plain.as_bytes())
            } else {
                clean(&args, 0)
            };
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), n, "one line per socket:\n{text}");
            let owner = format!("{}[{}]", h.shown(), h.pid);
            assert!(
                lines.iter().all(|l| l.contains(&owner)),
                "{owner} in\n{text}"
            );
        }
        let e = clean(&["-txa", "-e", &f[0], &f[1]], 0);
        let path = portscope::Text::from(h.path.as_slice())
            .escaped()
            .to_string();
        let abs = portscope::Text::from(h.abstract_name.as_slice())
            .escaped()
            .to_string();
        assert!(
            e.contains(&path) && e.contains(&abs),
            "{path} {abs} in\n{e}"
        );
        let netstat = clean(&["-ano", "--format", "netstat", &f[0], &f[1]], 0);
        assert!(netstat.contains(&h.port.to_string()));
    }
    let summary = clean(&["-s"], 0);
    for h in &crowd {
        assert!(
            summary.contains(&format!("{}[{}]", h.shown(), h.pid)),
            "{summary}"
        );
    }
}

/// `s` without the SGR colour sequences (`ESC [ … m`) portscope writes itself.
fn strip_sgr(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        match tail.find('m') {
            Some(j) if tail[..j].bytes().all(|b| b.is_ascii_digit() || b == b';') => {
                rest = &tail[j + 1..];
            }
            _ => {
                out.push_str("\x1b[");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn who_explain_close_and_changes_are_escaped() {
    let _ns = common::netns();
    let scratch = Scratch::new("who");
    let crowd = crowd(&scratch);
    for h in &crowd {
        let port = h.port.to_string();
        let who = clean(&["who", &port], 0);
        assert!(who.contains(&format!("{}[{}]", h.shown(), h.pid)), "{who}");
        let j: Value = serde_json::from_slice(&run(&["who", &port, "--json"]).stdout).unwrap();
        let block = j
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["pid"] == h.pid)
            .expect("a block for the process");
        assert_eq!(bytes_of(&block["name"]), h.comm);
        let explain = clean(&["explain", &port], 0);
        assert!(
            explain.contains(&format!("{}[{}]", h.shown(), h.pid)),
            "{explain}"
        );
        // close lists what it would close, then refuses without a terminal.
        let sport = format!(":{port}");
        let close = clean(&["close", "state", "established", "sport", "=", &sport], 2);
        assert_eq!(
            close.lines().count(),
            2,
            "header and one connection:\n{close}"
        );
        assert!(close.contains(&h.shown()), "{close}");
    }
    // -c: the first listing of a continuous run.
    let h = &crowd[0];
    let mut child = portscope()
        .args(["-c", "1", "--changes", "-tp", "pid", &h.pid.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = Vec::new();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 4096];
    while first.iter().filter(|&&b| b == b'\n').count() < 4 {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "-c ended early");
        first.extend_from_slice(&buf[..n]);
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = assert_clean("-c", &first);
    assert!(
        text.contains(&format!("{}[{}]", h.shown(), h.pid)),
        "{text}"
    );
}

#[test]
fn audit_flags_the_setuid_listener_in_a_world_writable_dir() {
    let _ns = common::netns();
    let scratch = Scratch::new("audit");
    let crowd = crowd(&scratch);
    let suid = setuid_listener(&scratch);
    // Oracle: the kernel's view of its users.
    let status = std::fs::read(format!("/proc/{}/status", suid.pid)).unwrap();
    let uid_line = status
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(b"Uid:"))
        .unwrap();
    let uids: Vec<&str> = std::str::from_utf8(uid_line)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(&uids[1..3], ["65534", "0"]);

    let list = json_of(&["-tl", "-e", "--json", "pid", &suid.pid.to_string()]);
    assert_eq!(list.len(), 1, "{list:?}");
    let o = &list[0]["owners"][0];
    assert_eq!(
        (o["uid"].as_u64(), o["euid"].as_u64()),
        (Some(65534), Some(0))
    );
    assert_eq!(bytes_of(&o["name"]), suid.comm);
    let exe = bytes_of(&o["exe"]);
    assert!(exe.ends_with(b"/drop/py\xff\x1b[31mevil"), "{o}");

    let report: Value = serde_json::from_slice(&run(&["audit", "--json"]).stdout).unwrap();
    let about = |port: u16| -> Vec<String> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["local"]["port"] == port)
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    let rules = about(suid.port);
    assert!(rules.iter().any(|r| r == "exe-in-temp"), "{rules:?}");
    assert!(rules.iter().any(|r| r == "root-high-port"), "{rules:?}");
    // The crowd runs python from /usr/bin: no temp-dir finding for them,
    // though their names are not UTF-8.
    for h in &crowd {
        assert!(!about(h.port).iter().any(|r| r == "exe-in-temp"));
        assert!(about(h.port).iter().any(|r| r == "root-high-port"));
    }
    let text = clean(&["audit"], 0);
    assert!(
        text.contains(&format!("{}[{}]", suid.shown(), suid.pid)),
        "{text}"
    );
    assert!(text.contains(r"py\xff\x1b[31mevil"), "{text}");
    let who = clean(&["who", &suid.port.to_string()], 0);
    assert!(who.contains("user root (real nobody)"), "{who}");
}

#[test]
fn scan_shows_local_owners_escaped() {
    let _ns = common::netns();
    let scratch = Scratch::new("scan");
    let crowd = crowd(&scratch);
    let ports: Vec<String> = crowd.iter().map(|h| h.port.to_string()).collect();
    let list = ports.join(",");
    let text = clean(
        &["scan", "127.0.0.1", "-p", &list, "--banner-timeout", "200"],
        0,
    );
    for h in &crowd {
        assert!(
            text.contains(&format!("{}[{}]", h.shown(), h.pid)),
            "{text}"
        );
    }
    let out = run(&[
        "scan",
        "127.0.0.1",
        "-p",
        &list,
        "--banner-timeout",
        "200",
        "--json",
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ports = doc["hosts"][0]["ports"].as_array().unwrap();
    for h in &crowd {
        let p = ports.iter().find(|p| p["port"] == h.port).unwrap();
        assert_eq!(bytes_of(&p["owners"][0]["name"]), h.comm);
    }
}

/// A tmux server of this test's own running one portscope command in a
/// 200x30 terminal; killed when dropped.
struct Tmux(String);

impl Tmux {
    fn start(tag: &str, args: &[&str]) -> Tmux {
        let t = Tmux(format!("portscope-hostile-{tag}-{}", std::process::id()));
        let st = Command::new("tmux")
            .args(["-u", "-L", &t.0, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", "200", "-y", "30", "-s", "w"])
            .args(["env", "LANG=C.UTF-8", env!("CARGO_BIN_EXE_portscope")])
            .args(args)
            .status()
            .expect("tmux is needed for this test");
        assert!(st.success(), "tmux new-session");
        t
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .output()
            .expect("tmux")
    }

    /// The screen once it shows `want` (or after 10 s, for the message).
    fn screen_with(&self, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.tmux(&["capture-pane", "-p", "-t", "w"]);
            let s = String::from_utf8_lossy(&out.stdout).into_owned();
            if s.contains(want) || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let path = self
            .tmux(&["display-message", "-p", "#{socket_path}"])
            .stdout;
        let path = String::from_utf8_lossy(&path).trim().to_string();
        let _ = self.tmux(&["kill-server"]);
        if path.contains(&self.0) {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[test]
fn watch_and_the_kill_prompt_show_names_escaped() {
    let _ns = common::netns();
    let scratch = Scratch::new("watch");
    let crowd = crowd(&scratch);
    let h = &crowd[0];
    let want = format!("{}[{}]", h.shown(), h.pid);
    let watch = Tmux::start("watch", &["watch", "pid", &h.pid.to_string()]);
    let screen = watch.screen_with(&want);
    assert!(screen.contains(&want), "{want} not on screen:\n{screen}");
    assert_clean("watch screen", screen.as_bytes());
    drop(watch);

    // who --kill asks on a terminal; the question names the process.
    let port = h.port.to_string();
    let kill = Tmux::start("kill", &["who", &port, "--kill"]);
    let screen = kill.screen_with("[y/N]");
    assert!(screen.contains("[y/N]"), "no question:\n{screen}");
    assert!(
        screen.contains(&want),
        "{want} not in the question:\n{screen}"
    );
    assert_clean("kill prompt", screen.as_bytes());
    let _ = kill.tmux(&["send-keys", "-t", "w", "n", "Enter"]);
    drop(kill);
    // Not signalled.
    assert!(std::path::Path::new(&format!("/proc/{}", h.pid)).exists());
}

/// Serves each connection on a thread of its own until the test ends.
fn serve(l: std::net::TcpListener, handle: impl Fn(std::net::TcpStream) + Send + Sync + 'static) {
    let handle = std::sync::Arc::new(handle);
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let h = std::sync::Arc::clone(&handle);
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                h(conn)
            });
        }
    });
}

#[test]
fn scan_shows_what_servers_say_escaped_and_bounded() {
    let _ns = common::netns();
    use std::io::Write;
    // An SSH greeter whose version clears the screen and sets the title.
    let ssh = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ssh_port = ssh.local_addr().unwrap().port();
    serve(ssh, |mut c| {
        let _ = c.write_all(b"SSH-2.0-Evil\x1b[2J\x1b]0;pwn\x07 x\r\n");
        let _ = c.read(&mut [0u8; 64]);
    });
    // A TLS server whose certificate's CN breaks lines and that has 2000 SANs.
    let cn = "evil\n\x1b[2Jcn";
    let sans: Vec<String> = (0..2000).map(|i| format!("n{i}.example")).collect();
    let mut params = rcgen::CertificateParams::new(sans).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let pkey = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let cfg = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], pkey)
    .unwrap();
    let cfg = std::sync::Arc::new(cfg);
    let tls = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tls_port = tls.local_addr().unwrap().port();
    serve(tls, move |c| {
        let Ok(conn) = rustls::ServerConnection::new(std::sync::Arc::clone(&cfg)) else {
            return;
        };
        let mut s = rustls::StreamOwned::new(conn, c);
        let _ = s.read(&mut [0u8; 256]);
    });
    let ports = format!("{ssh_port},{tls_port}");
    let text = clean(&["scan", "127.0.0.1", "-p", &ports], 0);
    let row = |port: u16| -> &str {
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{port}/tcp")))
            .collect();
        assert_eq!(rows.len(), 1, "one row for {port}:\n{text}");
        rows[0]
    };
    assert!(
        row(ssh_port).contains(r"Evil\x1b[2J\x1b]0;pwn\x07 x"),
        "{text}"
    );
    let t = row(tls_port);
    assert!(t.contains(r"evil\n\x1b[2Jcn"), "{t}");
    assert!(
        t.contains("…(+") && t.chars().count() < 600,
        "cut with a count: {t}"
    );
    // JSON keeps every name, exactly.
    let out = run(&["scan", "127.0.0.1", "-p", &ports, "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ports = doc["hosts"][0]["ports"].as_array().unwrap();
    let entry = |port: u16| ports.iter().find(|p| p["port"] == port).unwrap();
    assert_eq!(
        bytes_of(&entry(ssh_port)["product"]),
        b"Evil\x1b[2J\x1b]0;pwn\x07"
    );
    assert_eq!(bytes_of(&entry(ssh_port)["info"]), b"x");
    let names = entry(tls_port)["tls"]["names"].as_array().unwrap();
    assert_eq!(names.len(), 2001);
    assert_eq!(bytes_of(&names[0]), cn.as_bytes());
}

#[test]
fn a_hostile_file_name_in_an_error_stays_one_line() {
    let _ns = common::netns();
    let bad = std::ffi::OsStr::from_bytes(b"/nonexistent/\x1b[2J\nforged: ok\xff");
    for args in [&["--from-snapshot"][..], &["audit", "--baseline"]] {
        let out = portscope().args(args).arg(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = assert_clean("stderr", &out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(r"\x1b[2J\nforged: ok\xff"), "{err}");
    }
}

/// Arguments are untrusted too: a terminal title escape and a line break in
/// an argument clap rejects (an unknown option, a bad value, a bad
/// subcommand option) or that a command rejects (a port, a duration, a
/// signal) come back escaped, on one line, with exit 2.
#[test]
fn rejected_arguments_are_escaped_on_one_line() {
    const EVIL: &str = "\x1b]0;x\x07\nx";
    let shown = r"\x1b]0;x\x07\nx";
    let cases: Vec<Vec<String>> = vec![
        vec![format!("--bogus{EVIL}")],
        vec![format!("--sort=port{EVIL}")],
        vec!["--color".into(), format!("never{EVIL}")],
        vec![
            "wait".into(),
            "--state".into(),
            format!("listen{EVIL}"),
            "1".into(),
        ],
        vec!["scan".into(), format!("--nope{EVIL}")],
        vec!["who".into(), format!("80{EVIL}")],
        vec![
            "wait".into(),
            "--timeout".into(),
            format!("1s{EVIL}"),
            "1".into(),
        ],
        vec![
            "who".into(),
            "1".into(),
            "--kill".into(),
            "--signal".into(),
            format!("TERM{EVIL}"),
        ],
        vec![format!("sport{EVIL}")],
    ];
    for args in cases {
        let out = portscope().args(&args).output().expect("run portscope");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let first = err.lines().next().unwrap_or("");
        assert!(first.starts_with("portscope: "), "{args:?}: {err:?}");
        // The filter's lexer splits words at the line break: its message
        // quotes the word before it.
        let want = if args[0].starts_with("sport") {
            r"\x1b]0;x\x07"
        } else {
            shown
        };
        assert!(first.contains(want), "{args:?}: {err:?}");
        assert!(
            !err.bytes().any(|b| b < 0x20 && b != b'\n'),
            "{args:?}: raw control byte in {err:?}"
        );
        // A filter error adds the expression (escaped too) with a caret
        // under it; any other error is one line.
        let lines = if args[0].starts_with("sport") { 3 } else { 1 };
        assert_eq!(err.lines().count(), lines, "{args:?}: {err:?}");
    }
}
