//! Host names for addresses (`--resolve`) and addresses for host names (the
//! filter's `dst db1`), through the system's own configuration.
//!
//! Reverse lookups go first to the hosts file (`/etc/hosts`, parsed here:
//! no query, no wait), then to `getnameinfo(3)` — which follows
//! nsswitch.conf and resolv.conf as every other program on the machine does
//! — on a bounded pool of threads, with **one deadline for the whole
//! listing**: what has not answered by then stays numeric and is reported as
//! pending. A lookup still running at the deadline goes on in the
//! background and fills the cache for the next round (`-c`). See
//! `bench/RESOLVE-RESULTS.md` for why this rather than hickory-resolver.
//!
//! Names come from whoever controls a reverse zone or the hosts file: they
//! are kept as [`Text`] and shown escaped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::model::Resolved;
use crate::text::Text;

/// Lookups in flight at once, at most: a listing of 100k connections to
/// distinct peers must not start 100k threads, nor flood the DNS server.
pub const MAX_THREADS: usize = 32;

/// The hosts file's entries: address → first name, name → addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hosts {
    by_addr: HashMap<IpAddr, String>,
    by_name: HashMap<String, Vec<IpAddr>>,
}

impl Hosts {
    /// Parses a hosts file: `ADDRESS NAME [ALIAS…]` lines, `#` comments.
    /// The first line naming an address gives its name, as glibc does;
    /// every line naming a name gives it an address. Names are matched
    /// without regard to ASCII case.
    ///
    /// ```
    /// use portscope::resolve::Hosts;
    /// let h = Hosts::parse(b"127.0.0.1 localhost\n::1 localhost ip6-localhost # v6\n10.0.0.5 db1 db1.lan\nbad line\n");
    /// assert_eq!(h.name("10.0.0.5".parse().unwrap()), Some("db1"));
    /// assert_eq!(h.addrs("LOCALHOST").len(), 2);
    /// assert_eq!(h.addrs("db1.lan"), &["10.0.0.5".parse::<std::net::IpAddr>().unwrap()]);
    /// assert!(h.addrs("nope").is_empty());
    /// ```
    pub fn parse(raw: &[u8]) -> Hosts {
        let mut h = Hosts::default();
        for line in String::from_utf8_lossy(raw).lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let Some(addr) = words.next().and_then(|a| a.parse::<IpAddr>().ok()) else {
                continue;
            };
            let addr = addr.to_canonical();
            for (i, name) in words.enumerate() {
                if i == 0 {
                    h.by_addr.entry(addr).or_insert_with(|| name.to_string());
                }
                let list = h.by_name.entry(name.to_ascii_lowercase()).or_default();
                if !list.contains(&addr) {
                    list.push(addr);
                }
            }
        }
        h
    }

    /// The hosts file at `path`; empty when it cannot be read.
    pub fn read(path: &Path) -> Hosts {
        std::fs::read(path).map_or_else(|_| Hosts::default(), |b| Hosts::parse(&b))
    }

    /// The name the file gives `addr`.
    pub fn name(&self, addr: IpAddr) -> Option<&str> {
        self.by_addr.get(&addr.to_canonical()).map(String::as_str)
    }

    /// The addresses the file gives `name`.
    pub fn addrs(&self, name: &str) -> &[IpAddr] {
        self.by_name
            .get(&name.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }
}

/// What is known of one address.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// Its name.
    Name(Text),
    /// Asked, and it has none.
    NoName,
    /// Asked, no answer yet.
    Asking,
}

#[derive(Debug, Default)]
struct Shared {
    cache: Mutex<HashMap<IpAddr, Entry>>,
    queue: Mutex<VecDeque<IpAddr>>,
    work: Condvar,
    /// Told of each answer as it comes: the rounds waiting now.
    listeners: Mutex<Vec<mpsc::Sender<IpAddr>>>,
}

/// A reverse-lookup function: the address's name, or `None`.
pub type ReverseFn = fn(IpAddr) -> Option<String>;

/// Looks names up, caching what it learns for as long as it lives.
pub struct Resolver {
    hosts: Hosts,
    shared: Arc<Shared>,
    threads: Mutex<usize>,
    max_threads: usize,
    reverse: ReverseFn,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("max_threads", &self.max_threads)
            .finish_non_exhaustive()
    }
}

/// `getnameinfo(3)` with `NI_NAMEREQD`: a name, or nothing (never the
/// address as text).
pub fn getnameinfo(addr: IpAddr) -> Option<String> {
    let sa = SocketAddr::new(addr, 0);
    dns_lookup::getnameinfo(&sa, libc_ni_namereqd())
        .ok()
        .map(|(host, _)| host)
}

/// `NI_NAMEREQD` (8 in glibc and musl): fail rather than give the address back.
const fn libc_ni_namereqd() -> i32 {
    8
}

impl Resolver {
    /// A resolver reading this machine's hosts file and asking through
    /// `getnameinfo`.
    pub fn system() -> Resolver {
        Resolver::with(Hosts::read(Path::new("/etc/hosts")), getnameinfo)
    }

    /// A resolver with these hosts entries and this reverse lookup.
    pub fn with(hosts: Hosts, reverse: ReverseFn) -> Resolver {
        Resolver {
            hosts,
            shared: Arc::new(Shared::default()),
            threads: Mutex::new(0),
            max_threads: MAX_THREADS,
            reverse,
        }
    }

    /// The hosts file's entries.
    pub fn hosts(&self) -> &Hosts {
        &self.hosts
    }

