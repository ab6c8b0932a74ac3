//! Validated settings for a listing, built once from the parsed flags.
//! Nothing below this module sees clap types.

use portscope::collect::{Options, SourceChoice};
use portscope::filter::{Filter, FilterError};
use portscope::model::{Detail, Query, StateSet, TcpState};

use std::time::Duration;

use crate::args::{ColorArg, Format, ListArgs, SelectArgs, SortKey, SourceArg};

/// How to list.
#[derive(Clone, Debug)]
pub struct ListConfig {
    /// What to collect.
    pub collect: Options,
    /// Keep only listening sockets (TCP LISTEN, unconnected datagram sockets).
    pub listening_only: bool,
    /// Show the process column (and collect owners).
    pub owners: bool,
    /// Show user, inode and command line.
    pub extended: bool,
    /// Output layout.
    pub format: Format,
    /// Print a header line.
    pub header: bool,
    /// Sort key and direction.
    pub sort: Option<(SortKey, bool)>,
    /// Colour the table.
    pub color: anstream::ColorChoice,
    /// Read the sockets from a saved JSON listing instead of the kernel.
    pub from_snapshot: Option<std::path::PathBuf>,
    /// The filter expression (matches everything when none was given).
    pub filter: Filter,
    /// Reprint every so many seconds (`-c`), until interrupted; checked
    /// with [`interval`] when the listing starts.
    pub continuous: Option<f64>,
    /// With `continuous`: print only what changed.
    pub changes: bool,
    /// `-N/--netns`, as given (resolved against the system in use).
    pub netns: Option<String>,
    /// Resolve addresses to names, waiting at most this long for all of them.
    pub resolve: Option<Duration>,
}

/// The states ss lists when given no state and neither -a nor -l (its
/// `SS_CONN`): everything but LISTEN, CLOSE (unconnected UDP, raw and unix
/// datagram sockets), TIME-WAIT and SYN-RECV (with its request sockets).
pub const SS_DEFAULT_STATES: StateSet = StateSet::ALL
    .without(TcpState::Listen)
    .without(TcpState::Close)
    .without(TcpState::TimeWait)
    .without(TcpState::SynRecv)
    .without(TcpState::NewSynRecv);

/// The longest interval `-c` and `watch --interval` accept: a day.
const MAX_INTERVAL: f64 = 86_400.0;

/// Seconds from the command line as a positive interval of at most a day.
pub fn interval(flag: &str, secs: f64) -> Result<Duration, String> {
    if secs.is_finite() && secs > 0.0 && secs <= MAX_INTERVAL {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(format!(
            "{flag} takes seconds above 0 and at most {MAX_INTERVAL}, not {secs}"
        ))
    }
}

/// The sockets the protocol and family flags select, in every state.
pub fn select_query(sel: &SelectArgs) -> Query {
    let any_proto =
        sel.tcp || sel.udp || sel.raw || sel.unix || sel.packet || sel.netlink || sel.mptcp;
    Query {
        tcp: sel.tcp || !any_proto,
        udp: sel.udp || !any_proto,
        raw: sel.raw,
        unix: sel.unix,
        packet: sel.packet,
        netlink: sel.netlink,
        mptcp: sel.mptcp,
        ipv4: sel.ipv4 || !sel.ipv6,
        ipv6: sel.ipv6 || !sel.ipv4,
        states: StateSet::ALL,
    }
}

/// The collector's source for the `--source` flag.
pub fn source_choice(arg: SourceArg) -> SourceChoice {
    match arg {
        SourceArg::Auto => SourceChoice::Auto,
        SourceArg::Netlink => SourceChoice::Netlink,
        SourceArg::Procfs => SourceChoice::Procfs,
    }
}

impl ListConfig {
    /// A listing of TCP and UDP sockets in every state, with owners, as table:
    /// the base that commands other than the listing start from.
    pub fn with_owners() -> ListConfig {
        let query = Query {
            raw: false,
            unix: false,
            ..Query::default()
        };
        ListConfig {
            collect: Options {
                query,
                owners: true,
                source: SourceChoice::Auto,
                detail: Detail::default(),
                ..Options::default()
            },
            listening_only: false,
            owners: true,
            extended: false,
            format: Format::Table,
            header: true,
            sort: None,
            color: anstream::ColorChoice::Auto,
            from_snapshot: None,
            filter: Filter::default(),
            continuous: None,
            changes: false,
            netns: None,
            resolve: None,
        }
    }

    /// Builds the listing settings from the flags; a bad filter is an error.
    pub fn from_args(a: &ListArgs) -> Result<ListConfig, FilterError> {
        let filter = Filter::parse(&a.filter)?;
        let sel = &a.select;
        let selection_given = sel.tcp
            || sel.udp
            || sel.raw
            || sel.unix
            || sel.packet
            || sel.netlink
            || sel.mptcp
            || sel.ipv4
            || sel.ipv6
            || a.listening
            || a.all
            || a.numeric;
        let mut query = select_query(sel);
        if a.listening {
            // LISTEN for TCP and unix streams; CLOSE is how the kernel reports
            // unconnected UDP, raw and unix datagram sockets.
            query.states = StateSet::only(TcpState::Listen).with(TcpState::Close);
        } else if selection_given && !a.all && !a.summary {
            // `ss -t`, `netstat -tn`: a selection without -a or -l lists what
            // ss lists by default. With no option at all, everything (the
            // `-ano` habit); -s always counts everything selected.
            query.states = SS_DEFAULT_STATES;
        }
        // State words and families the filter fixes go into the kernel request.
        let hint = filter.query_hint();
        let query = hint.apply(query);
        let owners = a.processes || a.owner || a.extended || !selection_given;
        // Sorting by the owner's pid or name needs the owners, shown or not.
        let sort_needs_owners = matches!(
            a.sort,
            Some(SortKey(
                portscope::order::Key::Pid | portscope::order::Key::Process
            ))
        );
        let format = match (a.json, a.csv, a.format) {
            (true, _, _) => Format::Json,
            (_, true, _) => Format::Csv,
            (_, _, Some(f)) => f,
            _ => Format::Table,
        };
        Ok(ListConfig {
            collect: Options {
                query,
                owners: owners || hint.needs_owners || sort_needs_owners,
                source: source_choice(a.source),
                detail: Detail {
                    info: a.info,
                    memory: a.memory,
                    timers: a.timers,
                },
                ..Options::default()
            },
            listening_only: a.listening,
            owners,
            extended: a.extended,
            format,
            header: !a.no_header,
            sort: a.sort.map(|k| (k, a.reverse)),
            color: match a.color {
                ColorArg::Auto => anstream::ColorChoice::Auto,
                ColorArg::Always => anstream::ColorChoice::Always,
                ColorArg::Never => anstream::ColorChoice::Never,
            },
            from_snapshot: a.from_snapshot.clone(),
            filter,
            continuous: a.continuous,
            changes: a.changes,
            netns: a.ns.netns.clone(),
            resolve: (a.resolve && !a.numeric).then_some(a.resolve_timeout),
        })
    }
}
