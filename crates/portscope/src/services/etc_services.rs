//! `/etc/services`: the parser, and the entries it adds to the registry.
//!
//! The compiled-in IANA table is the primary source. This module fills the
//! gaps with what the local system's `/etc/services` knows: ports the
//! registry lacks, and aliases (`smtp` is also `mail`) the registry does not
//! list. The file is read once, on first need, and kept for the life of the
//! process. It is not a general `getservbyname(3)`: NIS, `nsswitch.conf` and
//! other databases are not consulted.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::class::parse_port;
use super::{PortBits, Service, Transport, bit, cmp_ignore_ascii_case};

const ETC_SERVICES: &str = "/etc/services";

/// Description given to an entry known only from `/etc/services`.
const LOCAL_ONLY: &str = "Listed in /etc/services, not in the IANA registry";

/// Parses `/etc/services` text into `(name, port, transport, aliases)`, in
/// file order.
///
/// Each line is `name port/protocol [alias ...]`, with `#` starting a
/// comment. Lines that do not fit (no port, a port that is not a decimal
/// number up to 65535, a protocol other than tcp, udp, sctp or dccp) are
/// skipped; this never fails.
///
/// ```
/// use portscope::services::{parse_etc_services, Transport};
/// let parsed = parse_etc_services("smtp 25/tcp mail  # Simple Mail Transfer\n");
/// assert_eq!(parsed, vec![("smtp".to_string(), 25, Transport::Tcp, vec!["mail".to_string()])]);
/// ```
pub fn parse_etc_services(text: &str) -> Vec<(String, u16, Transport, Vec<String>)> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<(String, u16, Transport, Vec<String>)> {
    let line = line.split_once('#').map_or(line, |(before, _)| before);
    let mut fields = line.split_whitespace();
    let name = fields.next()?;
    let (port, proto) = fields.next()?.split_once('/')?;
    let port = parse_port(port)?;
    let transport = Transport::from_name(proto)?;
    let aliases = fields.map(str::to_owned).collect();
    Some((name.to_owned(), port, transport, aliases))
}

/// Entries from `/etc/services` that the compiled-in registry lacks.
pub(super) struct Extras {
    /// Sorted by port; one port's entries in file order, so the first one
    /// for a transport is that line's main name.
    entries: &'static [Service],
    /// Indices into `entries`, sorted by ASCII-lower-cased name.
    names: Vec<usize>,
    /// Ports with a TCP / UDP addition, so most misses need no search.
    tcp: Box<PortBits>,
    udp: Box<PortBits>,
}

impl Extras {
    /// Builds the additions from `/etc/services` text. The strings are leaked:
    /// this runs once per process and the entries live as long as it does.
    pub(super) fn from_text(text: &str) -> Extras {
        let mut seen: HashSet<(String, u16, Transport)> = HashSet::new();
        let mut entries: Vec<Service> = Vec::new();
        for (name, port, transport, aliases) in parse_etc_services(text) {
            let registered: Vec<&'static Service> = super::registry_entries(port)
                .filter(|s| s.transport == transport)
                .collect();
            // An alias of a registered service borrows its description.
            let description = registered
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(&name))
                .map_or(LOCAL_ONLY, |s| s.description);
            for n in std::iter::once(name).chain(aliases) {
                if registered.iter().any(|s| s.name.eq_ignore_ascii_case(&n)) {
                    continue;
                }
                if !seen.insert((n.to_ascii_lowercase(), port, transport)) {
                    continue;
                }
                entries.push(Service {
                    name: Box::leak(n.into_boxed_str()),
                    port,
                    transport,
                    description,
                });
            }
        }
        entries.sort_by_key(|s| s.port);
        let entries: &'static [Service] = Box::leak(entries.into_boxed_slice());
        let mut names: Vec<usize> = (0..entries.len()).collect();
        names.sort_by(|&a, &b| {
            let (x, y) = (entries.get(a), entries.get(b));
            cmp_ignore_ascii_case(x.map_or("", |s| s.name), y.map_or("", |s| s.name))
                .then(a.cmp(&b))
        });
        let mut tcp = Box::new([0u64; 1024]);
        let mut udp = Box::new([0u64; 1024]);
        for s in entries {
            let bits = match s.transport {
                Transport::Tcp => &mut tcp,
                Transport::Udp => &mut udp,
                Transport::Sctp | Transport::Dccp => continue,
            };
            if let Some(word) = bits.get_mut(usize::from(s.port / 64)) {
                *word |= 1 << (s.port % 64);
            }
        }
        Extras {
            entries,
            names,
            tcp,
            udp,
        }
    }

    /// All additions on `port`, in file order.
    pub(super) fn for_port(&self, port: u16) -> &'static [Service] {
        super::port_run(self.entries, port)
    }

    /// The first addition on `port` for `transport`.
    pub(super) fn lookup(&self, port: u16, transport: Transport) -> Option<&'static Service> {
        let possible = match transport {
            Transport::Tcp => bit(&self.tcp, port),
            Transport::Udp => bit(&self.udp, port),
            Transport::Sctp | Transport::Dccp => true,
        };
        if !possible {
            return None;
        }
        self.for_port(port)
            .iter()
            .find(|s| s.transport == transport)
    }

    /// Additions called `name`, compared without regard to ASCII case.
    pub(super) fn named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'static Service> + 'a {
        let entries = self.entries;
        let name_of = move |i: &usize| entries.get(*i).map_or("", |s| s.name);
        let start = self
            .names
            .partition_point(|i| cmp_ignore_ascii_case(name_of(i), name).is_lt());
        self.names
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .take_while(move |i| name_of(i).eq_ignore_ascii_case(name))
            .filter_map(move |i| entries.get(*i))
    }

    /// Number of additions.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// One `/etc/services` line: name, port, transport, aliases.
