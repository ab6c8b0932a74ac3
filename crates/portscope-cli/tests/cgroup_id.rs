//! The cgroup a socket was made in, from the dump itself (inet_diag's
//! `INET_DIAG_CGROUP_ID`): a listener made by root inside a cgroup of the
//! test's, listed by an unprivileged caller who cannot see its owner,
//! still says its cgroup path and systemd unit; compared with
//! `ss --cgroup`.
//!
//! The cgroup v2 hierarchy is `/sys/fs/cgroup` where that is cgroup2;
//! otherwise (a hybrid host) the test mounts cgroup2 on a directory of its
//! own for the test's length. The test's cgroup is
//! `/portscope-test-PID.slice/ps-cg-PID.service`.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use common::{by_inode, json, netns, parse_json};

const HELPER: &str = r#"
import os, socket, sys
with open(os.path.join(sys.argv[1], "cgroup.procs"), "w") as f:
    f.write(str(os.getpid()))
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.bind(("127.0.0.1", 0)); l.listen()
print(l.getsockname()[1], os.fstat(l.fileno()).st_ino, flush=True)
sys.stdin.read()
"#;

/// The cgroup2 hierarchy the test uses, and what it made there: removed
/// (and unmounted, if the test mounted it) on drop.
struct Hierarchy {
    root: PathBuf,
    mounted: bool,
    made: Vec<PathBuf>,
}

impl Hierarchy {
    fn new() -> Hierarchy {
        let sys = PathBuf::from("/sys/fs/cgroup");
        if rustix::fs::statfs(&sys).is_ok_and(|s| i128::from(s.f_type) == 0x6367_7270) {
            return Hierarchy {
                root: sys,
                mounted: false,
                made: Vec::new(),
            };
        }
        let root = std::env::temp_dir().join(format!("portscope-cg2-{}", std::process::id()));
        std::fs::create_dir_all(&root).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "cgroup2", "none"])
            .arg(&root)
            .output()
            .expect("mount is needed (Debian package mount)");
        assert!(
            out.status.success(),
            "mount cgroup2: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Hierarchy {
            root,
            mounted: true,
            made: Vec::new(),
        }
    }

    fn mkdir(&mut self, rel: &str) -> PathBuf {
        let p = self.root.join(rel);
        std::fs::create_dir(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        self.made.push(p.clone());
        p
    }
}

impl Drop for Hierarchy {
    fn drop(&mut self) {
        for p in self.made.iter().rev() {
            let _ = std::fs::remove_dir(p);
        }
        if self.mounted {
            let _ = Command::new("umount").arg(&self.root).output();
            let _ = std::fs::remove_dir(&self.root);
        }
    }
}

/// The helper process, killed (by its pid) and reaped on drop.
struct Helper {
    child: Child,
    _stdin: ChildStdin,
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_hidden_owners_socket_carries_its_cgroup_and_unit() {
    let _ns = netns();
    let pid = std::process::id();
    let mut h = Hierarchy::new();
    let slice = format!("portscope-test-{pid}.slice");
    let unit = format!("ps-cg-{pid}.service");
    h.mkdir(&slice);
    let cg = h.mkdir(&format!("{slice}/{unit}"));
    let cg_id = std::fs::metadata(&cg).expect("cgroup dir").ino();

    let mut child = Command::new("python3")
        .args(["-c", HELPER])
        .arg(&cg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed (Debian package python3)");
    let stdin = child.stdin.take().expect("stdin");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("helper output");
    let helper = Helper {
        child,
        _stdin: stdin,
    };
    let n: Vec<u64> = line
        .split_whitespace()
        .map(|x| x.parse().expect("number"))
        .collect();
    assert_eq!(n.len(), 2, "the helper failed: {line:?}");
    let (port, sock) = (n[0], n[1]);
    let path = format!("/{slice}/{unit}");

    // ss resolves the same id to the same path.
    let ss = Command::new("ss")
        .args(["-H", "-t", "-l", "-n", "--cgroup"])
        .output()
        .expect("ss is needed (Debian package iproute2)");
    let ss = String::from_utf8_lossy(&ss.stdout);
    let row = ss
        .lines()
        .find(|l| l.contains(&format!("127.0.0.1:{port} ")))
        .unwrap_or_else(|| panic!("ss lacks the listener: {ss}"));
    assert!(row.contains(&format!("cgroup:{path}")), "{row}");

    // Unprivileged: the owner is hidden, the cgroup is not.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_portscope"))
        .args(["-tlp", "--json"])
        .output()
        .expect("setpriv (Debian package util-linux)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let weak = parse_json(&out);
    let s = by_inode(&weak, sock).unwrap_or_else(|| panic!("not listed: {weak:#?}"));
    assert_eq!(s["owners"], serde_json::json!([]), "{s}");
    assert_eq!(s["owners_hidden"], true);
    assert_eq!(s["cgroup"]["id"], cg_id, "{s}");
    assert_eq!(s["cgroup"]["path"], path.as_str());
    assert_eq!(s["cgroup"]["unit"], unit.as_str());
    assert!(s["cgroup"]["container"].is_null());

    // As root the owner is seen, and the socket needs no cgroup of its own.
    let root = json(&["-tlp"]);
    let s = by_inode(&root, sock).expect("listed as root");
    assert_eq!(
        s["owners"][0]["pid"].as_u64(),
        Some(u64::from(helper.child.id()))
    );
    assert!(s.get("cgroup").is_none(), "{s}");
    drop(helper);
}
