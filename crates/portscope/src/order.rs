//! Putting sockets in order: one sort for the listing (`--sort`) and the
//! live view, with each row's key computed once before sorting (the service
//! of a port and the name of a process are looked up once per row, never
//! per comparison).
//!
//! Pure: rows and the snapshot they belong to come in, a permutation goes out.
//!
//! ```
//! use portscope::model::{Endpoint, Snapshot, Socket, TcpState};
//! use portscope::order::{Key, Order, Row};
//!
//! let at = |port| Socket {
//!     local: Endpoint::v4([127, 0, 0, 1].into(), port),
//!     state: TcpState::Listen,
//!     ..Socket::default()
//! };
//! let socks = [at(8080), at(22), at(443)];
//! let ctx = Snapshot::default();
//! let rows: Vec<Row<'_>> = socks.iter().map(Row::of).collect();
//! let perm = Order::new(Key::Port).permutation(&rows, &ctx);
//! assert_eq!(perm, [1, 2, 0]);
//! ```

use std::net::IpAddr;

use crate::annotate;
use crate::model::{Endpoint, Family, Proto, Snapshot, Socket, TcpState};
use crate::services::EphemeralRange;
use crate::track::rate::Rate;

/// What to order by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// Protocol and family, then the local address.
    Proto,
    /// Local address (family, address, port; unix ends by path).
    Local,
    /// Remote address.
    Remote,
    /// Local port.
    Port,
    /// Remote port.
    RemotePort,
    /// State, in kernel order.
    State,
    /// Service name of the port; sockets without a known service first.
    Service,
    /// First owning process id.
    Pid,
    /// First owning process's name, as bytes.
    Process,
    /// Owning user id.
    User,
    /// Receive queue.
    RecvQ,
    /// Send queue.
    SendQ,
    /// Inode.
    Inode,
    /// Closed rows after open ones ([`Row::gone`]).
    Closed,
    /// Received bytes per second ([`Row::rate`]); rows without a rate first.
    In,
    /// Sent bytes per second.
    Out,
    /// Smoothed round-trip time (tcp_info); rows without tcp_info first.
    Rtt,
    /// Retransmitted segments (tcp_info).
    Retransmits,
    /// Congestion window (tcp_info).
    Cwnd,
}

impl Key {
    /// Whether an order by this key (with address ties) reads only what
    /// [`Tracker::settled`](crate::track::tracker::Tracker::settled) vouches
    /// for: protocol, family, ends, state, queues, user, owners' pids,
    /// inode, cookie and the closed mark; not process names, rates or
    /// tcp_info. After a settled refresh an order by such a key is the
    /// last one shown, so a live view need not sort again.
    pub const fn steady(self) -> bool {
        !matches!(
            self,
            Key::Process | Key::In | Key::Out | Key::Rtt | Key::Retransmits | Key::Cwnd
        )
    }

    /// The keys a listing can be sorted by, as `--sort` names them, with a
    /// line for people: the one list the command line and its help use.
    pub const LISTING: [(Key, &'static str, &'static str); 13] = [
        (Key::Proto, "proto", "Protocol, then local address"),
        (Key::Local, "local", "Local address, then port"),
        (Key::Remote, "remote", "Remote address, then port"),
        (Key::Port, "port", "Local port"),
        (Key::RemotePort, "rport", "Remote port"),
        (Key::State, "state", "State"),
        (Key::Service, "service", "Service name"),
        (Key::Pid, "pid", "First owner's pid"),
        (Key::Process, "process", "First owner's process name"),
        (Key::User, "user", "Owning user id"),
        (Key::RecvQ, "recv-q", "Receive queue"),
        (Key::SendQ, "send-q", "Send queue"),
        (Key::Inode, "inode", "Socket inode"),
    ];

    /// Whether the key reads tcp_info (a socket's `extra`), so rows must
    /// carry it for the order to mean anything.
    pub const fn needs_tcp_info(self) -> bool {
        matches!(
            self,
            Key::In | Key::Out | Key::Rtt | Key::Retransmits | Key::Cwnd
        )
    }
}

