//! The `netstat` layouts, for eyes and scripts used to them: IP sockets as
//! Windows `netstat -ano` prints them (Proto, Local Address, Foreign
//! Address, State, PID), then unix sockets as Linux `netstat -x` does
//! (Proto, Type, State, I-Node, PID, Path).
//!
//! As on Windows: `TCP`/`UDP` upper case, `LISTENING`, a blank state for UDP,
//! `*:*` as the foreign address of an unconnected UDP socket, `0.0.0.0:0` for
//! a listener's. The PID column is there only when owners were looked up
//! (`-o`, `-p`, or no selection option), as with `netstat -an` against
//! `-ano`; a socket whose owner is not known (TIME_WAIT and the like) shows
//! `-` there, as Linux netstat does, never a PID 0 that no process has.

use std::fmt::Write as _;
use std::io::{self, Write};

use portscope::model::{Endpoint, Proto, Socket, TcpState, UnixType};

use super::Context;

/// Writes the listing in netstat layout.
pub fn write(out: &mut dyn Write, ctx: &Context<'_>) -> io::Result<()> {
    let with_pid = ctx.cfg.owners;
    let mut inet = ctx
        .snap
        .sockets
        .iter()
        // Packet and netlink sockets have no place in either layout.
        .filter(|s| matches!(s.proto, Proto::Tcp | Proto::Udp | Proto::Raw | Proto::Mptcp))
        .peekable();
    let mut unix = ctx
        .snap
        .sockets
        .iter()
        .filter(|s| s.proto == Proto::Unix)
        .peekable();
    // The IP section is printed whenever there is no unix socket, so an
    // empty listing still gets its header.
    if inet.peek().is_some() || unix.peek().is_none() {
        let mut line = String::new();
        if ctx.cfg.header {
            writeln!(out, "\nActive Connections\n")?;
            let _ = write!(
                line,
                "  {:<7}{:<23}{:<23}{:<16}",
                "Proto", "Local Address", "Foreign Address", "State"
            );
            end_line(out, &mut line, with_pid.then_some("PID"))?;
        }
        let mut local = String::new();
        let mut remote = String::new();
        for s in inet {
            let proto = match s.proto {
                Proto::Tcp => "TCP",
                Proto::Udp => "UDP",
                Proto::Mptcp => "MPTCP",
                _ => "RAW",
            };
            local.clear();
            remote.clear();
            push_win_endpoint(&mut local, &s.local, false);
            push_win_endpoint(&mut remote, &s.remote, s.proto != Proto::Tcp);
            let _ = write!(
                line,
                "  {:<7}{:<23}{:<23}{:<16}",
                proto,
                local,
                remote,
                win_state(s),
            );
            end_line(out, &mut line, with_pid.then(|| pid_cell(s)).as_deref())?;
        }
    }
    if unix.peek().is_some() {
        if ctx.cfg.header {
            writeln!(out, "\nActive UNIX domain sockets\n")?;
            write!(
                out,
                "  {:<7}{:<12}{:<14}{:<10}",
                "Proto", "Type", "State", "I-Node"
            )?;
            if with_pid {
                write!(out, "{:<9}", "PID")?;
            }
            writeln!(out, "Path")?;
        }
        for s in unix {
            write!(
                out,
                "  {:<7}{:<12}{:<14}{:<10}",
                "unix",
                unix_type(s.unix_type),
                unix_state(s),
                s.inode
            )?;
            if with_pid {
                write!(out, "{:<9}", pid_cell(s))?;
            }
            match &s.local {
                Endpoint::Unix {
                    path: Some(path), ..
                } => writeln!(out, "{}", path.escaped())?,
                _ => writeln!(out)?,
            }
        }
    }
    Ok(())
}

/// Ends an IP row with its last cell (the PID, if shown) and writes it:
/// no trailing blanks when there is no PID column.
fn end_line(out: &mut dyn Write, line: &mut String, last: Option<&str>) -> io::Result<()> {
    if let Some(cell) = last {
        line.push_str(cell);
    }
    out.write_all(line.trim_end().as_bytes())?;
    out.write_all(b"\n")?;
    line.clear();
    Ok(())
}

/// The first owner's pid, or `-` when none is known.
fn pid_cell(s: &Socket) -> String {
    s.owners
        .first()
        .map_or_else(|| "-".to_string(), |o| o.pid.to_string())
}

fn win_state(s: &Socket) -> &'static str {
    match (s.proto, s.state) {
        (Proto::Tcp, TcpState::Listen) => "LISTENING",
        (Proto::Tcp, st) => st.name(),
        (_, TcpState::Established) => "ESTABLISHED",
        _ => "",
    }
}

/// Linux netstat's unix types.
fn unix_type(t: Option<UnixType>) -> &'static str {
    match t {
        Some(UnixType::Stream) => "STREAM",
        Some(UnixType::Dgram) => "DGRAM",
        Some(UnixType::Seqpacket) => "SEQPACKET",
        None => "",
    }
}

/// Linux netstat's unix states: LISTENING, CONNECTED, blank when unconnected.
fn unix_state(s: &Socket) -> &'static str {
    match s.state {
        TcpState::Listen => "LISTENING",
        TcpState::Established => "CONNECTED",
        TcpState::SynSent => "CONNECTING",
        TcpState::CloseWait | TcpState::LastAck | TcpState::Closing => "DISCONNECTING",
        _ => "",
    }
}

fn push_win_endpoint(buf: &mut String, ep: &Endpoint, star_if_unset: bool) {
    if let Endpoint::Inet { addr, port } = ep {
        if star_if_unset && *port == 0 && addr.is_unspecified() {
            buf.push_str("*:*");
            return;
        }
        // Writing to a String cannot fail.
        let _ = match addr {
            std::net::IpAddr::V4(a) => write!(buf, "{a}:{port}"),
            std::net::IpAddr::V6(a) => write!(buf, "[{a}]:{port}"),
        };
    }
}
