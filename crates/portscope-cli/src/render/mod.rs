//! Renderers: every output format consumes the same [`Snapshot`], and none of
//! them touches /proc or sockets.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::io::{self, Write};

use portscope::annotate::{self, ServiceInfo};
use portscope::model::{Snapshot, Socket};
use portscope::services::EphemeralRange;

use crate::args::{Format, SortKey};
use crate::change::Mark;
use crate::config::ListConfig;

pub mod csv;
pub mod detail;
pub mod json;
pub mod netstat;
pub mod table;

/// Writes the snapshot in the configured format.
pub fn write(out: &mut dyn Write, snap: &Snapshot, cfg: &ListConfig) -> io::Result<()> {
    write_ctx(out, &Context::new(snap, cfg))
}

/// Writes the snapshot with a change mark per socket (`+`/`-` in the table,
/// `"change"` in JSON), for `-c --changes`; `header` says whether to print
/// the header line this time.
pub fn write_marked(
    out: &mut dyn Write,
    snap: &Snapshot,
    cfg: &ListConfig,
    marks: &[Mark],
    header: bool,
) -> io::Result<()> {
    let mut ctx = Context::new(snap, cfg);
    ctx.marks = Some(marks);
    ctx.header = header && cfg.header;
    write_ctx(out, &ctx)
}

fn write_ctx(out: &mut dyn Write, ctx: &Context<'_>) -> io::Result<()> {
    match ctx.cfg.format {
        Format::Table => table::write(out, ctx),
        Format::Netstat => netstat::write(out, ctx),
        Format::Json => json::write(out, ctx),
        Format::Csv => csv::write(out, ctx),
    }
}

/// What every renderer needs besides the sockets.
pub struct Context<'a> {
    /// The snapshot being rendered.
    pub snap: &'a Snapshot,
    /// The listing settings.
    pub cfg: &'a ListConfig,
    /// This host's ephemeral port range, read once.
    pub ephemeral: Option<EphemeralRange>,
    /// Whether to colour the table.
    pub color: bool,
    /// Columns of the terminal stdout is, if it is one.
    pub terminal_width: Option<usize>,
    /// One change mark per socket (`-c --changes`), if marking.
    pub marks: Option<&'a [Mark]>,
    /// Whether to print the header line (the table's and CSV's).
    pub header: bool,
}

impl<'a> Context<'a> {
    /// Gathers the per-run facts renderers share.
    pub fn new(snap: &'a Snapshot, cfg: &'a ListConfig) -> Context<'a> {
        Context {
            snap,
            cfg,
            ephemeral: portscope::services::ephemeral_range(),
            color: colour_wanted(cfg.color),
            terminal_width: terminal_width(),
            marks: None,
            header: cfg.header,
        }
    }

    /// The service a socket's ports point at.
    pub fn service(&self, s: &Socket) -> Option<ServiceInfo> {
        annotate::service_of(s, self.ephemeral)
    }
}

/// The width of the terminal on stdout, `None` when stdout is not a terminal.
fn terminal_width() -> Option<usize> {
    let stdout = io::stdout();
    if !rustix::termios::isatty(&stdout) {
        return None;
    }
    rustix::termios::tcgetwinsize(&stdout)
        .ok()
        .map(|ws| usize::from(ws.ws_col))
        .filter(|&w| w > 0)
}

/// Resolves the colour choice against the terminal and NO_COLOR/CLICOLOR_FORCE.
fn colour_wanted(choice: anstream::ColorChoice) -> bool {
    let resolved = match choice {
        anstream::ColorChoice::Auto => anstream::AutoStream::choice(&io::stdout()),
        other => other,
    };
    !matches!(resolved, anstream::ColorChoice::Never)
}

