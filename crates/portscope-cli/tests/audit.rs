//! `portscope audit` end to end: real listeners on loopback, on this host's
//! wildcard address, and inside network namespaces the tests create (with
//! 10.200.x.x addresses that exist only there), held by real processes
//! whose executables are deleted or live in /tmp.
//!
//! Other tests create sockets in parallel: findings are looked up by the
//! inode of the test's own socket, and totals are only asserted inside a
//! namespace no one else uses.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::File;
use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::*;
use serde_json::Value;

/// A process holding a socket as its stdin; killed on drop.
struct Holder {
    child: Child,
}

impl Holder {
    /// Runs `program 60` with `sock` as its stdin; the caller's copy can be dropped.
    fn new(program: &Path, sock: impl AsFd) -> Holder {
        let child = spawn_holding(program, sock)
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        Holder { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `program 60` (perhaps just copied) with `sock` as its stdin.
fn spawn_holding(program: &Path, sock: impl AsFd) -> std::io::Result<std::process::Child> {
    let fd: OwnedFd = sock.as_fd().try_clone_to_owned()?;
    let mut cmd = Command::new(program);
    cmd.arg("60").stdin(Stdio::from(fd));
    Ok(common::spawn_copied(&mut cmd))
}

/// The system's `sleep`, which holds sockets in these tests.
fn sleep_bin() -> PathBuf {
    for p in ["/bin/sleep", "/usr/bin/sleep"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("no sleep binary");
}

/// Runs a command and parses its stdout as one JSON document.
fn doc_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "invalid JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `portscope audit ARGS --json` here; asserts the exit code.
fn audit(args: &[&str], code: i32) -> Value {
    let out = portscope()
        .arg("audit")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "audit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    doc_of(&out)
}

/// The findings about the socket with this inode.
fn about(doc: &Value, inode: u64) -> Vec<Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["inode"].as_u64() == Some(inode))
        .cloned()
        .collect()
}

fn rules_of(findings: &[Value]) -> Vec<String> {
    let mut r: Vec<String> = findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    r.sort();
    r
}

fn find<'a>(findings: &'a [Value], rule: &str) -> &'a Value {
    findings
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} finding in {findings:#?}"))
}

fn reachable(f: &Value) -> Vec<String> {
    f["reachable_on"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["addr"].as_str().unwrap().to_string())
        .collect()
}

/// A network namespace made for one test, with a veth pair inside it whose
/// one end has 10.200.<n>.2/24. Deleted on drop.
struct Netns {
    name: String,
    addr: String,
}

