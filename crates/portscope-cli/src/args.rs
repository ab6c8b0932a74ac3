//! Command-line definitions (clap derive) and nothing else: the flags as data.
//! `config.rs` turns them into validated settings for the layers below.

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use portscope::order::Key;

/// Every network endpoint on this machine: protocol, addresses, state, the
/// processes behind it, and what its port means.
///
/// With no options, lists all TCP and UDP sockets (listening and connected)
/// with the processes that hold them. Options follow ss and netstat habits:
/// `portscope -tlnp`, `portscope -ano`, `portscope -xa`.
#[derive(Debug, Parser)]
#[command(
    name = "portscope",
    version,
    after_help = "Exit status: 0 success, 1 nothing found (who, close, scan, pid, history), a wait timed out, or an audit finding at --fail-on, 2 bad usage or input, 3 system error.\n\
                  Once a protocol or state option (-t -u -w -x -l -a -4 -6 -n) is given, the \
                  process column appears only with -p, -o or -e, and without -a or -l only what ss \
                  lists by default is listed (no listening, unconnected, TIME-WAIT or SYN-RECV \
                  sockets), as with ss and netstat.\n\
                  Options may come before or after the filter words (`portscope sport = :22 -tlnp`), \
                  for every command; `--` ends them, so that filter words after it are never read as options."
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// A command; without one, portscope lists sockets.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Listing options.
    #[command(flatten)]
    pub list: ListArgs,
}

/// Commands besides the listing.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// What holds these ports: `who 3000`, `who 5432 8080`, `who 3000-3100`,
    /// `who https`, `who 53/udp`. Exit 0 if something holds them, 1 if not.
    Who(WhoArgs),
    /// Everything known about ports or services: `explain 22`, `explain ssh`,
    /// `explain 8080/udp`, `explain 22 80 443`, `explain 8000-8010`.
    Explain(ExplainArgs),
    /// Close live TCP connections without killing their process (as `ss -K`):
    /// `close dport = :443`. Needs root (CAP_NET_ADMIN).
    Close(CloseArgs),
    /// What this machine exposes: findings about its listeners, by severity.
    /// Exit 0, or with --fail-on 1 when a finding is at or above the level.
    Audit(AuditArgs),
    /// What answers from the outside: a TCP connect scan with service
    /// identification, `scan 127.0.0.1`, `scan host -p top100`,
    /// `scan 10.0.0.0/28 -p 22,443`, `scan localhost --udp`. Exit 0 if some
    /// port is open, 1 if none.
    #[cfg_attr(not(feature = "scan"), command(hide = true))]
    Scan(ScanArgs),
    /// A live view in the terminal: sockets refreshing every second, new ones
    /// highlighted, closed ones greyed, throughput per connection; sort,
    /// filter, group by process, SIGTERM an owner. `?` inside shows the keys.
    Watch(WatchArgs),
    /// Every connection's life as it happens, one line per event: listen,
    /// unlisten, replaced, open, close (with duration and bytes), state,
    /// lost. `--record` also appends them to a history database.
    Events(EventsArgs),
    /// What happened, from the database `events --record` writes:
    /// `history --since 1h dport = :22`, `history --summary`.
    History(HistoryArgs),
    /// Wait until ports are listening (or, with `--state free`, no longer
    /// held): `wait 5432`, `wait 8080 postgresql --timeout 1m`. Exit 0 when
    /// they are, 1 at the timeout (saying what is missing or who holds them).
    Wait(WaitArgs),
    /// Who talks to whom on this machine: both ends of every local TCP
    /// connection and connected unix socket joined, grouped by process; a
    /// tree, or --dot, --mermaid, --json.
    Map(MapArgs),
    /// The process behind a connection in one screen: parent chain, start
    /// time, users, executable, command line, cgroup, every socket it holds,
    /// its throughput and audit findings. `pid 812`, `pid nginx`.
    Pid(PidArgs),
    /// A long-running server: Prometheus metrics at /metrics, a read-only
    /// JSON API under /api/v1/ and a live web page at /, refreshed every
    /// --interval. Binds 127.0.0.1:9911 unless told otherwise.
    #[cfg_attr(not(feature = "serve"), command(hide = true))]
    Serve(ServeArgs),
    /// A shell completion script on stdout, from the same definitions as
    /// `--help`: `portscope completions bash > /etc/bash_completion.d/portscope`.
    Completions(CompletionsArgs),
    /// The manual page (roff) on stdout, from the same definitions as
    /// `--help`: `portscope man | man -l -`.
    Man,
}

