//! What the live view shows, before any drawing: which tracked sockets pass
//! the filter and the listening toggle, in which order, or grouped by
//! process; and the text of each column.
//!
//! Pure: reads the [`Tracker`], returns lines and cells. Drawing them is
//! `draw.rs`; keys and selection are `app.rs`.

use std::cmp::Ordering;
use std::collections::HashMap;

use std::time::Instant;

use portscope::annotate;
use portscope::filter::Filter;
use portscope::model::{Proto, Snapshot, Socket, TcpState};
use portscope::order::{Key, Order, Row, Ties};
use portscope::services::EphemeralRange;

use crate::render::table::proto_label;
use portscope::track::rate::{Rate, human};
use portscope::track::tracker::{Tracked, Tracker};

/// Columns of the socket table, in display order (also the order in which
/// they give way when the terminal is narrow: the last ones first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockCol {
    /// `+` new, `-` closed.
    Mark,
    /// Protocol label (tcp, tcp6, udp…).
    Proto,
    /// Local address.
    Local,
    /// Remote address.
    Remote,
    /// State, as ss spells it.
    State,
    /// First owning process.
    Process,
    /// Received bytes per second.
    In,
    /// Sent (acknowledged) bytes per second.
    Out,
    /// Smoothed round-trip time.
    Rtt,
    /// Retransmitted segments over the connection's life.
    Retr,
    /// Congestion window.
    Cwnd,
    /// Receive queue.
    RecvQ,
    /// Send queue.
    SendQ,
    /// Service name of the port.
    Service,
    /// Owning user id.
    Uid,
}

impl SockCol {
    /// Every column, in display order.
    pub const ALL: [SockCol; 15] = [
        SockCol::Mark,
        SockCol::Proto,
        SockCol::Local,
        SockCol::Remote,
        SockCol::State,
        SockCol::Process,
        SockCol::In,
        SockCol::Out,
        SockCol::Rtt,
        SockCol::Retr,
        SockCol::Cwnd,
        SockCol::RecvQ,
        SockCol::SendQ,
        SockCol::Service,
        SockCol::Uid,
    ];
}

/// Columns of the grouped-by-process table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupCol {
    /// `+` new, `-` all closed.
    Mark,
    /// Process name.
    Process,
    /// Process id.
    Pid,
    /// Open sockets.
    Sockets,
    /// Listening ports.
    Listening,
    /// Total received bytes per second.
    In,
    /// Total sent bytes per second.
    Out,
}

impl GroupCol {
    /// Every column, in display order.
    pub const ALL: [GroupCol; 7] = [
        GroupCol::Mark,
        GroupCol::Process,
        GroupCol::Pid,
        GroupCol::Sockets,
        GroupCol::In,
        GroupCol::Out,
        GroupCol::Listening,
    ];
}

/// How a column is laid out: its title, the narrowest and widest it is
/// given, and its alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Header text.
    pub title: &'static str,
    /// Narrowest width worth showing.
    pub min: u16,
    /// Widest it grows to.
    pub max: u16,
    /// Right-aligned (numbers).
    pub right: bool,
    /// Cut in the middle rather than at the end (addresses keep their port).
    pub middle: bool,
}

const fn spec(title: &'static str, min: u16, max: u16, right: bool) -> ColumnSpec {
    ColumnSpec {
        title,
        min,
        max,
        right,
        middle: false,
    }
}

/// The layout of a socket column.
pub const fn sock_spec(c: SockCol) -> ColumnSpec {
    match c {
        SockCol::Mark => spec("", 1, 1, false),
        SockCol::Proto => spec("Proto", 4, 5, false),
        SockCol::Local => ColumnSpec {
            middle: true,
            ..spec("Local", 15, 46, false)
        },
        SockCol::Remote => ColumnSpec {
            middle: true,
            ..spec("Remote", 15, 46, false)
        },
        SockCol::State => spec("State", 6, 10, false),
        SockCol::Process => spec("Process", 8, 28, false),
        SockCol::In => spec("In/s", 5, 5, true),
        SockCol::Out => spec("Out/s", 5, 5, true),
        SockCol::Rtt => spec("RTT", 5, 7, true),
        SockCol::Retr => spec("Retr", 4, 4, true),
        SockCol::Cwnd => spec("Cwnd", 4, 5, true),
        SockCol::RecvQ => spec("Recv-Q", 6, 7, true),
        SockCol::SendQ => spec("Send-Q", 6, 7, true),
        SockCol::Service => spec("Service", 7, 14, false),
        SockCol::Uid => spec("UID", 4, 6, true),
    }
}