/// Appends the owner cell: `name[pid]` for the first process, `+N` for the
/// number of further processes. The full list belongs to JSON and CSV.
pub fn push_owners(buf: &mut String, s: &Socket, snap: &Snapshot) {
    let mut pids = s.owners.iter().map(|o| o.pid);
    let Some(first) = pids.next() else {
        if s.owners_hidden {
            buf.push_str("(hidden)");
        }
        return;
    };
    match snap.processes.get(&first) {
        Some(p) => {
            let _ = write!(buf, "{}[{first}]", p.name.escaped());
        }
        None => {
            let _ = write!(buf, "?[{first}]");
        }
    }
    // Owners are sorted by pid, so distinct pids are runs.
    let mut others = 0usize;
    let mut last = first;
    for pid in pids {
        if pid != last {
            others += 1;
            last = pid;
        }
    }
    if others > 0 {
        let _ = write!(buf, " +{others}");
    }
}

type Compare<'a> = dyn Fn(&Socket, &Socket) -> Ordering + 'a;

/// Sorts the sockets in place by `key`; ties keep collector order.
pub fn sort(snap: &mut Snapshot, key: SortKey, reverse: bool) {
    let eph = portscope::services::ephemeral_range();
    let procs = &snap.processes;
    let first_pid = |s: &Socket| s.owners.first().map(|o| o.pid);
    let pname = |s: &Socket| {
        first_pid(s)
            .and_then(|p| procs.get(&p))
            .map(|p| p.name.as_bytes())
    };
    let svc = |s: &Socket| annotate::service_of(s, eph).and_then(|i| i.service.map(|x| x.name));
    let cmp: Box<Compare<'_>> = match key {
        SortKey::Proto => Box::new(|a, b| {
            (a.proto, a.family)
                .cmp(&(b.proto, b.family))
                .then_with(|| a.local.sort_key().cmp(&b.local.sort_key()))
        }),
        SortKey::Local => Box::new(|a, b| a.local.sort_key().cmp(&b.local.sort_key())),
        SortKey::Remote => Box::new(|a, b| a.remote.sort_key().cmp(&b.remote.sort_key())),
        SortKey::Port => Box::new(|a, b| a.local.port().cmp(&b.local.port())),
        SortKey::Rport => Box::new(|a, b| a.remote.port().cmp(&b.remote.port())),
        SortKey::State => Box::new(|a, b| a.state.cmp(&b.state)),
        SortKey::Service => {
            // A registry lookup per socket, not per comparison.
            if reverse {
                snap.sockets
                    .sort_by_cached_key(|s| std::cmp::Reverse(svc(s)));
            } else {
                snap.sockets.sort_by_cached_key(|s| svc(s));
            }
            return;
        }
        SortKey::Pid => Box::new(move |a, b| first_pid(a).cmp(&first_pid(b))),
        SortKey::Process => Box::new(move |a, b| pname(a).cmp(&pname(b))),
        SortKey::User => Box::new(|a, b| a.uid.cmp(&b.uid)),
        SortKey::RecvQ => Box::new(|a, b| a.recv_q.cmp(&b.recv_q)),
        SortKey::SendQ => Box::new(|a, b| a.send_q.cmp(&b.send_q)),
        SortKey::Inode => Box::new(|a, b| a.inode.cmp(&b.inode)),
    };
    if reverse {
        snap.sockets.sort_by(|a, b| cmp(b, a));
    } else {
        snap.sockets.sort_by(|a, b| cmp(a, b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portscope::model::*;

    #[test]
    fn owner_cell_abbreviates() {
        let mut snap = Snapshot::default();
        snap.processes.insert(
            812,
            Process {
                pid: 812,
                name: "nginx".into(),
                ..Process::default()
            },
        );
        let mut s = Socket {
            proto: Proto::Tcp,
            family: Family::Inet,
            local: Endpoint::v4([0, 0, 0, 0].into(), 80),
            remote: Endpoint::v4([0, 0, 0, 0].into(), 0),
            state: TcpState::Listen,
            send_q: 128,
            inode: 1,
            ..Socket::default()
        };
        let mut b = String::new();
        push_owners(&mut b, &s, &snap);
        assert_eq!(b, "");
        s.owners = [(812, 6), (812, 7), (813, 6), (814, 6)]
            .iter()
            .map(|&(pid, fd)| Owner { pid, fd })
            .collect();
        push_owners(&mut b, &s, &snap);
        assert_eq!(b, "nginx[812] +2");
    }
}