/// `portscope completions` options.
#[derive(Debug, ClapArgs)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: ShellArg,
}

/// Shells a completion script is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ShellArg {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// Elvish.
    Elvish,
    /// PowerShell.
    Powershell,
}

/// `portscope serve` options.
#[derive(Debug, ClapArgs)]
pub struct ServeArgs {
    /// Address and port to listen on. Anything but a loopback address needs
    /// --token-file or --allow-unauthenticated.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9911")]
    pub listen: String,
    /// Seconds between refreshes (requests never trigger one).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub interval: f64,
    /// A file holding the bearer token that /metrics and /api/ require
    /// (`Authorization: Bearer TOKEN`); surrounding whitespace is ignored.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// Serve a non-loopback address without a token.
    #[arg(long)]
    pub allow_unauthenticated: bool,
    /// How many processes get their own `portscope_process_sockets` series;
    /// the rest are summed under process="other".
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// Which sockets.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Where sockets come from.
    #[arg(long, value_enum, default_value_t = SourceArg::Auto)]
    pub source: SourceArg,
    /// Serve a saved `--json` listing instead of this machine's sockets.
    #[arg(long, value_name = "FILE", hide = true)]
    pub from_snapshot: Option<std::path::PathBuf>,
    /// Which network namespaces.
    #[command(flatten)]
    pub ns: NetnsArg,
}

/// `portscope events` options.
#[derive(Debug, ClapArgs)]
pub struct EventsArgs {
    /// Which events, by their socket, in the listing's filter language
    /// (`dport = :443`, `process nginx`).
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Which sockets (TCP and UDP; -x, -w, --packet, --netlink and -M are
    /// refused: those have no destroy notifications).
    #[command(flatten)]
    pub select: SelectArgs,
    /// Only these kinds of event (comma-separated): listen, unlisten,
    /// replaced, open, close, state, lost.
    #[arg(long, value_name = "KIND", value_delimiter = ',')]
    pub event: Vec<String>,
    /// One JSON object per line (NDJSON; schema in the README).
    #[arg(long)]
    pub json: bool,
    /// Times in UTC instead of local time.
    #[arg(long)]
    pub utc: bool,
    /// Also append every event to the history database (`--record=FILE`,
    /// or --db FILE; default as for `history`).
    #[arg(
        long,
        value_name = "FILE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ""
    )]
    pub record: Option<std::path::PathBuf>,
    /// The history database to record into.
    #[arg(long, value_name = "FILE")]
    pub db: Option<std::path::PathBuf>,
    /// With --record: delete events older than this (`30m`, `12h`, `7d`).
    #[arg(long, value_name = "AGE", default_value = "7d")]
    pub keep: String,
    /// With --record: keep the database under this size, oldest events
    /// deleted first (`500M`, `2G`).
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,
    /// Milliseconds between the dumps that find new sockets and their
    /// owners: a connection living longer is attributed, a shorter one may
    /// say "owner unknown".
    #[arg(long, value_name = "MS", default_value_t = 250)]
    pub refresh: u64,
    /// Receive buffer of the destroy subscription, in bytes (default: the
    /// most the kernel allows, net.core.rmem_max).
    #[arg(long, value_name = "BYTES")]
    pub rcvbuf: Option<usize>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Which network namespaces.
    #[command(flatten)]
    pub ns: NetnsArg,
}

