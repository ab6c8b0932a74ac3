//! The JSON Schema documents in `schema/` against what portscope writes:
//! the library's pinned listing and audit report (every kind of socket and
//! detail, deterministic), and the real binary's `--json -p -i -m -O` and
//! `audit --json` on sockets made in a network namespace of the test's own.
//! The documents are kept by hand; the field-name comparison below says
//! when one is out of date with the output.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema(name: &str) -> (Value, jsonschema::Validator) {
    let path = repo().join("schema").join(name);
    let text = std::fs::read_to_string(&path).expect("schema document");
    let doc: Value = serde_json::from_str(&text).expect("schema is JSON");
    let v = jsonschema::draft202012::new(&doc).expect("a valid JSON Schema");
    (doc, v)
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(10)
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the schema:\n{errors:#?}"
    );
}

/// The body of one of the library's insta snapshots (after its header).
fn pinned(name: &str) -> Value {
    let path = repo().join(format!(
        "crates/portscope/src/json/snapshots/portscope__json__tests__{name}.snap"
    ));
    let text = std::fs::read_to_string(&path).expect("pinned snapshot");
    let body = text.splitn(3, "---\n").nth(2).expect("snapshot header");
    serde_json::from_str(body).expect("pinned JSON")
}

/// Every key of the objects at `pointer` in each item of `list` (an array
/// of objects, or of arrays of objects).
fn keys_at(list: &[Value], pointer: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for item in list {
        let Some(v) = item.pointer(pointer) else {
            continue;
        };
        let objs: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for o in objs {
            if let Some(o) = o.as_object() {
                out.extend(o.keys().cloned());
            }
        }
    }
    out
}

fn props(schema: &Value, pointer: &str) -> BTreeSet<String> {
    schema
        .pointer(pointer)
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no properties at {pointer}"))
        .keys()
        .cloned()
        .collect()
}

/// The pinned listing holds every field the writer has; the schema must
/// accept it and name exactly those fields, so neither can drift.
#[test]
fn pinned_listing_matches_the_schema_and_names_every_field() {
    let (doc, v) = schema("listing.schema.json");
    let listing = pinned("listing");
    assert_valid(&v, &listing, "the pinned listing");
    let plain = pinned("listing_plain");
    assert_valid(&v, &plain, "the pinned plain listing");
    let list = listing.as_array().expect("array");
    for (pointer, def) in [
        ("", "/$defs/socket/properties"),
        ("/owners", "/$defs/owner/properties"),
        ("/tcp_info", "/$defs/tcp_info/properties"),
        ("/memory", "/$defs/memory/properties"),
        ("/timer", "/$defs/timer/properties"),
        ("/packet", "/$defs/packet/properties"),
        ("/netlink", "/$defs/netlink/properties"),
        ("/socket_filter", "/$defs/socket_filter/properties"),
        ("/cgroup", "/$defs/cgroup/properties"),
        ("/forwards_to", "/$defs/forwards_to/properties"),
        ("/local", "/$defs/inet_endpoint/properties"),
        ("/netns", "/$defs/netns/properties"),
        ("/netns/container", "/$defs/container/properties"),
        ("/local", "/$defs/link_endpoint/properties"),
        ("/local", "/$defs/netlink_endpoint/properties"),
    ] {
        let mut seen = keys_at(list, pointer);
        if pointer == "/local" {
            // Each kind of end has its own definition.
            let own = props(&doc, def);
            let of_kind = |k: &String| match def {
                "/$defs/inet_endpoint/properties" => k == "addr" || k == "port" || k == "name",
                "/$defs/link_endpoint/properties" => {
                    k == "ifindex" || k == "protocol_number" || k == "protocol"
                }
                _ => k == "portid" || k == "protocol_number" || k == "protocol",
            };
            seen.retain(|k| of_kind(k) && own.contains(k));
        }
        assert_eq!(seen, props(&doc, def), "fields of {def}");
    }
    // And the schema refuses what the writer never writes.
    let mut bad = list.first().expect("a socket").clone();
    bad["state"] = "OPEN".into();
    assert!(!v.is_valid(&Value::Array(vec![bad])));
    let mut renamed = list.first().expect("a socket").clone();
    let q = renamed
        .as_object_mut()
        .expect("object")
        .remove("recv_q")
        .expect("recv_q");
    renamed["recvq"] = q;
    assert!(!v.is_valid(&Value::Array(vec![renamed])));
}

#[test]
fn pinned_audit_report_matches_the_schema_and_names_every_field() {
    let (doc, v) = schema("audit.schema.json");
    let report = pinned("audit");
    assert_valid(&v, &report, "the pinned audit report");
    let findings = report["findings"].as_array().expect("findings").clone();
    assert!(!findings.is_empty());
    assert_eq!(
        keys_at(&findings, ""),
        props(&doc, "/$defs/finding/properties")
    );
    assert_eq!(
        keys_at(&findings, "/processes"),
        props(&doc, "/$defs/process/properties")
    );
    let top: BTreeSet<String> = report
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    let mut want = props(&doc, "/properties");
    // Present only against a baseline.
    want.remove("baseline");
    want.remove("gone");
    assert_eq!(top, want);
}

fn portscope(args: &[&str]) -> Output {
    common::portscope()
        .args(args)
        .output()
        .expect("run portscope")
}

