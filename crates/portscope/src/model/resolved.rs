//! Names found for a snapshot's addresses (`--resolve`): what the renderers
//! show in place of an address, and which addresses had no answer in time.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::text::Text;

/// Host names for addresses of a snapshot. Empty unless names were asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    /// The name of each address that has one. Chosen by whoever controls
    /// the reverse zone (or /etc/hosts): untrusted, shown escaped.
    pub names: HashMap<IpAddr, Text>,
    /// Addresses whose lookup had not answered by the deadline: shown
    /// numeric and marked.
    pub pending: HashSet<IpAddr>,
}

impl Resolved {
    /// The name for `addr`, if it has one.
    pub fn name(&self, addr: IpAddr) -> Option<&Text> {
        self.names.get(&addr.to_canonical())
    }

    /// Whether `addr`'s lookup ran out of time.
    pub fn is_pending(&self, addr: IpAddr) -> bool {
        self.pending.contains(&addr.to_canonical())
    }
}
