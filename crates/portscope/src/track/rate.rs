//! Throughput per connection from the kernel's tcp_info byte counters
//! (`bytes_received` in, `bytes_acked` out) between two refreshes: no packet
//! capture, and no privilege beyond reading one's own sockets.
//!
//! Pure arithmetic; the counters come from the snapshots the live view is
//! handed, the times from when each was taken.

use std::time::Instant;

use crate::model::Socket;

/// The byte counters of one socket at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counters {
    /// When the snapshot holding them was taken.
    pub at: Instant,
    /// Bytes the peer acknowledged (sent and delivered).
    pub acked: u64,
    /// Bytes received.
    pub received: u64,
}

impl Counters {
    /// The counters of `s`, if it carries tcp_info.
    pub fn of(s: &Socket, at: Instant) -> Option<Counters> {
        let i = s.extra.as_ref()?.tcp_info?;
        Some(Counters {
            at,
            acked: i.bytes_acked,
            received: i.bytes_received,
        })
    }
}

/// Bytes per second each way.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rate {
    /// Received, bytes per second.
    pub inbound: f64,
    /// Sent and acknowledged, bytes per second.
    pub outbound: f64,
}

impl Rate {
    /// The rate between two readings of the same socket; `None` when no time
    /// passed between them. A counter that went backwards (it cannot for one
    /// socket; a mismatched pair would) counts as no traffic.
    pub fn between(before: Counters, after: Counters) -> Option<Rate> {
        let secs = after.at.checked_duration_since(before.at)?.as_secs_f64();
        if secs <= 0.0 {
            return None;
        }
        // Counts up to 2^53 convert exactly; beyond that a rounding is harmless.
        let per_sec = |a: u64, b: u64| b.saturating_sub(a) as f64 / secs;
        Some(Rate {
            inbound: per_sec(before.received, after.received),
            outbound: per_sec(before.acked, after.acked),
        })
    }

    /// Sum of two rates (a process's total).
    pub fn plus(self, other: Rate) -> Rate {
        Rate {
            inbound: self.inbound + other.inbound,
            outbound: self.outbound + other.outbound,
        }
    }
}

/// A rate for a narrow column: `0`, `512`, `12.3K`, `340K`, `1.2M`, `15G`
/// (bytes per second, powers of 1000).
pub fn human(bytes_per_sec: f64) -> String {
    const UNITS: [(f64, &str); 3] = [(1e9, "G"), (1e6, "M"), (1e3, "K")];
    for (scale, unit) in UNITS {
        if bytes_per_sec >= scale {
            let v = bytes_per_sec / scale;
            return if v < 10.0 {
                format!("{v:.1}{unit}")
            } else {
                format!("{v:.0}{unit}")
            };
        }
    }
    format!("{bytes_per_sec:.0}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rate_is_delta_over_time() {
        let t0 = Instant::now();
        let a = Counters {
            at: t0,
            acked: 1000,
            received: 50,
        };
        let b = Counters {
            at: t0 + Duration::from_millis(500),
            acked: 6000,
            received: 50,
        };
        let r = Rate::between(a, b).unwrap();
        assert_eq!(r.outbound, 10_000.0);
        assert_eq!(r.inbound, 0.0);
        // Same instant, or time going backwards: no rate.
        assert!(Rate::between(a, a).is_none());
        assert!(Rate::between(b, a).is_none());
        // Counters going backwards: no traffic rather than a huge number.
        let c = Counters {
            at: t0 + Duration::from_secs(1),
            acked: 10,
            received: 0,
        };
        assert_eq!(Rate::between(b, c).unwrap(), Rate::default());
    }

    #[test]
    fn human_rates_fit_five_columns() {
        for (v, s) in [
            (0.0, "0"),
            (512.0, "512"),
            (999.4, "999"),
            (1000.0, "1.0K"),
            (12_345.0, "12K"),
            (1_234_567.0, "1.2M"),
            (987_654_321.0, "988M"),
            (15e9, "15G"),
        ] {
            assert_eq!(human(v), s);
            assert!(human(v).len() <= 5);
        }
    }
}