/// `portscope history` options.
#[derive(Debug, ClapArgs)]
pub struct HistoryArgs {
    /// Which events, by their socket, in the listing's filter language.
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
    /// The database (default: /var/lib/portscope/events.db as root,
    /// $XDG_STATE_HOME/portscope/events.db otherwise).
    #[arg(long, value_name = "FILE")]
    pub db: Option<std::path::PathBuf>,
    /// Only events since then: an age (`90s`, `30m`, `1h`, `7d`) or an RFC
    /// 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only events before then (as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only these kinds of event (comma-separated), as for `events`.
    #[arg(long, value_name = "KIND", value_delimiter = ',')]
    pub event: Vec<String>,
    /// Counts, connections and bytes by process, remote peer, local port and hour.
    #[arg(long)]
    pub summary: bool,
    /// One JSON object per line, as `events --json` (with --summary, one object).
    #[arg(long)]
    pub json: bool,
    /// Times in UTC instead of local time.
    #[arg(long)]
    pub utc: bool,
    /// At most this many events, the latest (default: all).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

/// `portscope wait` options.
#[derive(Debug, ClapArgs)]
pub struct WaitArgs {
    /// Ports, ranges or service names, optionally with /tcp or /udp (as for `who`).
    #[arg(required = true, value_name = "PORT|SERVICE")]
    pub ports: Vec<String>,
    /// Give up after this long: `30s`, `500ms`, `2m`, or seconds.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub timeout: String,
    /// Wait for the ports to be listening, or to be free (no socket holds them).
    #[arg(long, value_enum, default_value_t = WaitState::Listen)]
    pub state: WaitState,
    /// Time between checks: `100ms`, `1s`.
    #[arg(long, value_name = "DURATION", default_value = "100ms")]
    pub interval: String,
    /// Print nothing; only the exit status tells.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Check a saved `--json` listing instead of this machine's sockets.
    #[arg(long, value_name = "FILE", hide = true)]
    pub from_snapshot: Option<std::path::PathBuf>,
    /// Which network namespaces.
    #[command(flatten)]
    pub ns: NetnsArg,
}

/// What `wait` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WaitState {
    /// Every port has a listener (TCP LISTEN or a bound, unconnected UDP socket).
    Listen,
    /// No socket holds any of the ports (TIME_WAIT does not count).
    Free,
}

/// `portscope map` options.
#[derive(Debug, ClapArgs)]
pub struct MapArgs {
    /// Output as Graphviz DOT (`portscope map --dot | dot -Tsvg`).
    #[arg(long, conflicts_with_all = ["mermaid", "json"])]
    pub dot: bool,
    /// Output as a Mermaid flowchart.
    #[arg(long, conflicts_with = "json")]
    pub mermaid: bool,
    /// Output as JSON: nodes and edges (schema in the README).
    #[arg(long)]
    pub json: bool,
    /// Only TCP conversations.
    #[arg(short = 't', long = "tcp")]
    pub tcp: bool,
    /// Only unix socket conversations.
    #[arg(short = 'x', long = "unix")]
    pub unix: bool,
    /// Map a saved `--json` listing instead of this machine's sockets.
    #[arg(long, value_name = "FILE", hide = true)]
    pub from_snapshot: Option<std::path::PathBuf>,
    /// Which network namespaces.
    #[command(flatten)]
    pub ns: NetnsArg,
}

/// `portscope pid` options.
#[derive(Debug, ClapArgs)]
pub struct PidArgs {
    /// A process id, or a process name (every process of that name).
    #[arg(value_name = "PID|NAME")]
    pub target: String,
    /// Output as JSON.
    #[arg(long)]
    pub json: bool,
    /// Milliseconds over which to measure the connections' throughput (0: counters only).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub interval: u64,
    /// Describe a process of a saved `--json` listing instead of this machine's.
    #[arg(long, value_name = "FILE", hide = true)]
    pub from_snapshot: Option<std::path::PathBuf>,
}

/// `portscope watch` options.
#[derive(Debug, ClapArgs)]
pub struct WatchArgs {
    /// Seconds between refreshes.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub interval: f64,
    /// Which sockets.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Start with the listening-only view (toggle with `l`).
    #[arg(short = 'l', long = "listening")]
    pub listening: bool,
    /// Where sockets come from.
    #[arg(long, value_enum, default_value_t = SourceArg::Auto)]
    pub source: SourceArg,
    /// Replay a saved `--json` listing instead of this machine's sockets.
    #[arg(long, value_name = "FILE", hide = true)]
    pub from_snapshot: Option<std::path::PathBuf>,
    /// The initial filter, in the listing's language (edit it with `/`).
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Which network namespaces.
    #[command(flatten)]
    pub ns: NetnsArg,
}

