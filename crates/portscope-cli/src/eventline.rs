//! What `events` and `history` share: one event as a line for people (every
//! untrusted name escaped) or for JSON, times in RFC 3339 (local or UTC),
//! the `--event` kinds, ages and sizes from the command line, and which
//! events the filter keeps.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use portscope::events::{Event, EventKind};
use portscope::filter::Filter;
use portscope::model::Process;

use crate::Failure;

/// How times are written.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub utc: bool,
}

fn zone() -> &'static jiff::tz::TimeZone {
    static ZONE: OnceLock<jiff::tz::TimeZone> = OnceLock::new();
    ZONE.get_or_init(jiff::tz::TimeZone::system)
}

impl Clock {
    /// `t` in RFC 3339 with milliseconds: `2026-12-01T11:20:33.123+01:00`,
    /// or `…Z` in UTC.
    pub fn format(self, t: SystemTime) -> String {
        let ts = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        if self.utc {
            ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        } else {
            ts.to_zoned(zone().clone())
                .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
                .to_string()
        }
    }
}

/// The kinds `--event` names (empty: all).
pub fn kinds(words: &[String]) -> Result<Vec<EventKind>, Failure> {
    words
        .iter()
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.parse::<EventKind>().map_err(|_| {
                Failure::Usage(format!(
                    "--event: unknown kind '{}' (listen, unlisten, replaced, open, close, state, lost)",
                    portscope::text::escape(w.as_bytes())
                ))
            })
        })
        .collect()
}

/// `90s`, `30m`, `12h`, `7d`, `2w` (a bare number is seconds).
pub fn age(flag: &str, s: &str) -> Result<Duration, Failure> {
    let bad = || {
        Failure::Usage(format!(
            "{flag}: '{}' is not an age (like 90s, 30m, 12h, 7d)",
            portscope::text::escape(s.as_bytes())
        ))
    };
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(secs).map(Duration::from_secs).ok_or_else(bad)
}

/// `500K`, `100M`, `2G` or bytes.
pub fn size(flag: &str, s: &str) -> Result<u64, Failure> {
    let bad = || {
        Failure::Usage(format!(
            "{flag}: '{}' is not a size (like 500K, 100M, 2G)",
            portscope::text::escape(s.as_bytes())
        ))
    };
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let mul: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mul).filter(|&b| b > 0).ok_or_else(bad)
}

/// Whether the event is one the user asked for: of a kind `--event` names
/// (all when none), and its socket matching the filter (a `lost` event
/// always does: it is about the stream, not a socket).
pub fn wanted(e: &Event, kinds: &[EventKind], filter: &Filter) -> bool {
    if !kinds.is_empty() && !kinds.contains(&e.kind) {
        return false;
    }
    e.kind == EventKind::Lost
        || !filter.has_expression()
        || filter.matches(&e.socket, &e.snapshot())
}

fn process_text(out: &mut String, p: &Process) {
    let _ = write!(out, "pid {} {}", p.pid, p.name.bounded(64));
    if let Some(u) = p.shown_user() {
        let _ = write!(out, " user {}", u.bounded(64));
    }
    if let Some(exe) = &p.exe {
        let _ = write!(out, " exe {}", exe.bounded(256));
    }
}

/// Who held the socket, said plainly.
pub fn owners_text(e: &Event, euid: u32, hidden: bool) -> String {
    let mut out = String::new();
    for (i, p) in e.processes.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        process_text(&mut out, p);
    }
    if !out.is_empty() {
        return out;
    }
    let other_user = e.socket.uid.is_some_and(|u| u != euid);
    if e.socket.owners_hidden || (hidden && other_user) {
        return "owner hidden (another user's process; run as root to see it)".into();
    }
    match e.lived_under_ms {
        Some(ms) => format!("owner unknown (lived under {ms}ms, shorter than the owner refresh)"),
        None => "owner unknown (no process seen holding it)".into(),
    }
}

