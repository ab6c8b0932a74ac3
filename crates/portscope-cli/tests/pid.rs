//! End to end: `portscope pid` on a hostile-named process the test starts
//! (its parent, start, users, executable, cgroup, sockets with the listener
//! first, throughput of a connection it keeps busy) compared with /proc, by
//! name as well as by pid; an executable deleted from a world-writable
//! directory; a pid that does not exist.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

use common::portscope;
use serde_json::Value;

/// Rename, listen on TCP, connect to itself and keep sending, print the port.
const BUSY: &str = r#"
import ctypes, socket, sys, threading
name = bytes.fromhex(sys.argv[1])
if ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0) != 0:
    sys.exit("prctl failed")
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8)
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
def send():
    chunk = b"x" * 65536
    while True:
        c.sendall(chunk)
def drain():
    while a.recv(1 << 20):
        pass
for f in (send, drain):
    threading.Thread(target=f, daemon=True).start()
print(l.getsockname()[1], flush=True)
sys.stdin.read()
"#;

const NAME: &[u8] = b"pid\x1b]0;t\x07x";

struct Helper {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Helper {
    fn spawn(cmd: &mut Command) -> Helper {
        // Some helpers are programs the test just copied.
        let mut child = common::spawn_copied(cmd.stdin(Stdio::piped()).stdout(Stdio::piped()));
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        Helper { child, out }
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.out.read_line(&mut l).expect("helper output");
        assert!(!l.is_empty(), "the helper ended early");
        l.trim().to_string()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn pid_json(target: &str) -> Vec<Value> {
    let out = portscope()
        .args(["pid", target, "--json", "--interval", "500"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::parse_json(&out)
}

#[test]
fn pid_shows_the_process_behind_its_sockets() {
    let _ns = common::netns();
    let mut h = Helper::spawn(Command::new("python3").arg("-c").arg(BUSY).arg(hex(NAME)));
    let port: u64 = h.line().parse().expect("port");
    let pid = h.child.id();

    let all = pid_json(&pid.to_string());
    assert_eq!(all.len(), 1);
    let r = &all[0];
    assert_eq!(r["pid"].as_u64(), Some(u64::from(pid)));
    assert_eq!(r["name"].as_str().map(str::as_bytes), Some(NAME));
    // Parent: this test process, as /proc says.
    assert_eq!(r["ppid"].as_u64(), Some(u64::from(std::process::id())));
    assert_eq!(
        r["parents"][0]["pid"].as_u64(),
        Some(u64::from(std::process::id()))
    );
    let me = std::fs::read_to_string("/proc/self/comm").expect("comm");
    assert_eq!(r["parents"][0]["name"].as_str(), Some(me.trim_end()));
    // Users, executable, cgroup from /proc.
    assert_eq!(
        r["uid"].as_u64(),
        Some(u64::from(rustix::process::getuid().as_raw()))
    );
    assert_eq!(
        r["euid"].as_u64(),
        Some(u64::from(rustix::process::geteuid().as_raw()))
    );
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("exe");
    assert_eq!(r["exe"].as_str(), exe.to_str());
    assert_eq!(r["exe_deleted"], false);
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    let want = cg
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .or_else(|| cg.lines().next().and_then(|l| l.splitn(3, ':').nth(2)))
        .expect("a cgroup line");
    assert_eq!(r["cgroup"].as_str(), Some(want));
    // Started after the test began, and not in the future.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let start = r["start_time"].as_u64().expect("start_time");
    assert!(
        start <= now + 1 && start + 3600 > now,
        "start {start}, now {now}"
    );

    // Sockets: the listener first, then both ends of its connection, the
    // sending end with a rate.
    let socks = r["sockets"].as_array().expect("sockets");
    assert_eq!(socks.len(), 3, "{socks:#?}");
    assert_eq!(socks[0]["state"], "LISTEN");
    assert_eq!(
        socks[0]["local"].as_str(),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    assert_eq!(socks[0]["listening"], true);
    let client = socks
        .iter()
        .find(|s| s["remote"].as_str() == Some(format!("127.0.0.1:{port}").as_str()))
        .expect("the connecting end");
    let tx = client["tx_rate"].as_f64().expect("tx_rate measured");
    assert!(
        tx > 0.0,
        "a sending connection shows no throughput: {client}"
    );
    assert!(client["bytes_sent"].as_u64().unwrap_or(0) > 0);
    let server_end = socks
        .iter()
        .find(|s| {
            s["local"].as_str() == Some(format!("127.0.0.1:{port}").as_str())
                && s["state"] == "ESTABLISHED"
        })
        .expect("the accepted end");
    assert!(server_end["rx_rate"].as_f64().expect("rx_rate") > 0.0);
    // Audit findings are the audit's, for this pid only.
    assert!(r["findings"].is_array());

    // By name: the same process (names hold escapes; give the exact bytes).
    let by_name = portscope()
        .args(["pid", "--json", "--interval", "0"])
        .arg(std::ffi::OsStr::new(
            std::str::from_utf8(NAME).expect("utf-8 name"),
        ))
        .output()
        .expect("run");
    assert!(by_name.status.success());
    let list = common::parse_json(&by_name);
    assert!(
        list.iter()
            .any(|p| p["pid"].as_u64() == Some(u64::from(pid)))
    );

    // The screen: every field, the name escaped.
    let out = portscope()
        .args(["pid", &pid.to_string()])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(
        !out.stdout.contains(&0x1b) && !out.stdout.contains(&0x07),
        "raw control bytes"
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.starts_with(&format!("pid\\x1b]0;t\\x07x[{pid}]\n")),
        "{text}"
    );
    for field in [
        "parents",
        "started",
        "user",
        "exe",
        "command",
        "cgroup",
        "sockets   3 (1 listening)",
    ] {
        assert!(text.contains(field), "no {field}: {text}");
    }
    assert!(text.contains("tx "), "{text}");
}

/// A scratch directory anyone may write to, removed on drop.
struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn pid_flags_an_executable_deleted_from_a_world_writable_directory() {
    let dir = Dir(std::env::temp_dir().join(format!("portscope-pid-ww-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("dir");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let exe = dir.0.join("sleeper");
    std::fs::copy("/bin/busybox", &exe).expect("busybox is needed (Debian package busybox-static)");
    // busybox picks its applet by argv[0]; spawn returns once exec is done.
    let h = Helper::spawn(Command::new(&exe).arg0("sleep").arg("60"));
    std::fs::remove_file(&exe).expect("delete the executable");
    let pid = h.child.id();
    let r = &pid_json(&pid.to_string())[0];
    assert_eq!(r["exe_deleted"], true, "{r}");
    assert_eq!(r["exe_dir_world_writable"], true, "{r}");
    let text = portscope()
        .args(["pid", &pid.to_string()])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("[deleted]") && text.contains("[in a world-writable directory]"),
        "{text}"
    );
}

#[test]
fn pid_of_nothing_is_exit_1() {
    // Above the kernel's pid_max limit (4194304): never a process.
    let out = portscope().args(["pid", "4194305"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no process 4194305"));
    let out = portscope()
        .args(["pid", "no-such-process-name\x1b"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(!out.stderr.contains(&0x1b), "the name came back raw");
}