/// `portscope close` options.
#[derive(Debug, ClapArgs)]
pub struct CloseArgs {
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Allow the filter to select listening sockets too.
    #[arg(long)]
    pub listening: bool,
    /// Go ahead only if the filter selects exactly N connections. Above 5,
    /// --yes needs this (or --all); on a terminal, typing the number does.
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,
    /// Close however many connections the filter selects (above 5, --yes
    /// alone is not enough).
    #[arg(long)]
    pub all: bool,
    /// Show the connections the filter selects and close nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Select from a saved `--json` listing instead of this machine's
    /// sockets (nothing can be closed there).
    #[arg(long, value_name = "FILE", hide = true)]
    pub from_snapshot: Option<std::path::PathBuf>,
    /// Which connections, in the filter language of the listing. Required.
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Which network namespaces.
    #[command(flatten)]
    pub ns: NetnsArg,
}

/// `portscope audit` options.
#[derive(Debug, ClapArgs)]
pub struct AuditArgs {
    /// Output as JSON.
    #[arg(long)]
    pub json: bool,
    /// List the rules (id, severity, what they test, advice) and exit.
    #[arg(long)]
    pub rules: bool,
    /// Leave out a rule, by id (repeatable, or comma-separated).
    #[arg(long, value_name = "RULE", value_delimiter = ',')]
    pub skip: Vec<String>,
    /// Report only findings new or gone since FILE: a saved `audit --json`,
    /// or a saved `--json` listing.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<std::path::PathBuf>,
    /// Exit 1 when a reported finding is at or above this severity, else 0.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<SeverityArg>,
    /// When to colour the report.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    pub color: ColorArg,
    /// Audit a saved `--json` listing instead of this machine's sockets.
    #[arg(long, value_name = "FILE", hide = true)]
    pub from_snapshot: Option<std::path::PathBuf>,
    /// Which network namespaces.
    #[command(flatten)]
    pub ns: NetnsArg,
}

/// Finding severities, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    /// Worth knowing.
    Info,
    /// Hardening opportunity.
    Low,
    /// Exposure that should be deliberate.
    Medium,
    /// Likely a problem now.
    High,
}

