//! `-N/--netns NAME|PID|host|all`: which network namespaces a command
//! lists, as ss's `-N NAME` does for one. `host` and `all` and a pid choose
//! what is dumped; a name dumps every namespace and keeps the sockets of
//! the one so named (an `ip netns` name, a docker sandbox id, or the name
//! of the container whose namespace it is), as the filter `netns NAME`.

use portscope::collect::{NetnsScope, System};
use portscope::filter::Filter;
use portscope::model::Snapshot;

use crate::Failure;

/// What `-N` asks for.
#[derive(Debug, Default)]
pub struct Pick {
    /// What to dump.
    pub scope: NetnsScope,
    /// The sockets to keep of the dump, for a name.
    by_name: Option<Filter>,
}

impl Pick {
    /// Keeps only the sockets of the namespace named, if one was.
    pub fn keep(&self, snap: &mut Snapshot) {
        let Some(f) = &self.by_name else {
            return;
        };
        let sockets = std::mem::take(&mut snap.sockets);
        snap.sockets = sockets.into_iter().filter(|s| f.matches(s, snap)).collect();
    }
}

/// Reads `-N`'s value against the system in use; a pid that runs nowhere
/// to be seen is a usage error.
pub fn resolve(spec: Option<&str>, sys: &dyn System) -> Result<Pick, Failure> {
    let Some(spec) = spec else {
        return Ok(Pick::default());
    };
    let scope = match spec {
        "all" => NetnsScope::All,
        "host" => NetnsScope::Host,
        "" => return Err(Failure::Usage("-N/--netns needs a value".into())),
        _ if spec.bytes().all(|b| b.is_ascii_digit()) => {
            let pid: u32 = spec
                .parse()
                .map_err(|_| Failure::Usage(format!("-N/--netns: {spec} is not a process id")))?;
            let inode = sys.netns_of(pid).ok_or_else(|| {
                Failure::Usage(format!(
                    "-N/--netns: no network namespace known for process {pid}"
                ))
            })?;
            NetnsScope::Only(inode)
        }
        name => {
            let words = ["netns".to_owned(), name.to_owned()];
            let by_name = Filter::parse(&words)
                .map_err(|e| Failure::Usage(format!("-N/--netns: {}", e.message)))?;
            return Ok(Pick {
                scope: NetnsScope::All,
                by_name: Some(by_name),
            });
        }
    };
    Ok(Pick {
        scope,
        by_name: None,
    })
}

/// `-N` as one namespace scope, for commands that take their snapshots
/// through [`portscope::collect::Options`] alone (the live ones, and those
/// that audit or join what they took): a name is looked up once, in a
/// dump of every namespace without owners, and becomes the inode of the
/// namespace it names. A name no namespace with sockets has is a usage
/// error.
pub fn scope(spec: Option<&str>, sys: &dyn System) -> Result<NetnsScope, Failure> {
    let pick = resolve(spec, sys)?;
    let Some(by_name) = &pick.by_name else {
        return Ok(pick.scope);
    };
    let opts = portscope::collect::Options {
        query: portscope::model::Query {
            unix: true,
            raw: true,
            packet: true,
            netlink: true,
            ..portscope::model::Query::default()
        },
        netns: NetnsScope::All,
        ..portscope::collect::Options::default()
    };
    let snap = portscope::collect::take(sys, &opts)?;
    snap.sockets
        .iter()
        .filter(|s| by_name.matches(s, &snap))
        .find_map(|s| s.netns.as_ref().map(|n| n.inode))
        .map(NetnsScope::Only)
        .ok_or_else(|| {
            Failure::Usage(format!(
                "-N/--netns: no network namespace named '{}' has sockets",
                spec.unwrap_or_default()
            ))
        })
}