/// How rows equal under the key are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ties {
    /// As they came (a stable sort; `reverse` does not reverse ties). The listing's.
    Input,
    /// By local then remote address, cookie and inode, reversed with the
    /// key, so equal rows do not swap between refreshes. The live view's.
    Address,
}

/// One row to order: a socket and what the live view knows about it.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    /// The socket.
    pub socket: &'a Socket,
    /// Its throughput, if known.
    pub rate: Option<Rate>,
    /// Whether it has closed.
    pub gone: bool,
}

impl<'a> Row<'a> {
    /// A row for a socket with no rate, open.
    pub const fn of(socket: &'a Socket) -> Row<'a> {
        Row {
            socket,
            rate: None,
            gone: false,
        }
    }
}

/// A sort: the key, the direction and how ties go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Order {
    /// What to order by.
    pub key: Key,
    /// Descending instead of ascending.
    pub reverse: bool,
    /// How equal rows are ordered.
    pub ties: Ties,
    /// The ephemeral port range of the system the rows come from (see
    /// [`System::ephemeral_range`](crate::collect::System::ephemeral_range)),
    /// which decides the service of a port in it; none by default.
    pub ephemeral: Option<EphemeralRange>,
}

type EndKey<'a> = (u8, IpAddr, u16, Option<&'a [u8]>);