/// `portscope scan` options.
#[derive(Debug, ClapArgs)]
pub struct ScanArgs {
    /// Host names, addresses or CIDR blocks.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Ports: `22,80,443`, `1-1024`, `top100`, `top1000`, `all`, service
    /// names, or a mix. Default: top1000 for TCP, the probed services for UDP.
    #[arg(short = 'p', long, value_name = "SPEC")]
    pub ports: Option<String>,
    /// Probe well-known UDP services (DNS, NTP, SNMP, SSDP, SIP, memcached) instead of TCP.
    #[arg(long)]
    pub udp: bool,
    /// Milliseconds to wait for a connection (UDP: for an answer).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub timeout: u64,
    /// Attempts again after a timeout.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub retries: u32,
    /// At most this many connection attempts per second.
    #[arg(long, value_name = "N")]
    pub rate: Option<u32>,
    /// Connection attempts in flight at once (default 4096; never more than
    /// the open-file limit allows).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// How many hosts a target list or CIDR block may expand to (at most
    /// 4294967296).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_hosts: usize,
    /// Milliseconds to wait for an open port's greeting before probing it
    /// (at most 250 on ports where the client speaks first: TLS, HTTP, the
    /// probed services' ports).
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub banner_timeout: u64,
    /// Only find open ports: no greeting read, no probes.
    #[arg(long)]
    pub no_probe: bool,
    /// Only list open ports (JSON lists every port otherwise).
    #[arg(long)]
    pub open: bool,
    /// Output as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `portscope explain` options.
#[derive(Debug, ClapArgs)]
pub struct ExplainArgs {
    /// Ports, port ranges (`8000-8010`) or service names, each optionally
    /// with /tcp, /udp, /sctp or /dccp; several, or comma-separated. At most
    /// 1024 ports in all.
    #[arg(required = true, value_name = "PORT|SERVICE", value_delimiter = ',')]
    pub targets: Vec<String>,
    /// Output as JSON.
    #[arg(long)]
    pub json: bool,
    /// Explain from a saved `--json` listing instead of this machine's sockets.
    #[arg(long, value_name = "FILE", hide = true)]
    pub from_snapshot: Option<std::path::PathBuf>,
    /// Which network namespaces.
    #[command(flatten)]
    pub ns: NetnsArg,
}

/// `portscope who` options.
#[derive(Debug, ClapArgs)]
pub struct WhoArgs {
    /// Ports, ranges or service names, optionally with /tcp or /udp.
    #[arg(required = true, value_name = "PORT|SERVICE")]
    pub ports: Vec<String>,
    /// Send SIGTERM to the processes serving the ports: holders of a TCP
    /// listener, an unconnected UDP socket, or a connection on a port they
    /// listen on. Each is pinned when listed and signalled only if it is
    /// still that process and still holds the socket ("exited meanwhile"
    /// otherwise), so a reused pid is never hit.
    #[arg(long)]
    pub kill: bool,
    /// With --kill: also signal processes holding only client connections
    /// whose (ephemeral) local port is among the ports.
    #[arg(long, requires = "kill")]
    pub any_socket: bool,
    /// With --kill: the signal to send, by name (HUP, INT, TERM…) or number.
    #[arg(long, value_name = "NAME|N", requires = "kill")]
    pub signal: Option<String>,
    /// With --kill: send SIGKILL.
    #[arg(long, requires = "kill", conflicts_with = "signal")]
    pub force: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Output as JSON.
    #[arg(long)]
    pub json: bool,
    /// Answer from a saved `--json` listing instead of this machine's
    /// sockets (nothing can be signalled there).
    #[arg(long, value_name = "FILE", hide = true)]
    pub from_snapshot: Option<std::path::PathBuf>,
    /// Which network namespaces.
    #[command(flatten)]
    pub ns: NetnsArg,
}

/// `-N/--netns`: which network namespaces, the same for every command that
/// lists sockets.
#[derive(Debug, Default, ClapArgs)]
pub struct NetnsArg {
    /// Which network namespaces: NAME (an `ip netns` name or a container's),
    /// PID (the one that process runs in), `host` or `all`. Default: all of
    /// them when run as root in the host's, otherwise this one.
    #[arg(short = 'N', long = "netns", value_name = "NAME|PID|host|all")]
    pub netns: Option<String>,
}

/// Which sockets: the protocol and family flags the listing and the live
/// view share. No protocol flag means TCP and UDP; no family flag, both.
#[derive(Debug, ClapArgs)]
pub struct SelectArgs {
    /// Show TCP sockets.
    #[arg(short = 't', long = "tcp")]
    pub tcp: bool,
    /// Show UDP sockets.
    #[arg(short = 'u', long = "udp")]
    pub udp: bool,
    /// Show raw sockets.
    #[arg(short = 'w', long = "raw")]
    pub raw: bool,
    /// Show unix domain sockets.
    #[arg(short = 'x', long = "unix")]
    pub unix: bool,
    /// Show packet sockets (AF_PACKET: sniffers, DHCP clients, capture tools).
    #[arg(short = '0', long = "packet")]
    pub packet: bool,
    /// Show netlink sockets.
    #[arg(long = "netlink")]
    pub netlink: bool,
    /// Show MPTCP sockets.
    #[arg(short = 'M', long = "mptcp")]
    pub mptcp: bool,
    /// Only IPv4 sockets.
    #[arg(short = '4', long = "ipv4")]
    pub ipv4: bool,
    /// Only IPv6 sockets.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
}

/// The listing's options.
#[derive(Debug, ClapArgs)]
pub struct ListArgs {
    /// A filter in ss's language, e.g. `state established '( dport = :443 or sport = :443 )'`,
    /// plus `process GLOB`, `pid N`, `user NAME`, `service NAME`, `class system|user|dynamic`,
    /// `netns NAME`, `container NAME`.
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Which sockets.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Only listening sockets (TCP LISTEN; unconnected UDP, raw and unix datagram).
    #[arg(short = 'l', long = "listening")]
    pub listening: bool,
    /// All states, listening and connected (the default when no selection
    /// option is given).
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Numeric output (the default): addresses are not resolved; services
    /// still get their column. Overrides -r.
    #[arg(short = 'n', long = "numeric")]
    pub numeric: bool,
    /// Resolve addresses to host names (the hosts file, then DNS as the
    /// system is configured), all at once with one deadline for the whole
    /// listing: what has not answered by then stays numeric, marked `~`, and
    /// the run says how many. Table and JSON (`"name"`); CSV and the netstat
    /// layout stay numeric.
    #[arg(short = 'r', long = "resolve")]
    pub resolve: bool,
    /// With -r: how long the whole listing may wait for names: `1s`, `300ms`.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration_arg)]
    pub resolve_timeout: std::time::Duration,
    /// Show the processes holding each socket.
    #[arg(short = 'p', long = "processes")]
    pub processes: bool,
    /// Show the owning process id (as Windows netstat -o); same as -p.
    #[arg(short = 'o', long = "owner")]
    pub owner: bool,
    /// Summary: counts by protocol and state, listening ports, top processes and peers.
    #[arg(short = 's', long = "summary")]
    pub summary: bool,
    /// Extended: user, inode and full command line of the owners.
    #[arg(short = 'e', long = "extended")]
    pub extended: bool,
    /// Output as one JSON array (schema in the README).
    #[arg(long, conflicts_with_all = ["csv", "format"])]
    pub json: bool,
    /// Output as CSV with a header row.
    #[arg(long, conflicts_with = "format")]
    pub csv: bool,
    /// Output layout.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Leave out the header line.
    #[arg(short = 'H', long = "no-header")]
    pub no_header: bool,
    /// Sort rows by a column.
    #[arg(long, value_enum, value_name = "COLUMN")]
    pub sort: Option<SortKey>,
    /// Reverse the sort order.
    #[arg(long, requires = "sort")]
    pub reverse: bool,
    /// Where sockets come from: netlink (sock_diag), or the /proc/net files.
    #[arg(long, value_enum, default_value_t = SourceArg::Auto)]
    pub source: SourceArg,
    /// Which network namespaces.
    #[command(flatten)]
    pub ns: NetnsArg,
    /// When to colour the table.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    pub color: ColorArg,
    /// TCP internals, as `ss -i`: rtt/rttvar, cwnd, ssthresh, retransmits,
    /// bytes sent/acked/received, delivery rate, congestion algorithm.
    #[arg(short = 'i', long = "info")]
    pub info: bool,
    /// Socket memory, as `ss -m` (skmem: r, rb, t, tb, f, w, o, bl, d).
    #[arg(short = 'm', long = "memory")]
    pub memory: bool,
    /// Timers, as `ss -o`: timer:(keepalive,119min,0).
    #[arg(short = 'O', long = "timers")]
    pub timers: bool,
    /// Reprint the listing every SECONDS (default 1) until interrupted.
    /// SECONDS is taken only when the next word is a number: `-c 2`,
    /// `-c sport = :80` (every second, filtered).
    #[arg(
        short = 'c',
        long = "continuous",
        value_name = "SECONDS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "1"
    )]
    pub continuous: Option<f64>,
    /// With -c: after the first listing, print only what changed, `+` for
    /// new sockets and `-` for gone ones (a state change is both).
    #[arg(long, requires = "continuous")]
    pub changes: bool,
    /// Render a saved `--json` listing instead of this machine's sockets.
    #[arg(long, value_name = "FILE", hide = true)]
    pub from_snapshot: Option<std::path::PathBuf>,
}