    /// Names for `addrs`, waiting at most until `deadline` for all of them
    /// together. Unspecified addresses are skipped. Addresses already
    /// answered (this round or an earlier one) cost nothing.
    pub fn reverse_all(
        &self,
        addrs: impl IntoIterator<Item = IpAddr>,
        deadline: Instant,
    ) -> Resolved {
        let wanted: HashSet<IpAddr> = addrs
            .into_iter()
            .map(|a| a.to_canonical())
            .filter(|a| !a.is_unspecified())
            .collect();
        let (tx, rx) = mpsc::channel();
        let mut waiting: HashSet<IpAddr> = HashSet::new();
        {
            let mut cache = self
                .shared
                .cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let mut queue = self
                .shared
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for &a in &wanted {
                if cache.contains_key(&a) {
                    if cache.get(&a) == Some(&Entry::Asking) {
                        waiting.insert(a);
                    }
                    continue;
                }
                if let Some(n) = self.hosts.name(a) {
                    cache.insert(a, Entry::Name(Text::from(n)));
                    continue;
                }
                cache.insert(a, Entry::Asking);
                queue.push_back(a);
                waiting.insert(a);
            }
        }
        if !waiting.is_empty() {
            self.shared
                .listeners
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(tx);
            self.spawn_workers(waiting.len());
            self.shared.work.notify_all();
            while !waiting.is_empty() {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                match rx.recv_timeout(deadline - now) {
                    Ok(a) => {
                        waiting.remove(&a);
                    }
                    Err(_) => break,
                }
            }
            // Answers that came while we were not looking are in the cache.
            self.shared
                .listeners
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
        let cache = self
            .shared
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut out = Resolved::default();
        for a in wanted {
            match cache.get(&a) {
                Some(Entry::Name(n)) => {
                    out.names.insert(a, n.clone());
                }
                Some(Entry::Asking) => {
                    out.pending.insert(a);
                }
                _ => {}
            }
        }
        out
    }

    /// Starts threads, up to the limit, for `want` queued lookups.
    fn spawn_workers(&self, want: usize) {
        let mut n = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
        while *n < self.max_threads.min(want.max(1)) {
            let shared = Arc::clone(&self.shared);
            let reverse = self.reverse;
            // Detached: a lookup stuck past the deadline may not be cancelled
            // (getnameinfo has no timeout of ours), and must not hold up the run.
            let spawned = std::thread::Builder::new()
                .name("resolve".into())
                .spawn(move || worker(&shared, reverse));
            if spawned.is_err() {
                break;
            }
            *n += 1;
        }
    }

    /// The addresses of host `name`: the hosts file's if it has any, else
    /// the system's (`getaddrinfo`), every address of every family, as ss
    /// resolves a filter's host. An error says why there are none.
    pub fn forward(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        let from_file = self.hosts.addrs(name);
        if !from_file.is_empty() {
            return Ok(from_file.to_vec());
        }
        match dns_lookup::lookup_host(name) {
            Ok(list) => {
                let mut v: Vec<IpAddr> = Vec::new();
                for a in list {
                    let a = a.to_canonical();
                    if !v.contains(&a) {
                        v.push(a);
                    }
                }
                if v.is_empty() {
                    Err(format!("host name '{name}' has no address"))
                } else {
                    Ok(v)
                }
            }
            Err(e) => Err(format!("host name '{name}' could not be resolved ({e})")),
        }
    }
}

fn worker(shared: &Shared, reverse: ReverseFn) {
    loop {
        let addr = {
            let mut q = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(a) = q.pop_front() {
                    break a;
                }
                // Idle threads stay for the next round (-c): waiting costs nothing.
                q = shared
                    .work
                    .wait_timeout(q, Duration::from_secs(5))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        };
        let entry = match reverse(addr) {
            Some(n) => Entry::Name(Text::from(n)),
            None => Entry::NoName,
        };
        shared
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(addr, entry);
        for tx in shared
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = tx.send(addr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow(addr: IpAddr) -> Option<String> {
        match addr.to_string().as_str() {
            "10.0.0.1" => Some("fast.test".into()),
            "10.0.0.2" => {
                std::thread::sleep(Duration::from_secs(30));
                Some("never.test".into())
            }
            _ => None,
        }
    }

    #[test]
    fn hosts_first_then_lookups_with_one_deadline() {
        let r = Resolver::with(Hosts::parse(b"10.0.0.9 fromfile\n"), slow);
        let addrs: Vec<IpAddr> = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.9", "0.0.0.0"]
            .iter()
            .map(|a| a.parse().expect("addr"))
            .collect();
        let got = r.reverse_all(addrs.clone(), Instant::now() + Duration::from_millis(500));
        let name = |a: &str| {
            got.name(a.parse().expect("addr"))
                .map(|t| t.as_bytes().to_vec())
        };
        assert_eq!(name("10.0.0.1"), Some(b"fast.test".to_vec()));
        assert_eq!(name("10.0.0.9"), Some(b"fromfile".to_vec()));
        assert_eq!(name("10.0.0.3"), None);
        assert!(got.is_pending("10.0.0.2".parse().expect("addr")));
        assert_eq!(got.pending.len(), 1);
        // Asked again: cached answers, the slow one still pending, and no wait
        // beyond the (already passed) deadline.
        let again = r.reverse_all(addrs, Instant::now());
        assert_eq!(again.names.len(), 2);
        assert_eq!(again.pending.len(), 1);
    }

    #[test]
    fn mapped_addresses_are_the_plain_ones() {
        let r = Resolver::with(Hosts::parse(b"10.0.0.9 fromfile\n"), slow);
        let mapped: IpAddr = "::ffff:10.0.0.9".parse().expect("addr");
        let got = r.reverse_all([mapped], Instant::now());
        assert!(got.name(mapped).is_some());
    }
}
