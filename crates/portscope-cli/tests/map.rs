//! End to end: `portscope map` joins both ends of real local conversations
//! (TCP on loopback and a unix stream socket) between two processes with
//! hostile names, in a network namespace of the test's own, and draws them
//! as a tree, DOT (which Graphviz accepts), Mermaid and JSON (which the
//! schema accepts).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

use common::portscope;
use serde_json::Value;

/// The server: rename, listen on TCP and on a unix path, accept whatever
/// comes, print the port, wait for stdin to close.
const SERVER: &str = r#"
import ctypes, socket, sys, threading
name, path = bytes.fromhex(sys.argv[1]), sys.argv[2]
if ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0) != 0:
    sys.exit("prctl failed")
t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen(64)
u = socket.socket(socket.AF_UNIX); u.bind(path); u.listen(64)
keep = []
def accept(l):
    while True:
        keep.append(l.accept()[0])
for l in (t, u):
    threading.Thread(target=accept, args=(l,), daemon=True).start()
print(t.getsockname()[1], flush=True)
sys.stdin.read()
"#;

/// The client: rename, open 3 TCP and 2 unix connections, say so, wait.
const CLIENT: &str = r#"
import ctypes, socket, sys
name, port, path = bytes.fromhex(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0) != 0:
    sys.exit("prctl failed")
keep = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
for _ in range(2):
    u = socket.socket(socket.AF_UNIX); u.connect(path); keep.append(u)