/// A `--resolve-timeout`-style duration (`1s`, `300ms`, `2m`).
fn duration_arg(text: &str) -> Result<std::time::Duration, String> {
    crate::cmd::wait::parse_duration(text)
}

/// Output layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// The Windows `netstat -ano` layout: Proto, Local Address, Foreign Address, State, PID.
    Netstat,
    /// One JSON array.
    Json,
    /// CSV with a header row.
    Csv,
}

/// A column to sort by: one of [`Key::LISTING`], named and explained there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortKey(pub Key);

/// Every `--sort` key, in [`Key::LISTING`]'s order.
const SORT_KEYS: [SortKey; Key::LISTING.len()] = {
    let mut keys = [SortKey(Key::Proto); Key::LISTING.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = SortKey(Key::LISTING[i].0);
        i += 1;
    }
    keys
};

impl ValueEnum for SortKey {
    fn value_variants<'a>() -> &'a [Self] {
        &SORT_KEYS
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let (_, name, help) = Key::LISTING.iter().find(|(k, _, _)| *k == self.0)?;
        Some(clap::builder::PossibleValue::new(*name).help(*help))
    }
}

/// Socket sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    /// Netlink, or /proc/net when netlink is refused.
    Auto,
    /// NETLINK_SOCK_DIAG only.
    Netlink,
    /// The /proc/net text files.
    Procfs,
}

/// Colour choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// Colour when stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}