pub(super) type EtcEntry = (String, u16, Transport, Vec<String>);

/// This machine's `/etc/services` as parsed, read on first use.
pub(super) fn system_entries() -> &'static [EtcEntry] {
    static SYSTEM: OnceLock<Vec<EtcEntry>> = OnceLock::new();
    SYSTEM.get_or_init(|| {
        let bytes = std::fs::read(ETC_SERVICES).unwrap_or_default();
        parse_etc_services(&String::from_utf8_lossy(&bytes))
    })
}

/// The additions from this machine's `/etc/services`, read on first use.
/// An unreadable file adds nothing; bytes that are not UTF-8 are replaced
/// rather than losing the whole file.
pub(super) fn extras() -> &'static Extras {
    static EXTRAS: OnceLock<Extras> = OnceLock::new();
    EXTRAS.get_or_init(|| {
        let bytes = std::fs::read(ETC_SERVICES).unwrap_or_default();
        Extras::from_text(&String::from_utf8_lossy(&bytes))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn owned(
        name: &str,
        port: u16,
        t: Transport,
        aliases: &[&str],
    ) -> (String, u16, Transport, Vec<String>) {
        (
            name.to_owned(),
            port,
            t,
            aliases.iter().map(|a| (*a).to_owned()).collect(),
        )
    }

    #[test]
    fn parses_aliases_comments_and_skips_garbage() {
        let text = "\
# Network services, Internet style
#
tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer
discard\t\t9/tcp\t\tsink null
discard\t\t9/udp\t\tsink null
   \t
smtp 25/tcp mail#no space before comment
sctp-thing 9999/SCTP
dccp-thing 5004/dccp avt
nfs 2049/tcp\r
# garbage below
noport
slash-only /tcp
badport abc/tcp
neg -1/tcp
plus +22/tcp
toobig 65536/tcp
ddp-thing 4/ddp
noproto 22
emptyproto 22/
max 65535/udp
zero 0/tcp
\u{feff}odd\u{e9} 7/tcp al\u{ef}as
";
        let got = parse_etc_services(text);
        let want = vec![
            owned("tcpmux", 1, Transport::Tcp, &[]),
            owned("discard", 9, Transport::Tcp, &["sink", "null"]),
            owned("discard", 9, Transport::Udp, &["sink", "null"]),
            owned("smtp", 25, Transport::Tcp, &["mail"]),
            owned("sctp-thing", 9999, Transport::Sctp, &[]),
            owned("dccp-thing", 5004, Transport::Dccp, &["avt"]),
            owned("nfs", 2049, Transport::Tcp, &[]),
            owned("max", 65535, Transport::Udp, &[]),
            owned("zero", 0, Transport::Tcp, &[]),
            owned("\u{feff}odd\u{e9}", 7, Transport::Tcp, &["al\u{ef}as"]),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn parses_empty_and_binary_junk_without_panicking() {
        assert!(parse_etc_services("").is_empty());
        assert!(parse_etc_services("\0\0\0/\0\n////\n# \n").is_empty());
        let junk = String::from_utf8_lossy(&[0xff, 0xfe, b'a', b' ', b'1', b'/', b't', b'c', b'p']);
        assert_eq!(parse_etc_services(&junk).len(), 1);
    }

    #[test]
    fn extras_fill_gaps_and_add_aliases() {
        // 1/tcp is tcpmux in the registry; 40001/tcp is unassigned there.
        let extras = Extras::from_text(
            "tcpmux 1/tcp\n\
             smtp 25/tcp mail\n\
             localthing 40001/tcp lt\n\
             localthing 40001/tcp LT\n\
             other 40001/tcp\n",
        );
        // tcpmux and smtp are registered: only the alias "mail" and the
        // local-only names are new ("LT" repeats "lt").
        let names: Vec<&str> = extras.entries.iter().map(|s| s.name).collect();
        assert_eq!(names, ["mail", "localthing", "lt", "other"]);
        assert_eq!(extras.len(), 4);

        let mail = extras.named("MAIL").collect::<Vec<_>>();
        assert_eq!(mail.len(), 1);
        assert_eq!((mail[0].port, mail[0].transport), (25, Transport::Tcp));
        // The alias shares the registered service's description.
        let smtp = super::super::lookup_transport(25, Transport::Tcp).unwrap();
        assert_eq!(mail[0].description, smtp.description);

        let first = extras.lookup(40001, Transport::Tcp).unwrap();
        assert_eq!(first.name, "localthing");
        assert_eq!(first.description, LOCAL_ONLY);
        assert!(extras.lookup(40001, Transport::Udp).is_none());
        assert_eq!(extras.for_port(40001).len(), 3);
        assert!(extras.for_port(40002).is_empty());
        assert_eq!(extras.named("Lt").count(), 1);
        assert_eq!(extras.named("nothing").count(), 0);
    }
}