/// The layout of a group column.
pub const fn group_spec(c: GroupCol) -> ColumnSpec {
    match c {
        GroupCol::Mark => spec("", 1, 1, false),
        GroupCol::Process => spec("Process", 8, 24, false),
        GroupCol::Pid => spec("PID", 3, 8, true),
        GroupCol::Sockets => spec("Sockets", 7, 7, true),
        GroupCol::In => spec("In/s", 5, 5, true),
        GroupCol::Out => spec("Out/s", 5, 5, true),
        GroupCol::Listening => spec("Listening", 9, 200, false),
    }
}

/// One process (or "no known owner") and what it holds among the shown sockets.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The process; `None` for sockets without a known owner.
    pub pid: Option<u32>,
    /// Its name (`(no owner)`/`(hidden)` when unknown).
    pub name: String,
    /// Open sockets.
    pub sockets: usize,
    /// Ports it listens on, sorted, each once.
    pub listening: Vec<u16>,
    /// Total throughput of its sockets.
    pub rate: Rate,
    /// Some socket of it is new.
    pub new: bool,
    /// Every socket of it is closed.
    pub gone: bool,
}

/// One line of the table.
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    /// A socket: its index in [`Tracker::rows`].
    Socket(usize),
    /// A process group.
    Group(Group),
}

/// What the user chose to see.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The filter in effect (the last valid one typed).
    pub filter: Filter,
    /// Only listening sockets.
    pub listening_only: bool,
    /// One line per process instead of per socket.
    pub grouped: bool,
    /// Sort column of the socket table.
    pub sort: SockCol,
    /// Sort column of the group table.
    pub group_sort: GroupCol,
    /// Descending instead of ascending.
    pub reverse: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            filter: Filter::default(),
            listening_only: false,
            grouped: false,
            sort: SockCol::Proto,
            group_sort: GroupCol::Process,
            reverse: false,
        }
    }
}

impl Settings {
    /// Whether every tracked socket is shown: no filter, no state filter,
    /// not only listeners.
    pub fn shows_every_socket(&self) -> bool {
        !self.listening_only && !self.filter.has_expression() && self.filter.states().is_none()
    }
}

/// The lines to show, filtered and sorted (and grouped, if asked), from
/// nothing: what [`build_after`] must give.
#[cfg(test)]
pub fn build(tracker: &Tracker, settings: &Settings, now: Instant) -> Vec<Line> {
    build_after(tracker, settings, now, None)
}

/// [`build`], told how the order last recorded in the tracker
/// ([`Tracker::set_ranks`]) was sorted: with the same column and direction,
/// no filter, and a [`Tracker::settled`] tracker whose column is
/// [`Key::steady`], that order is still the right one and the sort (at
/// 100k rows most of a refresh's own work) is skipped.
pub fn build_after(
    tracker: &Tracker,
    settings: &Settings,
    now: Instant,
    last_sort: Option<(SockCol, bool)>,
) -> Vec<Line> {
    let ctx = &tracker.context;
    let filter = &settings.filter;
    let filtering = filter.has_expression() || filter.states().is_some();
    let mut idx: Vec<usize> = tracker
        .rows()
        .iter()
        .enumerate()
        .filter(|(_, t)| !settings.listening_only || t.socket.is_listening())
        .filter(|(_, t)| !filtering || filter.matches(&t.socket, ctx))
        .map(|(i, _)| i)
        .collect();
    if settings.grouped {
        let mut groups = group(tracker, &idx, now);
        sort_groups(&mut groups, settings.group_sort, settings.reverse);
        return groups.into_iter().map(Line::Group).collect();
    }
    tracker.in_last_order(&mut idx);
    let unchanged = settings.shows_every_socket()
        && tracker.settled()
        && order_key(settings.sort).steady()
        && last_sort == Some((settings.sort, settings.reverse));
    if !unchanged {
        sort_sockets(tracker, &mut idx, settings.sort, settings.reverse);
    }
    idx.into_iter().map(Line::Socket).collect()
}

