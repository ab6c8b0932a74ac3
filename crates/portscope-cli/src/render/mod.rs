//! Renderers: every output format consumes the same [`Snapshot`], and none of
//! them touches the OS or sockets.

use std::fmt::Write as _;
use std::io::{self, Write};

use portscope::annotate::{self, ServiceInfo};
use portscope::model::{Snapshot, Socket};
use portscope::services::EphemeralRange;

use crate::args::{Format, SortKey};
use crate::config::ListConfig;
use portscope::track::Mark;

pub mod csv;
pub mod detail;
pub mod json;
pub mod netstat;
pub mod table;

/// Writes the snapshot in the configured format.
pub fn write(out: &mut dyn Write, snap: &Snapshot, cfg: &ListConfig) -> io::Result<()> {
    write_ctx(out, &Context::new(snap, cfg))
}

/// One round of `-c`: the snapshot with its change marks (with
/// `--changes`), the header only when `header` (CSV's once, on the first
/// round), and the round's time: a `time` column in CSV, a `"time"` field
/// on every line of JSON, which `-c` writes as NDJSON (one object a line).
pub fn write_round(
    out: &mut dyn Write,
    snap: &Snapshot,
    cfg: &ListConfig,
    marks: Option<&[Mark]>,
    header: bool,
    time: Option<&str>,
) -> io::Result<()> {
    let mut ctx = Context::new(snap, cfg);
    ctx.marks = marks;
    ctx.header = header && cfg.header;
    ctx.time = time;
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
    /// The time of a `-c` round (RFC 3339, UTC): a column in CSV, a field
    /// in JSON, which is then written a line per socket (NDJSON).
    pub time: Option<&'a str>,
}

impl<'a> Context<'a> {
    /// Gathers the per-run facts renderers share.
    pub fn new(snap: &'a Snapshot, cfg: &'a ListConfig) -> Context<'a> {
        Context {
            snap,
            cfg,
            ephemeral: crate::system::ephemeral_range(),
            color: colour_wanted(cfg.color),
            terminal_width: terminal_width(),
            marks: None,
            header: cfg.header,
            time: None,
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
    // A published port: where its traffic goes, `→ container:port`.
    if let Some(f) = snap.forwards.get(&s.inode).filter(|_| s.inode != 0) {
        let who = f
            .container
            .as_ref()
            .and_then(|c| c.name.as_ref())
            .or_else(|| f.netns.as_deref().and_then(|n| n.name.as_ref()));
        match (who, f.port) {
            (Some(w), Some(p)) => {
                let _ = write!(buf, " → {}:{p}", w.escaped());
            }
            (Some(w), None) => {
                let _ = write!(buf, " → {}", w.escaped());
            }
            (None, Some(p)) => {
                let _ = write!(buf, " → :{p}");
            }
            (None, None) => {}
        }
    }
}

/// `t` as RFC 3339 in UTC to the second, `2026-12-01T11:40:02Z`: the time
/// stamp of a `-c` round.
pub fn rfc3339_utc(t: std::time::SystemTime) -> String {
    utc(t, "%Y-%m-%dT%H:%M:%SZ")
}

/// `t` in UTC as `format` (jiff's strftime), whole seconds; a time before
/// the epoch shows as the epoch.
pub fn utc(t: std::time::SystemTime, format: &str) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime(format)
        .to_string()
}

/// Sorts the sockets in place by `key` ([`portscope::order`]); ties keep
/// collector order.
pub fn sort(snap: &mut Snapshot, key: SortKey, reverse: bool) {
    use portscope::order::Order;
    Order::new(key.0)
        .reversed(reverse)
        .ephemeral(crate::system::ephemeral_range())
        .sort(snap);
}

#[cfg(test)]
mod tests {
    use super::*;
    use portscope::model::*;

    #[test]
    fn rfc3339_dates() {
        use std::time::{Duration, UNIX_EPOCH};
        let at = |s: u64| rfc3339_utc(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_796_125_202), "2026-12-01T11:40:02Z");
        assert_eq!(at(4_102_444_799), "2099-12-31T23:59:59Z");
    }

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
