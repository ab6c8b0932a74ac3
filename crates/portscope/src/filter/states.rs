//! State names of `state`/`exclude`, as ss's `scan_state` reads them.
//!
//! Maps names and ss's groups onto [`StateSet`]; how the words combine is the
//! parser's job.

use crate::model::{StateSet, TcpState};

/// Every state ss knows (its `SS_ALL`, less the "unknown" bit no socket has).
pub(crate) const ALL: StateSet = StateSet(
    TcpState::Established.mask_bit()
        | TcpState::SynSent.mask_bit()
        | TcpState::SynRecv.mask_bit()
        | TcpState::FinWait1.mask_bit()
        | TcpState::FinWait2.mask_bit()
        | TcpState::TimeWait.mask_bit()
        | TcpState::Close.mask_bit()
        | TcpState::CloseWait.mask_bit()
        | TcpState::LastAck.mask_bit()
        | TcpState::Listen.mask_bit()
        | TcpState::Closing.mask_bit()
        | TcpState::NewSynRecv.mask_bit(),
);

const fn without(set: StateSet, states: &[TcpState]) -> StateSet {
    let mut bits = set.0;
    let mut i = 0;
    while i < states.len() {
        bits &= !states[i].mask_bit();
        i += 1;
    }
    StateSet(bits)
}

/// The names `state`/`exclude` accept, for error messages.
pub(crate) const NAMES: &str = "established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, \
time-wait, closed, close-wait, last-ack, listening, closing, unconnected, \
all, connected, synchronized, bucket, big";

/// The states a name stands for (case-insensitive), or `None` if unknown.
///
/// Besides ss's spellings, `listen` is accepted for `listening`.
pub(crate) fn lookup(name: &str) -> Option<StateSet> {
    use TcpState as S;
    let lower = name.to_ascii_lowercase();
    let set = match lower.as_str() {
        "close" | "closed" | "unconnected" => StateSet::only(S::Close),
        "syn-rcv" | "syn-recv" => StateSet::only(S::SynRecv),
        "established" => StateSet::only(S::Established),
        "syn-sent" => StateSet::only(S::SynSent),
        "fin-wait-1" => StateSet::only(S::FinWait1),
        "fin-wait-2" => StateSet::only(S::FinWait2),
        "time-wait" => StateSet::only(S::TimeWait),
        "close-wait" => StateSet::only(S::CloseWait),
        "last-ack" => StateSet::only(S::LastAck),
        "listening" | "listen" => StateSet::only(S::Listen),
        "closing" => StateSet::only(S::Closing),
        // ss accepts its "unknown" state; no socket is ever in it.
        "unknown" => StateSet::NONE,
        "all" => ALL,
        "connected" => without(ALL, &[S::Close, S::Listen]),
        "synchronized" => without(ALL, &[S::Close, S::Listen, S::SynSent]),
        "bucket" => StateSet::only(S::SynRecv).with(S::TimeWait),
        "big" => without(ALL, &[S::SynRecv, S::TimeWait]),
        _ => return None,
    };
    Some(normalize(set))
}

/// Request sockets (NEW_SYN_RECV) are shown as SYN-RECV and selected with it,
/// as the kernel does for a dump that asks for SYN_RECV.
pub(crate) const fn normalize(set: StateSet) -> StateSet {
    if set.contains(TcpState::SynRecv) {
        set.with(TcpState::NewSynRecv)
    } else {
        set.without(TcpState::NewSynRecv)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use TcpState as S;

    fn members(set: StateSet) -> Vec<TcpState> {
        TcpState::ALL
            .into_iter()
            .filter(|s| set.contains(*s))
            .collect()
    }

    #[test]
    fn single_states() {
        assert_eq!(lookup("established"), Some(StateSet::only(S::Established)));
        assert_eq!(lookup("ESTABLISHED"), Some(StateSet::only(S::Established)));
        assert_eq!(lookup("closed"), Some(StateSet::only(S::Close)));
        assert_eq!(lookup("close"), Some(StateSet::only(S::Close)));
        assert_eq!(lookup("unconnected"), Some(StateSet::only(S::Close)));
        assert_eq!(lookup("listening"), Some(StateSet::only(S::Listen)));
        assert_eq!(lookup("listen"), Some(StateSet::only(S::Listen)));
        assert_eq!(lookup("fin-wait-1"), Some(StateSet::only(S::FinWait1)));
        assert_eq!(lookup("time-wait"), Some(StateSet::only(S::TimeWait)));
        assert_eq!(
            lookup("syn-recv"),
            Some(StateSet::only(S::SynRecv).with(S::NewSynRecv))
        );
        assert_eq!(lookup("syn-rcv"), lookup("syn-recv"));
        assert_eq!(lookup("unknown"), Some(StateSet::NONE));
        assert_eq!(lookup("estab"), None);
        assert_eq!(lookup("time_wait"), None);
    }

    #[test]
    fn groups_as_ss_defines_them() {
        assert_eq!(members(lookup("all").unwrap()), TcpState::ALL.to_vec());
        assert_eq!(
            members(lookup("connected").unwrap()),
            vec![
                S::Established,
                S::SynSent,
                S::SynRecv,
                S::FinWait1,
                S::FinWait2,
                S::TimeWait,
                S::CloseWait,
                S::LastAck,
                S::Closing,
                S::NewSynRecv
            ]
        );
        assert_eq!(
            members(lookup("synchronized").unwrap()),
            vec![
                S::Established,
                S::SynRecv,
                S::FinWait1,
                S::FinWait2,
                S::TimeWait,
                S::CloseWait,
                S::LastAck,
                S::Closing,
                S::NewSynRecv
            ]
        );
        assert_eq!(
            members(lookup("bucket").unwrap()),
            vec![S::SynRecv, S::TimeWait, S::NewSynRecv]
        );
        assert_eq!(
            members(lookup("big").unwrap()),
            vec![
                S::Established,
                S::SynSent,
                S::FinWait1,
                S::FinWait2,
                S::Close,
                S::CloseWait,
                S::LastAck,
                S::Listen,
                S::Closing
            ]
        );
    }
}
