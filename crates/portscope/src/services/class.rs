//! Port classes (RFC 6335) and ephemeral port ranges (a host's own comes
//! from [`System::ephemeral_range`](crate::collect::System::ephemeral_range)).
//!
//! Answers "what kind of port is this?" from the number alone, and whether
//! the kernel would hand the port out as a local port for outgoing
//! connections. It does not say which service a port belongs to; that is the
//! registry in [`crate::services`].

use std::fmt;

/// The three ranges RFC 6335 divides the port space into.
///
/// ```
/// use portscope::services::PortClass;
/// assert_eq!(PortClass::of(22), PortClass::System);
/// assert_eq!(PortClass::of(8080).as_str(), "user");
/// assert_eq!(PortClass::of(50000), PortClass::Dynamic);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortClass {
    /// 0–1023: system ("well-known") ports.
    System,
    /// 1024–49151: user ("registered") ports.
    User,
    /// 49152–65535: dynamic ("private" or ephemeral) ports.
    Dynamic,
}

impl PortClass {
    /// The class `port` falls in.
    pub const fn of(port: u16) -> Self {
        match port {
            0..=1023 => PortClass::System,
            1024..=49151 => PortClass::User,
            _ => PortClass::Dynamic,
        }
    }

    /// The lower-case name used in JSON and tables: `system`, `user`, `dynamic`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PortClass::System => "system",
            PortClass::User => "user",
            PortClass::Dynamic => "dynamic",
        }
    }

    /// One sentence saying what the class means, for `explain` output.
    pub const fn description(self) -> &'static str {
        match self {
            PortClass::System => {
                "A system (well-known) port, 0-1023, assigned by IANA to standard services; binding it usually needs root or CAP_NET_BIND_SERVICE."
            }
            PortClass::User => {
                "A user (registered) port, 1024-49151, that IANA assigns to services on request; any program may bind it."
            }
            PortClass::Dynamic => {
                "A dynamic (private) port, 49152-65535, never assigned by IANA and typically used for short-lived client connections."
            }
        }
    }
}

impl fmt::Display for PortClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The range the kernel picks local ports from for outgoing connections
/// (`net.ipv4.ip_local_port_range`, which also governs IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EphemeralRange {
    /// First port of the range.
    pub low: u16,
    /// Last port of the range (inclusive).
    pub high: u16,
}

impl EphemeralRange {
    /// Whether `port` lies in the range (both ends included).
    ///
    /// ```
    /// use portscope::services::EphemeralRange;
    /// let r = EphemeralRange { low: 32768, high: 60999 };
    /// assert!(r.contains(32768) && r.contains(60999));
    /// assert!(!r.contains(61000));
    /// ```
    pub const fn contains(self, port: u16) -> bool {
        self.low <= port && port <= self.high
    }
}

/// Parses the content of `ip_local_port_range`: two port numbers separated
/// by white space (the kernel writes `"32768\t60999\n"`), low not above high.
/// Anything else gives `None`.
///
/// ```
/// use portscope::services::{parse_port_range, EphemeralRange};
/// assert_eq!(parse_port_range("32768\t60999\n"), Some(EphemeralRange { low: 32768, high: 60999 }));
/// assert_eq!(parse_port_range("60999 32768"), None);
/// ```
pub fn parse_port_range(text: &str) -> Option<EphemeralRange> {
    let mut fields = text.split_whitespace();
    let low = parse_port(fields.next()?)?;
    let high = parse_port(fields.next()?)?;
    if fields.next().is_some() || low > high {
        return None;
    }
    Some(EphemeralRange { low, high })
}

/// A decimal port number and nothing else (`u16::from_str` would also take a
/// leading `+`).
pub(super) fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn classes_at_the_boundaries() {
        assert_eq!(PortClass::of(0), PortClass::System);
        assert_eq!(PortClass::of(1023), PortClass::System);
        assert_eq!(PortClass::of(1024), PortClass::User);
        assert_eq!(PortClass::of(49151), PortClass::User);
        assert_eq!(PortClass::of(49152), PortClass::Dynamic);
        assert_eq!(PortClass::of(65535), PortClass::Dynamic);
    }

    #[test]
    fn class_names_and_descriptions() {
        let all = [PortClass::System, PortClass::User, PortClass::Dynamic];
        let names: Vec<&str> = all.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, ["system", "user", "dynamic"]);
        for c in all {
            assert_eq!(c.to_string(), c.as_str());
            let d = c.description();
            assert!(d.ends_with('.') && d.matches(". ").count() == 0, "{d}");
            assert!(d.contains(c.as_str()), "{d}");
        }
    }

    #[test]
    fn port_range_good() {
        let want = |low, high| Some(EphemeralRange { low, high });
        assert_eq!(parse_port_range("32768\t60999\n"), want(32768, 60999));
        assert_eq!(parse_port_range("  1024   65535  "), want(1024, 65535));
        assert_eq!(parse_port_range("5000 5000"), want(5000, 5000));
        assert_eq!(parse_port_range("0\t65535"), want(0, 65535));
    }

    #[test]
    fn port_range_bad() {
        for text in [
            "",
            "\n",
            "32768",
            "32768\t",
            "60999\t32768\n",
            "32768 60999 1",
            "32768 65536",
            "-1 100",
            "+1 100",
            "0x10 100",
            "a b",
            "32768,60999",
            "３２７６８ 60999",
        ] {
            assert_eq!(parse_port_range(text), None, "{text:?}");
        }
    }

    #[test]
    fn contains_ends() {
        let r = EphemeralRange { low: 10, high: 20 };
        assert!(!r.contains(9));
        assert!(r.contains(10));
        assert!(r.contains(15));
        assert!(r.contains(20));
        assert!(!r.contains(21));
    }
}