impl Netns {
    /// `None` (and the test skips) when not root or `ip netns` is refused.
    fn new(n: u8) -> Option<Netns> {
        if !is_root() {
            eprintln!("skipped: network namespaces need root");
            return None;
        }
        let name = format!("psaudit-{}-{n}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: ip netns add refused");
            return None;
        }
        let ns = Netns {
            name,
            addr: format!("10.200.{n}.2"),
        };
        let cidr = format!("{}/24", ns.addr);
        for args in [
            vec!["link", "set", "lo", "up"],
            vec!["link", "add", "pa0", "type", "veth", "peer", "name", "pa1"],
            vec!["addr", "add", &cidr, "dev", "pa0"],
            vec!["link", "set", "pa0", "up"],
            vec!["link", "set", "pa1", "up"],
        ] {
            let st = Command::new("ip")
                .arg("-n")
                .arg(&ns.name)
                .args(&args)
                .status()
                .unwrap();
            assert!(st.success(), "ip -n {} {args:?}", ns.name);
        }
        Some(ns)
    }

    /// Runs `f` on a thread that has entered the namespace, so sockets it
    /// creates live there.
    fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let ns = File::open(&path).unwrap();
                rustix::thread::move_into_link_name_space(
                    ns.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .unwrap();
                f()
            })
            .join()
            .unwrap()
        })
    }

    fn tcp(&self, addr: &str) -> TcpListener {
        self.enter(|| TcpListener::bind(addr).unwrap())
    }

    fn udp(&self, addr: &str) -> UdpSocket {
        self.enter(|| UdpSocket::bind(addr).unwrap())
    }

    /// `portscope ARGS` run inside the namespace.
    fn portscope(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, env!("CARGO_BIN_EXE_portscope")])
            .args(args)
            .output()
            .unwrap()
    }

    /// `portscope audit ARGS --json` inside the namespace; asserts the exit code.
    fn audit(&self, args: &[&str], code: i32) -> Value {
        let mut all = vec!["audit"];
        all.extend_from_slice(args);
        all.push("--json");
        let out = self.portscope(&all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "audit {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        doc_of(&out)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The acceptance case in a namespace of our own: a wildcard listener on
/// the telnet port is flagged, with the namespace's one address as where it
/// is reached; a loopback-only twin of a database port is not.
#[test]
fn wildcard_well_known_port_in_a_namespace() {
    let _ns = common::netns();
    let Some(ns) = Netns::new(11) else { return };
    let telnet = ns.tcp("0.0.0.0:23");
    let redis_lo = ns.tcp("127.0.0.1:6379");
    let pg = ns.tcp(&format!("{}:5432", ns.addr));
    let ntp = ns.udp("0.0.0.0:123");
    let (ti, ri, pi, ni) = (inode(&telnet), inode(&redis_lo), inode(&pg), inode(&ntp));
    let sleep = sleep_bin();
    let holders = [
        Holder::new(&sleep, &telnet),
        Holder::new(&sleep, &redis_lo),
        Holder::new(&sleep, &pg),
        Holder::new(&sleep, &ntp),
    ];
    drop((telnet, redis_lo, pg, ntp));

    let doc = ns.audit(&[], 0);
    assert_eq!(
        doc["host_addresses"][0]["addr"],
        ns.addr.as_str(),
        "{doc:#}"
    );
    assert_eq!(doc["summary"]["listeners"], 4, "{doc:#}");
    assert_eq!(doc["summary"]["loopback"], 1);
    assert_eq!(doc["summary"]["all_interfaces"], 2);
    assert_eq!(doc["summary"]["address"], 1);

    let t = about(&doc, ti);
    assert_eq!(
        rules_of(&t),
        [
            "cleartext-exposed",
            "public-service-exposed",
            "wildcard-bind"
        ],
        "{t:#?}"
    );
    for f in &t {
        assert_eq!(reachable(f), [ns.addr.as_str()], "{f:#}");
        assert_eq!(f["reach"], "all-interfaces");
        assert_eq!(f["local"]["port"], 23);
        assert_eq!(f["process"], "sleep");
        assert_eq!(f["processes"][0]["pid"], holders[0].pid());
    }
    let w = find(&t, "wildcard-bind");
    assert_eq!(w["severity"], "low");
    assert!(w["message"].as_str().unwrap().contains(&ns.addr), "{w:#}");
    assert_eq!(find(&t, "public-service-exposed")["severity"], "medium");
    assert_eq!(
        w["id"],
        format!("wildcard-bind tcp 0.0.0.0:23 sleep netns {}", ns.name),
        "identity is rule, proto, address, process, and the namespace outside the host's"
    );

    // Loopback only: nothing at medium or above (root on a high port is low).
    let r = about(&doc, ri);
    assert!(
        r.iter()
            .all(|f| f["severity"] == "low" || f["severity"] == "info"),
        "{r:#?}"
    );
    assert_eq!(rules_of(&r), ["root-high-port"]);

    let p = about(&doc, pi);
    let f = find(&p, "internal-service-exposed");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["reach"], "address");
    assert_eq!(reachable(f), [ns.addr.as_str()]);
    assert!(f["message"].as_str().unwrap().contains("PostgreSQL"));

    let n = about(&doc, ni);
    assert!(
        rules_of(&n).contains(&"udp-amplifier".to_string()),
        "{n:#?}"
    );

    // The readable report says the same.
    let out = ns.portscope(&["audit"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("HIGH (1)"), "{text}");
    assert!(
        text.contains(&format!(
            "tcp 0.0.0.0:23 (telnet) is bound to all interfaces: reachable on {} (pa0)",
            ns.addr
        )),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "colour on a pipe");
}

/// The same on this host: bind the wildcard address on a free well-known
/// port, and the addresses named are exactly this host's non-loopback IPv4
/// addresses as `ip` lists them.
#[test]
fn wildcard_well_known_port_on_this_host() {
    let _ns = common::netns();
    let Some(l) = [23u16, 21, 6379, 11211, 27017, 9200]
        .iter()
        .find_map(|p| TcpListener::bind(("0.0.0.0", *p)).ok())
    else {
        eprintln!("skipped: no well-known port free (or not root)");
        return;
    };
    let port = l.local_addr().unwrap().port();
    let ino = inode(&l);
    let h = Holder::new(&sleep_bin(), &l);
    drop(l);

    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .unwrap();
    let mut oracle: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let i = f.iter().position(|w| *w == "inet")?;
            Some(f.get(i + 1)?.split('/').next()?.to_string())
        })
        .filter(|a| !a.starts_with("127."))
        .collect();
    oracle.sort();

    let doc = audit(&[], 0);
    let mine = about(&doc, ino);
    let rules = rules_of(&mine);
    assert!(rules.contains(&"wildcard-bind".to_string()), "{mine:#?}");
    let expected = if port == 21 || port == 23 {
        "public-service-exposed"
    } else {
        "internal-service-exposed"
    };
    assert!(rules.contains(&expected.to_string()), "{mine:#?}");
    let mut got = reachable(find(&mine, "wildcard-bind"));
    got.sort();
    assert_eq!(got, oracle);
    assert_eq!(find(&mine, expected)["processes"][0]["pid"], h.pid());
}

