//! Reads a saved `--json` listing back into a [`Snapshot`], for the hidden
//! `--from-snapshot FILE` flag: deterministic output tests, and rendering a
//! listing taken on another machine.

use std::collections::HashMap;
use std::net::IpAddr;

use portscope::Text;
use portscope::model::{
    Endpoint, Family, Owner, Process, Proto, Snapshot, Socket, Source, TcpState, UnixType,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct SocketIn {
    proto: String,
    family: String,
    #[serde(rename = "type")]
    unix_type: Option<String>,
    local: EndpointIn,
    remote: EndpointIn,
    state: String,
    #[serde(default)]
    recv_q: u32,
    #[serde(default)]
    send_q: u32,
    #[serde(default)]
    uid: Option<u32>,
    #[serde(default)]
    inode: u64,
    /// Absent (older files, non-IPv6 sockets) or null: not known.
    #[serde(default)]
    v6only: Option<bool>,
    #[serde(default)]
    cookie: u64,
    #[serde(default, deserialize_with = "owners_in")]
    owners: Option<Vec<OwnerAt>>,
    #[serde(default)]
    owners_hidden: Option<bool>,
}

/// One holder as read. The process's details are kept only the first time
/// its pid appears in a socket's list (later ones would be ignored anyway),
/// so a list of a million holders of one process costs 16 bytes each.
struct OwnerAt {
    pid: u32,
    fd: u32,
    details: Option<Box<OwnerIn>>,
}

/// Reads an `owners` list (or null) into [`OwnerAt`]s, one holder at a time.
fn owners_in<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<OwnerAt>>, D::Error> {
    struct List;
    impl<'de> serde::de::Visitor<'de> for List {
        type Value = Option<Vec<OwnerAt>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of owners or null")
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            let mut seen = std::collections::HashSet::new();
            while let Some(o) = seq.next_element::<OwnerIn>()? {
                let (pid, fd) = (o.pid, o.fd);
                let details = seen.insert(pid).then(|| Box::new(o));
                out.push(OwnerAt { pid, fd, details });
            }
            Ok(Some(out))
        }
    }
    d.deserialize_option(List)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EndpointIn {
    Inet { addr: IpAddr, port: u16 },
    Unix { path: Option<Text>, inode: u64 },
}

#[derive(Deserialize)]
struct OwnerIn {
    pid: u32,
    fd: u32,
    name: Option<Text>,
    user: Option<Text>,
    uid: Option<u32>,
    #[serde(default)]
    euser: Option<Text>,
    #[serde(default)]
    euid: Option<u32>,
    cmdline: Option<Text>,
    exe: Option<Text>,
}

/// Parses a saved JSON listing. The error says what and where.
pub fn parse(text: &str) -> Result<Snapshot, String> {
    parse_listing(text).map(|(snap, _)| snap)
}

/// [`parse`], also saying whether the listing carries owner data (some
/// socket has an `owners` list). Each socket is turned into the model as it
/// is read, never into a generic JSON tree nor a list of raw records, so
/// memory stays close to what the sockets take, and a file that is not a
/// listing fails at its first wrong item.
pub fn parse_listing(text: &str) -> Result<(Snapshot, bool), String> {
    let mut state = Listing {
        snap: Snapshot {
            source: Source::File,
            ..Snapshot::default()
        },
        processes: HashMap::new(),
        owners_known: false,
        bad: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let read = serde::Deserializer::deserialize_seq(&mut de, &mut state).and_then(|()| de.end());
    if let Some(bad) = state.bad.take() {
        return Err(bad);
    }
    read.map_err(|e| e.to_string())?;
    let mut snap = state.snap;
    snap.processes = state.processes;
    Ok((snap, state.owners_known))
}

/// What a listing read so far holds.
struct Listing {
    snap: Snapshot,
    processes: HashMap<u32, Process>,
    owners_known: bool,
    /// A socket that parsed as JSON but not as a socket: the message.
    bad: Option<String>,
}

impl<'de> serde::de::Visitor<'de> for &mut Listing {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of sockets")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while let Some(s) = seq.next_element::<SocketIn>()? {
            if let Err(msg) = self.add(i, s) {
                self.bad = Some(msg.clone());
                return Err(serde::de::Error::custom(msg));
            }
            i += 1;
        }
        Ok(())
    }
}

impl Listing {
    /// Turns socket number `i` (from 0) into the model.
    fn add(&mut self, i: usize, s: SocketIn) -> Result<(), String> {
        let snap = &mut self.snap;
        let processes = &mut self.processes;
        self.owners_known |= s.owners.is_some();
        let at = |what: &str| format!("socket {}: bad {what}", i + 1);
        let proto = match s.proto.as_str() {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "raw" => Proto::Raw,
            "unix" => Proto::Unix,
            _ => return Err(at("proto")),
        };
        let family = match s.family.as_str() {
            "inet" => Family::Inet,
            "inet6" => Family::Inet6,
            "unix" => Family::Unix,
            _ => return Err(at("family")),
        };
        let unix_type = match s.unix_type.as_deref() {
            None => None,
            Some("stream") => Some(UnixType::Stream),
            Some("dgram") => Some(UnixType::Dgram),
            Some("seqpacket") => Some(UnixType::Seqpacket),
            Some(_) => return Err(at("type")),
        };
        let state = TcpState::from_name(&s.state).ok_or_else(|| at("state"))?;
        let mut owners = Vec::new();
        for o in s.owners.unwrap_or_default() {
            owners.push(Owner {
                pid: o.pid,
                fd: o.fd,
            });
            if let Some(d) = o.details {
                processes.entry(o.pid).or_insert_with(|| Process {
                    pid: o.pid,
                    name: d.name.unwrap_or_default(),
                    cmdline: d.cmdline.unwrap_or_default(),
                    uid: d.uid,
                    user: d.user,
                    euid: d.euid,
                    euser: d.euser,
                    exe: d.exe,
                });
            }
        }
        snap.sockets.push(Socket {
            proto,
            family,
            local: endpoint(s.local),
            remote: endpoint(s.remote),
            state,
            recv_q: s.recv_q,
            send_q: s.send_q,
            uid: s.uid,
            inode: s.inode,
            unix_type,
            bound_if: 0,
            owners,
            owners_hidden: s.owners_hidden.unwrap_or(false),
            cookie: s.cookie,
            v6only: if family == Family::Inet6 {
                s.v6only
            } else {
                None
            },
            extra: None,
        });
        Ok(())
    }
}

fn endpoint(e: EndpointIn) -> Endpoint {
    match e {
        EndpointIn::Inet { addr, port } => Endpoint::Inet { addr, port },
        EndpointIn::Unix { path, inode } => Endpoint::Unix { path, inode },
    }
}