fn stdout_json(out: &Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn real_output_in_a_namespace_matches_the_schemas() {
    // The test's thread (and the binary it runs) in a namespace of its own.
    let _ns = common::netns();
    let dir = std::env::temp_dir().join(format!("psschema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // Sockets of every kind: TCP listeners on both families and a
    // connection with data on it, UDP, and a unix listener whose name is
    // not UTF-8 (unix sockets are per namespace too).
    let (listener, v6, client, mut server, udp, unix) = {
        use std::os::unix::ffi::OsStrExt;
        let listener = TcpListener::bind("127.0.0.1:0").expect("tcp");
        let v6 = TcpListener::bind("[::1]:0").ok();
        let mut client = TcpStream::connect(listener.local_addr().expect("addr")).expect("c");
        let (server, _) = listener.accept().expect("accept");
        client.write_all(b"hello").expect("write");
        let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
        let name = std::ffi::OsStr::from_bytes(b"caf\xff.sock");
        let unix = UnixListener::bind(dir.join(name)).expect("unix");
        (listener, v6, client, server, udp, unix)
    };
    let mut got = [0u8; 5];
    server.read_exact(&mut got).expect("read");

    let (_, v) = schema("listing.schema.json");
    let out = portscope(&["-a", "-t", "-u", "-x", "-p", "-i", "-m", "-O", "--json"]);
    let listing = stdout_json(&out, "portscope --json -a -p -i -m -O");
    assert_valid(&v, &listing, "the namespace's listing");
    let list = listing.as_array().expect("array");
    let port = listener.local_addr().expect("addr").port();
    let conn = list
        .iter()
        .find(|s| s["state"] == "ESTABLISHED" && s["local"]["port"] == port)
        .expect("the server end is listed");
    assert!(conn["tcp_info"].is_object(), "{conn}");
    assert!(conn["memory"].is_object(), "{conn}");
    let me = u64::from(std::process::id());
    assert!(
        conn["owners"]
            .as_array()
            .expect("owners")
            .iter()
            .any(|o| o["pid"] == me),
        "{conn}"
    );
    let udp_port = udp.local_addr().expect("addr").port();
    assert!(
        list.iter()
            .any(|s| s["proto"] == "udp" && s["local"]["port"] == udp_port)
    );
    assert!(list.iter().any(|s| {
        s["proto"] == "unix"
            && s["local"]["path"]["hex"]
                .as_str()
                .is_some_and(|h| h.ends_with("636166ff2e736f636b"))
    }));
    if let Some(v6) = &v6 {
        let p = v6.local_addr().expect("addr").port();
        let s = list
            .iter()
            .find(|s| s["family"] == "inet6" && s["local"]["port"] == p)
            .expect("the IPv6 listener");
        assert_eq!(s["v6only"], true, "{s}");
    }

    let (_, av) = schema("audit.schema.json");
    let out = portscope(&["audit", "--json"]);
    let report = stdout_json(&out, "portscope audit --json");
    assert_valid(&av, &report, "the namespace's audit");
    assert!(report["summary"]["listeners"].as_u64().expect("count") >= 2);

    // A saved report as a baseline: the comparison's fields too.
    let saved = dir.join("audit.json");
    std::fs::write(&saved, &out.stdout).expect("save");
    let out = portscope(&[
        "audit",
        "--json",
        "--baseline",
        saved.to_str().expect("path"),
    ]);
    let compared = stdout_json(&out, "portscope audit --baseline");
    assert_valid(&av, &compared, "an audit against a baseline");
    assert!(compared["baseline"].is_object() && compared["gone"].is_array());

    drop((listener, v6, client, server, udp, unix));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// A saved listing read back by the binary and written again is the same
/// document: every field, details and non-UTF-8 names included (only the
/// `change` mark, which belongs to one run, is not carried).
#[test]
fn saved_listing_reads_back_whole_through_the_binary() {
    let mut want = pinned("listing");
    let dir = std::env::temp_dir().join(format!("psschema-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("listing.json");
    std::fs::write(&file, serde_json::to_vec(&want).expect("json")).expect("write");
    let out = common::portscope()
        .args(["--from-snapshot", file.to_str().expect("path")])
        .args([
            "-a",
            "-t",
            "-u",
            "-w",
            "-x",
            "-0",
            "--netlink",
            "-M",
            "-p",
            "-i",
            "-m",
            "-O",
            "--json",
        ])
        .output()
        .expect("run");
    let got = stdout_json(&out, "--from-snapshot --json");
    std::fs::remove_dir_all(&dir).expect("cleanup");
    // A recording's owners come back in holder order (pid, then fd), as the
    // live walk gives them; the pinned listing lists one socket's out of order.
    let holder_order = |v: &mut Value| {
        if let Some(owners) = v.get_mut("owners").and_then(Value::as_array_mut) {
            owners.sort_by_key(|o| (o["pid"].as_u64(), o["fd"].as_u64()));
        }
    };
    for s in want.as_array_mut().expect("array") {
        s.as_object_mut().expect("object").remove("change");
        holder_order(s);
    }
    let mut got = got;
    for s in got.as_array_mut().expect("array") {
        holder_order(s);
    }
    let sorted = |v: &Value| {
        let mut l: Vec<String> = v
            .as_array()
            .expect("array")
            .iter()
            .map(Value::to_string)
            .collect();
        l.sort();
        l
    };
    assert_eq!(sorted(&got), sorted(&want));
}
