//! Names for the listing (`-r`): one [`Resolver`] per run, shared by the
//! listing's reverse lookups and the filter's host names, and how a
//! resolved end is shown.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use portscope::model::{Endpoint, Resolved, Snapshot};
use portscope::resolve::Resolver;

use crate::config::ListConfig;

/// The mark on an address whose name did not come in time.
pub const PENDING_MARK: char = '~';

fn resolver() -> &'static Resolver {
    static R: OnceLock<Resolver> = OnceLock::new();
    R.get_or_init(Resolver::system)
}

/// Lets every filter of this run name hosts (`dst db1`) and read
/// `localhost` from the hosts file.
pub fn install_host_lookup() {
    portscope::filter::set_host_lookup(Box::new(|name| resolver().forward(name)));
}

/// Looks up the names of every address of `snap`'s sockets, waiting at
/// most `limit` for all of them together.
pub fn resolve(snap: &mut Snapshot, limit: Duration) {
    let addrs: Vec<IpAddr> = snap
        .sockets
        .iter()
        .flat_map(|s| [s.local.addr(), s.remote.addr()])
        .flatten()
        .collect();
    snap.resolved = resolver().reverse_all(addrs, Instant::now() + limit);
}

/// Says how many addresses stayed numeric for want of an answer in time.
pub fn report_pending(cfg: &ListConfig, snap: &Snapshot) {
    let n = snap.resolved.pending.len();
    if n == 0 {
        return;
    }
    let limit = cfg.resolve.unwrap_or_default();
    crate::say(format_args!(
        "{n} address(es) not resolved within {} ms: shown numeric, marked {PENDING_MARK}",
        limit.as_millis()
    ));
}

/// Pushes an end as the table shows it: `name:port` when the address has a
/// name (escaped: a reverse zone's owner chose it), `~addr:port` when its
/// lookup ran out of time, else as `shown` (ss's form) has it.
pub fn push_end(buf: &mut String, shown: &dyn std::fmt::Display, end: &Endpoint, r: &Resolved) {
    if let Endpoint::Inet { addr, port } = end {
        if let Some(name) = r.name(*addr) {
            let _ = write!(buf, "{}", name.bounded(253));
            if *port == 0 {
                buf.push_str(":*");
            } else {
                let _ = write!(buf, ":{port}");
            }
            return;
        }
        if r.is_pending(*addr) {
            buf.push(PENDING_MARK);
        }
    }
    let _ = write!(buf, "{shown}");
}