/// A listener whose program file was deleted after it started.
#[test]
fn deleted_executable_is_flagged() {
    let _ns = common::netns();
    // Not under /tmp, so only the deleted rule applies.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("audit-del-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("sleeper");
    std::fs::copy(sleep_bin(), &exe).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let ino = inode(&l);
    let h = Holder::new(&exe, &l);
    drop(l);
    // Before deletion: nothing about the executable.
    let doc = audit(&[], 0);
    assert!(
        !rules_of(&about(&doc, ino)).contains(&"deleted-exe".to_string()),
        "{doc:#}"
    );
    std::fs::remove_file(&exe).unwrap();

    let doc = audit(&[], 0);
    let mine = about(&doc, ino);
    let f = find(&mine, "deleted-exe");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["processes"][0]["pid"], h.pid());
    assert_eq!(f["process"], "sleeper");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains(&exe.display().to_string()), "{msg}");
    assert!(msg.contains("deleted"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Listeners run from /tmp and /dev/shm.
#[test]
fn temp_directory_executables_are_flagged() {
    let _ns = common::netns();
    for base in ["/tmp", "/dev/shm"] {
        let dir = Path::new(base).join(format!("psaudit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("helper");
        std::fs::copy(sleep_bin(), &exe).unwrap();
        let l = UdpSocket::bind("127.0.0.1:0").unwrap();
        let ino = inode(&l);
        let held = spawn_holding(&exe, &l);
        let h = match held {
            Ok(child) => Holder { child },
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                eprintln!("skipped {base}: mounted noexec");
                std::fs::remove_dir_all(&dir).unwrap();
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        drop(l);
        let doc = audit(&[], 0);
        let mine = about(&doc, ino);
        let f = find(&mine, "exe-in-temp");
        assert_eq!(f["severity"], "high");
        assert_eq!(f["processes"][0]["pid"], h.pid());
        assert_eq!(
            f["processes"][0]["exe"].as_str().unwrap(),
            exe.display().to_string()
        );
        assert!(!rules_of(&mine).contains(&"deleted-exe".to_string()));
        drop(h);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Loopback-only services held by an ordinary program: nothing at medium or
/// above, whatever the port.
#[test]
fn loopback_only_services_are_quiet() {
    let _ns = common::netns();
    let mut inodes = Vec::new();
    let mut holders = Vec::new();
    let sleep = sleep_bin();
    for addr in ["127.0.0.1:0", "[::1]:0"] {
        let t = TcpListener::bind(addr).unwrap();
        let u = UdpSocket::bind(addr).unwrap();
        inodes.extend([inode(&t), inode(&u)]);
        holders.push(Holder::new(&sleep, &t));
        holders.push(Holder::new(&sleep, &u));
    }
    // Well-known ports on loopback, where free.
    for p in [23u16, 5432, 3306] {
        if let Ok(t) = TcpListener::bind(("127.0.0.1", p)) {
            inodes.push(inode(&t));
            holders.push(Holder::new(&sleep, &t));
        }
    }
    let doc = audit(&[], 0);
    let listed = json(&["-l"]);
    for ino in inodes {
        assert!(by_inode(&listed, ino).is_some(), "socket {ino} not listed");
        let mine = about(&doc, ino);
        for f in &mine {
            assert!(
                f["severity"] == "low" || f["severity"] == "info",
                "loopback socket flagged: {f:#}"
            );
            assert_eq!(f["reach"], "loopback");
        }
    }
}

/// `--fail-on`: exit 1 only when a reported finding is at or above the level.
#[test]
fn fail_on_sets_the_exit_code() {
    let _ns = common::netns();
    let Some(ns) = Netns::new(12) else { return };
    // An empty namespace: no finding at all.
    let doc = ns.audit(&["--fail-on", "info"], 0);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0, "{doc:#}");

    let ftp = ns.tcp("0.0.0.0:21");
    let _h = Holder::new(&sleep_bin(), &ftp);
    drop(ftp);
    // Findings: medium (public, cleartext) and low (wildcard), no high.
    let doc = ns.audit(&["--fail-on", "high"], 0);
    let levels: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["medium", "medium", "low"], "{doc:#}");
    ns.audit(&["--fail-on", "medium"], 1);
    ns.audit(&["--fail-on", "low"], 1);
    ns.audit(&[], 0);
    // Skipping the medium rules brings it back to 0.
    ns.audit(
        &[
            "--fail-on",
            "medium",
            "--skip",
            "public-service-exposed",
            "--skip",
            "cleartext-exposed",
        ],
        0,
    );
    let bad = ns.portscope(&["audit", "--fail-on", "severe"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// `--baseline`: only what is new or gone, from a saved audit or a saved listing.
#[test]
fn baseline_reports_new_and_gone() {
    let _ns = common::netns();
    let Some(ns) = Netns::new(13) else { return };
    let sleep = sleep_bin();
    let telnet = ns.tcp("0.0.0.0:23");
    let keep = ns.tcp("0.0.0.0:8443");
    let h_telnet = Holder::new(&sleep, &telnet);
    let _h_keep = Holder::new(&sleep, &keep);
    drop((telnet, keep));

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let saved_audit = dir.join(format!("audit-baseline-{}.json", std::process::id()));
    let saved_list = dir.join(format!("audit-listing-{}.json", std::process::id()));
    let out = ns.portscope(&["audit", "--json"]);
    assert!(out.status.success());
    std::fs::write(&saved_audit, &out.stdout).unwrap();
    let out = ns.portscope(&["-tulpn", "--json"]);
    assert!(out.status.success());
    std::fs::write(&saved_list, &out.stdout).unwrap();

    // Nothing changed: nothing to report, whichever kind of baseline.
    for base in [&saved_audit, &saved_list] {
        let doc = ns.audit(
            &["--baseline", base.to_str().unwrap(), "--fail-on", "info"],
            0,
        );
        assert_eq!(doc["findings"].as_array().unwrap().len(), 0, "{doc:#}");
        assert_eq!(doc["gone"].as_array().unwrap().len(), 0, "{doc:#}");
    }

    // A restart under a new pid is the same finding.
    drop(h_telnet);
    let telnet = ns.tcp("0.0.0.0:23");
    let h_telnet = Holder::new(&sleep, &telnet);
    drop(telnet);
    let doc = ns.audit(&["--baseline", saved_audit.to_str().unwrap()], 0);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0, "{doc:#}");

    // Telnet goes, a database appears.
    drop(h_telnet);
    let redis = ns.tcp("0.0.0.0:6379");
    let _h_redis = Holder::new(&sleep, &redis);
    drop(redis);
    for base in [&saved_audit, &saved_list] {
        let doc = ns.audit(
            &["--baseline", base.to_str().unwrap(), "--fail-on", "high"],
            1,
        );
        let new: Vec<String> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect();
        let mut gone: Vec<String> = doc["gone"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect();
        gone.sort();
        let sfx = format!(" netns {}", ns.name);
        assert!(
            new.contains(&format!(
                "internal-service-exposed tcp 0.0.0.0:6379 sleep{sfx}"
            )),
            "{new:?}"
        );
        assert!(new.iter().all(|id| id.contains(":6379 ")), "{new:?}");
        assert_eq!(
            gone,
            [
                format!("cleartext-exposed tcp 0.0.0.0:23 sleep{sfx}"),
                format!("public-service-exposed tcp 0.0.0.0:23 sleep{sfx}"),
                format!("wildcard-bind tcp 0.0.0.0:23 sleep{sfx}"),
            ]
        );
        assert_eq!(doc["baseline"]["new"], new.len());
        assert_eq!(doc["baseline"]["gone"], 3);
    }
    let out = ns.portscope(&["audit", "--baseline", saved_audit.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NEW HIGH (1)"), "{text}");
    assert!(text.contains("GONE since the baseline (3)"), "{text}");

    // A baseline that is neither kind is an input error.
    std::fs::write(&saved_list, b"{\"nope\": 1}").unwrap();
    let out = ns.portscope(&["audit", "--baseline", saved_list.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    let _ = std::fs::remove_file(&saved_audit);
    let _ = std::fs::remove_file(&saved_list);
}

#[test]
fn skip_leaves_rules_out_and_unknown_rules_are_errors() {
    let _ns = common::netns();
    let l = TcpListener::bind("0.0.0.0:0").unwrap();
    let ino = inode(&l);
    let _h = Holder::new(&sleep_bin(), &l);
    drop(l);
    let doc = audit(&[], 0);
    assert!(rules_of(&about(&doc, ino)).contains(&"wildcard-bind".to_string()));
    let doc = audit(&["--skip", "wildcard-bind,root-high-port"], 0);
    assert!(!rules_of(&about(&doc, ino)).contains(&"wildcard-bind".to_string()));
    assert_eq!(
        doc["skipped"],
        serde_json::json!(["wildcard-bind", "root-high-port"])
    );
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] != "wildcard-bind" && f["rule"] != "root-high-port")
    );

    let out = portscope()
        .args(["audit", "--skip", "no-such-rule"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no-such-rule"), "{err}");
}

#[test]
fn rules_are_listed() {
    let _ns = common::netns();
    let out = portscope()
        .args(["audit", "--rules", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rules = parse_json(&out);
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for id in [
        "deleted-exe",
        "exe-in-temp",
        "internal-service-exposed",
        "public-service-exposed",
        "cleartext-exposed",
        "udp-amplifier",
        "wildcard-bind",
        "root-high-port",
        "no-owner",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for r in &rules {
        assert!(["info", "low", "medium", "high"].contains(&r["severity"].as_str().unwrap()));
        for k in ["title", "test", "advice"] {
            assert!(!r[k].as_str().unwrap().is_empty(), "{r:#}");
        }
    }
    let out = portscope().args(["audit", "--rules"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for id in ids {
        assert!(text.lines().any(|l| l.starts_with(id)), "{id}: {text}");
    }
}

/// Colour follows the listing's rules: never on a pipe, forced by
/// CLICOLOR_FORCE, and NO_COLOR wins over both.
#[test]
fn colour_only_when_wanted() {
    let _ns = common::netns();
    let run = |envs: &[(&str, &str)], extra: &[&str]| {
        let mut c = portscope();
        c.args(["audit", "--rules"]).args(extra);
        c.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        for (k, v) in envs {
            c.env(k, v);
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).contains('\x1b')
    };
    assert!(!run(&[], &[]));
    assert!(run(&[("CLICOLOR_FORCE", "1")], &[]));
    assert!(!run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], &[]));
    assert!(run(&[], &["--color", "always"]));
    assert!(!run(&[("CLICOLOR_FORCE", "1")], &["--color", "never"]));
}

/// A saved listing as the socket source: addresses this sandbox does not
/// have, and an executable that is gone and was in /dev/shm.
#[test]
fn saved_listing_is_audited() {
    let _ns = common::netns();
    let listing = r#"[
 {"proto":"tcp","family":"inet","local":{"addr":"198.51.100.7","port":3306},
  "remote":{"addr":"0.0.0.0","port":0},"state":"LISTEN","recv_q":0,"send_q":80,
  "uid":0,"inode":4242,
  "owners":[{"pid":700,"fd":12,"name":"mysqld","user":"mysql","uid":112,
             "cmdline":"/dev/shm/mysqld","exe":"/dev/shm/mysqld (deleted)"}]},
 {"proto":"udp","family":"inet6","local":{"addr":"::","port":53},
  "remote":{"addr":"::","port":0},"state":"UNCONN","recv_q":0,"send_q":0,
  "uid":0,"inode":4243,"owners":[],"owners_hidden":false},
 {"proto":"tcp","family":"inet","local":{"addr":"127.0.0.1","port":631},
  "remote":{"addr":"0.0.0.0","port":0},"state":"LISTEN","recv_q":0,"send_q":5,
  "uid":0,"inode":4244,
  "owners":[{"pid":701,"fd":7,"name":"cupsd","user":"root","uid":0,
             "cmdline":"/usr/sbin/cupsd -l","exe":"/usr/sbin/cupsd"}]}
]"#;
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("audit-snapshot-{}.json", std::process::id()));
    std::fs::write(&path, listing).unwrap();
    let doc = audit(&["--from-snapshot", path.to_str().unwrap()], 0);
    assert_eq!(
        rules_of(&about(&doc, 4242)),
        ["deleted-exe", "exe-in-temp", "internal-service-exposed"]
    );
    let db = about(&doc, 4242);
    let f = find(&db, "internal-service-exposed");
    assert_eq!(f["reach"], "address");
    assert_eq!(reachable(f), ["198.51.100.7"]);
    assert_eq!(f["processes"][0]["user"], "mysql");
    assert_eq!(
        rules_of(&about(&doc, 4243)),
        [
            "no-owner",
            "public-service-exposed",
            "udp-amplifier",
            "wildcard-bind"
        ]
    );
    assert!(about(&doc, 4244).is_empty());
    assert_eq!(doc["summary"]["listeners"], 3);
    // Most severe first.
    let levels: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    let rank = |s: &str| {
        ["high", "medium", "low", "info"]
            .iter()
            .position(|x| *x == s)
    };
    assert!(
        levels.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "{levels:?}"
    );

    std::fs::write(&path, "not json").unwrap();
    let out = portscope()
        .args(["audit", "--from-snapshot", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_file(&path);
}
