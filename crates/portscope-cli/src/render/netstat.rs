//! The Windows `netstat -ano` layout, for eyes and scripts used to it:
//! Proto, Local Address, Foreign Address, State, PID.
//!
//! As on Windows: `TCP`/`UDP` upper case, `LISTENING`, a blank state for UDP,
//! `*:*` as the foreign address of an unconnected UDP socket, `0.0.0.0:0` for
//! a listener's, and PID 0 where no owner is known (TIME_WAIT and the like).

use std::fmt::Write as _;
use std::io::{self, Write};

use portscope::model::{Endpoint, Proto, Socket, TcpState};

use super::Context;

/// Writes the listing in Windows netstat layout.
pub fn write(out: &mut dyn Write, ctx: &Context<'_>) -> io::Result<()> {
    if ctx.cfg.header {
        writeln!(out, "\nActive Connections\n")?;
        writeln!(
            out,
            "  {:<7}{:<23}{:<23}{:<16}PID",
            "Proto", "Local Address", "Foreign Address", "State"
        )?;
    }
    let mut local = String::new();
    let mut remote = String::new();
    for s in &ctx.snap.sockets {
        let proto = match s.proto {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Raw => "RAW",
            // Windows netstat has no such rows.
            Proto::Unix | Proto::Packet | Proto::Netlink | Proto::Mptcp => continue,
        };
        local.clear();
        remote.clear();
        push_win_endpoint(&mut local, &s.local, false);
        push_win_endpoint(&mut remote, &s.remote, s.proto != Proto::Tcp);
        let pid = s.owners.first().map(|o| o.pid).unwrap_or(0);
        writeln!(
            out,
            "  {:<7}{:<23}{:<23}{:<16}{}",
            proto,
            local,
            remote,
            win_state(s),
            pid
        )?;
    }
    Ok(())
}

fn win_state(s: &Socket) -> &'static str {
    match (s.proto, s.state) {
        (Proto::Tcp, TcpState::Listen) => "LISTENING",
        (Proto::Tcp, st) => st.name(),
        (_, TcpState::Established) => "ESTABLISHED",
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
