//! `portscope map`: the machine's local conversations ([`portscope::map`])
//! drawn as a tree in the terminal, as Graphviz DOT, as a Mermaid
//! flowchart, or as JSON nodes and edges.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::process::ExitCode;

use portscope::collect;
use portscope::json::MapOut;
use portscope::map::{self, Edge, Map, Via};
use portscope::model::{Query, Snapshot};

use crate::Failure;
use crate::args::MapArgs;
use crate::config::ListConfig;
use crate::report::Report;

/// Runs `map`.
pub fn run(args: &MapArgs) -> Result<ExitCode, Failure> {
    let mut cfg = ListConfig::with_owners();
    let both = !args.tcp && !args.unix;
    cfg.collect.query = Query {
        tcp: both || args.tcp,
        udp: false,
        raw: false,
        unix: both || args.unix,
        ..Query::default()
    };
    let sys = crate::system::open(args.from_snapshot.as_deref())?;
    cfg.collect.netns = crate::netns_pick::scope(args.ns.netns.as_deref(), &*sys)?;
    let snap = collect::take(&*sys, &cfg.collect)?;
    let m = map::build(&snap);
    let mut report = Report::new();
    report.write(|out| {
        if args.json {
            serde_json::to_writer_pretty(&mut *out, &MapOut::new(&m, &snap))?;
            writeln!(out)
        } else if args.dot {
            write_dot(out, &m, &snap)
        } else if args.mermaid {
            write_mermaid(out, &m, &snap)
        } else {
            write_tree(out, &m, &snap)
        }
    })?;
    if !args.json && !args.dot && !args.mermaid {
        if snap.hidden.processes > 0 {
            crate::say(format_args!(
                "the sockets of {} process(es) could not be read: their conversations may be missing (run as root to see all)",
                snap.hidden.processes
            ));
        }
        if m.hidden > 0 {
            crate::say(format_args!(
                "{} connection(s) between processes that cannot be seen left out",
                m.hidden
            ));
        }
    }
    report.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// `name[pid]`, the name escaped; `?` for an end with no visible owner.
fn label(snap: &Snapshot, pid: Option<u32>) -> String {
    match pid {
        Some(pid) => match snap.processes.get(&pid) {
            Some(p) => format!("{}[{pid}]", p.name.bounded(64)),
            None => format!("[{pid}]"),
        },
        None => "?".to_string(),
    }
}

/// `:8000` or the unix name (escaped), then `(N conns)`.
fn via_label(e: &Edge) -> String {
    let mut s = match &e.via {
        Via::Tcp { port } => format!(":{port}"),
        Via::Unix { path: Some(p) } => p.bounded(120).to_string(),
        Via::Unix { path: None } => "unix (unnamed)".to_string(),
    };
    let _ = write!(
        s,
        " ({} conn{})",
        e.conns,
        if e.conns == 1 { "" } else { "s" }
    );
    s
}

/// Clients at the left, each with what it talks to beneath it, and so on
/// down; a process already drawn is named again but not expanded.
fn write_tree(out: &mut dyn Write, m: &Map, snap: &Snapshot) -> io::Result<()> {
    if m.edges.is_empty() {
        return writeln!(out, "no local conversations");
    }
    let mut outgoing: BTreeMap<Option<u32>, Vec<&Edge>> = BTreeMap::new();
    let mut has_incoming = BTreeSet::new();
    for e in &m.edges {
        outgoing.entry(e.from).or_default().push(e);
        if e.from != e.to {
            has_incoming.insert(e.to);
        }
    }
    let mut drawn = BTreeSet::new();
    // Roots: processes nothing connects to; then whatever a cycle left out.
    let roots: Vec<Option<u32>> = outgoing
        .keys()
        .filter(|p| !has_incoming.contains(*p))
        .copied()
        .chain(outgoing.keys().copied())
        .collect();
    for root in roots {
        if drawn.contains(&root) {
            continue;
        }
        writeln!(out, "{}", label(snap, root))?;
        drawn.insert(root);
        draw(out, root, 1, &outgoing, &mut drawn, snap)?;
    }
    Ok(())
}

fn draw(
    out: &mut dyn Write,
    from: Option<u32>,
    depth: usize,
    outgoing: &BTreeMap<Option<u32>, Vec<&Edge>>,
    drawn: &mut BTreeSet<Option<u32>>,
    snap: &Snapshot,
) -> io::Result<()> {
    for e in outgoing.get(&from).into_iter().flatten() {
        let seen = drawn.contains(&e.to);
        let arrow = if e.undirected { "↔" } else { "→" };
        writeln!(
            out,
            "{:indent$}{arrow} {} {}{}",
            "",
            label(snap, e.to),
            via_label(e),
            if seen && e.to != from && outgoing.contains_key(&e.to) {
                " (see above)"
            } else {
                ""
            },
            indent = depth * 2
        )?;
        if !seen {
            drawn.insert(e.to);
            draw(out, e.to, depth + 1, outgoing, drawn, snap)?;
        }
    }
    Ok(())
}

/// A DOT node id: `p812`, or `unknown`.
fn node_id(pid: Option<u32>) -> String {
    pid.map_or_else(|| "unknown".to_string(), |p| format!("p{p}"))
}

/// Text inside a DOT double-quoted string: the label is already escaped
/// for people (no control characters); `\` and `"` are DOT's own.
fn dot_quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn nodes(m: &Map) -> Vec<Option<u32>> {
    let mut v: Vec<Option<u32>> = m.nodes.iter().copied().map(Some).collect();
    if m.unknown_node {
        v.push(None);
    }
    v
}

fn write_dot(out: &mut dyn Write, m: &Map, snap: &Snapshot) -> io::Result<()> {
    writeln!(out, "digraph portscope {{")?;
    writeln!(out, "  rankdir=LR;")?;
    writeln!(out, "  node [shape=box];")?;
    for n in nodes(m) {
        writeln!(
            out,
            "  {} [label=\"{}\"];",
            node_id(n),
            dot_quoted(&label(snap, n))
        )?;
    }
    for e in &m.edges {
        writeln!(
            out,
            "  {} -> {} [label=\"{}\"{}];",
            node_id(e.from),
            node_id(e.to),
            dot_quoted(&via_label(e)),
            if e.undirected { ", dir=both" } else { "" }
        )?;
    }
    writeln!(out, "}}")
}

/// Text inside a Mermaid quoted label: quotes and the characters Mermaid
/// reads as markup become its `#code;` entities.
fn mermaid_quoted(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => o.push_str("#35;"),
            '"' => o.push_str("#quot;"),
            '<' => o.push_str("#lt;"),
            '>' => o.push_str("#gt;"),
            '&' => o.push_str("#amp;"),
            '`' => o.push_str("#96;"),
            c => o.push(c),
        }
    }
    o
}

fn write_mermaid(out: &mut dyn Write, m: &Map, snap: &Snapshot) -> io::Result<()> {
    writeln!(out, "flowchart LR")?;
    for n in nodes(m) {
        writeln!(
            out,
            "  {}[\"{}\"]",
            node_id(n),
            mermaid_quoted(&label(snap, n))
        )?;
    }
    for e in &m.edges {
        writeln!(
            out,
            "  {} {}|\"{}\"| {}",
            node_id(e.from),
            if e.undirected { "<-->" } else { "-->" },
            mermaid_quoted(&via_label(e)),
            node_id(e.to)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_leaves_no_raw_delimiters() {
        assert_eq!(dot_quoted(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(mermaid_quoted("a\"<b>#"), "a#quot;#lt;b#gt;#35;");
    }
}
