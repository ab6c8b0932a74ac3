//! `portscope map --json`: the local conversations of a snapshot as nodes
//! (processes) and edges (who connects to whom, over what, how often), as
//! README's "map" section and `schema/map.schema.json` describe.

use serde::Serialize;

use crate::map::{Map, Via};
use crate::model::Snapshot;
use crate::text::Text;

/// The whole map.
#[derive(Clone, Debug, Serialize)]
pub struct MapOut {
    /// Every process that is an end of an edge, in pid order; one node with
    /// `pid: null` stands for ends with no visible owner.
    pub nodes: Vec<NodeOut>,
    /// The edges, by client, server, then port or name.
    pub edges: Vec<EdgeOut>,
    /// Connections with both ends found but neither owner visible.
    pub hidden: u32,
    /// Connections with both ends in one process, left out of `edges`.
    pub internal: u32,
}

/// One process.
#[derive(Clone, Debug, Serialize)]
pub struct NodeOut {
    /// Process id; `null` for "no visible owner".
    pub pid: Option<u32>,
    /// Short name (`null` when unknown).
    pub name: Option<Text>,
    /// The user whose rights it has.
    pub user: Option<Text>,
    /// Command line.
    pub cmdline: Option<Text>,
}

/// Connections from one process to another over one port or socket name.
#[derive(Clone, Debug, Serialize)]
pub struct EdgeOut {
    /// The client's pid (`null`: no visible owner).
    pub from: Option<u32>,
    /// The server's pid (`null`: no visible owner).
    pub to: Option<u32>,
    /// `tcp` or `unix`.
    pub proto: &'static str,
    /// The server's TCP port (`null` for unix).
    pub port: Option<u16>,
    /// The unix socket's name (`null` for TCP, or an unnamed pair).
    pub path: Option<Text>,
    /// How many connections.
    pub conns: u32,
    /// Whether the direction is a guess (see [`crate::map::Edge::undirected`]).
    pub undirected: bool,
}

impl MapOut {
    /// The JSON form of `map`, with process details from `snap`.
    pub fn new(map: &Map, snap: &Snapshot) -> MapOut {
        let mut nodes: Vec<NodeOut> = map
            .nodes
            .iter()
            .map(|pid| {
                let p = snap.processes.get(pid);
                NodeOut {
                    pid: Some(*pid),
                    name: p.map(|p| p.name.clone()),
                    user: p.and_then(|p| p.shown_user().cloned()),
                    cmdline: p.map(|p| p.cmdline.clone()),
                }
            })
            .collect();
        if map.unknown_node {
            nodes.push(NodeOut {
                pid: None,
                name: None,
                user: None,
                cmdline: None,
            });
        }
        let edges = map
            .edges
            .iter()
            .map(|e| {
                let (proto, port, path) = match &e.via {
                    Via::Tcp { port } => ("tcp", Some(*port), None),
                    Via::Unix { path } => ("unix", None, path.clone()),
                };
                EdgeOut {
                    from: e.from,
                    to: e.to,
                    proto,
                    port,
                    path,
                    conns: e.conns,
                    undirected: e.undirected,
                }
            })
            .collect();
        MapOut {
            nodes,
            edges,
            hidden: map.hidden,
            internal: map.internal,
        }
    }
}
