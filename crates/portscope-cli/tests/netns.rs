//! Every network namespace: `ip netns` namespaces made here, with a
//! listener, a connection and a unix socket held by a process inside each,
//! and one whose only process has exited while its bind mount keeps it
//! (a TIME_WAIT connection is what is left in it). Compared with `ss` run
//! inside each namespace, and with the namespace's own inode.

mod common;
use common::Named;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// An `ip netns` namespace of the test's with `lo` up, named after `tag`.
fn named(tag: &str) -> Named {
    Named::new(format!("psnet-{tag}-{}", std::process::id()))
}

impl Named {
    /// `ss -H ARGS` run inside.
    fn ss(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "ss", "-H"])
            .args(args)
            .output()
            .expect("ss (iproute2) is needed");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A python process inside `ns` holding a TCP listener on 127.0.0.1:port,
/// a connection to it (both ends), and a unix listener at an abstract
/// name; killed on drop. It prints "ready" once all exist.
struct Holder(Child);

const HOLD: &str = r#"
import socket, sys, time
port = int(sys.argv[1])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port)); l.listen(8)
c = socket.create_connection(("127.0.0.1", port)); a, _ = l.accept()
u = socket.socket(socket.AF_UNIX); u.bind("\0psnet-" + sys.argv[1]); u.listen(1)
if len(sys.argv) > 2:
    # Leave a TIME_WAIT behind (the accepted end closes first) and exit.
    a.close(); time.sleep(0.2); c.close(); time.sleep(0.2)
    print("ready", flush=True); sys.exit(0)
print("ready", flush=True)
time.sleep(600)
"#;

impl Holder {
    fn start(ns: &Named, port: u16, exit: bool) -> Holder {
        Holder::start_as(ns, port, exit, None)
    }

    /// As `start`, the python process run by `user` (a uid) when given.
    fn start_as(ns: &Named, port: u16, exit: bool, user: Option<u32>) -> Holder {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns.0]);
        if let Some(uid) = user {
            let id = uid.to_string();
            cmd.args(["setpriv", "--reuid", &id, "--regid", &id, "--clear-groups"]);
            // A system python: a version manager's shim under /root is not
            // runnable by another user.
            cmd.arg("/usr/bin/python3");
        } else {
            cmd.arg("python3");
        }
        cmd.args(["-c", HOLD, &port.to_string()]);
        if exit {
            cmd.arg("exit");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "ready");
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn in_ns(list: &[Value], inode: u64) -> Vec<&Value> {
    list.iter()
        .filter(|s| s["netns"]["inode"].as_u64() == Some(inode))
        .collect()
}

