//! CSV with a header row: one row per socket, every owner in the `owners`
//! column as `pid:fd:name` separated by `;`.
//!
//! Untrusted text (unix paths, process names) is written in the escaped
//! form of [`portscope::text`], so no cell holds a control character or a
//! line break; in the `owners` cell a name's `;` and `:` are escaped too
//! (`\x3b`, `\x3a`), so it can't forge an owner. `portscope::text::unescape`
//! gives back the exact bytes.

use std::fmt::Write as _;
use std::io::{self, Write};

use portscope::model::{Endpoint, EthProto, NetlinkProto, Socket};

use super::Context;

const HEADER: [&str; 16] = [
    "proto",
    "family",
    "type",
    "local_addr",
    "local_port",
    "remote_addr",
    "remote_port",
    "state",
    "recv_q",
    "send_q",
    "uid",
    "inode",
    "service",
    "class",
    "owners",
    "owners_hidden",
];

fn addr_port(ep: &Endpoint) -> (String, String) {
    match ep {
        Endpoint::Inet { addr, port } => (addr.to_string(), port.to_string()),
        Endpoint::Unix { path, inode } => (
            path.as_ref()
                .map(|p| p.escaped().to_string())
                .unwrap_or_default(),
            inode.to_string(),
        ),
        // Packet ends: protocol name, interface index (a packet socket's
        // remote end is empty); netlink: protocol, port id.
        Endpoint::Link {
            protocol: 0,
            ifindex: 0,
        } => (String::new(), String::new()),
        Endpoint::Link { protocol, ifindex } => {
            (EthProto(*protocol).to_string(), ifindex.to_string())
        }
        Endpoint::Netlink { protocol, portid } => {
            (NetlinkProto(*protocol).to_string(), portid.to_string())
        }
    }
}

fn owners_cell(s: &Socket, ctx: &Context<'_>) -> String {
    let mut cell = String::new();
    for (i, o) in s.owners.iter().enumerate() {
        if i > 0 {
            cell.push(';');
        }
        let _ = write!(cell, "{}:{}:", o.pid, o.fd);
        if let Some(p) = ctx.snap.processes.get(&o.pid) {
            let _ = write!(cell, "{}", p.name.escaped().also(b";:"));
        }
    }
    cell
}

/// Writes the CSV.
pub fn write(out: &mut dyn Write, ctx: &Context<'_>) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    // `-c` puts each round's time first; its header is written once.
    // `--changes` adds a `change` column after it: `+`, `-`, or `=` on the
    // first round's rows (as JSON's `"change"`).
    let lead: &[&str] = match (ctx.time.is_some(), ctx.marks.is_some()) {
        (true, true) => &["time", "change"],
        (true, false) => &["time"],
        (false, true) => &["change"],
        (false, false) => &[],
    };
    if ctx.header {
        w.write_record(lead.iter().copied().chain(HEADER))?;
    }
    for (i, s) in ctx.snap.sockets.iter().enumerate() {
        let (la, lp) = addr_port(&s.local);
        let (ra, rp) = addr_port(&s.remote);
        let info = ctx.service(s);
        let record = [
            s.proto.as_str().to_string(),
            s.family.as_str().to_string(),
            s.unix_type.map(|t| t.as_str()).unwrap_or("").to_string(),
            la,
            lp,
            ra,
            rp,
            s.state.name_for(s.proto).to_string(),
            s.recv_q.to_string(),
            s.send_q.to_string(),
            // Empty where the source does not know the uid.
            s.uid.map(|u| u.to_string()).unwrap_or_default(),
            s.inode.to_string(),
            info.and_then(|i| i.service)
                .map(|x| x.name)
                .unwrap_or("")
                .to_string(),
            info.map(|i| i.class.as_str()).unwrap_or("").to_string(),
            owners_cell(s, ctx),
            s.owners_hidden.to_string(),
        ];
        let change = super::json::change_mark(ctx, i);
        let lead = ctx.time.map(str::to_string).into_iter();
        let lead = lead.chain(change.map(str::to_string));
        w.write_record(lead.chain(record))?;
    }
    w.flush()?;
    Ok(())
}