print("ok", flush=True)
sys.stdin.read()
"#;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A helper process, killed by its pid when dropped (also when the test fails).
struct Helper {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Helper {
    fn spawn(script: &str, args: &[&str]) -> Helper {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed (Debian package python3)");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        Helper { child, out }
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.out.read_line(&mut l).expect("helper output");
        assert!(!l.is_empty(), "the helper ended early");
        l.trim().to_string()
    }
    fn pid(&self) -> u64 {
        u64::from(self.child.id())
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SERVER_NAME: &[u8] = b"srv\x1b[31m\"x";
const CLIENT_NAME: &[u8] = b"cli\n<b>#1";

fn run(args: &[&str]) -> std::process::Output {
    let out = portscope().arg("map").args(args).output().expect("run");
    assert!(
        out.status.success(),
        "map {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn map_joins_both_ends_of_local_conversations_by_process() {
    let _ns = common::netns();
    let dir = TempDir(std::env::temp_dir().join(format!("portscope-map-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let path = dir.0.join("app.sock");
    let path_s = path.to_str().expect("utf-8 temp path");

    let mut server = Helper::spawn(SERVER, &[&hex(SERVER_NAME), path_s]);
    let port = server.line();
    let mut client = Helper::spawn(CLIENT, &[&hex(CLIENT_NAME), &port, path_s]);
    assert_eq!(client.line(), "ok");
    let port: u64 = port.parse().expect("port");

    // JSON: one TCP edge and one unix edge from client to server.
    let out = run(&["--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let edges = doc["edges"].as_array().expect("edges");
    let between: Vec<&Value> = edges
        .iter()
        .filter(|e| {
            e["from"].as_u64() == Some(client.pid()) && e["to"].as_u64() == Some(server.pid())
        })
        .collect();
    let tcp = between
        .iter()
        .find(|e| e["proto"] == "tcp")
        .unwrap_or_else(|| panic!("no TCP edge client → server in {edges:#?}"));
    assert_eq!(tcp["port"].as_u64(), Some(port));
    assert_eq!(tcp["conns"].as_u64(), Some(3));
    assert_eq!(tcp["undirected"], false);
    let unix = between
        .iter()
        .find(|e| e["proto"] == "unix")
        .unwrap_or_else(|| panic!("no unix edge client → server in {edges:#?}"));
    assert_eq!(unix["path"].as_str(), Some(path_s));
    assert_eq!(unix["conns"].as_u64(), Some(2));
    // Nothing the other way round: the direction comes from the listener.
    assert!(
        !edges
            .iter()
            .any(|e| e["from"].as_u64() == Some(server.pid())),
        "{edges:#?}"
    );
    // The nodes carry the exact names.
    let node = |pid: u64| {
        doc["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["pid"].as_u64() == Some(pid))
            .cloned()
            .unwrap_or_else(|| panic!("no node {pid}"))
    };
    assert_eq!(
        node(server.pid())["name"].as_str().map(str::as_bytes),
        Some(SERVER_NAME)
    );
    assert_eq!(
        node(client.pid())["name"].as_str().map(str::as_bytes),
        Some(CLIENT_NAME)
    );
    // And the schema document describes it.
    let schema_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/map.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("schema"))
            .expect("schema JSON");
    let v = jsonschema::draft202012::new(&schema).expect("valid schema");
    let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // -t and -x split them.
    let only_tcp: Value = serde_json::from_slice(&run(&["--json", "-t"]).stdout).expect("JSON");
    assert!(
        only_tcp["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .all(|e| e["proto"] == "tcp")
    );
    let only_unix: Value = serde_json::from_slice(&run(&["--json", "-x"]).stdout).expect("JSON");
    assert!(
        only_unix["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .all(|e| e["proto"] == "unix")
    );

    // The tree: the client above the server, names escaped.
    let tree = run(&[]).stdout;
    assert!(!tree.contains(&0x1b), "a raw escape in the tree");
    let tree = String::from_utf8(tree).expect("utf-8");
    let want_tcp = format!("→ srv\\x1b[31m\"x[{}] :{port} (3 conns)", server.pid());
    let want_unix = format!("→ srv\\x1b[31m\"x[{}] {path_s} (2 conns)", server.pid());
    let client_line = format!("cli\\n<b>#1[{}]", client.pid());
    assert!(tree.contains(&client_line), "{tree}");
    assert!(tree.contains(&want_tcp), "{tree}");
    assert!(tree.contains(&want_unix), "{tree}");

    // DOT that Graphviz takes, and Mermaid with no raw quotes in labels.
    let dot = run(&["--dot"]).stdout;
    assert!(!dot.contains(&0x1b));
    let mut g = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dot is needed (Debian package graphviz)");
    g.stdin
        .take()
        .expect("stdin")
        .write_all(&dot)
        .expect("write dot");
    let svg = g.wait_with_output().expect("dot");
    assert!(
        svg.status.success(),
        "dot refused: {}\n{}",
        String::from_utf8_lossy(&svg.stderr),
        String::from_utf8_lossy(&dot)
    );
    let svg = String::from_utf8_lossy(&svg.stdout);
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.contains(&format!("[{}]", server.pid())), "{svg}");
    let mermaid = String::from_utf8(run(&["--mermaid"]).stdout).expect("utf-8");
    assert!(mermaid.starts_with("flowchart LR\n"));
    let edge = format!(
        "p{} -->|\":{port} (3 conns)\"| p{}",
        client.pid(),
        server.pid()
    );
    assert!(mermaid.contains(&edge), "{mermaid}");
    let server_node = format!(
        "p{}[\"srv\\x1b[31m#quot;x[{}]\"]",
        server.pid(),
        server.pid()
    );
    assert!(mermaid.contains(&server_node), "{mermaid}");
    assert!(mermaid.contains("cli\\n#lt;b#gt;#35;1"), "{mermaid}");
}

#[test]
fn map_of_a_quiet_namespace_says_so() {
    let _ns = common::netns();
    let out = run(&["-t"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "no local conversations\n"
    );
    let doc: Value = serde_json::from_slice(&run(&["-t", "--json"]).stdout).expect("JSON");
    assert_eq!(doc["edges"], serde_json::json!([]));
}

#[test]
fn map_options_conflict_as_usage_errors() {
    let out = portscope()
        .args(["map", "--dot", "--json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}