fn first_pid(s: &Socket) -> Option<u32> {
    s.owners.first().map(|o| o.pid)
}

fn info(s: &Socket) -> Option<&portscope::model::TcpInfo> {
    s.extra.as_ref().and_then(|x| x.tcp_info.as_ref())
}

/// The library's sort key for a column.
pub const fn order_key(col: SockCol) -> Key {
    match col {
        SockCol::Mark => Key::Closed,
        SockCol::Proto => Key::Proto,
        SockCol::Local => Key::Local,
        SockCol::Remote => Key::Remote,
        SockCol::State => Key::State,
        SockCol::Process => Key::Process,
        SockCol::In => Key::In,
        SockCol::Out => Key::Out,
        SockCol::Rtt => Key::Rtt,
        SockCol::Retr => Key::Retransmits,
        SockCol::Cwnd => Key::Cwnd,
        SockCol::RecvQ => Key::RecvQ,
        SockCol::SendQ => Key::SendQ,
        SockCol::Service => Key::Service,
        SockCol::Uid => Key::User,
    }
}

/// Sorts row indices by `col` ([`portscope::order`], keys computed once per
/// row); ties fall back to the local then remote address and the socket's
/// id, so equal rows do not swap between refreshes.
pub fn sort_sockets(tracker: &Tracker, idx: &mut Vec<usize>, col: SockCol, reverse: bool) {
    let all = tracker.rows();
    let (kept, rows): (Vec<usize>, Vec<Row<'_>>) = idx
        .iter()
        .filter_map(|&i| {
            all.get(i).map(|t| {
                let row = Row {
                    socket: &t.socket,
                    rate: t.rate,
                    gone: t.gone.is_some(),
                };
                (i, row)
            })
        })
        .unzip();
    let order = Order::new(order_key(col))
        .reversed(reverse)
        .ties(Ties::Address)
        .ephemeral(crate::system::ephemeral_range());
    let perm = order.permutation(&rows, &tracker.context);
    idx.clear();
    idx.extend(perm.into_iter().filter_map(|k| kept.get(k).copied()));
}

fn service_name(s: &Socket, eph: Option<EphemeralRange>) -> Option<&'static str> {
    annotate::service_of(s, eph)
        .and_then(|i| i.service)
        .map(|x| x.name)
}

/// Groups the shown sockets by their first owner.
fn group(tracker: &Tracker, idx: &[usize], now: Instant) -> Vec<Group> {
    let ctx = &tracker.context;
    let mut by_pid: HashMap<Option<u32>, Group> = HashMap::new();
    for t in idx.iter().filter_map(|&i| tracker.rows().get(i)) {
        let s = &t.socket;
        let pid = first_pid(s);
        let g = by_pid.entry(pid).or_insert_with(|| Group {
            pid,
            name: match pid {
                Some(p) => ctx
                    .processes
                    .get(&p)
                    .map(|p| p.name.escaped().to_string())
                    .unwrap_or_else(|| "?".into()),
                None if s.owners_hidden => "(hidden)".into(),
                None => "(no owner)".into(),
            },
            sockets: 0,
            listening: Vec::new(),
            rate: Rate::default(),
            new: false,
            gone: true,
        });
        if t.gone.is_none() {
            g.sockets += 1;
            g.gone = false;
            if s.is_listening()
                && let Some(p) = s.local.port()
            {
                g.listening.push(p);
            }
        }
        g.new |= t.is_new(now);
        if let Some(r) = t.rate {
            g.rate = g.rate.plus(r);
        }
    }
    let mut groups: Vec<Group> = by_pid.into_values().collect();
    for g in &mut groups {
        g.listening.sort_unstable();
        g.listening.dedup();
    }
    groups
}

/// Sorts groups by `col`, ties by pid.
pub fn sort_groups(groups: &mut [Group], col: GroupCol, reverse: bool) {
    groups.sort_by(|a, b| {
        let o = match col {
            GroupCol::Mark => a.gone.cmp(&b.gone),
            GroupCol::Process => a.name.cmp(&b.name),
            GroupCol::Pid => Ordering::Equal,
            GroupCol::Sockets => a.sockets.cmp(&b.sockets),
            GroupCol::Listening => a.listening.cmp(&b.listening),
            GroupCol::In => a.rate.inbound.total_cmp(&b.rate.inbound),
            GroupCol::Out => a.rate.outbound.total_cmp(&b.rate.outbound),
        }
        .then_with(|| a.pid.cmp(&b.pid));
        if reverse { o.reverse() } else { o }
    });
}

