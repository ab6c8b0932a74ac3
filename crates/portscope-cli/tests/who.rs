//! `portscope who`: found, not found, --kill, and the processes it refuses.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Stdio};

use common::*;

/// A free port: bind, note it, release.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn finds_a_child_holding_the_port_and_kills_it() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut child = child_holding(&l);
    drop(l); // Only the child holds the listener now.
    let pid = child.pid();

    let out = portscope()
        .args(["who", &port.to_string(), "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blocks = parse_json(&out);
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert_eq!(blocks[0]["pid"], pid);
    assert_eq!(blocks[0]["name"], "sleep");
    assert_eq!(blocks[0]["cmdline"], "sleep 60");
    assert_eq!(blocks[0]["sockets"][0]["state"], "LISTEN");
    assert_eq!(blocks[0]["sockets"][0]["local"]["port"], port);

    let out = portscope()
        .args(["who", &port.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("sleep[{pid}]")), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");

    let out = portscope()
        .args(["who", &port.to_string(), "--kill", "--yes"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("sleep[{pid}]: sent SIGTERM")),
        "{text}"
    );
    assert!(text.contains("free"), "{text}");
    let status = child.0.wait().unwrap();
    assert!(!status.success(), "the child was terminated by a signal");

    let out = portscope()
        .args(["who", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// With --json, --kill prints one JSON document: the holders and the kill's
/// outcome inside it, no text after it.
#[test]
fn kill_with_json_prints_only_json() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut child = child_holding(&l);
    drop(l);
    let pid = child.pid();
    let out = portscope()
        .args(["who", &port.to_string(), "--kill", "--yes", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {stdout}"));
    let holders = doc["holders"].as_array().expect("holders");
    assert_eq!(holders.len(), 1, "{doc}");
    assert_eq!(holders[0]["pid"], pid);
    assert_eq!(holders[0]["sockets"][0]["local"]["port"], port);
    let kill = &doc["kill"];
    assert_eq!(kill["signal"], "SIGTERM");
    assert_eq!(
        kill["results"],
        serde_json::json!([{"pid": pid, "outcome": "sent SIGTERM", "sent": true}])
    );
    assert_eq!(kill["confirmed"], true);
    assert_eq!(kill["ports_free"], true, "{doc}");
    assert_eq!(kill["still_held_by"], serde_json::json!([]));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.0.wait().unwrap().signal(), Some(15));
}

#[test]
fn nothing_there_is_exit_1() {
    // On the host any process may take the port once it is free again; in a
    // namespace of our own nothing can.
    let _ns = netns();
    let port = free_port();
    let out = portscope()
        .args(["who", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn ranges_protocols_and_lists() {
    let _ns = common::netns();
    let t = TcpListener::bind("127.0.0.1:0").unwrap();
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tp = t.local_addr().unwrap().port();
    let up = u.local_addr().unwrap().port();
    let inodes = |args: &[&str]| -> Vec<u64> {
        let out = portscope()
            .arg("who")
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        parse_json(&out)
            .iter()
            .flat_map(|b| b["sockets"].as_array().unwrap().clone())
            .filter_map(|s| s["inode"].as_u64())
            .collect()
    };
    let both = format!("{tp},{up}");
    let got = inodes(&[&both]);
    assert!(
        got.contains(&inode(&t)) && got.contains(&inode(&u)),
        "{got:?}"
    );
    let got = inodes(&[&format!("{up}/udp")]);
    assert!(got.contains(&inode(&u)));
    let got = inodes(&[&format!("{tp}/udp")]);
    assert!(!got.contains(&inode(&t)), "a tcp socket matched /udp");
    let lo = tp.min(up);
    let hi = tp.max(up);
    let got = inodes(&[&format!("{lo}-{hi}")]);
    assert!(
        got.contains(&inode(&t)) && got.contains(&inode(&u)),
        "{got:?}"
    );
}

#[test]
fn bad_port_specs_are_usage_errors() {
    let _ns = common::netns();
    for bad in ["70000", "9-1", "80/sctp", "no-such-service-xyz"] {
        let out = portscope().args(["who", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn kill_off_a_terminal_needs_yes() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut child = child_holding(&l);
    let out = portscope()
        .args(["who", &port.to_string(), "--kill"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "signalled without --yes"
    );
    child.0.kill().unwrap();
    child.0.wait().unwrap();
}

/// In a fresh pid namespace, pid 1 holds a listener; `who --kill` refuses it.
#[test]
fn pid_1_is_refused() {
    let _ns = common::netns();
    if !is_root() {
        eprintln!("skipped: unshare needs root");
        return;
    }
    let script = format!(
        "import socket,subprocess\n\
         s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
         r=subprocess.run(['{}','who',str(s.getsockname()[1]),'--kill','--yes'],capture_output=True,text=True)\n\
         print(r.returncode); print(r.stderr)",
        env!("CARGO_BIN_EXE_portscope")
    );
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "python3", "-c", &script])
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "skipped: unshare unavailable here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("1"), "{text}");
    assert!(
        text.contains("refusing to signal") && text.contains("[1]"),
        "{text}"
    );
}

/// Runs a python script as root in fresh namespaces (`unshare` with
/// `ns_flags`), with the portscope binary as `sys.argv[1]`, and returns the
/// JSON object it prints last. `None` (the test skips) when not root or
/// `unshare` is refused.
fn in_namespaces(ns_flags: &[&str], script: &str) -> Option<serde_json::Value> {
    if !is_root() {
        eprintln!("skipped: unshare needs root");
        return None;
    }
    let out = Command::new("unshare")
        .args(ns_flags)
        .args(["python3", "-c", script, env!("CARGO_BIN_EXE_portscope")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("unshare failed") {
        eprintln!("skipped: unshare unavailable here: {stderr}");
        return None;
    }
    assert!(out.status.success(), "script failed:\n{stdout}\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    Some(serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}")))
}

/// In a network namespace of its own (nothing else there), a listener held
/// by one process and a client held by another, both ports in a range:
/// `who RANGE --kill` signals the listener's holder only; with
/// `--any-socket`, the client's too. Each holder is then SIGKILLed by the
/// script: a SIGTERM exit (-15) says portscope signalled it, -9 that it
/// did not.
#[test]
fn kill_on_a_range_spares_clients_unless_any_socket() {
    let _ns = common::netns();
    let script = r#"
import json, socket, subprocess, sys
ps = sys.argv[1]
subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
def case(extra):
    srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()
    port = srv.getsockname()[1]
    cli = socket.create_connection(('127.0.0.1', port))
    acc, _ = srv.accept()
    cport = cli.getsockname()[1]
    # The listener and its accepted connection in one process, the client
    # in another; this script keeps none of them.
    L = subprocess.Popen(['sleep', '120'], stdin=srv.fileno(), stdout=acc.fileno())
    C = subprocess.Popen(['sleep', '120'], stdin=cli.fileno())
    srv.close(); acc.close(); cli.close()
    lo, hi = min(port, cport), max(port, cport)
    r = subprocess.run([ps, 'who', f'{lo}-{hi}', '--kill', '--yes'] + extra,
                       capture_output=True, text=True, timeout=120)
    res = {'rc': r.returncode, 'out': r.stdout, 'err': r.stderr,
           'L': L.pid, 'C': C.pid, 'lo': lo, 'hi': hi}
    for name, p in (('L', L), ('C', C)):
        p.kill()
        res[name + '_rc'] = p.wait()
    return res
print(json.dumps({'plain': case([]), 'any': case(['--any-socket'])}))
"#;
    let Some(r) = in_namespaces(&["--net"], script) else {
        return;
    };
    let plain = &r["plain"];
    let (l, c) = (&plain["L"], &plain["C"]);
    let text = format!("{plain:#}");
    assert_eq!(
        plain["L_rc"], -15,
        "the listener's holder was not signalled: {text}"
    );
    assert_eq!(plain["C_rc"], -9, "the client was signalled: {text}");
    let out = plain["out"].as_str().unwrap();
    assert!(out.contains(&format!("sleep[{l}]: sent SIGTERM")), "{text}");
    assert!(!out.contains(&format!("sleep[{c}]: sent")), "{text}");
    let err = plain["err"].as_str().unwrap();
    assert!(
        err.contains(&format!("not signalling sleep[{c}]")) && err.contains("--any-socket"),
        "{text}"
    );
    assert_eq!(plain["rc"], 0, "{text}");

    let any = &r["any"];
    let text = format!("{any:#}");
    assert_eq!(any["L_rc"], -15, "{text}");
    assert_eq!(any["C_rc"], -15, "--any-socket spared the client: {text}");
}

/// The holder exits while the y/N prompt is open and an unrelated process
/// gets its pid (in a pid namespace of its own, through ns_last_pid):
/// answering y reports "exited meanwhile" and the newcomer lives on.
#[test]
fn a_pid_reused_while_the_prompt_is_open_is_not_signalled() {
    let _ns = common::netns();
    let script = r#"
import json, os, pty, select, socket, subprocess, sys, time
ps = sys.argv[1]
subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()
port = srv.getsockname()[1]
holder = subprocess.Popen(['sleep', '600'], stdin=srv.fileno())
srv.close()
# portscope asks on a terminal: give it one.
master, slave = pty.openpty()
who = subprocess.Popen([ps, 'who', str(port), '--kill'], stdin=slave,
                       stdout=subprocess.PIPE, stderr=slave)
os.close(slave)
seen = b''
while b'[y/N]' not in seen:
    ready, _, _ = select.select([master], [], [], 120)
    if not ready:
        print(json.dumps({'error': 'no prompt', 'seen': seen.decode(errors='replace')}))
        sys.exit(0)
    seen += os.read(master, 4096)
# The holder goes; the next process made gets its pid.
hp = holder.pid
holder.kill(); holder.wait()
victim = None
for _ in range(100):
    with open('/proc/sys/kernel/ns_last_pid', 'w') as f:
        f.write(str(hp - 1))
    v = subprocess.Popen(['sleep', '600'])
    if v.pid == hp:
        victim = v
        break
    v.kill(); v.wait()
if victim is None:
    print(json.dumps({'error': 'pid not reused'}))
    sys.exit(0)
os.write(master, b'y\n')
out, _ = who.communicate(timeout=120)
# SIGKILL it now: an exit by SIGKILL (-9) means nothing signalled it before.
victim.kill()
victim_rc = victim.wait()
print(json.dumps({'holder': hp, 'victim': victim.pid, 'victim_rc': victim_rc,
                  'rc': who.returncode, 'out': out.decode(errors='replace'),
                  'prompt': seen.decode(errors='replace')}))
"#;
    let Some(r) = in_namespaces(&["--pid", "--fork", "--mount-proc", "--net"], script) else {
        return;
    };
    let text = format!("{r:#}");
    assert!(r.get("error").is_none(), "{text}");
    let hp = &r["holder"];
    assert_eq!(&r["victim"], hp, "{text}");
    assert!(
        r["prompt"]
            .as_str()
            .unwrap()
            .contains(&format!("sleep[{hp}]")),
        "{text}"
    );
    assert_eq!(
        r["victim_rc"], -9,
        "the process that reused the pid was signalled: {text}"
    );
    let out = r["out"].as_str().unwrap();
    assert!(
        out.contains(&format!("sleep[{hp}]: exited meanwhile; not signalled")),
        "{text}"
    );
    assert!(!out.contains("sent SIG"), "{text}");
    assert_eq!(r["rc"], 1, "nothing was signalled: {text}");
}

/// `who PORT --kill --yes | head -1`: the reader leaves after one line; the
/// holder is still signalled and portscope ends quietly with 0.
#[test]
fn kill_into_a_closed_pipe_signals_and_exits_quietly() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut child = child_holding(&l);
    drop(l);
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; '{}' who {port} --kill --yes | head -1",
                env!("CARGO_BIN_EXE_portscope")
            ),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.is_empty(), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let status = child.0.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(15), "the holder was not signalled");
}

/// The holder closes its listener while the prompt is open but runs on:
/// answering y reports "no longer holds the socket" and signals nothing.
#[test]
fn a_holder_that_let_go_of_the_socket_is_not_signalled() {
    let _ns = common::netns();
    let script = r#"
import json, os, pty, select, signal, subprocess, sys
ps = sys.argv[1]
subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
# The holder: listens, and on SIGUSR1 closes the listener and says so.
holder_code = '''
import signal, socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
def let_go(*_):
    s.close(); print("closed", flush=True)
signal.signal(signal.SIGUSR1, let_go)
print(s.getsockname()[1], flush=True)
while True:
    time.sleep(1)
'''
holder = subprocess.Popen([sys.executable, '-c', holder_code], stdout=subprocess.PIPE, text=True)
port = holder.stdout.readline().strip()
master, slave = pty.openpty()
who = subprocess.Popen([ps, 'who', port, '--kill'], stdin=slave,
                       stdout=subprocess.PIPE, stderr=slave)
os.close(slave)
seen = b''
while b'[y/N]' not in seen:
    ready, _, _ = select.select([master], [], [], 120)
    if not ready:
        print(json.dumps({'error': 'no prompt', 'seen': seen.decode(errors='replace')}))
        sys.exit(0)
    seen += os.read(master, 4096)
holder.send_signal(signal.SIGUSR1)
said = holder.stdout.readline().strip()
os.write(master, b'y\n')
out, _ = who.communicate(timeout=120)
holder.kill()
print(json.dumps({'holder': holder.pid, 'said': said, 'holder_rc': holder.wait(),
                  'rc': who.returncode, 'out': out.decode(errors='replace')}))
"#;
    let Some(r) = in_namespaces(&["--net"], script) else {
        return;
    };
    let text = format!("{r:#}");
    assert!(r.get("error").is_none(), "{text}");
    assert_eq!(r["said"], "closed", "{text}");
    let hp = &r["holder"];
    let out = r["out"].as_str().unwrap();
    assert!(
        out.contains(&format!(
            "[{hp}]: no longer holds the socket; not signalled"
        )),
        "{text}"
    );
    assert_eq!(r["holder_rc"], -9, "the holder was signalled: {text}");
    assert_eq!(r["rc"], 1, "{text}");
}
