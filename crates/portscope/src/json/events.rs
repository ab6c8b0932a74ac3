//! One event as one JSON object (a line of `portscope events --json`,
//! NDJSON), with the listing's socket object inside, and back.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use portscope::events::{Event, EventKind};
//! use portscope::model::*;
//!
//! let mut e = Event::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1), EventKind::Close,
//!     Socket { local: Endpoint::v4([127, 0, 0, 1].into(), 5000), cookie: 4, ..Socket::default() });
//! e.bytes_sent = Some(100);
//! let mut line = Vec::new();
//! portscope::json::write_event(&mut line, &e, None, "1970-01-01T00:00:01Z").unwrap();
//! let back = portscope::json::read_event(std::str::from_utf8(&line).unwrap()).unwrap();
//! assert_eq!(back.kind, EventKind::Close);
//! assert_eq!(back.bytes_sent, Some(100));
//! assert_eq!(back.socket.local, e.socket.local);
//! ```

use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::Listing;
use super::read::{Listing as ListingIn, SocketIn};
use crate::events::{Event, EventKind};
use crate::model::{Detail, Process, Snapshot, Socket, Source, TcpState};
use crate::services::EphemeralRange;

#[derive(Serialize)]
struct EventOut<'a> {
    time: &'a str,
    time_ms: u64,
    event: &'static str,
    netns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    socket: Option<super::SocketOut<'a>>,
    /// False when no owner walk saw the socket: it lived under `lived_under_ms`.
    owner_known: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    lived_under_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_sent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_received: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt_us: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retransmits: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<super::SocketOut<'a>>,
    /// For `lost`: how many notifications were dropped (null: at least one).
    #[serde(skip_serializing_if = "Option::is_none")]
    lost: Option<Option<u64>>,
}

fn snapshot_of(processes: &[Process]) -> Snapshot {
    Snapshot {
        processes: processes.iter().map(|p| (p.pid, p.clone())).collect(),
        ..Snapshot::default()
    }
}

/// Writes `e` as one JSON object and a newline, in one write. `time` is
/// the event's time as the caller shows it (RFC 3339, local or UTC).
pub fn write_event(
    out: &mut dyn Write,
    e: &Event,
    ephemeral: Option<EphemeralRange>,
    time: &str,
) -> io::Result<()> {
    let snap = snapshot_of(&e.processes);
    let prev_snap = e.previous.as_ref().map(|p| snapshot_of(&p.1));
    let has_info = e
        .socket
        .extra
        .as_ref()
        .is_some_and(|x| x.tcp_info.is_some());
    let listing = Listing {
        snap: &snap,
        owners: true,
        detail: Detail {
            info: has_info,
            ..Detail::default()
        },
        ephemeral,
    };
    let lost = e.kind == EventKind::Lost;
    let obj = EventOut {
        time,
        time_ms: e.time_ms(),
        event: e.kind.as_str(),
        netns: e.netns,
        socket: (!lost).then(|| listing.socket(&e.socket)),
        owner_known: !e.processes.is_empty(),
        lived_under_ms: e.lived_under_ms,
        duration_ms: e.duration_ms,
        bytes_sent: e.bytes_sent,
        bytes_received: e.bytes_received,
        rtt_us: e.rtt_us,
        retransmits: e.retransmits,
        from_state: e.from_state.map(|s| s.name_for(e.socket.proto)),
        previous: match (&e.previous, &prev_snap) {
            (Some(p), Some(snap)) => Some(
                Listing {
                    snap,
                    owners: true,
                    detail: Detail::default(),
                    ephemeral,
                }
                .socket(&p.0),
            ),
            _ => None,
        },
        lost: lost.then_some(e.lost),
    };
    let mut buf = serde_json::to_vec(&obj).map_err(io::Error::from)?;
    buf.push(b'\n');
    out.write_all(&buf)
}

#[derive(Deserialize)]
struct EventIn {
    time_ms: u64,
    event: String,
    #[serde(default)]
    netns: Option<u64>,
    #[serde(default)]
    socket: Option<SocketIn>,
    #[serde(default)]
    lived_under_ms: Option<u64>,
    #[serde(default)]
    duration_ms: Option<u64>,
    #[serde(default)]
    bytes_sent: Option<u64>,
    #[serde(default)]
    bytes_received: Option<u64>,
    #[serde(default)]
    rtt_us: Option<u32>,
    #[serde(default)]
    retransmits: Option<u32>,
    #[serde(default)]
    from_state: Option<String>,
    #[serde(default)]
    previous: Option<SocketIn>,
    #[serde(default)]
    lost: Option<u64>,
}

/// The socket and its owners' details from a socket object.
fn socket_in(s: SocketIn) -> Result<(Socket, Vec<Process>), String> {
    let mut l = ListingIn {
        snap: Snapshot {
            source: Source::File,
            ..Snapshot::default()
        },
        owners_known: false,
        netns: std::collections::HashMap::new(),
        bad: None,
    };
    l.add(0, s)?;
    let socket = l.snap.sockets.pop().ok_or("no socket")?;
    let mut processes: Vec<Process> = l.snap.processes.into_values().collect();
    processes.sort_by_key(|p| p.pid);
    Ok((socket, processes))
}

/// Reads one event line back (what [`write_event`] writes). The error is
/// one line saying what is wrong.
pub fn read_event(line: &str) -> Result<Event, String> {
    let e: EventIn = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let kind: EventKind = e.event.parse().map_err(|_| "bad event".to_string())?;
    let (socket, processes) = match e.socket {
        Some(s) => socket_in(s)?,
        None => (Socket::default(), Vec::new()),
    };
    let previous = match e.previous {
        Some(p) => Some(Box::new(socket_in(p)?)),
        None => None,
    };
    let mut ev = Event::new(
        SystemTime::UNIX_EPOCH + Duration::from_millis(e.time_ms),
        kind,
        socket,
    );
    ev.processes = processes;
    ev.netns = e.netns;
    ev.lived_under_ms = e.lived_under_ms;
    ev.duration_ms = e.duration_ms;
    ev.bytes_sent = e.bytes_sent;
    ev.bytes_received = e.bytes_received;
    ev.rtt_us = e.rtt_us;
    ev.retransmits = e.retransmits;
    ev.from_state = match e.from_state.as_deref() {
        Some(s) => Some(s.parse::<TcpState>().map_err(|_| "bad from_state")?),
        None => None,
    };
    ev.previous = previous;
    ev.lost = e.lost;
    Ok(ev)
}
