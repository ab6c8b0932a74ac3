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
    /// Whether a socket is of the namespace named, if one was (every
    /// socket is when none was).
    pub fn wants(&self, s: &portscope::model::Socket, snap: &Snapshot) -> bool {
        self.by_name.as_ref().is_none_or(|f| f.matches(s, snap))
    }

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