/// A state as ss spells it (`ESTAB`, `TIME-WAIT`, `UNCONN`…): shorter than
/// netstat's, and what users of `watch ss` know.
pub fn state_label(s: &Socket) -> &'static str {
    match s.state {
        TcpState::Established => "ESTAB",
        TcpState::SynSent => "SYN-SENT",
        TcpState::SynRecv | TcpState::NewSynRecv => "SYN-RECV",
        TcpState::FinWait1 => "FIN-WAIT-1",
        TcpState::FinWait2 => "FIN-WAIT-2",
        TcpState::TimeWait => "TIME-WAIT",
        TcpState::Close if s.proto != Proto::Tcp => "UNCONN",
        TcpState::Close => "CLOSE",
        TcpState::CloseWait => "CLOSE-WAIT",
        TcpState::LastAck => "LAST-ACK",
        TcpState::Listen => "LISTEN",
        TcpState::Closing => "CLOSING",
    }
}

/// A round-trip time in a few characters: `46us`, `1.2ms`, `120ms`, `1.5s`.
pub fn rtt_label(us: u32) -> String {
    match us {
        0..1000 => format!("{us}us"),
        1000..10_000 => format!("{:.1}ms", f64::from(us) / 1000.0),
        10_000..1_000_000 => format!("{}ms", us / 1000),
        _ => format!("{:.1}s", f64::from(us) / 1e6),
    }
}

/// The text of one socket cell.
pub fn socket_cell(
    col: SockCol,
    t: &Tracked,
    ctx: &Snapshot,
    eph: Option<EphemeralRange>,
    now: Instant,
) -> String {
    let s = &t.socket;
    let rate = |f: fn(&Rate) -> f64| t.rate.as_ref().map(|r| human(f(r))).unwrap_or_default();
    match col {
        SockCol::Mark => {
            if t.gone.is_some() {
                "-".into()
            } else if t.is_new(now) {
                "+".into()
            } else {
                String::new()
            }
        }
        SockCol::Proto => proto_label(s).into(),
        SockCol::Local => s.shown_local().to_string(),
        SockCol::Remote => s.shown_remote().to_string(),
        SockCol::State => state_label(s).into(),
        SockCol::Process => {
            let mut b = String::new();
            crate::render::push_owners(&mut b, s, ctx);
            b
        }
        SockCol::In => rate(|r| r.inbound),
        SockCol::Out => rate(|r| r.outbound),
        SockCol::Rtt => info(s)
            .filter(|i| i.rtt_us > 0)
            .map(|i| rtt_label(i.rtt_us))
            .unwrap_or_default(),
        SockCol::Retr => info(s)
            .map(|i| i.total_retrans.to_string())
            .unwrap_or_default(),
        SockCol::Cwnd => info(s)
            .filter(|i| i.snd_cwnd > 0)
            .map(|i| i.snd_cwnd.to_string())
            .unwrap_or_default(),
        SockCol::RecvQ => s.recv_q.to_string(),
        SockCol::SendQ => s.send_q.to_string(),
        SockCol::Service => service_name(s, eph).unwrap_or_default().into(),
        SockCol::Uid => s.uid.map_or_else(|| "-".into(), |u| u.to_string()),
    }
}

/// The text of one group cell.
pub fn group_cell(col: GroupCol, g: &Group) -> String {
    match col {
        GroupCol::Mark => {
            if g.gone {
                "-".into()
            } else if g.new {
                "+".into()
            } else {
                String::new()
            }
        }
        GroupCol::Process => g.name.clone(),
        GroupCol::Pid => g.pid.map(|p| p.to_string()).unwrap_or_default(),
        GroupCol::Sockets => g.sockets.to_string(),
        GroupCol::Listening => {
            let ports: Vec<String> = g.listening.iter().map(u16::to_string).collect();
            ports.join(",")
        }
        GroupCol::In => human(g.rate.inbound),
        GroupCol::Out => human(g.rate.outbound),
    }
}
