//! [`Recorded`]: a [`System`] made from a saved listing, so that every
//! command runs on a snapshot taken elsewhere or earlier exactly as on the
//! live machine, and can be tested deterministically.

use crate::error::Result;
use crate::model::{Owner, Process, Snapshot, Socket, Source};
use crate::services::EphemeralRange;
use crate::text::Text;

use super::host::HostFacts;
use super::owner_map::OwnerMap;
use super::signal::{PinError, Pinned, ProcessHandle, Signal, SignalOutcome};
use super::snapshot::{NetnsScope, Options};
use super::system::{CloseOutcome, Dump, System, Walk};

/// A machine as a saved listing recorded it: its dumps are the recording's
/// sockets (those the query wants), its owners, processes and user names
/// the recording's. Nothing can be closed or signalled
/// ([`CloseOutcome::Recorded`], [`SignalOutcome::Recorded`]).
///
/// ```
/// use portscope::collect::{take, Options, Recorded};
/// let rec = Recorded::new(portscope::Snapshot::default());
/// assert!(take(&rec, &Options::default())?.sockets.is_empty());
/// # Ok::<(), portscope::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    snap: Snapshot,
    facts: Option<HostFacts>,
}

impl Recorded {
    /// A system answering from `snap` (as read from a `--json` listing),
    /// with no host facts beyond what the listing holds.
    pub fn new(snap: Snapshot) -> Recorded {
        Recorded { snap, facts: None }
    }

    /// The same, with the host's facts as recorded too (addresses, the
    /// ephemeral range, the dual-stack default).
    pub fn with_host_facts(mut self, facts: HostFacts) -> Recorded {
        self.facts = Some(facts);
        self
    }

    /// The recording.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snap
    }
}

/// Whether a recorded socket is in the namespaces `scope` names: every one
/// by default (a recording is shown whole), the host's for `Own` too.
fn in_scope(scope: NetnsScope, s: &Socket) -> bool {
    let ns = s.netns.as_deref();
    match scope {
        NetnsScope::Default | NetnsScope::All => true,
        NetnsScope::Own | NetnsScope::Host => ns.is_none_or(|n| n.host),
        NetnsScope::Only(inode) => ns.is_some_and(|n| n.inode == inode),
    }
}

impl System for Recorded {
    fn dump(&self, opts: &Options, _hint: Option<&OwnerMap>, _capacity: usize) -> Result<Dump> {
        let sockets = self
            .snap
            .sockets
            .iter()
            .filter(|s| opts.query.wants(s) && in_scope(opts.netns, s))
            .map(|s| {
                let mut s = s.clone();
                if !opts.owners {
                    // A live dump knows no owners: they come from the walk.
                    s.owners.clear();
                    s.owners_hidden = false;
                }
                s
            })
            .collect();
        Ok(Dump {
            sockets,
            source: Source::File,
            notes: self.snap.notes.clone(),
            namespaces: Vec::new(),
        })
    }

    fn forwards(&self) -> std::collections::HashMap<u64, crate::model::ForwardTo> {
        self.snap.forwards.clone()
    }

    fn cgroups(&self, ids: &[u64]) -> std::collections::HashMap<u64, crate::model::Cgroup> {
        ids.iter()
            .filter_map(|id| self.snap.cgroups.get(id).map(|c| (*id, c.clone())))
            .collect()
    }

    fn netns_of(&self, pid: u32) -> Option<u64> {
        self.snap
            .sockets
            .iter()
            .find(|s| s.owners.iter().any(|o| o.pid == pid))
            .and_then(|s| s.netns.as_ref().map(|n| n.inode))
    }

    /// The details stay as recorded (a recording has no live counters).
    fn tcp_info(&self, _sockets: &mut [&mut Socket]) -> Result<()> {
        Ok(())
    }

    fn owners(&self, _walk: Walk<'_>) -> Result<OwnerMap> {
        let pairs: Vec<(u64, Owner)> = self
            .snap
            .sockets
            .iter()
            .filter(|s| s.inode != 0)
            .flat_map(|s| s.owners.iter().map(|o| (s.inode, *o)))
            .collect();
        Ok(OwnerMap::from_pairs(pairs, Vec::new()))
    }

    fn process(&self, pid: u32) -> Result<Option<Process>> {
        Ok(self.snap.processes.get(&pid).cloned())
    }

    fn names(&self) -> crate::model::Resolved {
        self.snap.resolved.clone()
    }

    fn pids(&self) -> Result<Vec<u32>> {
        let mut v: Vec<u32> = self.snap.processes.keys().copied().collect();
        v.sort_unstable();
        Ok(v)
    }

    fn user_name(&self, uid: u32) -> Text {
        if let Some(name) = self.snap.user_names.get(&uid) {
            return name.clone();
        }
        self.snap
            .processes
            .values()
            .find_map(|p| match (p.uid, &p.user, p.euid, &p.euser) {
                (Some(u), Some(name), _, _) if u == uid => Some(name.clone()),
                (_, _, Some(u), Some(name)) if u == uid => Some(name.clone()),
                _ => None,
            })
            .unwrap_or_else(|| Text::from(uid.to_string()))
    }

