//! An audit finding's identity includes the network namespace: the same
//! listener (same program name, address and port) in two `ip netns`
//! namespaces is two findings, each carrying its namespace, with ids that
//! stay the same across runs (a baseline of the first run reports
//! nothing new).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::Value;

use common::{Named, netns, portscope};

const HELPER: &str = r#"
import os, socket, sys
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.bind(("0.0.0.0", int(sys.argv[1]))); l.listen()
print(l.getsockname()[1], os.fstat(l.fileno()).st_ino, flush=True)
sys.stdin.read()
"#;

/// A listener in namespace `name`, killed (by its pid) and reaped on drop.
struct Helper {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    inode: u64,
}

impl Helper {
    fn start(name: &str, port: u16) -> Helper {
        let mut child = Command::new("ip")
            .args(["netns", "exec", name, "python3", "-c", HELPER])
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("ip and python3 are needed (Debian packages iproute2, python3)");
        let stdin = child.stdin.take().expect("stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("helper output");
        let n: Vec<u64> = line
            .split_whitespace()
            .map(|x| x.parse().expect("number"))
            .collect();
        assert_eq!(n.len(), 2, "the helper failed: {line:?}");
        Helper {
            child,
            _stdin: stdin,
            port: u16::try_from(n[0]).expect("port"),
            inode: n[1],
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn audit(args: &[&str]) -> Value {
    let out = portscope()
        .arg("audit")
        .args(args)
        .arg("--json")
        .output()
        .expect("run audit");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("audit JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_same_listener_in_two_namespaces_is_two_findings() {
    let _ns = netns();
    let pid = std::process::id();
    let a = Named::bare(format!("ps-aud-a-{pid}"));
    let b = Named::bare(format!("ps-aud-b-{pid}"));
    let ha = Helper::start(&a.0, 0);
    let hb = Helper::start(&b.0, ha.port);
    assert_eq!(ha.port, hb.port);

    let report = audit(&["-N", "all"]);
    let wild: Vec<&Value> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "wildcard-bind")
        .filter(|f| f["inode"] == ha.inode || f["inode"] == hb.inode)
        .collect();
    assert_eq!(wild.len(), 2, "{wild:#?}");
    for (h, n) in [(&ha, &a), (&hb, &b)] {
        let f = wild
            .iter()
            .find(|f| f["inode"] == h.inode)
            .expect("a finding per namespace");
        assert_eq!(f["netns"]["name"], n.0.as_str(), "{f:#}");
        assert_eq!(f["netns"]["host"], false);
        let id = f["id"].as_str().expect("id");
        assert_eq!(
            id,
            format!("wildcard-bind tcp 0.0.0.0:{} python3 netns {}", h.port, n.0)
        );
    }
    assert_ne!(wild[0]["id"], wild[1]["id"]);

    // The ids are the same next run: a baseline of this one finds nothing
    // new about either listener.
    let dir = std::env::temp_dir().join(format!("portscope-audit-netns-{pid}.json"));
    std::fs::write(&dir, serde_json::to_vec(&report).expect("json")).expect("write");
    let again = audit(&["-N", "all", "--baseline", dir.to_str().expect("path")]);
    let _ = std::fs::remove_file(&dir);
    let new: Vec<&Value> = again["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["inode"] == ha.inode || f["inode"] == hb.inode)
        .collect();
    assert!(new.is_empty(), "{new:#?}");
    drop((ha, hb));
}