fn bytes(n: u64) -> String {
    format!("{n} B")
}

/// One event for people: time, kind, protocol, ends, state, what the kind
/// adds, namespace and owners.
pub fn human(e: &Event, clock: Clock, euid: u32, hidden: bool) -> String {
    let mut out = String::with_capacity(160);
    let _ = write!(out, "{} {:<8}", clock.format(e.time), e.kind.as_str());
    if e.kind == EventKind::Lost {
        match e.lost {
            Some(n) => {
                let _ = write!(
                    out,
                    " {n} notifications dropped in a burst; resynced from a dump"
                );
            }
            None => out.push_str(
                " notifications dropped in a burst (count unknown); resynced from a dump",
            ),
        }
        return out;
    }
    let s = &e.socket;
    let _ = write!(
        out,
        " {} {} {} {}",
        crate::render::table::proto_label(s),
        s.shown_local(),
        s.shown_remote(),
        s.state.name_for(s.proto)
    );
    if let Some(from) = e.from_state {
        let _ = write!(out, " (was {})", from.name_for(s.proto));
    }
    if let Some(d) = e.duration_ms {
        let _ = write!(out, " {d}ms");
    }
    if let Some(b) = e.bytes_sent {
        let _ = write!(out, " sent {}", bytes(b));
    }
    if let Some(b) = e.bytes_received {
        let _ = write!(out, " received {}", bytes(b));
    }
    if let Some(r) = e.rtt_us {
        let _ = write!(out, " rtt {:.3}ms", f64::from(r) / 1000.0);
    }
    if let Some(r) = e.retransmits {
        let _ = write!(out, " retrans {r}");
    }
    if let Some(ns) = e.netns {
        let _ = write!(out, " netns {ns}");
    }
    let _ = write!(out, " {}", owners_text(e, euid, hidden));
    if let Some(prev) = &e.previous {
        let mut was = String::new();
        for (i, p) in prev.1.iter().enumerate() {
            if i > 0 {
                was.push_str(", ");
            }
            process_text(&mut was, p);
        }
        if was.is_empty() {
            was.push_str("owner unknown");
        }
        let _ = write!(out, " (replacing {was})");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_sizes() {
        assert_eq!(age("--keep", "90s").ok(), Some(Duration::from_secs(90)));
        assert_eq!(
            age("--keep", "7d").ok(),
            Some(Duration::from_secs(7 * 86_400))
        );
        assert_eq!(age("--keep", "15").ok(), Some(Duration::from_secs(15)));
        for bad in ["", "d", "1y", "-1d", "99999999999999999999w", "1.5h"] {
            assert!(age("--keep", bad).is_err(), "{bad}");
        }
        assert_eq!(size("--max-size", "500K").ok(), Some(500 << 10));
        assert_eq!(size("--max-size", "2G").ok(), Some(2 << 30));
        for bad in ["", "0", "1T", "M", "18446744073709551615G"] {
            assert!(size("--max-size", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds_by_name() {
        let k = kinds(&["close".into(), "lost".into()]).ok();
        assert_eq!(k, Some(vec![EventKind::Close, EventKind::Lost]));
        assert!(kinds(&["closed".into()]).is_err());
    }

    #[test]
    fn a_hostile_process_name_is_escaped_in_the_line() {
        let mut e = Event::new(
            SystemTime::UNIX_EPOCH,
            EventKind::Close,
            portscope::model::Socket::default(),
        );
        e.processes.push(Process {
            pid: 7,
            name: portscope::Text::from(&b"evil\x1b[31m\n"[..]),
            ..Process::default()
        });
        let line = human(&e, Clock { utc: true }, 0, false);
        assert!(!line.contains('\x1b') && !line.contains('\n'), "{line}");
        assert!(line.starts_with("1970-01-01T00:00:00.000Z close"), "{line}");
        assert!(line.contains("pid 7 evil"), "{line}");
    }
}
