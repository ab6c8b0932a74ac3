//! The filter language end to end: the binary and `ss -tuanH` are given the
//! same expression over the same live sockets and must select the same ones.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::net::{TcpListener, TcpStream, UdpSocket};

use common::*;

struct Population {
    vars: HashMap<&'static str, u16>,
    ports: BTreeSet<u16>,
    _keep: (Vec<TcpListener>, Vec<TcpStream>, Vec<UdpSocket>),
}

fn populate() -> Population {
    let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l4b = TcpListener::bind("127.0.0.2:0").unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let ld = TcpListener::bind("[::]:0").unwrap();
    let port = |l: &TcpListener| l.local_addr().unwrap().port();
    let mut streams = Vec::new();
    let c4 = TcpStream::connect(l4.local_addr().unwrap()).unwrap();
    streams.push(l4.accept().unwrap().0);
    let c4b = TcpStream::connect(l4b.local_addr().unwrap()).unwrap();
    streams.push(l4b.accept().unwrap().0);
    let c6 = TcpStream::connect(l6.local_addr().unwrap()).unwrap();
    streams.push(l6.accept().unwrap().0);
    let cd = TcpStream::connect(("127.0.0.1", port(&ld))).unwrap();
    streams.push(ld.accept().unwrap().0);
    let u1 = UdpSocket::bind("127.0.0.1:0").unwrap();
    let u2 = UdpSocket::bind("127.0.0.1:0").unwrap();
    u2.connect(u1.local_addr().unwrap()).unwrap();
    let u6 = UdpSocket::bind("[::1]:0").unwrap();

    let mut vars = HashMap::new();
    vars.insert("L4", port(&l4));
    vars.insert("L4B", port(&l4b));
    vars.insert("L6", port(&l6));
    vars.insert("LD", port(&ld));
    vars.insert("C4", c4.local_addr().unwrap().port());
    vars.insert("C6", c6.local_addr().unwrap().port());
    vars.insert("U1", u1.local_addr().unwrap().port());
    vars.insert("U2", u2.local_addr().unwrap().port());
    vars.insert("U6", u6.local_addr().unwrap().port());
    let mut ports: BTreeSet<u16> = vars.values().copied().collect();
    for s in [&c4b, &cd] {
        ports.insert(s.local_addr().unwrap().port());
    }
    streams.extend([c4, c4b, c6, cd]);
    Population {
        vars,
        ports,
        _keep: (vec![l4, l4b, l6, ld], streams, vec![u1, u2, u6]),
    }
}

fn expand(template: &str, vars: &HashMap<&'static str, u16>) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}X}}"), &format!("{v:x}"));
        out = out.replace(&format!("{{{k}}}"), &v.to_string());
    }
    out
}

/// (proto, local, remote) of the rows of `ss -tuanH EXPR` on our ports.
fn ss_rows(words: &[String], ports: &BTreeSet<u16>) -> BTreeSet<(String, String, String)> {
    let out = std::process::Command::new("ss")
        .arg("-tuanH")
        .args(words)
        .output()
        .unwrap();
    assert!(out.status.success(), "ss refused {words:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f: Vec<&str> = l.split_whitespace().collect();
            // ss leaves out the State column when one state is selected.
            if f.get(1).is_some_and(|s| s.parse::<u64>().is_ok()) {
                f.insert(1, "?");
            }
            if f.len() < 6 || f[1] == "TIME-WAIT" {
                return None;
            }
            let (la, lp) = split_ss(f[4]);
            let (ra, rp) = split_ss(f[5]);
            let port: u16 = lp.parse().ok()?;
            ports
                .contains(&port)
                .then(|| (f[0].to_string(), norm(&la, &lp), norm(&ra, &rp)))
        })
        .collect()
}

fn our_rows(words: &[String], ports: &BTreeSet<u16>) -> BTreeSet<(String, String, String)> {
    let out = portscope()
        .arg("-tua")
        .arg("--json")
        .args(words)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "portscope refused {words:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_keys(&parse_json(&out))
        .into_iter()
        .filter(|(_, local, _, state)| {
            state != "TIME_WAIT"
                && local
                    .rsplit_once(':')
                    .and_then(|(_, p)| p.parse::<u16>().ok())
                    .is_some_and(|p| ports.contains(&p))
        })
        .map(|(p, l, r, _)| (p, l, r))
        .collect()
}

