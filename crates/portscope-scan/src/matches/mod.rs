//! The match table: every service the scanner can name, in one place. A
//! row says which protocol it names, which ports hint at it, which exchange
//! draws the reply it reads (the greeting, or one of the [`Probe`]s), how
//! that reply is recognised and how product and version are read out of it.
//! Pure functions over bytes; the talking is `probe`'s and `udp`'s job.
//!
//! Recognisers are strict: each checks the framing of its protocol (lengths,
//! tags, magic numbers), so random bytes name nothing (a property test
//! holds them to it). A greeting row reads what a service says unasked and
//! also any probe's reply (an HTTP server answers every probe in HTTP); a
//! probe row reads only the reply to its own probe, since a one-byte `N` or
//! a bare `ERROR` means something only as the answer to that question.
//!
//! Laid out by concern: this file holds the types and the lookup,
//! `table.rs` the rows, `text.rs` the recognisers of line-based protocols
//! and `binary.rs` those of length-prefixed and tagged ones; `tests.rs`
//! has one test per row.

use portscope::Text;

use crate::probe::Probe;

mod binary;
mod table;
mod text;

pub use binary::{DNS_ID, KAFKA_CORRELATION, MONGO_REQUEST_ID, dns_response, dns_version_query};
pub use table::TABLE;
pub use text::header;

/// A recognised protocol and what the service gave away about its software.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Protocol name: `ssh`, `http`, `tls`, `redis`, `smtp`…
    pub protocol: &'static str,
    /// The software, cleaned of greeting text: `vsftpd`, `OpenSSH`,
    /// `Postfix smtpd` (the server's choice: shown to people only escaped).
    pub product: Option<Text>,
    /// The software's version: `3.0.3`, `9.2p1`.
    pub version: Option<Text>,
    /// Anything else the reply told that is not the product's version: a
    /// protocol version (`protocol 32.0`), a distribution tag.
    pub info: Option<Text>,
}

impl Identity {
    /// An identity with only a protocol.
    pub fn bare(protocol: &'static str) -> Identity {
        Identity {
            protocol,
            product: None,
            version: None,
            info: None,
        }
    }

    fn with(protocol: &'static str, f: Found) -> Identity {
        let clean = |s: Option<String>| {
            s.map(|s| s.trim().chars().take(80).collect::<String>())
                .filter(|s| !s.is_empty())
                .map(Text::from)
        };
        Identity {
            protocol: f.protocol.unwrap_or(protocol),
            product: clean(f.product),
            version: clean(f.version),
            info: clean(f.info),
        }
    }
}

/// What a row's parser read out of a reply it recognised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// A protocol other than the row's (a greeting that only a closer look
    /// tells apart, as FTP from SMTP).
    pub protocol: Option<&'static str>,
    /// See [`Identity::product`].
    pub product: Option<String>,
    /// See [`Identity::version`].
    pub version: Option<String>,
    /// See [`Identity::info`].
    pub info: Option<String>,
}

impl Found {
    fn product(p: &str) -> Found {
        Found {
            product: Some(p.to_string()),
            ..Found::default()
        }
    }
    fn pv(p: impl Into<String>, v: Option<String>) -> Found {
        Found {
            product: Some(p.into()),
            version: v,
            ..Found::default()
        }
    }
}

/// One row of the match table.
#[derive(Clone, Copy)]
pub struct Row {
    /// The protocol the row names.
    pub protocol: &'static str,
    /// Ports where the service usually is: their probe goes first there.
    pub ports: &'static [u16],
    /// The exchange whose reply the row reads: `None` for what the service
    /// says unasked (also read in any probe's reply).
    pub probe: Option<Probe>,
    /// How the reply is recognised.
    pub recognised: &'static str,
    /// How product and version are read out.
    pub extracted: &'static str,
    /// The recogniser and extractor: `None` when the reply is not this protocol.
    pub parse: fn(&[u8]) -> Option<Found>,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("protocol", &self.protocol)
            .field("probe", &self.probe)
            .finish_non_exhaustive()
    }
}

/// Names what sent `reply`: the reply to `probe`, or the greeting when
/// `None`. Rows of that probe first, then the greeting rows.
pub fn identify(reply: &[u8], probe: Option<Probe>) -> Option<Identity> {
    if reply.is_empty() {
        return None;
    }
    let own = TABLE.iter().filter(|r| probe.is_some() && r.probe == probe);
    let greeting = TABLE.iter().filter(|r| r.probe.is_none());
    own.chain(greeting)
        .find_map(|r| (r.parse)(reply).map(|f| Identity::with(r.protocol, f)))
}

/// The probes that rows hint at for `port`, in table order.
pub fn probes_for_port(port: u16) -> impl Iterator<Item = Probe> {
    TABLE
        .iter()
        .filter(move |r| r.ports.contains(&port))
        .filter_map(|r| r.probe)
}

// ---- helpers the recognisers share ---------------------------------------

/// The first line, lossily decoded.
fn first_line(data: &[u8]) -> String {
    let end = data
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(data.len());
    String::from_utf8_lossy(data.get(..end).unwrap_or(data)).into_owned()
}

/// Whether every byte of the first line is printable ASCII (greetings are).
fn printable_line(data: &[u8]) -> bool {
    let end = data
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(data.len());
    data.get(..end)
        .is_some_and(|l| l.iter().all(|&b| (0x20..0x7f).contains(&b) || b == b'\t'))
}

/// `tok` up to the first byte not in a version (digits, letters, `.-_+~`).
fn version_token(s: &str) -> Option<String> {
    let v: String = s
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ".-_+~".contains(*c))
        .collect();
    v.starts_with(|c: char| c.is_ascii_digit()).then_some(v)
}

#[cfg(test)]
mod tests;