/// A row's key value; all rows of one sort hold the same variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Value<'a> {
    Proto(Proto, Family, EndKey<'a>),
    End(EndKey<'a>),
    Num(Option<u64>),
    Float(Option<i64>),
    Bytes(Option<&'a [u8]>),
    State(TcpState),
    Flag(bool),
}

/// A float as an integer with the same total order ([`f64::total_cmp`]).
fn float_key(f: f64) -> i64 {
    let bits = f.to_bits().cast_signed();
    bits ^ ((bits >> 63).cast_unsigned() >> 1).cast_signed()
}

/// One row in a sort: its key's packed prefix and its index.
#[derive(Clone, Copy, Debug)]
struct Compact {
    prefix: u128,
    index: u32,
    /// Whether the prefix holds the row's whole [`Value`].
    exact: bool,
}

/// Packs a key into 128 bits, most significant first, each field in as
/// many bits as it has (a tag before the fields it decides the width of),
/// cutting off what does not fit. Truncating such a bit string keeps the
/// order: if two prefixes differ, the keys differ the same way; if they
/// are equal, the whole keys decide. Byte strings are packed padded with
/// zero bytes (which keeps `<=`), and end the packing: what follows one
/// would not line up between rows.
struct Packer {
    bits: u128,
    /// Bits still free.
    left: u32,
    /// Whether everything put so far fitted and was packed one to one.
    exact: bool,
}

impl Packer {
    const fn new() -> Packer {
        Packer {
            bits: 0,
            left: 128,
            exact: true,
        }
    }

    /// Appends the low `width` bits of `x` (the rest of `x` must be zero).
    fn put(&mut self, width: u32, x: u128) {
        if width == 0 || self.left == 0 {
            self.exact &= width == 0;
            return;
        }
        if width <= self.left {
            self.left -= width;
            self.bits |= x << self.left;
        } else {
            self.bits |= x >> (width - self.left);
            self.left = 0;
            self.exact = false;
        }
    }

    fn option<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Packer, T)) {
        self.put(1, u128::from(v.is_some()));
        if let Some(v) = v {
            f(self, v);
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        // A NUL byte would pack like the padding: not one to one.
        let mut exact = !b.contains(&0);
        for &c in b {
            if self.left < 8 {
                exact = false;
                break;
            }
            self.put(8, u128::from(c));
        }
        self.exact &= exact;
        // Pad as if by zero bytes, then stop.
        self.left = 0;
    }

    fn end(&mut self, e: &EndKey<'_>) {
        let (tag, addr, port, path) = *e;
        self.put(2, u128::from(tag.min(3)));
        match path {
            // Unix ends: the address and port are the same for all.
            Some(p) => {
                self.put(1, 1);
                self.bytes(p);
            }
            None if tag == 2 => self.put(1, 0),
            None => {
                match addr {
                    IpAddr::V4(a) => self.put(32, u128::from(a.to_bits())),
                    IpAddr::V6(a) => self.put(128, a.to_bits()),
                }
                self.put(16, u128::from(port));
            }
        }
        if tag > 2 {
            self.exact = false;
        }
    }

    fn value(&mut self, v: &Value<'_>) {
        match *v {
            Value::Proto(proto, family, ref end) => {
                self.put(2, proto as u128);
                self.put(2, family as u128);
                self.end(end);
            }
            Value::End(ref end) => self.end(end),
            Value::Num(n) => self.option(n, |p, n| p.put(64, u128::from(n))),
            Value::Float(f) => self.option(f, |p, f| {
                p.put(64, u128::from(f.cast_unsigned() ^ (1 << 63)));
            }),
            Value::Bytes(b) => self.option(b, Packer::bytes),
            Value::State(s) => self.put(8, s as u128),
            Value::Flag(b) => self.put(1, u128::from(b)),
        }
    }
}

impl Order {
    /// Ascending by `key`, ties as they came.
    pub const fn new(key: Key) -> Order {
        Order {
            key,
            reverse: false,
            ties: Ties::Input,
            ephemeral: None,
        }
    }

    /// The same order, with the system's ephemeral port range.
    #[must_use]
    pub const fn ephemeral(mut self, range: Option<EphemeralRange>) -> Order {
        self.ephemeral = range;
        self
    }

    /// The same order, descending if `reverse`.
    #[must_use]
    pub const fn reversed(mut self, reverse: bool) -> Order {
        self.reverse = reverse;
        self
    }

    /// The same order with ties broken as `ties` says.
    #[must_use]
    pub const fn ties(mut self, ties: Ties) -> Order {
        self.ties = ties;
        self
    }

    fn value<'a>(&self, r: &Row<'a>, ctx: &'a Snapshot, eph: Option<EphemeralRange>) -> Value<'a> {
        let s = r.socket;
        let info = s.extra.as_ref().and_then(|x| x.tcp_info.as_ref());
        let first_pid = s.owners.first().map(|o| o.pid);
        let rate = |f: fn(&Rate) -> f64| Value::Float(r.rate.as_ref().map(|x| float_key(f(x))));
        let num = |n: Option<u64>| Value::Num(n);
        match self.key {
            Key::Proto => Value::Proto(s.proto, s.family, s.local.sort_key()),
            Key::Local => Value::End(s.local.sort_key()),
            Key::Remote => Value::End(s.remote.sort_key()),
            Key::Port => num(s.local.port().map(u64::from)),
            Key::RemotePort => num(s.remote.port().map(u64::from)),
            Key::State => Value::State(s.state),
            Key::Service => Value::Bytes(
                annotate::service_of(s, eph)
                    .and_then(|i| i.service)
                    .map(|x| x.name.as_bytes()),
            ),
            Key::Pid => num(first_pid.map(u64::from)),
            Key::Process => Value::Bytes(
                first_pid
                    .and_then(|p| ctx.processes.get(&p))
                    .map(|p| p.name.as_bytes()),
            ),
            Key::User => num(s.uid.map(u64::from)),
            Key::RecvQ => num(Some(u64::from(s.recv_q))),
            Key::SendQ => num(Some(u64::from(s.send_q))),
            Key::Inode => num(Some(s.inode)),
            Key::Closed => Value::Flag(r.gone),
            Key::In => rate(|x| x.inbound),
            Key::Out => rate(|x| x.outbound),
            Key::Rtt => num(info.map(|i| u64::from(i.rtt_us))),
            Key::Retransmits => num(info.map(|i| u64::from(i.total_retrans))),
            Key::Cwnd => num(info.map(|i| u64::from(i.snd_cwnd))),
        }
    }

    /// The order of `rows`: position `k` of the result is the index in
    /// `rows` of the row that goes `k`th. `ctx` holds the processes
    /// (for [`Key::Process`]).
    pub fn permutation<'a>(&self, rows: &[Row<'a>], ctx: &'a Snapshot) -> Vec<usize> {
        self.permutation_with(rows, ctx, self.ephemeral)
    }

    /// [`Order::permutation`] with the ephemeral port range given, for
    /// callers that read it once.
    ///
    /// The sort is stable and adaptive: rows that come already in order
    /// (a live view handing them over in the order it last showed) cost
    /// one comparison each.
    pub fn permutation_with<'a>(
        &self,
        rows: &[Row<'a>],
        ctx: &'a Snapshot,
        eph: Option<EphemeralRange>,
    ) -> Vec<usize> {
        match self.ties {
            Ties::Input => self.sorted(rows, ctx, eph, |_| ()),
            Ties::Address => self.sorted(rows, ctx, eph, |r| {
                let s = r.socket;
                (s.local.sort_key(), s.remote.sort_key(), s.cookie, s.inode)
            }),
        }
    }

    fn sorted<'a, T: Ord>(
        &self,
        rows: &[Row<'a>],
        ctx: &'a Snapshot,
        eph: Option<EphemeralRange>,
        tie: impl Fn(&Row<'a>) -> T,
    ) -> Vec<usize> {
        // Each row gets a fixed-size prefix of its whole key, packed so that
        // comparing prefixes as integers orders rows as their keys do
        // wherever the prefixes differ (see `Packer`): a sort moves 32 bytes
        // a row and compares two integers, and only rows whose prefixes
        // are equal have their keys (value, then tie) computed again, from
        // the rows themselves.
        let skip_local = matches!(self.key, Key::Proto | Key::Local);
        let address_ties = matches!(self.ties, Ties::Address);
        let mut keyed: Vec<Compact> = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            if address_ties && let Some(prefix) = self.v4_prefix(r.socket) {
                keyed.push(Compact {
                    prefix,
                    index,
                    exact: true,
                });
                continue;
            }
            let mut p = Packer::new();
            p.value(&self.value(r, ctx, eph));
            let exact = p.exact;
            if address_ties && exact {
                let s = r.socket;
                if !skip_local {
                    p.end(&s.local.sort_key());
                }
                p.end(&s.remote.sort_key());
                p.put(64, u128::from(s.cookie));
                p.put(64, u128::from(s.inode));
            }
            keyed.push(Compact {
                prefix: p.bits,
                index,
                exact,
            });
        }
        let full = |a: &Compact, b: &Compact| -> std::cmp::Ordering {
            let (Some(ra), Some(rb)) = (rows.get(a.index as usize), rows.get(b.index as usize))
            else {
                return std::cmp::Ordering::Equal;
            };
            // Equal prefixes and both values packed whole: the values are equal.
            let by_value = if a.exact && b.exact {
                std::cmp::Ordering::Equal
            } else {
                self.value(ra, ctx, eph).cmp(&self.value(rb, ctx, eph))
            };
            by_value.then_with(|| tie(ra).cmp(&tie(rb)))
        };
        let cmp = |a: &Compact, b: &Compact| a.prefix.cmp(&b.prefix).then_with(|| full(a, b));
        if self.reverse {
            keyed.sort_by(|a, b| cmp(b, a));
        } else {
            keyed.sort_by(cmp);
        }
        keyed.into_iter().map(|k| k.index as usize).collect()
    }

    /// What [`Packer`] makes of the key of an IPv4 socket with address
    /// ties, under the keys on addresses, computed directly: most rows of
    /// a large live view.
    fn v4_prefix(&self, s: &Socket) -> Option<u128> {
        let (
            Endpoint::Inet {
                addr: IpAddr::V4(la),
                port: lp,
            },
            Endpoint::Inet {
                addr: IpAddr::V4(ra),
                port: rp,
            },
        ) = (&s.local, &s.remote)
        else {
            return None;
        };
        // An end: tag 0 (2 bits), the address (32), the port (16).
        let end = |a: &std::net::Ipv4Addr, p: u16| (u128::from(a.to_bits()) << 16) | u128::from(p);
        let (l, r) = (end(la, *lp), end(ra, *rp));
        let cookie = u128::from(s.cookie);
        match self.key {
            // proto (2), family (2), local (50), remote (50), cookie (24 of 64).
            Key::Proto => Some(
                ((s.proto as u128) << 126)
                    | ((s.family as u128) << 124)
                    | (l << 74)
                    | (r << 24)
                    | (cookie >> 40),
            ),
            // local (50), remote (50), cookie (28 of 64).
            Key::Local => Some((l << 78) | (r << 28) | (cookie >> 36)),
            // remote, local, cookie.
            Key::Remote => Some((r << 78) | (l << 28) | (cookie >> 36)),
            _ => None,
        }
    }

    /// Sorts the snapshot's sockets in place.
    pub fn sort(&self, snap: &mut Snapshot) {
        let perm = {
            let rows: Vec<Row<'_>> = snap.sockets.iter().map(Row::of).collect();
            self.permutation(&rows, snap)
        };
        let mut slots: Vec<Option<Socket>> = std::mem::take(&mut snap.sockets)
            .into_iter()
            .map(Some)
            .collect();
        snap.sockets = perm
            .into_iter()
            .filter_map(|i| slots.get_mut(i).and_then(Option::take))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, Owner, Process, SocketExtra, TcpInfo};

    fn sock(port: u16, rport: u16, cookie: u64) -> Socket {
        Socket {
            proto: Proto::Tcp,
            family: Family::Inet,
            local: Endpoint::v4([127, 0, 0, 1].into(), port),
            remote: Endpoint::v4([127, 0, 0, 2].into(), rport),
            state: TcpState::Established,
            recv_q: 0,
            send_q: 0,
            uid: Some(0),
            inode: cookie,
            unix_type: None,
            bound_if: 0,
            owners: vec![],
            owners_hidden: false,
            cookie,
            v6only: None,
            extra: None,
            netns: None,
            cgroup_id: 0,
        }
    }

    fn ports(socks: &[Socket], perm: &[usize]) -> Vec<u16> {
        perm.iter()
            .map(|&i| socks[i].local.port().unwrap())
            .collect()
    }

    #[test]
    fn input_ties_stay_in_input_order_both_ways() {
        let mut socks = vec![
            sock(80, 1, 1),
            sock(22, 2, 2),
            sock(80, 3, 3),
            sock(443, 4, 4),
        ];
        socks[1].state = TcpState::Listen;
        let ctx = Snapshot::default();
        let rows: Vec<Row<'_>> = socks.iter().map(Row::of).collect();
        let up = Order::new(Key::Port).permutation(&rows, &ctx);
        assert_eq!(up, [1, 0, 2, 3]);
        let down = Order::new(Key::Port)
            .reversed(true)
            .permutation(&rows, &ctx);
        // Descending ports, the two 80s still in input order.
        assert_eq!(down, [3, 0, 2, 1]);
        let by_state = Order::new(Key::State).permutation(&rows, &ctx);
        assert_eq!(ports(&socks, &by_state), [80, 80, 443, 22]);
    }

    #[test]
    fn address_ties_reverse_with_the_key() {
        let socks = [sock(80, 9, 1), sock(80, 5, 2), sock(22, 7, 3)];
        let ctx = Snapshot::default();
        let rows: Vec<Row<'_>> = socks.iter().map(Row::of).collect();
        let o = Order::new(Key::State).ties(Ties::Address);
        // All established: local then remote decide.
        assert_eq!(o.permutation(&rows, &ctx), [2, 1, 0]);
        assert_eq!(o.reversed(true).permutation(&rows, &ctx), [0, 1, 2]);
    }

    #[test]
    fn process_service_rate_and_tcp_info_keys() {
        let mut ctx = Snapshot::default();
        for (pid, name) in [(10, "zeta"), (11, "alpha")] {
            ctx.processes.insert(
                pid,
                Process {
                    pid,
                    name: name.into(),
                    ..Process::default()
                },
            );
        }
        let mut socks = vec![sock(443, 50000, 1), sock(22, 50001, 2), sock(9, 50002, 3)];
        socks[0].owners = vec![Owner { pid: 10, fd: 3 }];
        socks[1].owners = vec![Owner { pid: 11, fd: 3 }];
        for (s, rtt) in socks.iter_mut().zip([300u32, 100, 200]) {
            s.extra = Some(Box::new(SocketExtra {
                tcp_info: Some(TcpInfo {
                    rtt_us: rtt,
                    ..TcpInfo::default()
                }),
                ..SocketExtra::default()
            }));
        }
        let mut rows: Vec<Row<'_>> = socks.iter().map(Row::of).collect();
        rows[0].rate = Some(Rate {
            inbound: 5.0,
            outbound: 0.0,
        });
        rows[2].rate = Some(Rate {
            inbound: -0.0,
            outbound: 1e9,
        });
        let p = |k| ports(&socks, &Order::new(k).permutation(&rows, &ctx));
        // No owner first, then by name bytes.
        assert_eq!(p(Key::Process), [9, 22, 443]);
        assert_eq!(p(Key::Pid), [9, 443, 22]);
        // No rate first; -0.0 before 5.0.
        assert_eq!(p(Key::In), [22, 9, 443]);
        assert_eq!(p(Key::Out), [22, 443, 9]);
        assert_eq!(p(Key::Rtt), [22, 9, 443]);
        // ssh and https are registered, port 9 (discard) too; by name.
        let svc: Vec<Option<&str>> = Order::new(Key::Service)
            .permutation(&rows, &ctx)
            .iter()
            .map(|&i| {
                annotate::service_of(&socks[i], None)
                    .and_then(|x| x.service)
                    .map(|x| x.name)
            })
            .collect();
        assert!(svc.windows(2).all(|w| w[0] <= w[1]), "{svc:?}");
    }

    #[test]
    fn float_keys_order_as_total_cmp() {
        let v = [
            f64::NEG_INFINITY,
            -1.5,
            -0.0,
            0.0,
            1e-300,
            2.0,
            f64::INFINITY,
        ];
        for w in v.windows(2) {
            assert!(float_key(w[0]) < float_key(w[1]), "{w:?}");
        }
    }

    /// The sort as it was before keys were packed: the whole key and tie
    /// of every row, compared as values.
    fn reference<'a>(o: &Order, rows: &[Row<'a>], ctx: &'a Snapshot) -> Vec<usize> {
        let eph = o.ephemeral;
        let mut keyed: Vec<_> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let s = r.socket;
                let tie = match o.ties {
                    Ties::Input => None,
                    Ties::Address => {
                        Some((s.local.sort_key(), s.remote.sort_key(), s.cookie, s.inode))
                    }
                };
                (o.value(r, ctx, eph), tie, i)
            })
            .collect();
        if o.reverse {
            keyed.sort_by(|a, b| (&b.0, &b.1).cmp(&(&a.0, &a.1)));
        } else {
            keyed.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        }
        keyed.into_iter().map(|(_, _, i)| i).collect()
    }

    const KEYS: [Key; 19] = [
        Key::Proto,
        Key::Local,
        Key::Remote,
        Key::Port,
        Key::RemotePort,
        Key::State,
        Key::Service,
        Key::Pid,
        Key::Process,
        Key::User,
        Key::RecvQ,
        Key::SendQ,
        Key::Inode,
        Key::Closed,
        Key::In,
        Key::Out,
        Key::Rtt,
        Key::Retransmits,
        Key::Cwnd,
    ];

    fn arb_end() -> impl proptest::strategy::Strategy<Value = Endpoint> {
        use proptest::prelude::*;
        // Few distinct values, so that ties are common.
        let byte = prop_oneof![Just(0u8), Just(1), Just(b'a'), Just(0xff)];
        prop_oneof![
            (0u8..3, 0u16..3).prop_map(|(a, p)| Endpoint::v4([127, 0, 0, a].into(), p)),
            (0u8..3, 0u16..3).prop_map(|(a, p)| {
                let mut b = [0u8; 16];
                b[15] = a;
                b[0] = a.wrapping_mul(0x7f);
                Endpoint::v6(b.into(), p)
            }),
            (
                proptest::option::of(proptest::collection::vec(byte, 0..20)),
                0u64..3
            )
                .prop_map(|(path, inode)| Endpoint::Unix {
                    path: path.map(crate::text::Text::from),
                    inode,
                }),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Packed prefixes order every key, direction and tie rule exactly
        /// as comparing the whole keys does.
        #[test]
        fn packed_keys_sort_as_whole_keys(
            socks in proptest::collection::vec(
                (arb_end(), arb_end(), 0u8..4,
                 proptest::sample::select(vec![0u64, 1, 2, 1 << 40, (1 << 40) + 1, u64::MAX]), 0u64..3, proptest::option::of(0u32..3),
                 proptest::option::of(0u32..3), 0u32..3, proptest::option::of(-2i8..3), proptest::bool::ANY),
                0..40),
            names in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..18), 3),
            eph in proptest::bool::ANY,
        ) {
            let mut ctx = Snapshot::default();
            for (pid, name) in (0u32..).zip(&names) {
                ctx.processes.insert(pid, Process { pid, name: name.clone().into(), ..Process::default() });
            }
            let built: Vec<(Socket, Option<Rate>, bool)> = socks
                .iter()
                .map(|(l, r, st, cookie, inode, pid, rtt, q, rate, gone)| {
                    let s = Socket {
                        proto: [Proto::Tcp, Proto::Udp, Proto::Raw, Proto::Unix][usize::from(*st)],
                        family: match l { Endpoint::Unix { .. } => Family::Unix, Endpoint::Inet { addr, .. } if addr.is_ipv6() => Family::Inet6, _ => Family::Inet },
                        local: l.clone(),
                        remote: r.clone(),
                        state: TcpState::ALL[usize::from(*st) * 3],
                        recv_q: *q,
                        send_q: 2 - *q,
                        uid: pid.map(|p| p % 2),
                        inode: *inode,
                        owners: pid.iter().map(|&p| Owner { pid: p, fd: 3 }).collect(),
                        cookie: *cookie,
                        extra: rtt.map(|rtt| Box::new(SocketExtra {
                            tcp_info: Some(TcpInfo { rtt_us: rtt, ..TcpInfo::default() }),
                            ..SocketExtra::default()
                        })),
                        ..Socket::default()
                    };
                    let rate = rate.map(|x| Rate { inbound: f64::from(x) * 0.5, outbound: -f64::from(x) });
                    (s, rate, *gone)
                })
                .collect();
            let rows: Vec<Row<'_>> = built.iter().map(|(s, rate, gone)| Row { socket: s, rate: *rate, gone: *gone }).collect();
            let range = eph.then_some(EphemeralRange { low: 1, high: 2 });
            for key in KEYS {
                for reverse in [false, true] {
                    for ties in [Ties::Input, Ties::Address] {
                        let o = Order::new(key).reversed(reverse).ties(ties).ephemeral(range);
                        proptest::prop_assert_eq!(o.permutation(&rows, &ctx), reference(&o, &rows, &ctx), "{:?}", o);
                    }
                }
            }
        }
    }

    #[test]
    fn sort_moves_every_socket_once() {
        let mut snap = Snapshot {
            sockets: vec![sock(3, 1, 1), sock(1, 1, 2), sock(2, 1, 3)],
            ..Snapshot::default()
        };
        Order::new(Key::Local).reversed(true).sort(&mut snap);
        let got: Vec<u64> = snap.sockets.iter().map(|s| s.cookie).collect();
        assert_eq!(got, [1, 3, 2]);
    }
}
