//! End to end: `portscope watch` in a real terminal (tmux), driven with
//! keys and read back with `tmux capture-pane`, on sockets this test makes
//! on loopback.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of our own (its own socket name), killed when dropped.
struct Tmux {
    name: String,
}

impl Tmux {
    /// A tmux server of this test's own (`tag` keeps parallel tests apart).
    fn start(tag: &str, cols: u16, rows: u16) -> Tmux {
        let name = format!("portscope-watch-{tag}-{}", std::process::id());
        let t = Tmux { name };
        let status = Command::new("tmux")
            .args(["-u", "-L", &t.name, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &cols.to_string(), "-y", &rows.to_string(), "-s", "w"])
            .args([
                "env",
                "LANG=C.UTF-8",
                "PS1=ready$ ",
                "bash",
                "--norc",
                "--noprofile",
            ])
            .status()
            .expect("tmux is needed for this test (apt-get install tmux; .ci/run does it)");
        assert!(status.success(), "tmux new-session failed");
        // No status bar: the pane is the whole terminal.
        t.tmux(&["set-option", "-t", "w", "status", "off"]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.name])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "w"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "w", "-l", text]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "w"])
    }

    /// Waits until the screen satisfies `cond`; panics with the last screen if not.
    fn wait(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.screen();
            if cond(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Where the server's socket lives, to remove it after: kill-server
        // leaves the file behind.
        let path = Command::new("tmux")
            .args(["-L", &self.name, "display-message", "-p", "#{socket_path}"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        let _ = Command::new("tmux")
            .args(["-L", &self.name, "kill-server"])
            .status();
        if let Some(p) = path.filter(|p| p.contains(&self.name)) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The screen lines showing local address `local` (a row's Local column).
fn rows_with<'a>(screen: &'a str, local: &str) -> Vec<&'a str> {
    screen
        .lines()
        .filter(|l| l.split_whitespace().find(|w| w.contains(':')) == Some(local))
        .collect()
}

/// The line number of the first row whose Local column is `local`.
fn position(screen: &str, local: &str) -> usize {
    screen
        .lines()
        .position(|l| l.split_whitespace().find(|w| w.contains(':')) == Some(local))
        .unwrap_or_else(|| panic!("{local} not on screen:\n{screen}"))
}

#[test]
fn watch_in_a_real_terminal() {
    // Alone in a namespace (the tmux server, started from this thread, and
    // so the watch in it, live there too): a busy host's sockets would slow
    // each refresh until a mark that lasts a few refreshes is missed.
    let _ns = common::netns();
    let l1 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l2 = TcpListener::bind("127.0.0.1:0").unwrap();
    let p1 = l1.local_addr().unwrap().port();
    let p2 = l2.local_addr().unwrap().port();
    let client = TcpStream::connect(("127.0.0.1", p1)).unwrap();
    let (server, _) = l1.accept().unwrap();
    let cport = client.local_addr().unwrap().port();
    let a1 = format!("127.0.0.1:{p1}");
    let a2 = format!("127.0.0.1:{p2}");
    let ac = format!("127.0.0.1:{cport}");

    let t = Tmux::start("ui", 100, 30);
    t.wait("the shell", |s| s.contains("ready$"));
    t.type_text("echo BEFORE-WATCH");
    t.keys(&["Enter"]);
    t.wait("the echo", |s| s.lines().any(|l| l == "BEFORE-WATCH"));
    let cmd = format!(
        "{} watch --interval 0.5 'sport = :{p1} or sport = :{p2} or dport = :{p1}'",
        env!("CARGO_BIN_EXE_portscope")
    );
    t.type_text(&cmd);
    t.keys(&["Enter"]);

    // Both listeners and both ends of the connection appear.
    let s = t.wait("the sockets", |s| {
        s.contains("portscope watch")
            && rows_with(s, &a1).len() == 2
            && rows_with(s, &ac).len() == 1
    });
    assert!(rows_with(&s, &a2)[0].contains("LISTEN"), "{s}");
    assert!(rows_with(&s, &ac)[0].contains("ESTAB"), "{s}");
    assert!(s.contains("Proto▲"), "{s}");

    // A closed listener is marked with '-' (and greyed) for a while.
    drop(l2);
    let s = t.wait("the closed mark", |s| {
        rows_with(s, &a2)
            .first()
            .is_some_and(|l| l.starts_with('-'))
    });
    assert!(s.contains("1 closed") || s.contains("closed"), "{s}");

    // A new connection is marked '+'.
    let c2 = TcpStream::connect(("127.0.0.1", p1)).unwrap();
    let c2_addr = format!("127.0.0.1:{}", c2.local_addr().unwrap().port());
    t.wait("the new mark", |s| {
        rows_with(s, &c2_addr)
            .first()
            .is_some_and(|l| l.starts_with('+'))
    });

    // Sorting: by Local ascending, then reversed; the rows swap places.
    t.keys(&["s"]);
    let s = t.wait("sort by Local", |s| s.contains("Local▲"));
    let (lo, hi) = if p1 < cport { (&a1, &ac) } else { (&ac, &a1) };
    assert!(position(&s, lo) < position(&s, hi), "{s}");
    t.keys(&["r"]);
    let s = t.wait("reversed", |s| s.contains("Local▼"));
    assert!(position(&s, lo) > position(&s, hi), "{s}");

    // The filter line: an incomplete filter is an inline error and keeps the
    // last valid one; a valid one narrows the view.
    assert_eq!(rows_with(&s, &ac).len(), 1, "{s}");
    t.keys(&["/", "C-u"]);
    t.type_text(&format!("sport = :{p1} and"));
    let typed = format!("/sport = :{p1} and");
    let s = t.wait("an inline error", |s| {
        s.lines()
            .any(|l| l.starts_with(&typed) && l.contains("filter:"))
    });
    // The filter applies as it is typed: the last valid one ("sport = :P1")
    // is in effect while the line is invalid.
    assert!(
        rows_with(&s, &ac).is_empty() && !rows_with(&s, &a1).is_empty(),
        "{s}"
    );
    t.keys(&["BSpace", "BSpace", "BSpace", "BSpace", "Enter"]);
    let status = format!("filter sport = :{p1}");
    let s = t.wait("the filter closed", |s| s.contains(&status));
    assert!(
        rows_with(&s, &ac).is_empty() && !rows_with(&s, &a1).is_empty(),
        "{s}"
    );
    assert!(
        rows_with(&s, &a1).iter().any(|l| l.contains("LISTEN")),
        "{s}"
    );

    // Group by process: this test's process holds the listener.
    t.keys(&["g"]);
    let s = t.wait("the grouped view", |s| s.contains("Listening"));
    let me = std::process::id().to_string();
    assert!(
        s.lines()
            .any(|l| l.split_whitespace().any(|w| w == me) && l.contains(&p1.to_string())),
        "{s}"
    );
    t.keys(&["g"]);

    // Help, then q: the terminal is given back as it was.
    t.keys(&["?"]);
    t.wait("help", |s| s.contains("Keys"));
    t.keys(&["Escape"]);
    t.wait("help closed", |s| !s.contains(" Keys "));
    t.keys(&["q"]);
    // The alternate screen is left: what was on the terminal before is back,
    // and the shell prompts again under the command line.
    let s = t.wait("the shell back", |s| {
        s.lines().rev().find(|l| !l.trim().is_empty()) == Some("ready$")
    });
    assert!(!s.contains("q quit"), "{s}");
    assert!(s.lines().any(|l| l == "BEFORE-WATCH"), "{s}");
    drop((client, server, c2));
}

#[test]
fn watch_refuses_a_pipe() {
    let out = common::portscope().arg("watch").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not one"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn watch_rejects_bad_intervals_and_filters() {
    for args in [
        &["watch", "--interval", "0"][..],
        &["watch", "--interval", "nan"],
        &["watch", "sport", "="],
    ] {
        let out = common::portscope().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

/// Ended by a signal instead of a key, the view still gives the terminal back.
#[test]
fn watch_restores_the_terminal_on_sigterm() {
    let t = Tmux::start("signal", 90, 24);
    t.wait("the shell", |s| s.contains("ready$"));
    t.type_text("echo BEFORE-SIGNAL");
    t.keys(&["Enter"]);
    t.wait("the echo", |s| s.lines().any(|l| l == "BEFORE-SIGNAL"));
    t.type_text(&format!(
        "{} watch --interval 0.5",
        env!("CARGO_BIN_EXE_portscope")
    ));
    t.keys(&["Enter"]);
    t.wait("the view", |s| s.contains("q quit"));
    let shell = t.tmux(&["list-panes", "-t", "w", "-F", "#{pane_pid}"]);
    let out = Command::new("pkill")
        .args(["-TERM", "-P", shell.trim(), "portscope"])
        .status()
        .unwrap();
    assert!(out.success(), "no portscope under the pane's shell");
    let s = t.wait("the shell back", |s| {
        s.lines().rev().find(|l| !l.trim().is_empty()) == Some("ready$")
    });
    assert!(!s.contains("q quit"), "{s}");
    assert!(s.lines().any(|l| l == "BEFORE-SIGNAL"), "{s}");
}

/// The orchestrator of [`kill_after_pid_reuse_is_refused`], run as pid 1 of
/// a pid namespace of its own (and its own network namespace): a holder of
/// a listener, the watch on its port in the terminal, and on `go` the
/// holder's exit and a new process given its pid through ns_last_pid.
const PID_REUSE_SCRIPT: &str = r#"
import json, os, socket, subprocess, sys, threading, time
ps, d = sys.argv[1], sys.argv[2]
def write(name, obj):
    tmp = os.path.join(d, name + '.tmp')
    with open(tmp, 'w') as f:
        f.write(json.dumps(obj))
    os.rename(tmp, os.path.join(d, name))
subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()
port = srv.getsockname()[1]
quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
holder = subprocess.Popen(['sleep', '600'], stdin=srv.fileno(), **quiet)
srv.close()
victim = None
def reuse():
    global victim
    while not os.path.exists(os.path.join(d, 'go')):
        time.sleep(0.05)
    hp = holder.pid
    holder.kill(); holder.wait()
    # The watch's refreshes take pids too: try until the newcomer gets it.
    for _ in range(500):
        with open('/proc/sys/kernel/ns_last_pid', 'w') as f:
            f.write(str(hp - 1))
        v = subprocess.Popen(['sleep', '600'], stdin=subprocess.DEVNULL, **quiet)
        if v.pid == hp:
            victim = v
            write('victim', {'pid': v.pid})
            return
        v.kill(); v.wait()
    write('victim', {'error': 'pid not reused'})
threading.Thread(target=reuse, daemon=True).start()
write('holder', {'pid': holder.pid, 'port': port})
w = subprocess.Popen([ps, 'watch', '--interval', '2', f'sport = :{port}'])
w.wait()
res = {'watch_rc': w.returncode}
if victim is not None:
    # SIGKILL now: an exit by SIGKILL (-9) means nothing signalled it before.
    victim.kill()
    res['victim_rc'] = victim.wait()
write('result', res)
"#;

/// Waits for `path` to hold a JSON object (written whole, by rename).
fn wait_json(path: &std::path::Path, t: &Tmux) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return serde_json::from_str(&text).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "waiting for {}; screen:\n{}",
            path.display(),
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `k` on a listener, then the holder exits and an unrelated process gets
/// its pid while the prompt is open: `y` reports "exited meanwhile" and the
/// newcomer is not signalled.
#[test]
fn kill_after_pid_reuse_is_refused() {
    if !common::is_root() {
        eprintln!("skipped: pid namespaces need root");
        return;
    }
    let dir = std::env::temp_dir().join(format!("portscope-pidreuse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("reuse.py");
    std::fs::write(&script, PID_REUSE_SCRIPT).unwrap();

    let t = Tmux::start("pidreuse", 120, 24);
    t.wait("the shell", |s| s.contains("ready$"));
    t.type_text(&format!(
        "unshare --pid --fork --mount-proc --net python3 '{}' '{}' '{}'",
        script.display(),
        env!("CARGO_BIN_EXE_portscope"),
        dir.display()
    ));
    t.keys(&["Enter"]);
    let holder = wait_json(&dir.join("holder"), &t);
    let (pid, port) = (&holder["pid"], &holder["port"]);
    let local = format!("127.0.0.1:{port}");
    t.wait("the listener", |s| {
        rows_with(s, &local).iter().any(|l| l.contains("LISTEN"))
    });
    t.keys(&["x"]);
    let prompt = format!("send SIGTERM to sleep[{pid}]? y/n");
    t.wait("the kill prompt", |s| s.contains(&prompt));

    std::fs::write(dir.join("go"), "").unwrap();
    let victim = wait_json(&dir.join("victim"), &t);
    assert_eq!(&victim["pid"], pid, "{victim}");
    t.keys(&["y"]);
    let s = t.wait("the outcome", |s| s.contains("exited meanwhile"));
    assert!(!s.contains("sent SIGTERM"), "{s}");
    t.keys(&["q"]);
    let result = wait_json(&dir.join("result"), &t);
    assert_eq!(result["watch_rc"], 0, "{result}");
    assert_eq!(
        result["victim_rc"], -9,
        "the process that reused the pid was signalled: {result}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_connection_that_lived_between_two_refreshes_is_shown_closed() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    let t = Tmux::start("between", 100, 30);
    t.wait("the shell", |s| s.contains("ready$"));
    let cmd = format!(
        "{} watch --interval 3 'sport = :{p} or dport = :{p}'",
        env!("CARGO_BIN_EXE_portscope")
    );
    t.type_text(&cmd);
    t.keys(&["Enter"]);
    let a = format!("127.0.0.1:{p}");
    t.wait("the listener", |s| rows_with(s, &a).len() == 1);
    // Opened and closed within milliseconds: no snapshot three seconds
    // apart catches it alive.
    let c = TcpStream::connect(("127.0.0.1", p)).unwrap();
    let (s, _) = l.accept().unwrap();
    let cport = c.local_addr().unwrap().port();
    drop((c, s));
    let ac = format!("127.0.0.1:{cport}");
    // Both ends, marked closed: the client's (its TIME_WAIT is another
    // row, alive) and the server's (local the listener's address).
    let screen = t.wait("the short connection, closed", |s| {
        rows_with(s, &ac).iter().any(|l| l.starts_with('-'))
            && rows_with(s, &a)
                .iter()
                .any(|l| l.starts_with('-') && l.contains(&ac))
    });
    assert!(
        rows_with(&screen, &a).iter().any(|l| l.contains("LISTEN")),
        "{screen}"
    );
}