    /// No one: a recording says which sockets' owners were hidden itself.
    fn euid(&self) -> u32 {
        u32::MAX
    }

    fn host_facts(&self, snap: &Snapshot) -> HostFacts {
        let mut facts = HostFacts::from_snapshot(snap);
        if let Some(rec) = &self.facts {
            facts.addresses.clone_from(&rec.addresses);
            facts.v6_dual_stack = rec.v6_dual_stack;
            facts.ephemeral = rec.ephemeral;
            facts.notes.clone_from(&rec.notes);
            for (pid, exe) in &rec.executables {
                facts.executables.insert(*pid, exe.clone());
            }
        }
        facts
    }

    fn v6_dual_stack(&self) -> bool {
        self.facts.as_ref().is_none_or(|f| f.v6_dual_stack)
    }

    fn ephemeral_range(&self) -> Option<EphemeralRange> {
        self.facts.as_ref().and_then(|f| f.ephemeral)
    }

    fn close(&self, _s: &Socket) -> Result<CloseOutcome> {
        Ok(CloseOutcome::Recorded)
    }

    fn pin(&self, pid: u32) -> std::result::Result<ProcessHandle, PinError> {
        Ok(ProcessHandle::new(RecordedPin { pid }))
    }
}

/// A process of a recording: it never exits and is never signalled.
#[derive(Debug)]
struct RecordedPin {
    pid: u32,
}

impl Pinned for RecordedPin {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn exited(&self) -> bool {
        false
    }

    fn signal_if_holding(&self, _inodes: &[u64], _sig: Signal) -> SignalOutcome {
        SignalOutcome::Recorded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, Family, Proto, TcpState};

    fn socket(port: u16, inode: u64, owners: Vec<Owner>) -> Socket {
        Socket {
            proto: Proto::Tcp,
            family: Family::Inet,
            local: Endpoint::Inet {
                addr: std::net::Ipv4Addr::LOCALHOST.into(),
                port,
            },
            remote: Endpoint::Inet {
                addr: std::net::Ipv4Addr::UNSPECIFIED.into(),
                port: 0,
            },
            state: TcpState::Listen,
            inode,
            uid: Some(1000),
            owners,
            ..Socket::default()
        }
    }

    #[test]
    fn owners_and_processes_come_from_the_recording() {
        let mut snap = Snapshot::default();
        let a = Owner { pid: 10, fd: 3 };
        let b = Owner { pid: 11, fd: 4 };
        snap.sockets.push(socket(80, 7, vec![a, b]));
        snap.sockets.push(socket(81, 0, vec![a]));
        let mut hidden = socket(82, 9, vec![]);
        hidden.owners_hidden = true;
        snap.sockets.push(hidden);
        snap.processes.insert(
            10,
            Process {
                pid: 10,
                name: Text::from("web"),
                uid: Some(1000),
                user: Some(Text::from("alice")),
                ..Process::default()
            },
        );
        let rec = Recorded::new(snap);
        let opts = Options {
            owners: true,
            ..Options::default()
        };
        let got = super::super::take(&rec, &opts).expect("take");
        assert_eq!(got.sockets[0].owners, vec![a, b]);
        // No inode: the recorded owners stay.
        assert_eq!(got.sockets[1].owners, vec![a]);
        assert!(got.sockets[2].owners_hidden);
        assert_eq!(got.hidden.sockets, 1);
        assert_eq!(got.processes.len(), 1, "pid 11 has no recorded details");
        assert_eq!(got.user_names.get(&1000), Some(&Text::from("alice")));

        let bare = super::super::take(&rec, &Options::default()).expect("take");
        assert!(bare.sockets.iter().all(|s| s.owners.is_empty()));

        assert_eq!(
            rec.close(&got.sockets[0]).expect("close"),
            CloseOutcome::Recorded
        );
        let h = rec.pin(10).expect("pin");
        assert_eq!(
            h.signal_if_holding(&[7], Signal::TERM),
            SignalOutcome::Recorded
        );
    }

    #[test]
    fn a_refresher_replays_the_recording() {
        let mut snap = Snapshot::default();
        let a = Owner { pid: 10, fd: 3 };
        snap.sockets.push(socket(80, 7, vec![a]));
        snap.sockets.push(socket(81, 8, vec![]));
        let rec = Recorded::new(snap);
        let opts = Options {
            owners: true,
            ..Options::default()
        };
        let first = super::super::take(&rec, &opts).expect("take");
        let mut r = super::super::Refresher::new(&rec, opts);
        for _ in 0..8 {
            let again = r.take().expect("refresh");
            assert_eq!(again.sockets, first.sockets);
        }
    }
}