/// Every operator (symbol and word forms), every state group, and every
/// operand form ss takes.
const EXPRESSIONS: &[&str] = &[
    "sport = :{L4}",
    "sport == :{L4}",
    "sport eq {L4}",
    "dport = :{L4}",
    "dport != :{L4}",
    "sport neq :{L4}",
    "sport ne :{L4}",
    "sport < :{L6}",
    "sport > :{L6}",
    "sport <= :{L6}",
    "sport >= :{L6}",
    "dport lt :{LD}",
    "dport gt :{LD}",
    "dport le :{LD}",
    "dport ge :{LD}",
    "sport = :0x{L4X}",
    "src 127.0.0.1",
    "src 127.0.0.1:{L4}",
    "dst 127.0.0.1",
    "dst 127.0.0.2:{L4B}",
    "src 127.0.0.0/8",
    "src 127.0.0.0/24:{L4B}",
    "src [::1]",
    "src [::1]:{L6}",
    "dst [::1]",
    "src ::1/128",
    "src [::ffff:127.0.0.1]",
    "src 0.0.0.0",
    "! src 0.0.0.0",
    "src *:{LD}",
    "src *",
    "src 127.0.0.1 and sport = :{L4}",
    "src 127.0.0.1 && sport = :{L4}",
    "src 127.0.0.1 sport = :{L4}",
    "sport = :{L4} or sport = :{L6}",
    "sport = :{L4} || dport = :{L6}",
    "sport = :{L4} or sport = :{L6} and dport = :{C6}",
    "not sport = :{L4}",
    "! ( sport = :{L4} or dport = :{L4} )",
    "( sport = :{L4} || sport = :{L6} ) && ! dport = :0",
    "state listening",
    "state established sport = :{LD}",
    "state connected dst 127.0.0.0/8",
    "state synchronized",
    "state bucket",
    "state big",
    "state all",
    "state closed",
    "state syn-sent",
    "state syn-recv",
    "state fin-wait-1",
    "state fin-wait-2",
    "state time-wait",
    "state close-wait",
    "state last-ack",
    "state closing",
    "exclude established",
    "exclude listening src 127.0.0.0/8",
    "state listening state established dport = :{L4B}",
    "dport geq :{LD}",
    "src 127.0.0.2",
    "src 127.0.0.0/255.255.255.0",
    "src [::]",
    "dst [::ffff:127.0.0.1]",
    "src 0.0.0.0/0",
    "src ::/0",
    "! src ::/0",
    "src :{LD}",
    "src any",
    "sport = :{L6} and dport = :{C6} or sport = :{L4}",
    "not sport = :{L4} and sport = :{L4}",
    "sport = :{L4} | sport = :{U1} & dport = :0",
    "src inet6:[::1] or sport = :{L4}",
    "src inet:127.0.0.1 or sport = :{L6}",
    "excl listening src 127.0.0.0/8",
    "state unconnected",
    "dst 127.0.0.1:{U1} or dst [::1]:{L6}",
];

#[test]
fn filters_select_what_ss_selects() {
    // Alone in a namespace: no other socket on the machine can share a port with ours.
    let _ns = netns();
    let pop = populate();
    let mut failures = Vec::new();
    for template in EXPRESSIONS {
        let expr = expand(template, &pop.vars);
        let words: Vec<String> = expr.split(' ').map(String::from).collect();
        let want = ss_rows(&words, &pop.ports);
        let got = our_rows(&words, &pop.ports);
        if want != got {
            failures.push(format!(
                "{expr}\n  only ss: {:?}\n  only portscope: {:?}",
                want.difference(&got).collect::<Vec<_>>(),
                got.difference(&want).collect::<Vec<_>>()
            ));
        }
    }
    // The whole population is visible, so the comparisons above meant something.
    assert!(ss_rows(&[], &pop.ports).len() >= 15);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn parenthesis_words_and_quoted_groups() {
    // Alone in a namespace: no other socket on the machine can share a port with ours.
    let _ns = netns();
    let pop = populate();
    let l4 = pop.vars["L4"];
    // As separate shell words, and as one quoted word.
    let split: Vec<String> = ["(", "sport", "=", &format!(":{l4}"), ")"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let one = vec![format!("( sport = :{l4} )")];
    let a = our_rows(&split, &pop.ports);
    assert_eq!(a, our_rows(&one, &pop.ports));
    assert_eq!(a, ss_rows(&split, &pop.ports));
    assert!(!a.is_empty());
}

#[test]
fn extensions_select_by_owner_service_and_class() {
    // Alone in a namespace: ss's rows on our ports are ours.
    let _ns = netns();
    let pop = populate();
    let me = std::process::id().to_string();
    let l4 = pop.vars["L4"];
    let rows = |words: &[&str]| {
        let w: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        our_rows(&w, &pop.ports)
    };
    let mine = rows(&["pid", &me]);
    assert_eq!(
        mine.len(),
        ss_rows(&[], &pop.ports).len(),
        "pid selects all our sockets"
    );
    let exe = std::env::current_exe().unwrap();
    let comm: String = exe
        .file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .take(15)
        .collect();
    assert_eq!(rows(&["process", &comm]), mine);
    assert_eq!(rows(&["process", "no-such-process-*"]).len(), 0);
    assert_eq!(
        rows(&["user", "root"]).len() + rows(&["not", "user", "root"]).len(),
        mine.len()
    );
    let class = if l4 < 49152 { "user" } else { "dynamic" };
    assert!(rows(&["class", class, "and", "sport", "=", &format!(":{l4}")]).len() >= 2);
}

#[test]
fn bad_expressions_point_at_the_spot() {
    let _ns = common::netns();
    let cases: &[(&str, &str, usize)] = &[
        ("sport = :", "expected a port after ':'", 10),
        ("sport = :99999", "out of range", 10),
        ("src 10.0.0.0/33", "prefix length 33", 14),
        ("( sport = :22", "unclosed", 1),
        ("sport = :22 or", "after 'or'", 15),
        ("state bogus", "unknown state", 7),
        ("frobnicate", "unknown word", 1),
    ];
    for (expr, text, column) in cases {
        let words: Vec<&str> = expr.split(' ').collect();
        let out = portscope().args(&words).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{expr}");
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("");
        assert!(first.starts_with("portscope: filter: "), "{expr}: {err}");
        assert!(first.contains(text), "{expr}: {err}");
        if *column > 0 {
            assert!(
                first.ends_with(&format!("at column {column}")),
                "{expr}: {err}"
            );
        }
        // The expression echoed, and a caret under the column.
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 3, "{expr}: {err}");
        assert_eq!(lines[1], *expr);
        let caret = lines[2].find('^').unwrap();
        let col: usize = first.rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(caret + 1, col, "{expr}: {err}");
        assert!(out.stdout.is_empty());
    }
}