fn tcp_ports(list: &[&Value]) -> Vec<(String, u64, u64)> {
    let mut v: Vec<_> = list
        .iter()
        .filter(|s| s["proto"] == "tcp")
        .map(|s| {
            (
                s["state"].as_str().unwrap_or_default().to_owned(),
                s["local"]["port"].as_u64().unwrap_or(0),
                s["remote"]["port"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v
}

fn ss_ports(text: &str) -> Vec<(String, u64, u64)> {
    let mut v: Vec<_> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let port = |s: &str| {
                s.rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0)
            };
            let state = match *f.first()? {
                "ESTAB" => "ESTABLISHED",
                "LISTEN" => "LISTEN",
                "TIME-WAIT" => "TIME_WAIT",
                other => other,
            };
            Some((state.to_owned(), port(f.get(3)?), port(f.get(4)?)))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn every_namespace_is_listed_with_its_own_sockets_and_owners() {
    assert!(common::is_root(), "this suite needs root");
    let (a, b) = (named("a"), named("b"));
    // The same port in both: only the namespace tells them apart.
    let (ha, hb) = (
        Holder::start(&a, 18_431, false),
        Holder::start(&b, 18_431, false),
    );
    let list = common::json(&["-t", "-x", "-a", "-p", "-N", "all"]);
    for (ns, holder) in [(&a, &ha), (&b, &hb)] {
        let mine = in_ns(&list, ns.inode());
        assert!(!mine.is_empty(), "nothing listed in {}", ns.0);
        for s in &mine {
            assert_eq!(s["netns"]["name"], ns.0.as_str(), "{s}");
            assert_eq!(s["netns"]["host"], false);
        }
        // TCP as ss inside the namespace sees it.
        assert_eq!(tcp_ports(&mine), ss_ports(&ns.ss(&["-tan"])), "{}", ns.0);
        // The unix listener, and every socket's owner is the holder.
        let unix: Vec<_> = mine
            .iter()
            .filter(|s| s["proto"] == "unix" && s["state"] == "LISTEN")
            .collect();
        assert_eq!(unix.len(), 1, "{}", ns.0);
        assert_eq!(unix[0]["local"]["path"], "@psnet-18431");
        for s in mine.iter().filter(|s| s["inode"].as_u64() != Some(0)) {
            assert_eq!(common::owner_pids(s), vec![u64::from(holder.0.id())], "{s}");
        }
    }
    // The host's sockets are there too, marked as the host's.
    assert!(list.iter().any(|s| s["netns"]["host"] == true));

    // -N NAME and the filter word select one namespace.
    for args in [
        vec!["-a", "-N", a.0.as_str()],
        vec!["-a", "-N", "all", "netns", a.0.as_str()],
    ] {
        let only = common::json(&args);
        assert!(!only.is_empty(), "{args:?}");
        assert!(
            only.iter()
                .all(|s| s["netns"]["inode"].as_u64() == Some(a.inode())),
            "{args:?}"
        );
    }
    // -N PID: the namespace that process runs in.
    let pid = hb.0.id().to_string();
    let by_pid = common::json(&["-a", "-N", &pid]);
    assert!(!by_pid.is_empty());
    assert!(
        by_pid
            .iter()
            .all(|s| s["netns"]["inode"].as_u64() == Some(b.inode()))
    );
    // -N host: none of theirs.
    let host = common::json(&["-a", "-N", "host"]);
    assert!(host.iter().all(|s| s["netns"]["host"] == true));

    // The table shows which namespace each socket is in.
    let out = common::portscope()
        .args(["-tan", "-N", "all", "sport", "=", ":18431"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().next().is_some_and(|h| h.contains("Netns")),
        "{text}"
    );
    assert!(text.contains(&a.0) && text.contains(&b.0), "{text}");
}

#[test]
fn a_namespace_kept_only_by_its_bind_mount_is_listed() {
    assert!(common::is_root(), "this suite needs root");
    let ns = named("orphan");
    let mut h = Holder::start(&ns, 18_432, true);
    let _ = h.0.wait();
    // No process is in it now; the TIME_WAIT left is found through /run/netns.
    let want = ss_ports(&ns.ss(&["-tan"]));
    assert!(
        want.iter().any(|(st, ..)| st == "TIME_WAIT"),
        "ss: {want:?}"
    );
    let list = common::json(&["-tan"]);
    let mine = in_ns(&list, ns.inode());
    assert_eq!(tcp_ports(&mine), want);
    assert!(mine.iter().all(|s| s["netns"]["name"] == ns.0.as_str()));
}

/// Without root no namespace can be entered: `-N all` reads the sockets of
/// one where a process of the caller's own runs from that process's
/// /proc/<pid>/net (a rootless container's case).
#[test]
fn unprivileged_all_reads_other_namespaces_through_proc() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    assert!(common::is_root(), "this suite needs root");
    let ns = named("unpriv");
    // Its own user's process in the namespace, as a rootless container's:
    // that process's namespace link is what tells which namespace it is.
    let _h = Holder::start_as(&ns, 18_434, false, Some(65534));
    // The build folder may sit under a home only root can enter.
    let dir = std::env::temp_dir().join(format!("psnet-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bin = dir.join("portscope");
    std::fs::copy(env!("CARGO_BIN_EXE_portscope"), &bin).expect("copy");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = common::exec_copied(|| {
        Command::new(&bin)
            .args(["-tan", "-N", "all", "--json"])
            .uid(65534)
            .gid(65534)
            .current_dir("/")
            .output()
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = common::parse_json(&out);
    let mine = in_ns(&list, ns.inode());
    assert_eq!(tcp_ports(&mine), ss_ports(&ns.ss(&["-tan"])));
    assert!(mine.iter().all(|s| s["netns"]["name"] == ns.0.as_str()));
}

#[test]
fn a_pid_that_is_nowhere_is_a_usage_error() {
    let out = common::portscope()
        .args(["-N", "4294967295"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("4294967295"), "{err}");
}
