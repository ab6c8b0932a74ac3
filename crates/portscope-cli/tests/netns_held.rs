//! A network namespace held only by an open fd: no process runs in it and
//! its bind mount is gone, but a process keeps its nsfs file open. The
//! owner walk finds the `net:[INODE]` link and the listing enters the
//! namespace through `/proc/<holder>/fd/<n>`.
//!
//! The helper (python3) opens `/run/netns/NAME` (an `ip netns add` of the
//! test's), enters it, listens on a TCP port, and goes back to the test's
//! namespace, holding the nsfs fd and the listener. The test then removes
//! the mount (`ip netns delete`), so nothing but that fd names the
//! namespace, and the listener must still be listed, with its namespace's
//! inode.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::process::{Child, ChildStdin, Command, Stdio};

use common::{Named, by_inode, ip_ok, json, netns, owner_pids};

const HELPER: &str = r#"
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
held = os.open(sys.argv[1], os.O_RDONLY)
if libc.setns(held, CLONE_NEWNET) != 0:
    sys.exit("setns: %d" % ctypes.get_errno())
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.bind(("0.0.0.0", 0)); l.listen()
if libc.setns(home, CLONE_NEWNET) != 0:
    sys.exit("setns back: %d" % ctypes.get_errno())
os.close(home)
print(l.getsockname()[1], os.fstat(l.fileno()).st_ino, os.fstat(held).st_ino, flush=True)
sys.stdin.read()
"#;

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
fn a_namespace_held_only_by_an_fd_is_listed() {
    let _ns = netns();
    let name = format!("ps-held-{}", std::process::id());
    let named = Named::bare(name.clone());
    let mount = format!("/run/netns/{name}");
    let ns_inode = std::fs::metadata(&mount).expect("the mount").ino();

    let mut child = Command::new("python3")
        .args(["-c", HELPER, &mount])
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
    assert_eq!(n.len(), 3, "the helper failed: {line:?}");
    let (port, sock, held) = (n[0], n[1], n[2]);
    assert_eq!(held, ns_inode);

    // Now only the helper's fd names it: no mount, no process inside.
    ip_ok(&["netns", "delete", &name]);
    drop(named);
    assert!(!std::path::Path::new(&mount).exists());

    let list = json(&["-N", "all", "-tlp"]);
    let s = by_inode(&list, sock)
        .unwrap_or_else(|| panic!("the held namespace's listener is not listed: {list:#?}"));
    assert_eq!(s["local"]["port"], port);
    assert_eq!(s["state"], "LISTEN");
    assert_eq!(s["netns"]["inode"], ns_inode, "{s}");
    assert_eq!(s["netns"]["host"], false);
    assert_eq!(owner_pids(s), vec![u64::from(helper.child.id())]);

    drop(helper);
}
